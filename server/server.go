// Package server runs SQL applications for a team behind a versioned JSON
// API over HTTP: deploy, list, inspect and stop applications and their
// jobs, the Prometheus metrics of every job, and a web page at /. Deployed
// applications are kept in a state directory and deployed again when the
// server starts.
package server

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/app"
	"github.com/sluicesql/sluice/job"
	"github.com/sluicesql/sluice/metrics"
	"github.com/sluicesql/sluice/runner"
	"github.com/sluicesql/sluice/secret"
	"github.com/sluicesql/sluice/server/web"
	"github.com/sluicesql/sluice/sql"
)

// Config configures a Server.
type Config struct {
	// StateDir keeps the deployed applications ("" keeps none).
	StateDir string
	// AuthToken, when set, is the bearer token every API request must carry.
	AuthToken string
	// Options apply to every statement of every application.
	Options runner.Options
	// Log receives the server's messages (default slog.Default()).
	Log *slog.Logger
}

// Server runs applications.
type Server struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics.Metrics
	ctx     context.Context
	cancel  context.CancelFunc

	mu       sync.Mutex
	apps     map[string]*deployed
	starting map[string]*app.App // applications being started, by name
	closing  bool                // Shutdown has begun: ends are not recorded
}

// deployed is one deployed application.
type deployed struct {
	name    string
	sql     string
	created time.Time
	app     *app.App
	run     *app.Run // nil for an application that ended before the server started
	// ended is how the application ended, recorded in the state directory
	// (nil while it runs): an application that ended on its own (its
	// bounded inputs finished, a job failed, its jobs were stopped) is
	// shown as it ended and not run again when the server restarts
	ended *AppJSON
	// deleting is set (under Server.mu) once DELETE began to stop it
	deleting bool

	mu    sync.Mutex
	last  map[string]*job.Summary // latest snapshot per job
	rates map[string][]Sample     // records in per second, per job, oldest first
}

// Sample is one point of a job's rate history.
type Sample struct {
	// Time is the sample's time in Unix milliseconds; Rate the records
	// read per second since the sample before.
	Time int64   `json:"t"`
	Rate float64 `json:"rate"`
}

// maxSamples is how many rate samples a job keeps (about ten minutes).
const maxSamples = 600

// New returns a server; Restore deploys what its state directory holds.
func New(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{cfg: cfg, log: cfg.Log, metrics: metrics.New(), ctx: ctx, cancel: cancel,
		apps: map[string]*deployed{}, starting: map[string]*app.App{}}
}

// CheckAddr refuses to listen on anything but loopback without a token.
func CheckAddr(addr, token string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %w", addr, err)
	}
	if token != "" || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("--addr %s is not a loopback address: set --auth-token so that every request must carry it as a bearer token", addr)
}

// Handler returns the server's HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/apps", s.deploy)
	mux.HandleFunc("GET /v1/apps", s.listApps)
	mux.HandleFunc("GET /v1/apps/{name}", s.getApp)
	mux.HandleFunc("DELETE /v1/apps/{name}", s.deleteApp)
	mux.HandleFunc("GET /v1/jobs", s.listJobs)
	mux.HandleFunc("GET /v1/jobs/{name}", s.getJob)
	mux.HandleFunc("DELETE /v1/jobs/{name}", s.stopJob)
	mux.HandleFunc("POST /v1/explain", s.explain)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.metrics.Registry(), promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("GET /", web.Handler())
	return s.auth(mux)
}

// auth requires the bearer token on every request but the page itself,
// which holds no data and asks for the token.
func (s *Server) auth(next http.Handler) http.Handler {
	if s.cfg.AuthToken == "" {
		return next
	}
	want := []byte("Bearer " + s.cfg.AuthToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && (r.URL.Path == "/" || r.URL.Path == "/index.html") {
			next.ServeHTTP(w, r)
			return
		}
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sluice"`)
			writeError(w, http.StatusUnauthorized, errors.New("missing or wrong bearer token (Authorization: Bearer <token>)"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Restore deploys every application kept in the state directory.
func (s *Server) Restore() error {
	if s.cfg.StateDir == "" {
		return nil
	}
	dir := filepath.Join(s.cfg.StateDir, "apps")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.sql"))
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("state directory: %w", err)
		}
		name := strings.TrimSuffix(filepath.Base(f), ".sql")
		if ended, err := s.restoreEnded(name, string(b)); err != nil {
			s.log.Error("could not read how an application ended", "app", name, "err", err)
			continue
		} else if ended {
			s.log.Info("ended before; not run again (DELETE it to deploy it anew)", "app", name)
			continue
		}
		if _, err := s.Deploy(name, string(b), false); err != nil {
			s.log.Error("could not redeploy an application", "app", name, "err", err)
			continue
		}
		s.log.Info("redeployed", "app", name)
	}
	return nil
}

// restoreEnded registers the application name of SQL text src as it
// ended when the state directory records its end, and reports whether it
// did.
func (s *Server) restoreEnded(name, src string) (bool, error) {
	b, err := os.ReadFile(endPath(s.cfg.StateDir, name))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	var ended AppJSON
	if err := json.Unmarshal(b, &ended); err != nil {
		return false, fmt.Errorf("%s: %w", endPath(s.cfg.StateDir, name), err)
	}
	a, err := validate(name, src, s.cfg.Options.UntilEnd)
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apps[name] = &deployed{name: name, sql: src, created: ended.Created, app: a, ended: &ended}
	return true, nil
}

// endPath is where the state directory records how the application name ended.
func endPath(dir, name string) string { return filepath.Join(dir, "apps", name+".end.json") }

// recordEnd waits for d to end and, unless the server is shutting down or
// d is being deleted, records how it ended, so that a restart of the
// server shows it ended rather than running it again.
func (s *Server) recordEnd(d *deployed) {
	d.run.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing || d.deleting || s.cfg.StateDir == "" {
		return
	}
	ended := d.describe(false)
	d.ended = &ended
	b, err := json.MarshalIndent(ended, "", "  ")
	if err == nil {
		err = writeFile(endPath(s.cfg.StateDir, d.name), b)
	}
	if err != nil {
		s.log.Error("could not record the application's end; a restart will run it again", "app", d.name, "err", err)
	}
}

// Shutdown stops every application, upstream-first, and waits for them;
// the state directory keeps those that had not ended for the next start.
func (s *Server) Shutdown() {
	s.mu.Lock()
	s.closing = true
	apps := make([]*deployed, 0, len(s.apps))
	for _, d := range s.apps {
		if d.run != nil {
			apps = append(apps, d)
		}
	}
	s.mu.Unlock()
	for _, d := range apps {
		d.run.Stop()
	}
	for _, d := range apps {
		d.run.Wait()
	}
	s.cancel()
}

// validName is what an application name may look like.
var validName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$`)

// DeployError is an application that cannot be deployed: the user's
// mistake (Status 400 or 409) or a failure to start it (500).
type DeployError struct {
	Status int
	Err    error
}

func (e *DeployError) Error() string { return e.Err.Error() }
func (e *DeployError) Unwrap() error { return e.Err }

// Deploy validates and starts the application name of SQL text src,
// keeping it in the state directory when save is set.
func (s *Server) Deploy(name, src string, save bool) (*deployed, error) {
	if !validName.MatchString(name) {
		return nil, &DeployError{http.StatusBadRequest, fmt.Errorf("application name %q: use letters, digits, '_', '-' and '.' (at most 64)", name)}
	}
	a, err := validate(name, src, s.cfg.Options.UntilEnd)
	if err != nil {
		return nil, &DeployError{http.StatusBadRequest, err}
	}
	// reserve the names, then start without the lock: opening Kafka
	// sources may take a while, and the API answers meanwhile
	if err := s.reserve(name, a); err != nil {
		return nil, err
	}
	defer func() {
		s.mu.Lock()
		delete(s.starting, name)
		s.mu.Unlock()
	}()
	d := &deployed{name: name, sql: src, created: time.Now(), app: a, last: map[string]*job.Summary{}, rates: map[string][]Sample{}}
	opts := s.cfg.Options
	opts.KafkaOpts = func(job, client string) []kgo.Opt { return []kgo.Opt{s.metrics.KafkaClientOpt(job, client)} }
	if opts.Stdout == nil {
		opts.Stdout = io.Discard
	}
	hooks := app.Hooks{
		Prepared: func(j *runner.Job) { WatchJob(s.metrics, j) },
		Progress: func(job string, sum *job.Summary) { s.metrics.Observe(job, sum); d.observe(job, sum) },
		Finished: func(r app.Result) {
			if r.Summary != nil {
				s.metrics.Observe(r.Name, r.Summary)
				d.observe(r.Name, r.Summary)
			}
			if r.Err != nil {
				s.log.Error("job failed", "app", name, "job", r.Name, "err", r.Err)
			}
		},
	}
	run, err := a.Start(s.ctx, opts, hooks)
	if err != nil {
		if runner.UsersToFix(err) {
			return nil, &DeployError{http.StatusBadRequest, err}
		}
		return nil, &DeployError{http.StatusInternalServerError, err}
	}
	d.run = run
	s.mu.Lock()
	s.apps[name] = d
	s.mu.Unlock()
	if save && s.cfg.StateDir != "" {
		if err := s.save(name, src); err != nil {
			s.log.Error("could not keep the application in the state directory; it will not be redeployed", "app", name, "err", err)
		}
	}
	go s.recordEnd(d)
	return d, nil
}

// reserve claims the application's name and its job names while it starts.
func (s *Server) reserve(name string, a *app.App) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.apps[name]; ok || s.starting[name] != nil {
		return &DeployError{http.StatusConflict, fmt.Errorf("application %s is already deployed; stop it first (sluice stop %s, or DELETE /v1/apps/%s)", name, name, name)}
	}
	for _, n := range a.Nodes {
		if other := s.jobApp(n.Name); other != "" {
			return &DeployError{http.StatusConflict, fmt.Errorf("job %s (line %d) is already a job of application %s; job names are unique on a server", n.Name, n.Stmt.Line, other)}
		}
	}
	s.starting[name] = a
	return nil
}

// jobApp returns the application running (or starting) a job called job,
// or "" (s.mu held).
func (s *Server) jobApp(job string) string {
	for _, d := range s.apps {
		if d.app.Node(job) != nil {
			return d.name
		}
	}
	for name, a := range s.starting {
		if a.Node(job) != nil {
			return name
		}
	}
	return ""
}

// save writes the application's SQL into the state directory.
func (s *Server) save(name, src string) error {
	dir := filepath.Join(s.cfg.StateDir, "apps")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, name+".sql"), []byte(src))
}

// writeFile replaces the file path with b at once (a crash leaves the old
// file or the new one).
func writeFile(path string, b []byte) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// validate parses and plans src like `sluice explain` (with --until-end
// when untilEnd, as the server runs it), and refuses a read of a name
// nothing declares or writes.
func validate(name, src string, untilEnd bool) (*app.App, error) {
	stmts, err := sql.Parse(name+".sql", src)
	if err != nil {
		return nil, err
	}
	if len(stmts) == 0 {
		return nil, errors.New("no statements")
	}
	a, err := app.New(name+".sql", src, stmts, nil)
	if err != nil {
		return nil, err
	}
	opts := runner.Options{UntilEnd: untilEnd}
	if err := a.Check(context.Background(), opts); err != nil {
		return nil, err
	}
	if _, err := a.Plans(context.Background(), planOptions(), opts); err != nil {
		return nil, err
	}
	return a, nil
}

// observe records a job's snapshot and its rate since the previous one.
func (d *deployed) observe(name string, s *job.Summary) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now().UnixMilli()
	if prev := d.last[name]; prev != nil && s.Elapsed > prev.Elapsed {
		rate := float64(s.Total.In-prev.Total.In) / (s.Elapsed - prev.Elapsed).Seconds()
		rs := append(d.rates[name], Sample{Time: now, Rate: rate})
		if len(rs) > maxSamples {
			rs = slices.Delete(rs, 0, len(rs)-maxSamples)
		}
		d.rates[name] = rs
	}
	d.last[name] = s
}

// snapshot returns a job's latest summary and rate history.
func (d *deployed) snapshot(name string) (*job.Summary, []Sample) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.last[name], slices.Clone(d.rates[name])
}

// writeJSON writes v as the response, with the statements' secrets (their
// SQL, errors quoting a value) masked: they never leave the process.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error": "encoding the answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, secret.Redact(string(b))+"\n")
}

// removeState forgets a deleted application: its SQL and its end.
func removeState(dir, name string) error {
	for _, f := range []string{filepath.Join(dir, "apps", name+".sql"), endPath(dir, name)} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

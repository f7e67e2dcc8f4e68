package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/sluicesql/sluice/app"
	"github.com/sluicesql/sluice/job"
	"github.com/sluicesql/sluice/metrics"
	"github.com/sluicesql/sluice/plan"
	"github.com/sluicesql/sluice/runner"
	"github.com/sluicesql/sluice/sql"
)

// maxBody bounds a request's SQL text.
const maxBody = 1 << 20

// ErrorJSON is the body of every error response.
type ErrorJSON struct {
	// Error is the whole message.
	Error string `json:"error"`
	// Errors are the positioned errors in the SQL, if any.
	Errors []PositionJSON `json:"errors,omitempty"`
}

// PositionJSON is one positioned error in the SQL text.
type PositionJSON struct {
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
}

// writeError writes err as an ErrorJSON with its positions.
func writeError(w http.ResponseWriter, status int, err error) {
	body := ErrorJSON{Error: err.Error()}
	for _, e := range sql.Positioned(err) {
		body.Errors = append(body.Errors, PositionJSON{e.Pos.Line, e.Pos.Col, e.Msg})
	}
	if body.Errors == nil {
		if line, col, ok := statementPos(err); ok {
			body.Errors = []PositionJSON{{line, col, err.Error()}}
		}
	}
	writeJSON(w, status, body)
}

// statementPos finds the "line N" of a statement-level error.
func statementPos(err error) (int, int, bool) {
	var line, col int
	msg := err.Error()
	if i := strings.Index(msg, "statement at line "); i >= 0 {
		if n, _ := fmt.Sscanf(msg[i:], "statement at line %d:%d", &line, &col); n >= 1 {
			return line, max(col, 1), true
		}
	}
	return 0, 0, false
}

// DeployRequest is the JSON form of POST /v1/apps; a text/plain or
// application/sql body is the SQL, named by the ?name= parameter.
type DeployRequest struct {
	Name string `json:"name"`
	SQL  string `json:"sql"`
}

// readDeploy reads a deployment request.
func readDeploy(r *http.Request) (DeployRequest, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return DeployRequest{}, err
	}
	if len(body) > maxBody {
		return DeployRequest{}, fmt.Errorf("the SQL is larger than %d bytes", maxBody)
	}
	var req DeployRequest
	if jsonBody(r, body) {
		if err := json.NewDecoder(bytes.NewReader(body)).Decode(&req); err != nil {
			return req, fmt.Errorf("request body: %w (want {\"name\": ..., \"sql\": ...})", err)
		}
	} else {
		req.SQL = string(body)
	}
	if n := r.URL.Query().Get("name"); n != "" {
		req.Name = n
	}
	if req.Name == "" {
		return req, errors.New("the application needs a name: {\"name\": ...} or ?name=")
	}
	if strings.TrimSpace(req.SQL) == "" {
		return req, errors.New("no SQL")
	}
	return req, nil
}

// jsonBody reports whether a request's body is a JSON object: its
// Content-Type says so, or it starts with '{', which no SQL text does (so
// `curl -d '{"name": ...}'`, sent as a form, works too).
func jsonBody(r *http.Request, body []byte) bool {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return mt == "application/json" || bytes.HasPrefix(bytes.TrimSpace(body), []byte("{"))
}

// AppJSON describes an application.
type AppJSON struct {
	Name      string     `json:"name"`
	State     string     `json:"state"`
	Created   time.Time  `json:"created"`
	OnFailure string     `json:"on_failure"`
	SQL       string     `json:"sql"`
	Jobs      []JobJSON  `json:"jobs"`
	Edges     []app.Edge `json:"edges"`
	Error     string     `json:"error,omitempty"`
}

// JobJSON describes a job; the detail fields are set by GET /v1/jobs/{name}.
type JobJSON struct {
	Name        string   `json:"name"`
	App         string   `json:"app"`
	State       string   `json:"state"`
	Line        int      `json:"line"`
	Strategy    string   `json:"strategy,omitempty"`
	RoutingKeys []string `json:"routing_keys,omitempty"`
	Partitions  int      `json:"partitions,omitempty"`
	Counters    Counters `json:"counters"`
	Error       string   `json:"error,omitempty"`

	PartitionStats []PartitionJSON            `json:"partition_stats,omitempty"`
	Skew           float64                    `json:"skew,omitempty"`
	Watermark      *time.Time                 `json:"watermark,omitempty"`
	WatermarkLagMs *int64                     `json:"watermark_lag_ms,omitempty"` // set with Watermark
	Lag            map[string]int64           `json:"lag,omitempty"`
	Committed      map[string]map[int32]int64 `json:"committed,omitempty"`
	Rates          []Sample                   `json:"rates,omitempty"`
	Explain        string                     `json:"explain,omitempty"`
	ElapsedMs      int64                      `json:"elapsed_ms"`
}

// Counters are a job's record counters.
type Counters struct {
	In          int64 `json:"in"`
	Out         int64 `json:"out"`
	Filtered    int64 `json:"filtered"`
	Limited     int64 `json:"limited,omitempty"` // read after a LIMIT was reached
	Dead        int64 `json:"dead"`
	Late        int64 `json:"late"`
	RowsWritten int64 `json:"rows_written"`
}

// PartitionJSON is one partition's counters.
type PartitionJSON struct {
	In         int64 `json:"in"`
	Out        int64 `json:"out"`
	QueueDepth int   `json:"queue_depth"`
	QueueCap   int   `json:"queue_cap"`
}

func (s *Server) deploy(w http.ResponseWriter, r *http.Request) {
	req, err := readDeploy(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	d, err := s.Deploy(req.Name, req.SQL, true)
	if err != nil {
		status := http.StatusInternalServerError
		var de *DeployError
		if errors.As(err, &de) {
			status = de.Status
		}
		writeError(w, status, err)
		return
	}
	writeJSON(w, http.StatusCreated, d.describe(false))
}

func (s *Server) listApps(w http.ResponseWriter, r *http.Request) {
	out := []AppJSON{}
	for _, d := range s.deployedApps() {
		out = append(out, d.describe(false))
	}
	writeJSON(w, http.StatusOK, map[string]any{"apps": out})
}

func (s *Server) getApp(w http.ResponseWriter, r *http.Request) {
	d := s.find(r.PathValue("name"))
	if d == nil {
		writeError(w, http.StatusNotFound, fmt.Errorf("no application %s", r.PathValue("name")))
		return
	}
	writeJSON(w, http.StatusOK, d.describe(false))
}

// deleteApp drains and stops an application and forgets it.
func (s *Server) deleteApp(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	d := s.find(name)
	if d == nil {
		writeError(w, http.StatusNotFound, fmt.Errorf("no application %s", name))
		return
	}
	s.mu.Lock()
	d.deleting = true
	s.mu.Unlock()
	if d.run != nil {
		d.run.Stop()
		d.run.Wait()
	}
	s.mu.Lock()
	delete(s.apps, name)
	s.mu.Unlock()
	if s.cfg.StateDir != "" {
		if err := removeState(s.cfg.StateDir, name); err != nil {
			writeError(w, http.StatusInternalServerError, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, d.describe(false))
}

func (s *Server) listJobs(w http.ResponseWriter, r *http.Request) {
	out := []JobJSON{}
	for _, d := range s.deployedApps() {
		out = append(out, d.describe(false).Jobs...)
	}
	writeJSON(w, http.StatusOK, map[string]any{"jobs": out})
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	d := s.findJob(name)
	if d == nil {
		writeError(w, http.StatusNotFound, fmt.Errorf("no job %s", name))
		return
	}
	for _, j := range d.describe(true).Jobs {
		if j.Name == name {
			writeJSON(w, http.StatusOK, j)
			return
		}
	}
}

// stopJob drains and stops one job (and, through their streams, the jobs
// reading its in-process output).
func (s *Server) stopJob(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	d := s.findJob(name)
	if d == nil {
		writeError(w, http.StatusNotFound, fmt.Errorf("no job %s", name))
		return
	}
	if d.run == nil { // it ended before the server started
		for _, j := range d.describe(false).Jobs {
			if j.Name == name {
				writeJSON(w, http.StatusOK, j)
				return
			}
		}
	}
	d.run.StopJob(name)
	for _, j := range d.run.Jobs() {
		if j.Name == name {
			for j.Result == nil {
				time.Sleep(10 * time.Millisecond)
				j = jobState(d.run, name)
			}
		}
	}
	for _, j := range d.describe(false).Jobs {
		if j.Name == name {
			writeJSON(w, http.StatusOK, j)
			return
		}
	}
}

// jobState returns the current state of one job of run.
func jobState(run *app.Run, name string) app.JobState {
	for _, j := range run.Jobs() {
		if j.Name == name {
			return j
		}
	}
	return app.JobState{}
}

// explain answers POST /v1/explain: the plans and the graph as JSON.
func (s *Server) explain(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	src := string(body)
	if jsonBody(r, body) {
		var req DeployRequest
		if err := json.Unmarshal(body, &req); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Errorf("request body: %w", err))
			return
		}
		src = req.SQL
	}
	stmts, err := sql.Parse("explain.sql", src)
	if err == nil && len(stmts) == 0 {
		err = errors.New("no statements")
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	a, err := app.New("explain.sql", src, stmts, nil)
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	plans, err := a.Plans(context.Background(), planOptions(), runner.Options{UntilEnd: s.cfg.Options.UntilEnd})
	if err != nil {
		writeError(w, http.StatusBadRequest, err)
		return
	}
	var text bytes.Buffer
	a.Explain(&text, plans)
	var js bytes.Buffer
	a.ExplainJSON(&js, plans)
	var out map[string]any
	json.Unmarshal(js.Bytes(), &out)
	out["text"] = text.String()
	writeJSON(w, http.StatusOK, out)
}

// planOptions are the planner's options for validation.
func planOptions() plan.Options { return plan.Options{CPUs: runtime.NumCPU()} }

// deployedApps returns the applications by name.
func (s *Server) deployedApps() []*deployed {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*deployed, 0, len(s.apps))
	for _, d := range s.apps {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// find returns the application called name, or nil.
func (s *Server) find(name string) *deployed {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.apps[name]
}

// findJob returns the application running the job called name, or nil.
func (s *Server) findJob(name string) *deployed {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.apps {
		if d.app.Node(name) != nil {
			return d
		}
	}
	return nil
}

// describe returns the application with its jobs; detail adds each job's
// partitions, watermark, lag, rates and EXPLAIN.
func (d *deployed) describe(detail bool) AppJSON {
	if d.run == nil {
		return *d.ended
	}
	a := AppJSON{Name: d.name, Created: d.created, OnFailure: d.app.OnFailure, SQL: d.sql, Edges: d.app.Edges, Jobs: []JobJSON{}}
	if a.Edges == nil {
		a.Edges = []app.Edge{}
	}
	states := map[string]int{}
	for _, st := range d.run.Jobs() {
		j := JobJSON{Name: st.Name, App: d.name, State: st.State, Line: d.app.Node(st.Name).Stmt.Line}
		states[st.State]++
		if st.Job != nil {
			j.Strategy, j.Partitions, j.RoutingKeys = st.Job.Plan.Strategy.Name(), st.Job.Plan.Partitions, st.Job.Plan.RoutingKeys
		}
		sum, rates := d.snapshot(st.Name)
		if st.Result != nil {
			if st.Result.Summary != nil {
				sum = st.Result.Summary
			}
			if st.Result.Err != nil {
				j.Error = st.Result.Err.Error()
			}
		}
		if sum != nil {
			t := sum.Total
			j.Counters = Counters{In: t.In, Out: t.Out, Filtered: t.Filtered, Limited: t.Limited, Dead: sum.DeadLetters, Late: t.Late, RowsWritten: sum.RowsWritten}
			j.ElapsedMs = sum.Elapsed.Milliseconds()
		}
		if detail {
			addDetail(&j, st.Job, sum, rates)
		}
		a.Jobs = append(a.Jobs, j)
	}
	switch {
	case states[app.Failed] > 0:
		a.State = app.Failed
	case states[app.Running]+states[app.Pending]+states[app.Stopping] > 0:
		a.State = app.Running
	case states[app.Interrupted] > 0:
		a.State = app.Interrupted
	default:
		a.State = app.Done
	}
	return a
}

// addDetail fills a job's detail fields.
func addDetail(j *JobJSON, rj *runner.Job, sum *job.Summary, rates []Sample) {
	j.Rates = rates
	if sum != nil {
		j.Skew = sum.Skew
		for _, p := range sum.Partitions {
			j.PartitionStats = append(j.PartitionStats, PartitionJSON{In: p.In, Out: p.Out, QueueDepth: p.QueueDepth, QueueCap: p.QueueCap})
		}
		if sum.Watermark != math.MinInt64 {
			t := time.UnixMilli(sum.Watermark).UTC()
			j.Watermark = &t
			lag := sum.WatermarkLag.Milliseconds()
			j.WatermarkLagMs = &lag
		}
		j.Committed = sum.Committed
	}
	if rj == nil {
		return
	}
	var b bytes.Buffer
	pl := *rj.Plan
	pl.Name = rj.Name
	if err := plan.Explain(&b, []*plan.Plan{&pl}); err == nil {
		j.Explain = b.String()
	}
	for _, src := range rj.KafkaSources() {
		var total int64
		for _, l := range src.Lag() {
			total += l
		}
		if j.Lag == nil {
			j.Lag = map[string]int64{}
		}
		j.Lag[src.Name()] = total
	}
}

// WatchJob registers a prepared job with m: its strategy and partitions,
// the latency of every batch its workers process, and the consumer lag of
// its Kafka sources.
func WatchJob(m *metrics.Metrics, j *runner.Job) {
	if m == nil {
		return
	}
	m.Start(j.Name, j.Plan.Strategy.Name(), j.Plan.Partitions)
	j.SetOnBatch(m.BatchObserver(j.Name, j.Plan.Partitions))
	var lags []metrics.LagSource
	for _, s := range j.KafkaSources() {
		lags = append(lags, s)
	}
	m.WatchLag(j.Name, lags...)
}

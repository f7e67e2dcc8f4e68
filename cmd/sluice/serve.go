package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sluicesql/sluice/app"
	"github.com/sluicesql/sluice/runner"
	"github.com/sluicesql/sluice/server"
	"github.com/sluicesql/sluice/sql"
)

type serveCmd struct {
	Addr      string `default:"127.0.0.1:8080" help:"Address to listen on; anything but loopback requires --auth-token."`
	StateDir  string `name:"state-dir" default:".sluice/server" help:"Directory keeping the deployed applications, redeployed at start."`
	AuthToken string `name:"auth-token" env:"SLUICE_AUTH_TOKEN" help:"Bearer token every request must carry (Authorization: Bearer <token>)."`
	UntilEnd  bool   `help:"Kafka sources stop at the end of what the topic holds at start."`
}

func (c *serveCmd) Help() string {
	return `Serves a JSON API (/v1/apps, /v1/jobs, /v1/explain), Prometheus metrics (/metrics),
/healthz and a web page at /. Examples:
  sluice serve
  sluice serve --addr 0.0.0.0:8080 --auth-token "$TOKEN" --state-dir /var/lib/sluice`
}

func (c *serveCmd) Run(e *env) error {
	if err := server.CheckAddr(c.Addr, c.AuthToken); err != nil {
		return userError{err}
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return userError{fmt.Errorf("--addr: %w", err)}
	}
	s := server.New(server.Config{StateDir: c.StateDir, AuthToken: c.AuthToken, Log: e.log,
		Options: runner.Options{UntilEnd: c.UntilEnd}})
	if err := s.Restore(); err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	auth := "no token (loopback only)"
	if c.AuthToken != "" {
		auth = "bearer token required on every request"
	}
	e.log.Info("sluice server listening", "url", "http://"+ln.Addr().String()+"/", "auth", auth, "state_dir", c.StateDir)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		s.Shutdown()
		return err
	case <-e.ctx.Done():
	}
	e.log.Info("stopping: draining every application (they are redeployed at the next start)")
	s.Shutdown()
	srv.Close()
	return nil
}

// client is what the deploy, jobs and stop commands share.
type client struct {
	Server    string `required:"" placeholder:"URL" env:"SLUICE_SERVER" help:"The server's URL, e.g. http://127.0.0.1:8080."`
	AuthToken string `name:"auth-token" env:"SLUICE_AUTH_TOKEN" help:"Bearer token of the server."`
}

// call sends a request and decodes a JSON answer into out; an answer of
// 4xx is the user's error, anything else that fails a runtime error.
func (c *client) call(e *env, method, path string, body []byte, out any) error {
	if su, err := url.Parse(c.Server); err != nil || (su.Scheme != "http" && su.Scheme != "https") || su.Host == "" {
		return userError{fmt.Errorf("--server %q: not an http:// or https:// URL (e.g. http://127.0.0.1:8080)", c.Server)}
	}
	u, err := url.JoinPath(c.Server, path)
	if err != nil {
		return userError{fmt.Errorf("--server: %w", err)}
	}
	req, err := http.NewRequestWithContext(e.ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return userError{fmt.Errorf("--server: %w", err)}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.AuthToken != "" {
		req.Header.Set("Authorization", "Bearer "+c.AuthToken)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("server %s: %w", c.Server, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		var ej server.ErrorJSON
		msg := strings.TrimSpace(string(b))
		if json.Unmarshal(b, &ej) == nil && ej.Error != "" {
			msg = ej.Error
		}
		err := &answerError{status: res.StatusCode, msg: msg, errors: ej.Errors}
		if res.StatusCode < 500 {
			return userError{err}
		}
		return err
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("server answer: %w", err)
		}
	}
	return nil
}

// answerError is an error answer of the server.
type answerError struct {
	status int
	msg    string
	errors []server.PositionJSON // positioned errors in the SQL sent
}

func (e *answerError) Error() string { return fmt.Sprintf("server: %s (HTTP %d)", e.msg, e.status) }

// located returns the positioned errors of e in src, the text of file, as
// run shows them: file:line:column, the line and a caret; nil when it has
// none.
func (e *answerError) located(file, src string) error {
	if len(e.errors) == 0 {
		return nil
	}
	var list app.Errors
	for _, p := range e.errors {
		off, line := 0, 1
		for line < p.Line {
			i := strings.IndexByte(src[off:], '\n')
			if i < 0 {
				break
			}
			off, line = off+i+1, line+1
		}
		list = append(list, &sql.Error{Pos: sql.Pos{Offset: off + max(p.Column-1, 0), Line: p.Line, Col: p.Column}, Msg: p.Message})
	}
	return sql.Locate(list, file, src)
}

type deployCmd struct {
	client
	File string `arg:"" help:"SQL file of the application (its path is shown in errors as given)."`
	Name string `help:"Application name (default: the file's base name)."`
}

func (c *deployCmd) Help() string {
	return "Example:\n  sluice deploy app.sql --server http://127.0.0.1:8080"
}

func (c *deployCmd) Run(e *env) error {
	s, err := readScript(c.File, "") // a file that does not parse is not sent
	if err != nil {
		return err
	}
	src := s.text
	name := c.Name
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(c.File), filepath.Ext(c.File))
	}
	body, _ := json.Marshal(server.DeployRequest{Name: name, SQL: src})
	var a server.AppJSON
	if err := c.call(e, http.MethodPost, "/v1/apps", body, &a); err != nil {
		var ae *answerError
		if errors.As(err, &ae) && ae.status < 500 {
			if located := ae.located(c.File, src); located != nil {
				return userError{located}
			}
		}
		return err
	}
	fmt.Fprintf(e.stdout, "deployed %s: %d jobs\n", a.Name, len(a.Jobs))
	return writeJobs(e.stdout, a.Jobs)
}

type jobsCmd struct {
	client
}

func (c *jobsCmd) Help() string { return "Example:\n  sluice jobs --server http://127.0.0.1:8080" }

func (c *jobsCmd) Run(e *env) error {
	var out struct {
		Jobs []server.JobJSON `json:"jobs"`
	}
	if err := c.call(e, http.MethodGet, "/v1/jobs", nil, &out); err != nil {
		return err
	}
	return writeJobs(e.stdout, out.Jobs)
}

type stopCmd struct {
	client
	Name string `arg:"" help:"Application or job to drain and stop (an application is also removed)."`
}

func (c *stopCmd) Help() string {
	return "Example:\n  sluice stop app --server http://127.0.0.1:8080"
}

func (c *stopCmd) Run(e *env) error {
	var a server.AppJSON
	err := c.call(e, http.MethodDelete, "/v1/apps/"+url.PathEscape(c.Name), nil, &a)
	if err == nil {
		fmt.Fprintf(e.stdout, "stopped application %s\n", a.Name)
		return writeJobs(e.stdout, a.Jobs)
	}
	var ue userError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "HTTP 404") {
		return err
	}
	var j server.JobJSON
	if err := c.call(e, http.MethodDelete, "/v1/jobs/"+url.PathEscape(c.Name), nil, &j); err != nil {
		if strings.Contains(err.Error(), "HTTP 404") {
			return userError{fmt.Errorf("no application or job %s on %s", c.Name, c.Server)}
		}
		return err
	}
	fmt.Fprintf(e.stdout, "stopped job %s\n", j.Name)
	return writeJobs(e.stdout, []server.JobJSON{j})
}

// writeJobs prints jobs as a table.
func writeJobs(w io.Writer, jobs []server.JobJSON) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tAPP\tSTATE\tSTRATEGY\tIN\tOUT\tFILTERED\tDEAD\tLATE")
	for _, j := range jobs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j.Name, j.App, j.State, j.Strategy,
			count(j.Counters.In), count(j.Counters.Out), count(j.Counters.Filtered), count(j.Counters.Dead), count(j.Counters.Late))
	}
	return tw.Flush()
}

package server_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/server"
)

// liveSQL is an application of two chained jobs over an endless generator.
const liveSQL = `CREATE STREAM big AS SELECT trader_id, quantity, trade_time FROM g WHERE quantity >= 500
WITH ('g.type'='generator','g.generator'='trades','g.count'='unbounded','g.rate'='5000');
CREATE STREAM counts AS SELECT trader_id, COUNT(*) AS n FROM big GROUP BY trader_id EMIT CHANGES;`

// call sends a request to ts and decodes the JSON answer into out.
func call(t *testing.T, ts *httptest.Server, token, method, path, body string, out any) int {
	t.Helper()
	req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return res.StatusCode
}

// start runs a server over dir.
func start(t *testing.T, dir, token string) (*server.Server, *httptest.Server) {
	t.Helper()
	s := server.New(server.Config{StateDir: dir, AuthToken: token})
	if err := s.Restore(); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() { ts.Close(); s.Shutdown() })
	return s, ts
}

// waitJob polls a job until ok accepts it.
func waitJob(t *testing.T, ts *httptest.Server, name string, ok func(server.JobJSON) bool) server.JobJSON {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var j server.JobJSON
		if code := call(t, ts, "", "GET", "/v1/jobs/"+name, "", &j); code == http.StatusOK && ok(j) {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: condition not reached: %+v", name, j)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDeployListInspectStopRestart(t *testing.T) {
	dir := t.TempDir()
	s, ts := start(t, dir, "")
	body, _ := json.Marshal(server.DeployRequest{Name: "live", SQL: liveSQL})
	var a server.AppJSON
	if code := call(t, ts, "", "POST", "/v1/apps", string(body), &a); code != http.StatusCreated {
		t.Fatalf("deploy: HTTP %d %+v", code, a)
	}
	if len(a.Jobs) != 2 || a.Jobs[0].Name != "big" || a.Jobs[1].Name != "counts" || len(a.Edges) != 1 {
		t.Fatalf("deployed %+v", a)
	}
	if code := call(t, ts, "", "POST", "/v1/apps", string(body), nil); code != http.StatusConflict {
		t.Fatalf("second deploy of one name: HTTP %d, want 409", code)
	}
	j := waitJob(t, ts, "counts", func(j server.JobJSON) bool { return j.Counters.In > 0 && len(j.Rates) > 0 && j.Watermark != nil })
	if j.WatermarkLagMs == nil {
		t.Fatalf("a job with a watermark has no watermark_lag_ms: %+v", j)
	}
	if j.State != "running" || j.Strategy != "always_hash" || len(j.PartitionStats) == 0 || !strings.Contains(j.Explain, "GROUP BY trader_id") {
		t.Fatalf("job detail %+v", j)
	}
	var jobs struct{ Jobs []server.JobJSON }
	if call(t, ts, "", "GET", "/v1/jobs", "", &jobs); len(jobs.Jobs) != 2 {
		t.Fatalf("jobs %+v", jobs)
	}
	var apps struct{ Apps []server.AppJSON }
	if call(t, ts, "", "GET", "/v1/apps", "", &apps); len(apps.Apps) != 1 || apps.Apps[0].State != "running" {
		t.Fatalf("apps %+v", apps)
	}
	if _, err := os.Stat(filepath.Join(dir, "apps", "live.sql")); err != nil {
		t.Fatalf("not kept in the state directory: %v", err)
	}
	var text string
	call(t, ts, "", "GET", "/metrics", "", nil)
	res, err := ts.Client().Get(ts.URL + "/metrics")
	if err == nil {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		text = string(b)
	}
	if !strings.Contains(text, `sluice_records_in_total{job="counts"}`) {
		t.Fatalf("metrics lack job counts:\n%.2000s", text)
	}
	checkDashboard(t, text)

	// a restart of the server redeploys the application
	ts.Close()
	s.Shutdown()
	_, ts2 := start(t, dir, "")
	waitJob(t, ts2, "counts", func(j server.JobJSON) bool { return j.State == "running" && j.Counters.In > 0 })

	// stopping a job drains it and the jobs reading it
	var stopped server.JobJSON
	if code := call(t, ts2, "", "DELETE", "/v1/jobs/big", "", &stopped); code != http.StatusOK || stopped.State != "interrupted" {
		t.Fatalf("stop job: HTTP %d %+v", code, stopped)
	}
	waitJob(t, ts2, "counts", func(j server.JobJSON) bool { return j.State == "interrupted" })
	if code := call(t, ts2, "", "DELETE", "/v1/apps/live", "", nil); code != http.StatusOK {
		t.Fatalf("delete app: HTTP %d", code)
	}
	if code := call(t, ts2, "", "GET", "/v1/jobs/big", "", nil); code != http.StatusNotFound {
		t.Fatalf("deleted job: HTTP %d, want 404", code)
	}
	if _, err := os.Stat(filepath.Join(dir, "apps", "live.sql")); !os.IsNotExist(err) {
		t.Fatalf("deleted app still in the state directory: %v", err)
	}
}

func TestDeployErrorsArePositioned(t *testing.T) {
	_, ts := start(t, t.TempDir(), "")
	cases := []struct {
		sql        string
		line       int
		status     int
		msgContain string
	}{
		{"SELECT x FROM t\nWHERE x >", 2, 400, "expected expression"},
		{"CREATE STREAM a AS SELECT * FROM b;\nCREATE STREAM b AS SELECT * FROM a;", 2, 400, "cycle"},
		{"SELECT * FROM g WITH ('g.type'='generator','g.generator'='trades');\nSELECT * FROM nope;", 2, 400, "no statement writes it"},
		{"SELECT * FROM g\nWITH ('g.type'='generator','g.generator'='trades','g.bogus'='1');", 0, 400, "bogus"},
	}
	for _, c := range cases {
		body, _ := json.Marshal(server.DeployRequest{Name: "bad", SQL: c.sql})
		var e server.ErrorJSON
		code := call(t, ts, "", "POST", "/v1/apps", string(body), &e)
		// line 0: at the statement or at the property, whichever the connector gives
		if code != c.status || len(e.Errors) == 0 || (c.line > 0 && e.Errors[0].Line != c.line) || !strings.Contains(e.Error, c.msgContain) {
			t.Errorf("%q: HTTP %d %+v, want %d at line %d containing %q", c.sql, code, e, c.status, c.line, c.msgContain)
		}
	}
	var ex map[string]any
	if code := call(t, ts, "", "POST", "/v1/explain", `{"sql": "SELECT trader_id, COUNT(*) FROM t GROUP BY trader_id WITH ('t.type'='generator','t.generator'='trades')"}`, &ex); code != http.StatusOK || ex["app"] == nil || !strings.Contains(ex["text"].(string), "hash(trader_id)") {
		t.Fatalf("explain: HTTP %d %v", code, ex)
	}
	var h map[string]string
	if code := call(t, ts, "", "GET", "/healthz", "", &h); code != http.StatusOK || h["status"] != "ok" {
		t.Fatalf("healthz: HTTP %d %v", code, h)
	}
}

func TestAuth(t *testing.T) {
	if err := server.CheckAddr("0.0.0.0:8080", ""); err == nil || !strings.Contains(err.Error(), "--auth-token") {
		t.Fatalf("listening on every interface without a token: %v", err)
	}
	for _, addr := range []string{"127.0.0.1:8080", "localhost:0", "[::1]:80"} {
		if err := server.CheckAddr(addr, ""); err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
	}
	if err := server.CheckAddr("0.0.0.0:8080", "secret"); err != nil {
		t.Fatal(err)
	}
	_, ts := start(t, t.TempDir(), "secret")
	for _, path := range []string{"/v1/apps", "/v1/jobs", "/metrics", "/healthz"} {
		if code := call(t, ts, "", "GET", path, "", nil); code != http.StatusUnauthorized {
			t.Errorf("%s without the token: HTTP %d, want 401", path, code)
		}
		if code := call(t, ts, "wrong", "GET", path, "", nil); code != http.StatusUnauthorized {
			t.Errorf("%s with a wrong token: HTTP %d, want 401", path, code)
		}
		if code := call(t, ts, "secret", "GET", path, "", nil); code != http.StatusOK {
			t.Errorf("%s with the token: HTTP %d, want 200", path, code)
		}
	}
	if code := call(t, ts, "", "GET", "/", "", nil); code != http.StatusOK {
		t.Errorf("the page: HTTP %d (it holds no data and asks for the token)", code)
	}
}

// checkDashboard checks that every sluice_ metric the Grafana dashboard
// queries is one the server exports (the Kafka ones need a Kafka source).
func checkDashboard(t *testing.T, exposition string) {
	t.Helper()
	b, err := os.ReadFile("../deploy/grafana/sluice.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("dashboard: %v", err)
	}
	names := regexp.MustCompile(`sluice_[a-z_]+`)
	for _, p := range dash.Panels {
		for _, target := range p.Targets {
			for _, name := range names.FindAllString(target.Expr, -1) {
				if strings.HasPrefix(name, "sluice_kafka") {
					continue
				}
				if !strings.Contains(exposition, "\n"+name+"{") {
					t.Errorf("dashboard panel %q queries %s, which the server does not export", p.Title, name)
				}
			}
		}
	}
}

// TestJSONBodyWithoutContentType: a JSON request sent as a form (`curl -d
// '{"name": ..., "sql": ...}'`) is read as JSON, not as SQL text.
func TestJSONBodyWithoutContentType(t *testing.T) {
	_, ts := start(t, t.TempDir(), "")
	post := func(path, body string) (int, map[string]any) {
		res, err := ts.Client().Post(ts.URL+path, "application/x-www-form-urlencoded", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, out
	}
	body, _ := json.Marshal(server.DeployRequest{Name: "bad", SQL: "SELECT symbl\nFROM t WITH ('t.type'='generator','t.generator'='trades')"})
	if code, out := post("/v1/apps", string(body)); code != http.StatusBadRequest || !strings.Contains(fmt.Sprint(out["error"]), `unknown column "symbl"`) {
		t.Errorf("deploy: HTTP %d %v, want 400 with the SQL error", code, out)
	}
	body, _ = json.Marshal(server.DeployRequest{SQL: "SELECT symbol FROM t WITH ('t.type'='generator','t.generator'='trades')"})
	if code, out := post("/v1/explain", string(body)); code != http.StatusOK || out["app"] == nil {
		t.Errorf("explain: HTTP %d %v", code, out)
	}
}

// A bounded application that ended is recorded in the state directory: a
// restart of the server shows it as it ended and does not run it again
// (which would write its output a second time); deleting it forgets that.
func TestEndedApplicationIsNotRerun(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(t.TempDir(), "out.jsonl")
	src := `CREATE STREAM out AS SELECT trader_id, quantity FROM g
WITH ('g.type'='generator','g.generator'='trades','g.count'='1000','out.type'='file_sink','out.path'='` + out + `');`
	s, ts := start(t, dir, "")
	body, _ := json.Marshal(server.DeployRequest{Name: "once", SQL: src})
	if code := call(t, ts, "", "POST", "/v1/apps", string(body), nil); code != http.StatusCreated {
		t.Fatalf("deploy: HTTP %d", code)
	}
	waitJob(t, ts, "out", func(j server.JobJSON) bool { return j.State == "done" })
	end := filepath.Join(dir, "apps", "once.end.json")
	deadline := time.Now().Add(10 * time.Second)
	for _, err := os.Stat(end); err != nil; _, err = os.Stat(end) {
		if time.Now().After(deadline) {
			t.Fatalf("the end was not recorded: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	ts.Close()
	s.Shutdown()
	if err := os.Remove(out); err != nil {
		t.Fatal(err)
	}

	_, ts2 := start(t, dir, "")
	var a server.AppJSON
	if code := call(t, ts2, "", "GET", "/v1/apps/once", "", &a); code != http.StatusOK || a.State != "done" ||
		len(a.Jobs) != 1 || a.Jobs[0].State != "done" || a.Jobs[0].Counters.RowsWritten != 1000 {
		t.Fatalf("after a restart: HTTP %d %+v, want the application as it ended", code, a)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("the ended application ran again after the restart (its output exists: %v)", err)
	}
	if code := call(t, ts2, "", "DELETE", "/v1/jobs/out", "", nil); code != http.StatusOK {
		t.Fatalf("stop of an ended job: HTTP %d", code)
	}
	if code := call(t, ts2, "", "DELETE", "/v1/apps/once", "", nil); code != http.StatusOK {
		t.Fatalf("delete: HTTP %d", code)
	}
	if _, err := os.Stat(end); !os.IsNotExist(err) {
		t.Fatalf("the deleted application's end is still recorded: %v", err)
	}
	if code := call(t, ts2, "", "POST", "/v1/apps", string(body), nil); code != http.StatusCreated {
		t.Fatalf("deploy again after delete: HTTP %d", code)
	}
	waitJob(t, ts2, "out", func(j server.JobJSON) bool { return j.State == "done" && j.Counters.RowsWritten == 1000 })
}

package main

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/server"
)

func TestServerCommands(t *testing.T) {
	s := server.New(server.Config{StateDir: t.TempDir(), AuthToken: "tok"})
	ts := httptest.NewServer(s.Handler())
	defer s.Shutdown()
	defer ts.Close()
	dir := t.TempDir()
	good := writeFile(t, dir, "live.sql", "CREATE STREAM big AS SELECT trader_id FROM g WHERE quantity > 500\n"+
		"WITH ('g.type'='generator','g.generator'='trades','g.count'='unbounded','g.rate'='1000');\nSELECT * FROM big;\n")
	bad := writeFile(t, dir, "bad.sql", "SELECT k FROM t\nWHERE x >\n")
	unknown := writeFile(t, dir, "unknown.sql", "SELECT 1 AS x FROM g WITH ('g.type'='generator','g.generator'='trades');\n"+
		"SELECT nope FROM g WITH ('g.type'='generator','g.generator'='trades');\n")
	writeFile(t, dir, "empty.sql", "-- nothing yet\n")
	t.Chdir(dir)
	srv := []string{"--server", ts.URL, "--auth-token", "tok"}
	cases := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"deploy", append([]string{"deploy", good}, srv...), 0, "deployed live: 2 jobs", ""},
		{"deploy again", append([]string{"deploy", good}, srv...), 1, "", "application live is already deployed; stop it first (sluice stop live, or DELETE /v1/apps/live)"},
		{"deploy bad SQL", append([]string{"deploy", bad}, srv...), 1, "", "bad.sql:3:1"},
		{"deploy bad SQL, the path as given", append([]string{"deploy", "bad.sql"}, srv...), 1, "", "sluice: bad.sql:3:1: expected expression"},
		{"deploy no statements", append([]string{"deploy", "empty.sql"}, srv...), 1, "", "sluice: empty.sql: no statements"},
		{"deploy no file", append([]string{"deploy", "nope.sql"}, srv...), 1, "", "sluice: open nope.sql: no such file"},
		{"deploy, unknown column", append([]string{"deploy", unknown}, srv...), 1, "",
			"unknown.sql:2:8: unknown column \"nope\"\nSELECT nope FROM g WITH ('g.type'='generator','g.generator'='trades');\n       ^"},
		{"no token", []string{"jobs", "--server", ts.URL}, 1, "", "HTTP 401"},
		{"jobs", append([]string{"jobs"}, srv...), 0, "big_3", ""},
		{"stop job", append([]string{"stop", "big_3"}, srv...), 0, "stopped job big_3", ""},
		{"stop app", append([]string{"stop", "live"}, srv...), 0, "stopped application live", ""},
		{"stop unknown", append([]string{"stop", "live"}, srv...), 1, "", "no application or job live"},
		{"no server", []string{"jobs", "--server", "http://127.0.0.1:1"}, 2, "", "connect"},
		{"no URL", []string{"jobs", "--server", "127.0.0.1:8080"}, 1, "", `--server "127.0.0.1:8080": not an http:// or https:// URL`},
	}
	for _, c := range cases {
		code, out, errOut := sluice(t, c.args...)
		if code != c.code || !strings.Contains(out, c.stdout) || !strings.Contains(errOut, c.stderr) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit %d, %q, %q", c.name, code, out, errOut, c.code, c.stdout, c.stderr)
		}
	}
}

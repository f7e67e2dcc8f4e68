package plan

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/record"
)

// EXPLAIN says when a statement retracts rows, in its text and its JSON,
// exactly when the executor does (exec.Program.Retracts).
func TestExplainRetracts(t *testing.T) {
	const update = ` WITH ('late.data.strategy'='update')`
	tests := []struct {
		src  string
		want string // in the retracts line; "" for none
	}{
		{`SELECT g, SUM(x) AS s FROM t GROUP BY g HAVING SUM(x) < 40`, "a group's row when the group stops meeting HAVING, under EMIT CHANGES"},
		{`SELECT g, SUM(x) AS s FROM t GROUP BY g HAVING SUM(x) < 40 EMIT FINAL`, ""},
		{`SELECT g, COUNT(*) AS n FROM t GROUP BY g WINDOW SESSION(ts, 1s) EMIT CHANGES`,
			"a session's row when a record extends the session or merges it with another, under EMIT CHANGES"},
		{`SELECT g, COUNT(*) AS n FROM t GROUP BY g WINDOW SESSION(ts, 1s)`, ""},
		{`SELECT g, COUNT(*) AS n FROM t GROUP BY g WINDOW SESSION(ts, 1s)` + update,
			"a session's row when a record extends the session or merges it with another, as late records update fired windows"},
		{`SELECT g, COUNT(*) AS n FROM t GROUP BY g WINDOW SESSION(ts, 1s) WITH ('late.data.strategy'='update', 'late.data.retention'='0s')`, ""},
		{`SELECT g, COUNT(*) AS n FROM t GROUP BY g HAVING COUNT(*) > 1 WINDOW TUMBLING(ts, 1m)` + update,
			"a group's row when the group stops meeting HAVING, as late records update fired windows"},
		{`SELECT g, COUNT(*) AS n FROM t GROUP BY g HAVING COUNT(*) > 1 WINDOW SESSION(ts, 1m) EMIT CHANGES`,
			"a group's row when the group stops meeting HAVING, and a session's row"},
		{`SELECT g, COUNT(*) AS n FROM t GROUP BY g EMIT CHANGES`, ""},
	}
	// a zero retention, however written, keeps no fired window to update
	for _, r := range []string{"0", "0s", "0ms", "0 ms", "0.0", "0h0m0s", "0d", "0w", "500us", "0.0004s"} {
		tests = append(tests, struct{ src, want string }{
			`SELECT g, COUNT(*) AS n FROM t GROUP BY g WINDOW SESSION(ts, 1s) WITH ('late.data.strategy'='update', 'late.data.retention'='` + r + `')`, ""})
	}
	for _, r := range []string{"1ms", "0.001", "0.5s", "1d"} {
		tests = append(tests, struct{ src, want string }{
			`SELECT g, COUNT(*) AS n FROM t GROUP BY g WINDOW SESSION(ts, 1s) WITH ('late.data.strategy'='update', 'late.data.retention'='` + r + `')`,
			"a session's row when a record extends the session or merges it with another, as late records update fired windows"})
	}
	for _, tt := range tests {
		stmt := parseOne(t, tt.src)
		p := build(t, tt.src, Options{})
		var text strings.Builder
		if err := Explain(&text, []*Plan{p}); err != nil {
			t.Fatal(err)
		}
		var js strings.Builder
		if err := ExplainJSON(&js, []*Plan{p}); err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Statements []struct {
				Analysis struct {
					Retracts string `json:"retracts"`
				} `json:"analysis"`
			} `json:"statements"`
		}
		if err := json.Unmarshal([]byte(js.String()), &doc); err != nil || len(doc.Statements) != 1 {
			t.Fatalf("%s: JSON %v: %s", tt.src, err, js.String())
		}
		props := map[string]string{}
		for _, w := range stmt.Query.With {
			props[w.Key] = w.Value
		}
		prog, err := exec.Compile(stmt.Query, exec.Options{Schema: record.NewSchema("g", "x", "ts"), Properties: props})
		if err != nil {
			t.Fatalf("%s: %v", tt.src, err)
		}
		got := doc.Statements[0].Analysis.Retracts
		switch {
		case tt.want == "" && (got != "" || strings.Contains(text.String(), "retracts:")):
			t.Errorf("%s: EXPLAIN says it retracts: %s", tt.src, text.String())
		case tt.want != "" && (!strings.Contains(got, tt.want) || !strings.Contains(text.String(), "retracts:     "+tt.want)):
			t.Errorf("%s:\nJSON retracts %q\ntext %s\nwant %q", tt.src, got, text.String(), tt.want)
		case (got != "") != prog.Retracts():
			t.Errorf("%s: EXPLAIN retracts %q, the executor %v", tt.src, got, prog.Retracts())
		}
	}
}

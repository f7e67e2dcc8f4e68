package main

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestRunAndExplainApplication(t *testing.T) {
	code, out, errOut := sluice(t, "run", "--partitions", "2", "../../examples/pipeline_app.sql")
	if code != 0 || strings.Count(out, "\n") != 400 {
		t.Fatalf("exit %d, %d rows; stderr:\n%s", code, strings.Count(out, "\n"), errOut)
	}
	for _, want := range []string{"job trades done", "job big_trades done", "job big_trades_20 done",
		"app pipeline_app done: 3 jobs (3 done, 0 interrupted, 0 failed)", "trades -> big_trades (in-process)"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	// The app summary's job lines have their states in one column, however
	// long the names.
	_, appSummary, _ := strings.Cut(errOut, "\napp pipeline_app done")
	lines := strings.Split(strings.TrimSpace(appSummary), "\n")[1:]
	if len(lines) != 3 {
		t.Fatalf("app summary:\n%s", appSummary)
	}
	for _, l := range lines {
		if strings.Index(l, " done:") != len("  big_trades_20") {
			t.Errorf("misaligned app summary line %q", l)
		}
	}

	code, out, errOut = sluice(t, "explain", "--json", "--partitions", "2", "../../examples/pipeline_app.sql")
	if code != 0 {
		t.Fatalf("explain: exit %d: %s", code, errOut)
	}
	var ex struct {
		Statements []json.RawMessage
		App        struct {
			Nodes []struct{ Name, Strategy, Sink string }
			Edges []struct{ From, To, Stream, Via string }
		}
	}
	if err := json.Unmarshal([]byte(out), &ex); err != nil {
		t.Fatal(err)
	}
	if len(ex.Statements) != 3 || len(ex.App.Nodes) != 3 || len(ex.App.Edges) != 2 ||
		ex.App.Nodes[0].Strategy != "sticky_partition" || ex.App.Nodes[0].Sink != "in-process" ||
		ex.App.Edges[1].From != "big_trades" || ex.App.Edges[1].Via != "in-process" {
		t.Fatalf("explain --json: %s", out)
	}
	code, out, _ = sluice(t, "explain", "../../examples/pipeline_app.sql")
	if code != 0 || !strings.Contains(out, "-- application pipeline_app: 3 jobs") || !strings.Contains(out, "big_trades -> big_trades_20 via big_trades (in-process)") {
		t.Fatalf("explain: exit %d:\n%s", code, out)
	}
}

func TestApplicationErrors(t *testing.T) {
	dir := t.TempDir()
	cycle := writeFile(t, dir, "cycle.sql", "CREATE STREAM a AS SELECT * FROM b;\nCREATE STREAM b AS SELECT * FROM a;\n")
	for _, cmd := range []string{"run", "explain"} {
		code, _, errOut := sluice(t, cmd, cycle)
		if code != 1 || !strings.Contains(errOut, "cycle.sql:2:34: a forms a cycle: a -> b -> a") {
			t.Errorf("%s: exit %d, stderr %q", cmd, code, errOut)
		}
	}
}

// The table example joins every big trade with its trader's final totals,
// from a CREATE TABLE ... GROUP BY read as a table keyed by trader_id, the
// same rows at every partition count.
func TestTableApplicationExample(t *testing.T) {
	var want []string
	for _, parts := range []string{"1", "3"} {
		code, out, errOut := sluice(t, "run", "--partitions", parts, "../../examples/table_app.sql")
		rows := strings.Split(strings.TrimSpace(out), "\n")
		if code != 0 || len(rows) != 226 || !strings.Contains(rows[0], `"volume":`) {
			t.Fatalf("%s partitions: exit %d, %d rows; stderr:\n%s", parts, code, len(rows), errOut)
		}
		slices.Sort(rows)
		if want == nil {
			want = rows
		} else if !slices.Equal(rows, want) {
			t.Fatalf("%s partitions: other rows than at 1 partition", parts)
		}
	}
}

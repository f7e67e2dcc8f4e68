package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/plan"
	"github.com/sluicesql/sluice/sql"
)

// joinFiles writes a trades stream and a traders table as JSON lines and
// returns the WITH clause that reads them.
func joinFiles(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name, data string) string { return writeFile(t, dir, name, data) }
	trades := write("trades.jsonl", `{"id":1,"trader_id":"T1","qty":10}
{"id":2,"trader_id":"T2","qty":0}
{"id":3,"trader_id":"T3","qty":5}
`)
	traders := write("traders.jsonl", `{"trader_id":"T1","name":"Ada","qty":100}
{"trader_id":"T2","name":"Grace","qty":7}
`)
	return ` WITH ('trades.type'='file_source', 'trades.path'='` + trades + `',
	'traders.type'='file_source', 'traders.path'='` + traders + `', 'traders.primary.key'='trader_id',
	'dlq.path'='` + filepath.Join(dir, "dlq.jsonl") + `')`
}

// runJoin runs one statement on 2 workers and returns its rows and the
// dead-letter file's lines.
func runJoin(t *testing.T, text string) ([]map[string]any, []string, error) {
	t.Helper()
	return runJoinOn(t, text, 2)
}

// runJoinOn runs one statement on n workers and returns its rows and the
// dead-letter file's lines.
func runJoinOn(t *testing.T, text string, n int) ([]map[string]any, []string, error) {
	t.Helper()
	stmts, err := sql.Parse("join.sql", text)
	if err != nil {
		return nil, nil, err
	}
	var out bytes.Buffer
	j, err := Prepare(context.Background(), stmts[0], Options{Stdout: &out, Partitions: n})
	if err != nil {
		return nil, nil, err
	}
	if _, err := j.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, m)
	}
	dlq, _ := os.ReadFile(j.Props["dlq.path"])
	var dead []string
	for _, l := range strings.Split(strings.TrimSpace(string(dlq)), "\n") {
		if l != "" {
			dead = append(dead, l)
		}
	}
	return rows, dead, nil
}

func TestJoinErrors(t *testing.T) {
	with := joinFiles(t)
	tests := []struct{ q, want string }{
		{`SELECT * FROM trades t JOIN traders r ON t.trader_id = r.trader_id`, `SELECT * gives two columns "trader_id" (of t and r): leave one out with r.* EXCEPT (trader_id), or list the columns`},
		{`SELECT t.*, r.* FROM trades t JOIN traders r ON t.trader_id = r.trader_id`, `SELECT r.* gives two columns "trader_id" (of t and r)`},
		{`SELECT * EXCEPT (tradr_id) FROM trades t JOIN traders r ON t.trader_id = r.trader_id`, `unknown column "tradr_id"; did you mean "trader_id"?`},
		{`SELECT t.id, name FROM trades t JOIN traders r ON t.trader_id = r.trader_id`, ``},
		{`SELECT qty FROM trades t JOIN traders r ON t.trader_id = r.trader_id`, `column "qty" is ambiguous: write t.qty or r.qty`},
		{`SELECT nam FROM trades t JOIN traders r ON t.trader_id = r.trader_id`, `unknown column "nam"; did you mean "r.name"? (the inputs are trades AS t, traders AS r)`},
		{`SELECT r.nam FROM trades t JOIN traders r ON t.trader_id = r.trader_id`, `unknown column "nam" in traders; did you mean "name"?`},
		{`SELECT x.id FROM trades t JOIN traders r ON t.trader_id = r.trader_id`, `unknown qualifier "x"`},
		{`SELECT t.id FROM trades t RIGHT JOIN traders r ON t.trader_id = r.trader_id`, `RIGHT JOIN traders: a stream-table join is INNER or LEFT`},
		{`SELECT t.id FROM trades t JOIN traders r ON t.qty = r.qty`, `must equate r.trader_id with the stream`},
		{`SELECT t.id FROM trades t JOIN trades u ON t.id = u.id`, `a stream-stream join needs a time bound`},
		{`SELECT t.id, r._offset FROM trades t JOIN traders r ON t.trader_id = r.trader_id`, `system columns are those of the stream record`},
		{`SELECT t.id FROM trades t JOIN trades u ON t.id = u.id WITHIN INTERVAL '1' SECOND JOIN trades v ON t.id = v.id WITHIN INTERVAL '1' SECOND`, ``},
		{`SELECT t.id, u.qty AS uq, v.qty AS vq FROM trades t JOIN trades u ON t.id = u.id WITHIN INTERVAL '1' SECOND JOIN trades v ON u.qty = v.qty WITHIN INTERVAL '1' SECOND`, ``},
		{`SELECT t.id, v.id FROM trades t JOIN trades u ON t.id = u.id WITHIN INTERVAL '1' SECOND JOIN trades v ON t.id = v.id WITHIN INTERVAL '1' SECOND`, `SELECT gives two columns "id" (t.id and v.id): name one with AS, as in v.id AS v_id`},
		{`SELECT * FROM trades t JOIN trades u ON t.id = u.id WITHIN INTERVAL '1' SECOND JOIN trades v ON t.id = v.id WITHIN INTERVAL '1' SECOND`, `SELECT * gives two columns "id" (of t and u)`},
		{`SELECT t.*, u.qty AS uq, v.* EXCEPT (id, trader_id, qty) FROM trades t JOIN trades u ON t.id = u.id WITHIN INTERVAL '1' SECOND JOIN trades v ON t.id = v.id WITHIN INTERVAL '1' SECOND`, ``},
		{`SELECT t.id FROM trades t JOIN trades u ON t.id = u.id WITHIN INTERVAL '1' SECOND JOIN trades v ON t.id = v.id AND v.qty BETWEEN u.qty - INTERVAL '1' SECOND AND u.qty + INTERVAL '1' SECOND`,
			`JOIN trades: the time bound reads u.qty, which is not its event time (it has none: its records' timestamps)`},
		{`SELECT t.id FROM trades t JOIN trades u ON t.id = u.id WITHIN INTERVAL '1' SECOND JOIN trades v ON t.id = v.id`, `a stream-stream join needs a time bound`},
		{`SELECT t.id FROM trades t JOIN trades u ON t.id = u.id AND u.qty < r.qty WITHIN INTERVAL '1' SECOND JOIN traders r ON r.trader_id = t.trader_id`, `ON of JOIN trades reads a source joined after it: u.qty < r.qty`},
		{`SELECT t.id FROM trades t JOIN traders r ON t.trader_id = r.trader_id JOIN trades u ON t.id = u.id AND u.qty = v.qty WITHIN INTERVAL '1' SECOND`, `unknown qualifier "v"`},
	}
	// A statement that does not read traders must not name it in WITH.
	tradesOnly := regexp.MustCompile(`'traders\.[a-z_.]+'='[^']*',\s*`).ReplaceAllString(with, "")
	for _, tc := range tests {
		w := with
		if !strings.Contains(tc.q, "traders") {
			w = tradesOnly
		}
		_, _, err := runJoin(t, tc.q+w)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.q, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want %q", tc.q, err, tc.want)
		case tc.want != "":
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Errorf("%s: %v is not a ConfigError", tc.q, err)
			}
		}
	}
}

func TestJoinStarAndDeadLetters(t *testing.T) {
	with := joinFiles(t)
	rows, _, err := runJoin(t, `SELECT t.*, r.name, r.qty AS limit_qty FROM trades t LEFT JOIN traders r ON t.trader_id = r.trader_id`+with)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3: %v", len(rows), rows)
	}
	for _, r := range rows {
		if len(r) != 5 || r["id"] == nil {
			t.Errorf("row %v: want id, trader_id, qty, name, limit_qty", r)
		}
	}
	// EXCEPT applies to a star across a join: unqualified, it leaves the
	// column out of every input; qualified, out of that input only.
	for q, want := range map[string][]string{
		`SELECT * EXCEPT (trader_id, qty) FROM trades t JOIN traders r ON t.trader_id = r.trader_id`:                     {"id", "name"},
		`SELECT t.* EXCEPT (qty), r.* EXCEPT (trader_id, qty) FROM trades t JOIN traders r ON t.trader_id = r.trader_id`: {"id", "name", "trader_id"},
	} {
		rows, _, err := runJoin(t, q+with)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for _, r := range rows {
			if len(r) != len(want) {
				t.Errorf("%s: row %v, want the columns %v", q, r, want)
			}
			for _, c := range want {
				if _, ok := r[c]; !ok {
					t.Errorf("%s: row %v has no %s", q, r, c)
				}
			}
		}
	}
	// A row failing after the join (division by zero for T2) is dead-lettered
	// with the stream record's bytes; the others are joined.
	rows, dead, err := runJoin(t, `SELECT t.id, r.qty / t.qty AS ratio FROM trades t JOIN traders r ON t.trader_id = r.trader_id`+with)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || len(dead) != 1 {
		t.Fatalf("rows %v, dead letters %v: want 1 and 1", rows, dead)
	}
	var d struct{ Raw json.RawMessage }
	if err := json.Unmarshal([]byte(dead[0]), &d); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(d.Raw), `T2`) {
		t.Errorf("dead letter %s does not carry the stream record's bytes", dead[0])
	}
}

// TestJoinRouting checks the planner's choice for a table: broadcast when it
// is small, hashed alike with the stream when it has more rows than
// 'join.broadcast.max.rows' or is forced, and that EXPLAIN --json names
// every input with its role, routing, keys and why.
func TestJoinRouting(t *testing.T) {
	with := joinFiles(t)
	const q = `SELECT t.trader_id, COUNT(*) AS n FROM trades t JOIN traders r ON t.trader_id = r.trader_id GROUP BY t.trader_id EMIT FINAL`
	cases := []struct {
		extra     string
		broadcast bool
		strategy  string
	}{
		{"", true, "always_hash"},
		{", 'join.broadcast.max.rows'='1'", false, "always_hash"},
		{", 'traders.broadcast'='false'", false, "always_hash"},
	}
	for _, tc := range cases {
		text := q + strings.TrimSuffix(with, ")") + tc.extra + ")"
		stmts, err := sql.Parse("join.sql", text)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		j, err := Prepare(context.Background(), stmts[0], Options{Stdout: &out, Partitions: 3})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := j.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		in := j.Plan.Inputs[1]
		if in.Role != "table" || in.Broadcast != tc.broadcast || in.Rows != 2 || j.Plan.Strategy.Name() != tc.strategy {
			t.Errorf("%s: table %+v, strategy %s; want broadcast %v, 2 rows, %s", tc.extra, in, j.Plan.Strategy.Name(), tc.broadcast, tc.strategy)
		}
		if got := strings.Count(out.String(), "\n"); got != 2 {
			t.Errorf("%s: %d rows, want 2 (T1, T2):\n%s", tc.extra, got, out.String())
		}
		var js bytes.Buffer
		if err := plan.ExplainJSON(&js, []*plan.Plan{j.Plan}); err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Statements []struct {
				Inputs []struct {
					Name, Role, Routing, Why string
					Keys                     []string
				}
				JoinState string `json:"join_state"`
			}
		}
		if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
			t.Fatal(err)
		}
		ins := doc.Statements[0].Inputs
		if len(ins) != 2 || ins[0].Role != "stream" || ins[1].Role != "table" || ins[1].Why == "" || doc.Statements[0].JoinState == "" {
			t.Errorf("%s: EXPLAIN inputs %+v", tc.extra, doc.Statements[0])
		}
		if !tc.broadcast && (ins[1].Routing != "always_hash on r.trader_id" || len(ins[1].Keys) != 1) {
			t.Errorf("%s: table routed %q keys %v, want always_hash on r.trader_id", tc.extra, ins[1].Routing, ins[1].Keys)
		}
		if tc.broadcast && ins[1].Routing != "broadcast" {
			t.Errorf("%s: table routed %q, want broadcast", tc.extra, ins[1].Routing)
		}
	}
}

// TestJoinWithoutBootstrap joins while the table loads: every trade is
// counted, and the job ends.
func TestJoinWithoutBootstrap(t *testing.T) {
	with := joinFiles(t)
	rows, _, err := runJoin(t, `SELECT t.id, r.name FROM trades t LEFT JOIN traders r ON t.trader_id = r.trader_id`+
		strings.TrimSuffix(with, ")")+", 'traders.bootstrap'='false')")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 3 {
		t.Errorf("%d rows, want one per trade: %v", len(rows), rows)
	}
}

// TestTemporalJoin joins each order with the rate valid at its event time
// (FOR SYSTEM_TIME AS OF), the rates' versions read out of order, at every
// partition count and table routing.
func TestTemporalJoin(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string { return writeFile(t, dir, name, data) }
	orders := write("orders.jsonl", `{"id":1,"cur":"EUR","ts":"2024-01-01T10:00:00Z"}
{"id":2,"cur":"EUR","ts":"2024-01-01T10:05:00Z"}
{"id":3,"cur":"EUR","ts":"2024-01-01T10:15:00Z"}
{"id":4,"cur":"GBP","ts":"2024-01-01T09:00:00Z"}
{"id":5,"cur":"GBP","ts":"2024-01-01T11:00:00Z"}
`)
	rates := write("rates.jsonl", `{"cur":"EUR","rate":1.10,"ts":"2024-01-01T09:55:00Z"}
{"cur":"EUR","rate":1.12,"ts":"2024-01-01T10:10:00Z"}
{"cur":"EUR","rate":1.11,"ts":"2024-01-01T10:03:00Z"}
{"cur":"GBP","rate":1.30,"ts":"2024-01-01T10:00:00Z"}
`)
	want := []string{`{"id":1,"rate":1.10}`, `{"id":2,"rate":1.11}`, `{"id":3,"rate":1.12}`, `{"id":4,"rate":null}`, `{"id":5,"rate":1.30}`}
	for _, n := range []int{1, 2, 4} {
		for _, bc := range []string{"true", "false"} {
			text := `SELECT o.id, r.rate FROM orders o LEFT JOIN rates FOR SYSTEM_TIME AS OF o.ts AS r ON o.cur = r.cur
WITH ('orders.type'='file_source', 'orders.path'='` + orders + `', 'rates.type'='file_source', 'rates.path'='` + rates + `',
      'rates.primary.key'='cur', 'rates.broadcast'='` + bc + `', 'event.time.field'='ts', 'dlq.path'='` + filepath.Join(dir, "dlq") + `')`
			stmts, err := sql.Parse("temporal.sql", text)
			if err != nil {
				t.Fatal(err)
			}
			if s := stmts[0].String(); !strings.Contains(s, "JOIN rates FOR SYSTEM_TIME AS OF o.ts r ON") {
				t.Errorf("printed as %s", s)
			}
			var out bytes.Buffer
			j, err := Prepare(context.Background(), stmts[0], Options{Stdout: &out, Partitions: n})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := j.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := sortedLines(out.String()); strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("N=%d, broadcast %s:\n%s\nwant\n%s", n, bc, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
	}
}

// writeFile writes data to dir/name and returns the path.
func writeFile(t *testing.T, dir, name, data string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTableDeadLetters sends a table line that does not decode to the
// dead-letter file; the other rows are joined.
func TestTableDeadLetters(t *testing.T) {
	dir := t.TempDir()
	trades := writeFile(t, dir, "trades.jsonl", `{"id":1,"trader_id":"T1"}
{"id":2,"trader_id":"T2"}
`)
	traders := writeFile(t, dir, "traders.jsonl", `{"trader_id":"T1","name":"Ada"}
{"trader_id":"T2","name":
`)
	rows, dead, err := runJoin(t, `SELECT t.id, r.name FROM trades t LEFT JOIN traders r ON t.trader_id = r.trader_id WITH (
'trades.type'='file_source', 'trades.path'='`+trades+`', 'traders.type'='file_source', 'traders.path'='`+traders+`',
'traders.primary.key'='trader_id', 'traders.columns'='trader_id STRING, name STRING', 'dlq.path'='`+filepath.Join(dir, "dlq.jsonl")+`')`)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || len(dead) != 1 || !strings.Contains(dead[0], "traders") {
		t.Errorf("rows %v, dead letters %v: want 2 rows and the bad table line", rows, dead)
	}
}

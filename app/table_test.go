package app_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/app"
	"github.com/sluicesql/sluice/plan"
	"github.com/sluicesql/sluice/runner"
	"github.com/sluicesql/sluice/sql"
)

// runApp runs the application src to its end, fails the test on any
// job's error or interruption, and returns how its jobs ended.
func runApp(t *testing.T, src string, opts runner.Options) []app.Result {
	t.Helper()
	a, err := build(t, src)
	if err != nil {
		t.Fatal(err)
	}
	run, err := a.Start(context.Background(), opts, app.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	results, err := run.Wait()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Summary == nil || r.Summary.Interrupted {
			t.Fatalf("job %s did not run to its end: %+v", r.Name, r.Summary)
		}
	}
	return results
}

// A CREATE TABLE ... GROUP BY k read by a JOIN is a table keyed by k with
// no '<n>.primary.key': its changelog (EMIT CHANGES, an update per change)
// becomes the latest row per key, and a bounded writer's table is read
// whole before the stream flows, so the join gives what a join with the
// GROUP BY's final result gives. It holds when the stream and the table
// come from one upstream stream too (whose rows the join holds while the
// table fills).
func TestTableFromGroupByIsKeyed(t *testing.T) {
	const gen = "'g.type'='generator','g.generator'='trades','g.count'='30000','g.partitions'='2'"
	totals := "SELECT trader_id, COUNT(*) AS n, SUM(quantity) AS volume FROM %s GROUP BY trader_id"
	join := "SELECT t.trader_id, t.quantity, v.n, v.volume FROM %s t JOIN totals v ON t.trader_id = v.trader_id"
	out := func(dir, name string) string {
		return fmt.Sprintf("'%[2]s.type'='file_sink','%[2]s.path'='%[1]s'", filepath.Join(dir, name+".jsonl"), name)
	}

	// By hand: the GROUP BY into a file, then the join with that file as a
	// table keyed by trader_id.
	hand := t.TempDir()
	runApp(t, "CREATE STREAM totals AS "+fmt.Sprintf(totals, "g")+" WITH ("+gen+", "+out(hand, "totals")+");", runner.Options{Partitions: 2})
	runApp(t, "CREATE STREAM joined AS "+fmt.Sprintf(join, "g")+" WITH ("+gen+", "+out(hand, "joined")+
		", 'totals.type'='file_source','totals.path'='"+filepath.Join(hand, "totals.jsonl")+"','totals.primary.key'='trader_id');", runner.Options{Partitions: 2})
	want := lines(t, filepath.Join(hand, "joined.jsonl"))
	if len(want) != 30000 {
		t.Fatalf("the join by hand wrote %d rows, want 30000", len(want))
	}

	for _, c := range []struct{ name, src string }{
		{"own sources", "CREATE TABLE totals AS " + fmt.Sprintf(totals, "g") + " WITH (" + gen + ");\n" +
			"CREATE STREAM joined AS " + fmt.Sprintf(join, "g") + " WITH (" + gen + ", %s);"},
		{"one upstream stream", "CREATE STREAM trades AS SELECT * FROM g WITH (" + gen + ");\n" +
			"CREATE TABLE totals AS " + fmt.Sprintf(totals, "trades") + ";\n" +
			"CREATE STREAM joined AS " + fmt.Sprintf(join, "trades") + " WITH (%s);"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, parts := range []int{1, 3} {
				dir := t.TempDir()
				runApp(t, fmt.Sprintf(c.src, out(dir, "joined")), runner.Options{Partitions: parts})
				if got := lines(t, filepath.Join(dir, "joined.jsonl")); !slices.Equal(got, want) {
					t.Fatalf("%d partitions: the application wrote %d rows, the join by hand %d", parts, len(got), len(want))
				}
			}
		})
	}
}

// The reader of an in-process table gets the writer's column types: a
// type error in the reading statement is reported before anything runs.
func TestInProcessSchemaIsTyped(t *testing.T) {
	for _, use := range []string{"n + 'x'", "q + 'x'", "trader_id + 'x'", "m + 'x'"} {
		src := `CREATE TABLE totals AS SELECT trader_id, COUNT(*) AS n, SUM(quantity) AS q, MAX(quantity) AS m FROM g GROUP BY trader_id
WITH ('g.type'='generator','g.generator'='trades','g.count'='10');
SELECT trader_id, ` + use + ` AS s FROM totals;`
		a, err := build(t, src)
		if err != nil {
			t.Fatal(err)
		}
		err = a.Check(context.Background(), runner.Options{})
		var se *sql.Error
		if !errors.As(err, &se) || se.Pos.Line != 3 || !strings.Contains(se.Msg, "+ STRING") || strings.Contains(se.Msg, "ANY") {
			t.Fatalf("%s: got %v, want a type error on line 3", use, err)
		}
	}
}

// EXPLAIN plans a JOIN of a CREATE TABLE ... GROUP BY k as a join with a
// table keyed by k, as it runs.
func TestExplainInProcessTable(t *testing.T) {
	a, err := build(t, `CREATE STREAM trades AS SELECT * FROM g WITH ('g.type'='generator','g.generator'='trades','g.count'='10');
CREATE TABLE totals AS SELECT trader_id, COUNT(*) AS n FROM trades GROUP BY trader_id;
SELECT t.trader_id, v.n FROM trades t JOIN totals v ON t.trader_id = v.trader_id;`)
	if err != nil {
		t.Fatal(err)
	}
	plans, err := a.Plans(context.Background(), plan.Options{Partitions: 2}, runner.Options{NoInfer: true})
	if err != nil {
		t.Fatal(err)
	}
	in := plans[2].Inputs
	if len(in) != 2 || in[1].Role != "table" {
		t.Fatalf("inputs of the join %+v, want totals as a table", in)
	}
}

// A table whose writer's input does not end is never whole: asking for
// its bootstrap is an error naming the property, and the application stops.
func TestUnboundedTableBootstrapIsRefused(t *testing.T) {
	a, err := build(t, `CREATE TABLE totals AS SELECT trader_id, COUNT(*) AS n FROM g GROUP BY trader_id
WITH ('g.type'='generator','g.generator'='trades','g.count'='unbounded','g.rate'='1000');
SELECT t.trader_id, v.n FROM s t JOIN totals v ON t.trader_id = v.trader_id
WITH ('s.type'='generator','s.generator'='trades','s.count'='10','totals.bootstrap'='true');`)
	if err != nil {
		t.Fatal(err)
	}
	run, err := a.Start(context.Background(), runner.Options{Stdout: io.Discard}, app.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run.Wait(); err == nil || !strings.Contains(err.Error(), "'totals.bootstrap'") || !strings.Contains(err.Error(), "never complete") {
		t.Fatalf("got %v, want the refusal of 'totals.bootstrap'", err)
	}
}

// EXPLAIN gives an in-process stream the writer's column types, as run
// does, for the statement after it too (they showed as ANY).
func TestExplainInProcessSchemaIsTyped(t *testing.T) {
	a, err := build(t, `CREATE STREAM big AS SELECT trader_id, symbol, price * quantity AS notional FROM g WHERE quantity > 5
WITH ('g.type'='generator','g.generator'='trades','g.count'='10');
CREATE TABLE totals AS SELECT symbol, MAX(notional) AS top, COUNT(*) AS n FROM big GROUP BY symbol;
SELECT * FROM totals;`)
	if err != nil {
		t.Fatal(err)
	}
	plans, err := a.Plans(context.Background(), plan.Options{Partitions: 2}, runner.Options{NoInfer: true})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{
		"trader_id BIGINT, symbol STRING, notional DECIMAL(18,2)",
		"symbol STRING, top DECIMAL(18,2), n BIGINT NOT NULL",
	} {
		if got := plans[i+1].Inputs[0].Schema.Columns.String(); got != want {
			t.Errorf("statement %d reads %s, want %s", i+2, got, want)
		}
	}
}

package app_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicesql/sluice/app"
	"github.com/sluicesql/sluice/job"
	"github.com/sluicesql/sluice/plan"
	"github.com/sluicesql/sluice/runner"
	"github.com/sluicesql/sluice/sql"
)

// build parses src and builds its application.
func build(t *testing.T, src string) (*app.App, error) {
	t.Helper()
	stmts, err := sql.Parse("app.sql", src)
	if err != nil {
		t.Fatal(err)
	}
	return app.New("app.sql", src, stmts, nil)
}

const gen = "WITH ('g.type'='generator','g.generator'='trades','g.count'='100')"

func TestPlanErrors(t *testing.T) {
	cases := []struct {
		name, src string
		line, col int
		msg       string
	}{
		{"two writers", "CREATE STREAM a AS SELECT * FROM g " + gen + ";\nCREATE STREAM a AS SELECT * FROM g " + gen + ";",
			2, 1, "a is written by two statements (the other at line 1)"},
		{"undefined", "CREATE STREAM a AS SELECT * FROM g " + gen + ";\nSELECT * FROM nope;",
			2, 15, `source "nope" has no type and no statement writes it`},
		{"undefined, close to a written stream", "CREATE STREAM trades AS SELECT * FROM g " + gen + ";\nSELECT * FROM trade;",
			2, 15, `source "trade" has no type and no statement writes it: set WITH ('trade.type'='...') to one of kafka_source, file_source, generator; did you mean "trades"?`},
		{"undefined, close to a typed name", "SELECT * FROM trade WITH ('trades.type'='generator','trades.generator'='trades');",
			1, 15, `did you mean "trades"?`},
		{"one consumer group, two jobs", "CREATE STREAM k WITH ('type'='kafka_source','bootstrap.servers'='localhost:1','group.id'='g1');\nSELECT * FROM k;\nSELECT COUNT(*) FROM k;",
			3, 22, `k reads topic "k" in consumer group "g1", as the statement at line 2 does`},
		{"cycle", "CREATE STREAM a AS SELECT * FROM b;\nCREATE STREAM b AS SELECT * FROM a;",
			2, 34, "forms a cycle: a -> b -> a"},
		{"self", "CREATE STREAM a AS SELECT * FROM a;", 1, 34, "forms a cycle: a -> a"},
		{"policy", "SELECT * FROM g WITH ('g.type'='generator','g.generator'='trades','app.on.failure'='retry');",
			1, 67, `unknown value "retry"; valid: stop, continue`},
		{"app key", "SELECT * FROM g WITH ('g.type'='generator','g.generator'='trades','app.bogus'='1');",
			1, 67, `unknown application property "app.bogus"`},
		{"stdout sink read", "CREATE STREAM a AS SELECT * FROM g WITH ('g.type'='generator','g.generator'='trades','a.type'='nowhere');\nSELECT * FROM a;",
			2, 15, "nowhere sink, which cannot be read"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := build(t, c.src)
			if err == nil {
				err = a.Undefined()
			}
			var se *sql.Error
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a positioned error", err)
			}
			if se.Pos.Line != c.line || se.Pos.Col != c.col || !strings.Contains(se.Msg, c.msg) {
				t.Fatalf("got %d:%d %q, want %d:%d containing %q", se.Pos.Line, se.Pos.Col, se.Msg, c.line, c.col, c.msg)
			}
		})
	}
}

func TestGraph(t *testing.T) {
	a, err := build(t, `SELECT * FROM big;
CREATE STREAM big AS SELECT trader_id, quantity FROM trades WHERE quantity > 500;
CREATE STREAM trades AS SELECT * FROM g `+gen+`;
CREATE STREAM k AS SELECT * FROM big WITH ('k.type'='kafka_sink','k.topic'='x','k.bootstrap.servers'='localhost:1');
SELECT * FROM k WITH ('app.on.failure'='continue');`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range a.Nodes {
		names = append(names, n.Name)
	}
	if got := strings.Join(names, " "); got != "trades big big_1 k k_5" {
		t.Fatalf("order %q, want writers first", got)
	}
	var edges []string
	for _, e := range a.Edges {
		edges = append(edges, e.From+"->"+e.To+"("+e.Via+")")
	}
	slices.Sort(edges)
	if got := strings.Join(edges, " "); got != "big->big_1(in-process) big->k(in-process) k->k_5(kafka) trades->big(in-process)" {
		t.Fatalf("edges %s", got)
	}
	if a.OnFailure != app.ContinueOnFailure {
		t.Fatalf("on failure %q", a.OnFailure)
	}
}

// chainSQL is generator -> filter -> GROUP BY in tumbling windows of one
// window (MINUTE, SECOND), with that out-of-orderness, -> file; with
// files set, the first two statements write files of dir, which the next
// ones read, instead of streams.
func chainSQL(count, window, outOfOrder, dir string, files bool) []string {
	with := func(props ...string) string {
		if len(props) == 0 {
			return ""
		}
		return " WITH (" + strings.Join(props, ", ") + ")"
	}
	file := func(name, typ string) []string {
		if !files {
			return nil
		}
		return []string{"'" + name + ".type'='" + typ + "'", "'" + name + ".path'='" + filepath.Join(dir, name+".jsonl") + "'"}
	}
	return []string{
		"CREATE STREAM trades AS SELECT trader_id, symbol, price, quantity, trade_time FROM g" +
			with(append([]string{"'g.type'='generator'", "'g.generator'='trades'", "'g.count'='" + count + "'", "'g.partitions'='2'"}, file("trades", "file_sink")...)...),
		"CREATE STREAM big AS SELECT trader_id, quantity, trade_time FROM trades WHERE quantity >= 500" +
			with(append(file("trades", "file_source"), file("big", "file_sink")...)...),
		"CREATE STREAM per_minute AS SELECT trader_id, _WINDOW_START AS ws, COUNT(*) AS n, SUM(quantity) AS volume FROM big " +
			"GROUP BY trader_id WINDOW TUMBLING(trade_time, INTERVAL '1' " + window + ") EMIT FINAL" +
			with(append(file("big", "file_source"), "'watermark.max_out_of_orderness'='"+outOfOrder+"'", "'per_minute.type'='file_sink'",
				"'per_minute.path'='"+filepath.Join(dir, "per_minute.jsonl")+"'")...),
	}
}

// lines returns the sorted lines of a file.
func lines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := strings.Fields(string(b))
	slices.Sort(out)
	return out
}

func TestChainMatchesStatementsRunByHand(t *testing.T) {
	ctx := context.Background()
	hand := t.TempDir()
	for _, text := range chainSQL("30000", "MINUTE", "10m", hand, true) {
		stmts, err := sql.Parse("hand.sql", text)
		if err != nil {
			t.Fatal(err)
		}
		j, err := runner.Prepare(ctx, stmts[0], runner.Options{Partitions: 2})
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		if _, err := j.Run(ctx); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	src := strings.Join(chainSQL("30000", "MINUTE", "10m", dir, false), ";\n")
	a, err := build(t, src)
	if err != nil {
		t.Fatal(err)
	}
	run, err := a.Start(ctx, runner.Options{Partitions: 2}, app.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	results, err := run.Wait()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Summary == nil || r.Summary.Interrupted || r.Summary.DeadLetters > 0 {
			t.Fatalf("job %s: %+v", r.Name, r.Summary)
		}
	}
	want, got := lines(t, filepath.Join(hand, "per_minute.jsonl")), lines(t, filepath.Join(dir, "per_minute.jsonl"))
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("the application wrote %d rows, the statements by hand %d:\n%v\n%v", len(got), len(want), got, want)
	}
}

// An application whose first statement never ends runs every statement at
// once, and a stop drains it upstream-first: every job ends interrupted,
// without error.
func TestUnboundedChainStops(t *testing.T) {
	dir := t.TempDir()
	a, err := build(t, strings.Join(chainSQL("unbounded", "SECOND", "0s", dir, false), ";\n"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var written atomic.Int64
	hooks := app.Hooks{Progress: func(name string, s *job.Summary) {
		if name == "per_minute" {
			written.Store(s.Total.Out)
		}
	}}
	run, err := a.Start(ctx, runner.Options{Partitions: 2, ProgressInterval: 10 * time.Millisecond}, hooks)
	if err != nil {
		t.Fatal(err)
	}
	for written.Load() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	results, err := run.Wait()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Err != nil || r.Summary == nil || !r.Summary.Interrupted {
			t.Fatalf("job %s: err %v, summary %+v", r.Name, r.Err, r.Summary)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "per_minute.jsonl")); !bytes.Contains(b, []byte(`"ws"`)) {
		t.Fatalf("no windows written: %q", b)
	}
}

// runFailingF runs a, whose job f fails, and returns how its jobs ended.
func runFailingF(t *testing.T, a *app.App, opts runner.Options) []app.Result {
	t.Helper()
	opts.Stdout = io.Discard
	run, err := a.Start(context.Background(), opts, app.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	results, err := run.Wait()
	if err == nil || !strings.Contains(err.Error(), "job f failed") {
		t.Fatalf("got %v, want the failure of job f", err)
	}
	return results
}

// A failing job stops the application, which names it.
func TestFailureStopsTheApplication(t *testing.T) {
	dir := t.TempDir()
	src := `CREATE STREAM trades AS SELECT * FROM g WITH ('g.type'='generator','g.generator'='trades','g.count'='unbounded');
SELECT trader_id FROM f WITH ('f.type'='file_source','f.path'='` + filepath.Join(dir, "bad.jsonl") + `','dlq.max_errors'='1');
SELECT * FROM trades WITH ('dlq.path'='` + filepath.Join(dir, "dlq.jsonl") + `');`
	if err := os.WriteFile(filepath.Join(dir, "bad.jsonl"), []byte("not json\nnor this\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := build(t, src)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runFailingF(t, a, runner.Options{}) {
		// a job stopped before it ran has no summary
		if r.Name != "f" && (r.Err != nil || r.Summary != nil && !r.Summary.Interrupted) {
			t.Fatalf("job %s was not stopped: %+v", r.Name, r.Summary)
		}
	}
}

// The example application gives its expected rows for every partition
// count: the in-process streams keep their writers' order, so even the late
// records are the same on every run.
func TestExampleApplication(t *testing.T) {
	path := "../examples/pipeline_app.sql"
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../examples/pipeline_app.expected.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := sql.Parse(path, string(src))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 2, 3, 4, 8} {
		a, err := app.New(path, string(src), stmts, nil)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		run, err := a.Start(context.Background(), runner.Options{Partitions: n, Stdout: &out}, app.Hooks{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := run.Wait(); err != nil {
			t.Fatal(err)
		}
		got := strings.Fields(out.String())
		slices.Sort(got)
		if !slices.Equal(got, strings.Fields(string(want))) {
			t.Fatalf("%d partitions: %d rows differ from the %d expected", n, len(got), len(strings.Fields(string(want))))
		}
	}
}

// With 'app.on.failure' = 'continue' the other jobs run to their end.
func TestFailureContinue(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "bad.jsonl"), []byte("not json\nnor this\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := `CREATE STREAM trades AS SELECT * FROM g WITH ('g.type'='generator','g.generator'='trades','g.count'='50000'%s);
SELECT trader_id FROM f WITH ('f.type'='file_source','f.path'='` + filepath.Join(dir, "bad.jsonl") + `','dlq.max_errors'='1');
SELECT * FROM trades WITH ('dlq.path'='` + filepath.Join(dir, "dlq.jsonl") + `');`
	// the policy in a WITH clause, or as --set (which wins)
	for _, c := range []struct {
		with string
		set  map[string]string
	}{
		{",'app.on.failure'='continue'", nil},
		{",'app.on.failure'='stop'", map[string]string{"app.on.failure": "continue"}},
	} {
		text := fmt.Sprintf(src, c.with)
		stmts, err := sql.Parse("app.sql", text)
		if err != nil {
			t.Fatal(err)
		}
		a, err := app.New("app.sql", text, stmts, c.set)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range runFailingF(t, a, runner.Options{Set: c.set}) {
			if r.Name != "f" && (r.Err != nil || r.Summary == nil || r.Summary.Interrupted || r.Summary.RowsWritten != 50000) {
				t.Fatalf("%v: job %s did not run to its end: %v %+v", c, r.Name, r.Err, r.Summary)
			}
		}
	}
	stmts, _ := sql.Parse("app.sql", fmt.Sprintf(src, ""))
	for set, want := range map[string]string{"app.on.failure=retry": `--set app.on.failure=retry: app.on.failure: unknown value "retry"; valid: stop, continue`,
		"app.onfailure=stop": `unknown application property "app.onfailure"`} {
		k, v, _ := strings.Cut(set, "=")
		if _, err := app.New("app.sql", "", stmts, map[string]string{k: v}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--set %s: %v, want %q", set, err, want)
		}
	}
}

// A stream read by several statements gives each of them every row (it was
// split between them: one reader got the rows, the others none), and a
// JOIN may read it too.
func TestStreamWithSeveralReaders(t *testing.T) {
	dir := t.TempDir()
	traders := filepath.Join(dir, "traders.jsonl")
	if err := os.WriteFile(traders, []byte(`{"trader_id":1,"name":"a"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := `CREATE STREAM big AS SELECT trader_id, quantity FROM g WHERE quantity >= 500 ` + gen + `;
SELECT trader_id FROM big;
SELECT COUNT(*) AS n FROM big;
SELECT b.trader_id, r.name FROM big b LEFT JOIN traders r ON b.trader_id = r.trader_id
WITH ('traders.type'='file_source', 'traders.path'='` + traders + `', 'traders.primary.key'='trader_id')`
	a, err := build(t, src)
	if err != nil {
		t.Fatal(err)
	}
	run, err := a.Start(context.Background(), runner.Options{Partitions: 2, Stdout: io.Discard}, app.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	results, err := run.Wait()
	if err != nil {
		t.Fatal(err)
	}
	in := map[string]int64{}
	for _, r := range results {
		in[r.Name] = r.Summary.Total.In
	}
	if in["big"] != 100 || in["big_2"] == 0 || in["big_2"] != in["big_3"] || in["big_2"] != in["big_4"] {
		t.Fatalf("records read per job %v: want every reader of big to read all its rows", in)
	}
}

// TestExplainInfersOnce: Plans (EXPLAIN) uses the schemas Check inferred
// and reads no sample again: a source whose file changes between the two
// is planned with what Check saw.
func TestExplainInfersOnce(t *testing.T) {
	data := filepath.Join(t.TempDir(), "t.jsonl")
	if err := os.WriteFile(data, []byte("{\"a\":1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := build(t, "SELECT a FROM t WITH ('t.type'='file_source','t.path'='"+data+"');")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Check(context.Background(), runner.Options{}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(data, []byte("{\"b\":1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	plans, err := a.Plans(context.Background(), plan.Options{}, runner.Options{})
	if err != nil || len(plans) != 1 {
		t.Fatalf("the sample was read again: %v", err)
	}
}

// TestExactlyOnceThroughATopic: a statement reading another one's output
// through a Kafka topic is checked for exactly-once as run checks it (its
// source is that topic), not refused as if it read no Kafka topic, and a
// refusal is found before running.
func TestExactlyOnceThroughATopic(t *testing.T) {
	const kafka = "'bootstrap.servers'='127.0.0.1:1'"
	src := "CREATE STREAM raw WITH ('type'='kafka_source', 'topic.name'='raw', " + kafka + ");\n" +
		"CREATE STREAM mid AS SELECT a FROM raw WITH ('mid.type'='kafka_sink', 'mid.bootstrap.servers'='127.0.0.1:1');\n"
	ok, err := build(t, src+"CREATE STREAM fin AS SELECT a FROM mid WITH ('mid.type'='kafka_source', 'mid.bootstrap.servers'='127.0.0.1:1', 'mid.group.id'='g', "+
		"'fin.type'='kafka_sink', 'fin.bootstrap.servers'='127.0.0.1:1', 'processing.guarantee'='exactly_once');")
	if err != nil {
		t.Fatal(err)
	}
	if err := ok.Check(context.Background(), runner.Options{NoInfer: true}); err != nil {
		t.Errorf("refused: %v", err)
	}
	bad, err := build(t, src+"CREATE STREAM fin AS SELECT a FROM mid WITH ('mid.type'='kafka_source', 'mid.bootstrap.servers'='127.0.0.1:1', "+
		"'fin.type'='kafka_sink', 'fin.bootstrap.servers'='127.0.0.1:1', 'processing.guarantee'='exactly_once');")
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Check(context.Background(), runner.Options{NoInfer: true}); err == nil || !strings.Contains(err.Error(), "needs 'mid.group.id'") {
		t.Errorf("got %v, want the missing group refused", err)
	}
}

// TestJobsEndInDependencyOrder: a bounded chain's jobs end writers first
// (a writer's last commit waits for its readers', yet a reader is reported
// ended only after its writers).
func TestJobsEndInDependencyOrder(t *testing.T) {
	src := `CREATE STREAM a AS SELECT trader_id, quantity, trade_time FROM g
WITH ('g.type'='generator','g.generator'='trades','g.count'='20000','g.partitions'='2');
CREATE STREAM b AS SELECT trader_id, quantity, trade_time FROM a WHERE quantity > 100;
SELECT trader_id, COUNT(*) AS n FROM b GROUP BY trader_id EMIT FINAL;`
	for i := 0; i < 3; i++ {
		a, err := build(t, src)
		if err != nil {
			t.Fatal(err)
		}
		var order []string
		done := make(chan string, 3)
		run, err := a.Start(context.Background(), runner.Options{Stdout: io.Discard},
			app.Hooks{Finished: func(r app.Result) { done <- r.Name }})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := run.Wait(); err != nil {
			t.Fatal(err)
		}
		for len(order) < 3 {
			order = append(order, <-done)
		}
		if want := []string{"a", "b", "b_4"}; !slices.Equal(order, want) {
			t.Fatalf("jobs ended in the order %v, want %v", order, want)
		}
	}
}

// An exactly-once statement whose rows another statement reads in process
// is refused naming that stream (not "stdout"): an in-process stream
// cannot take part in a Kafka transaction.
func TestExactlyOnceIntoAStreamIsRefused(t *testing.T) {
	a, err := build(t, `CREATE STREAM big AS SELECT trader_id FROM trades WITH ('trades.type'='kafka_source','trades.bootstrap.servers'='127.0.0.1:1',
  'trades.columns'='trader_id INT','trades.group.id'='g','processing.guarantee'='exactly_once');
SELECT * FROM big;`)
	if err != nil {
		t.Fatal(err)
	}
	err = a.Check(context.Background(), runner.Options{NoInfer: true})
	if err == nil || !strings.Contains(err.Error(), "the sink is an in-process stream another statement reads") {
		t.Fatalf("got %v", err)
	}
}

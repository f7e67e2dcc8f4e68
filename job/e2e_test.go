package job

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/partition"
	"github.com/sluicesql/sluice/plan"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// keyedInput makes parts source partitions whose keys never span
// partitions (as a keyed Kafka topic has), with event times ascending per
// partition within 50ms of disorder; some records miss v, and some of
// partition 0 miss k (they route as NULL).
func keyedInput(seed uint64, parts, n int) [][]mem.Message {
	rng := rand.New(rand.NewPCG(seed, 11))
	out := make([][]mem.Message, parts)
	for p := range out {
		ts := int64(1_700_000_000_000)
		for i := 0; i < n/2+rng.IntN(n); i++ {
			ts += int64(rng.IntN(40))
			f := map[string]record.Value{"ts": record.TimestampValue(ts - int64(rng.IntN(50)))}
			if p != 0 || rng.IntN(50) != 0 {
				f["k"] = record.StringValue(fmt.Sprintf("p%dk%d", p, rng.IntN(7)))
			}
			if rng.IntN(40) != 0 {
				f["v"] = record.IntValue(int64(rng.IntN(100)))
			}
			out[p] = append(out[p], mem.Message{Fields: f, Timestamp: ts})
		}
	}
	return out
}

// compileQuery parses and compiles one SELECT for the job.
func compileQuery(t testing.TB, text string, props map[string]string) (*exec.Program, *sql.Select) {
	t.Helper()
	stmts, err := sql.Parse("test.sql", text)
	if err != nil {
		t.Fatal(err)
	}
	sel := stmts[0].Select()
	prog, err := exec.Compile(sel, exec.Options{Properties: props, ExternalWatermark: true})
	if err != nil {
		t.Fatal(err)
	}
	return prog, sel
}

var e2eShapes = []struct {
	name  string
	query string
	// changes: an EMIT CHANGES variant whose last row per group must
	// equal the final result; keyCols are its group columns.
	changes string
	keyCols int
}{
	{name: "group_by", query: "SELECT k, COUNT(*) AS c, SUM(v) AS s FROM t GROUP BY k EMIT FINAL",
		changes: "SELECT k, COUNT(*) AS c, SUM(v) AS s FROM t GROUP BY k EMIT CHANGES", keyCols: 1},
	{name: "tumbling", query: "SELECT k, COUNT(*) AS c, MAX(v) AS m, _WINDOW_START AS ws FROM t GROUP BY k WINDOW TUMBLING(ts, INTERVAL '1' SECOND)"},
	{name: "filter", query: "SELECT k, v FROM t WHERE v > 30"},
	{name: "global", query: "SELECT COUNT(*) AS c, SUM(v) AS s, MIN(v) AS lo FROM t EMIT FINAL"},
	{name: "distinct", query: "SELECT DISTINCT k FROM t"},
	{name: "row_window", query: "SELECT k, v, SUM(v) OVER (ROWS WINDOW BUFFER 3 ROWS PARTITION BY k ORDER BY ts) AS moving FROM t"},
	{name: "ordered_row_window", query: "SELECT k, v, LAG(v) OVER (PARTITION BY k ORDER BY ts) AS prev, " +
		"ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts) AS n, SUM(v) OVER (PARTITION BY k ORDER BY ts) AS s FROM t"},
	{name: "top_n", query: "SELECT k, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn, v, ts FROM t QUALIFY rn <= 3 EMIT FINAL",
		changes: "SELECT k, rn, v, ts FROM (SELECT k, v, ts, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn FROM t) WHERE rn <= 3",
		keyCols: 2},
	{name: "rank_top_n", query: "SELECT k, v, RANK() OVER (PARTITION BY k ORDER BY v DESC) AS r FROM t QUALIFY r <= 2"},
	{name: "dense_top_n", query: "SELECT * FROM (SELECT k, v, DENSE_RANK() OVER (PARTITION BY k ORDER BY v) AS d FROM t) WHERE d <= 2"},
	{name: "window_top_n", query: "SELECT * FROM (SELECT k, _WINDOW_START AS ws, COUNT(*) AS c, " +
		"ROW_NUMBER() OVER (PARTITION BY _WINDOW_START ORDER BY COUNT(*) DESC, k) AS rn " +
		"FROM t GROUP BY k WINDOW TUMBLING(ts, INTERVAL '1' SECOND)) WHERE rn <= 3"},
	{name: "window_top_n_per_key", query: "SELECT * FROM (SELECT k, v, ws, c, RANK() OVER (PARTITION BY k, ws ORDER BY c DESC) AS r " +
		"FROM (SELECT k, v, _WINDOW_START AS ws, COUNT(*) AS c FROM t GROUP BY k, v WINDOW TUMBLING(ts, INTERVAL '1' SECOND))) WHERE r <= 2"},
	{name: "tumbling_top_n", query: "SELECT k, v, ts, _WINDOW_START AS ws, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC, ts) AS rn " +
		"FROM t WINDOW TUMBLING(ts, INTERVAL '1' SECOND) QUALIFY rn <= 2"},
	{name: "derived", query: "SELECT k, v2 FROM (SELECT k, v * 2 AS v2 FROM t WHERE v > 10) AS s WHERE s.v2 < 150"},
}

var allStrategies = []string{"always_hash", "smart_repartition", "sticky_partition", "round_robin", "fan_in"}

// planned plans and compiles query for a strategy and partition count, the
// way the CLI does. The source t is declared partitioned by k.
func planned(t testing.TB, query, strategy string, n, sourceParts int) (*plan.Plan, Config, error) {
	t.Helper()
	stmts, err := sql.Parse("test.sql", query)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Build(stmts[0], plan.Options{Strategy: strategy, Partitions: n,
		Sources: map[string]connector.Facts{"t": {Key: []string{"k"}, Partitions: sourceParts, Origin: "declared"}}})
	if err != nil {
		return nil, Config{}, err
	}
	prog, err := exec.Compile(p.Statement.Query, exec.Options{ExternalWatermark: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := FromPlan(p, prog, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.CommitInterval = 20 * time.Millisecond
	cfg.MaxOutOfOrder = 200 * time.Millisecond // more than the input's disorder: nothing is late
	cfg.DLQPath = filepath.Join(t.TempDir(), "dlq.jsonl")
	return p, cfg, nil
}

// e2eConfig builds a job config for a compiled query and strategy.
func e2eConfig(t testing.TB, prog *exec.Program, keys []string, strategy string, n int, input [][]mem.Message, sink *mem.Sink) Config {
	t.Helper()
	s, err := partition.Parse(strategy)
	if err != nil {
		t.Fatal(err)
	}
	var exprs []sql.Expr
	for _, k := range keys {
		e, err := sql.ParseExpr(k)
		if err != nil {
			t.Fatal(err)
		}
		exprs = append(exprs, e)
	}
	cfg := baseConfig(t, FromExec(prog), "hash", n, mem.NewSource("t", input), sink)
	cfg.Strategy = s
	cfg.Routing = partition.Context{RoutingKeys: keys, SourcePartitionKey: []string{"k"}, SourcePartitions: len(input)}
	if err := SetRoutingKey(&cfg.Routing, exprs, prog.InputSchema()); err != nil {
		t.Fatal(err)
	}
	cfg.MaxOutOfOrder = 200 * time.Millisecond
	return cfg
}

func TestEndToEndResultIndependentOfPartitionsAndStrategy(t *testing.T) {
	input := keyedInput(21, 3, 500)
	for _, sh := range e2eShapes {
		t.Run(sh.name, func(t *testing.T) {
			var want []string
			accepted := 0
			for _, strat := range allStrategies {
				for _, n := range []int{1, 2, 3, 4, 8} {
					p, cfg, err := planned(t, sh.query, strat, n, len(input))
					s, _ := partition.Parse(strat)
					if err != nil {
						if p == nil && n == 1 && s.Validate(requirementOf(t, sh.query)) == nil {
							t.Errorf("%s: planner rejected a strategy whose Validate accepts: %v", strat, err)
						}
						continue
					}
					accepted++
					t.Run(fmt.Sprintf("%s/%d", strat, n), func(t *testing.T) {
						sink := &mem.Sink{}
						cfg.Sources, cfg.Sinks = []connector.Source{mem.NewSource("t", input)}, []connector.Sink{sink}
						sum, err := Run(context.Background(), cfg)
						if err != nil {
							t.Fatal(err)
						}
						checkBalance(t, sum, countMessages(input))
						if sum.DeadLetters != 0 || sum.Total.LateDropped != 0 {
							t.Errorf("%d dead letters, %d late: nothing in this input is late or failing", sum.DeadLetters, sum.Total.LateDropped)
						}
						if sum.Strategy != p.Strategy.Name() || len(sum.Partitions) != n {
							t.Errorf("ran %s with %d partitions", sum.Strategy, len(sum.Partitions))
						}
						got := rowStrings(sink.Rows())
						if want == nil {
							want = got
							if len(want) == 0 {
								t.Fatal("no output")
							}
						} else if !slices.Equal(got, want) {
							t.Fatalf("result differs from the first run: %d rows vs %d\n%s\nvs\n%s", len(got), len(want),
								strings.Join(diff(got, want), "\n"), strings.Join(diff(want, got), "\n"))
						}
					})
				}
			}
			if accepted < 5 {
				t.Errorf("only %d (strategy, N) pairs accepted", accepted)
			}
		})
	}
}

// requirementOf returns the planner's requirement for query.
func requirementOf(t testing.TB, query string) partition.Requirement {
	p, _, err := planned(t, query, "", 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	return p.Requirement
}

// diff returns the rows of a missing from b (as multisets), at most 5.
func diff(a, b []string) []string {
	count := map[string]int{}
	for _, s := range b {
		count[s]++
	}
	var out []string
	for _, s := range a {
		if count[s] > 0 {
			count[s]--
		} else if len(out) < 5 {
			out = append(out, s)
		}
	}
	return out
}

func TestEndToEndEmitChangesLastRowEqualsFinal(t *testing.T) {
	input := keyedInput(22, 3, 500)
	for _, sh := range e2eShapes {
		if sh.changes == "" {
			continue
		}
		final, _ := compileQuery(t, sh.query, nil)
		changes, _ := compileQuery(t, sh.changes, nil)
		for _, n := range []int{1, 3} {
			sinkF, sinkC := &mem.Sink{}, &mem.Sink{}
			if _, err := Run(context.Background(), e2eConfig(t, final, []string{"k"}, "always_hash", n, input, sinkF)); err != nil {
				t.Fatal(err)
			}
			if _, err := Run(context.Background(), e2eConfig(t, changes, []string{"k"}, "always_hash", n, input, sinkC)); err != nil {
				t.Fatal(err)
			}
			last := map[string]record.Record{}
			for _, r := range sinkC.Rows() {
				last[rowStrings([]record.Record{{Values: r.Values[:sh.keyCols]}})[0]] = r
			}
			var got []record.Record
			for _, r := range last {
				got = append(got, r)
			}
			if g, w := rowStrings(got), rowStrings(sinkF.Rows()); !slices.Equal(g, w) {
				t.Fatalf("%s N=%d: last changes %v\nfinal %v", sh.name, n, diff(g, w), diff(w, g))
			}
		}
	}
}

func TestEndToEndGlobalAggregateOfEmptyInput(t *testing.T) {
	prog, _ := compileQuery(t, "SELECT COUNT(*) AS c FROM t EMIT FINAL", nil)
	for _, n := range []int{1, 4} {
		sink := &mem.Sink{}
		if _, err := Run(context.Background(), e2eConfig(t, prog, nil, "fan_in", n, [][]mem.Message{nil, nil}, sink)); err != nil {
			t.Fatal(err)
		}
		if got := rowStrings(sink.Rows()); len(got) != 1 || got[0] != "0|" {
			t.Fatalf("N=%d: %v, want one row 0", n, got)
		}
	}
}

// TestEndToEndOrderByLimitMergesPartitions checks the k-way merge of the
// workers' sorted runs and LIMIT after it.
func TestEndToEndOrderByLimitMergesPartitions(t *testing.T) {
	input := keyedInput(23, 3, 400)
	queries := []string{
		"SELECT k, v FROM t WHERE v > 80 ORDER BY v DESC, k",
		"SELECT k, v FROM t ORDER BY v DESC, k LIMIT 7",
		"SELECT k, COUNT(*) AS c FROM t GROUP BY k ORDER BY c DESC, k LIMIT 5 EMIT FINAL",
	}
	for _, q := range queries {
		var want []string
		for _, strat := range []string{"always_hash", "round_robin"} {
			for _, n := range []int{1, 3} {
				p, cfg, err := planned(t, q, strat, n, len(input))
				if err != nil {
					continue // the planner rejects round_robin for GROUP BY
				}
				sink := &mem.Sink{}
				cfg.Sources, cfg.Sinks = []connector.Source{mem.NewSource("t", input)}, []connector.Sink{sink}
				if _, err := Run(context.Background(), cfg); err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, r := range sink.Rows() {
					got = append(got, rowStrings([]record.Record{r})[0])
				}
				if want == nil {
					want = got
					if lim, ok := cfg.Program.Limit(); !cfg.Program.Ordered() || len(want) == 0 || (ok && int64(len(want)) != lim) {
						t.Fatalf("%s: ordered %v, %d rows", q, cfg.Program.Ordered(), len(want))
					}
				} else if !slices.Equal(got, want) {
					t.Fatalf("%s with %s N=%d:\n%v\nwant\n%v", q, p.Strategy.Name(), n, got, want)
				}
			}
		}
	}
}

func TestEndToEndRestartFromCommittedOffsetsMissesNoWindow(t *testing.T) {
	input := keyedInput(24, 2, 3000)
	window := "SELECT k, COUNT(*) AS c, SUM(v) AS s, _WINDOW_START AS ws FROM t GROUP BY k WINDOW TUMBLING(ts, INTERVAL '1' SECOND)"
	for _, tt := range []struct {
		q    string
		rows int // rows written before the stop
	}{
		{window, 30},
		{window + " ORDER BY c DESC, k", 30}, // ordered: runs merged per watermark, committed as written
		{"SELECT k, v, ts FROM t ORDER BY ts, k LIMIT 5", 0}, // sorted at the end: the kept (earliest) rows hold commits back
	} {
		q := tt.q
		run := func(ctx context.Context, src *mem.Source, sink *mem.Sink) *Summary {
			_, cfg, err := planned(t, q, "always_hash", 2, len(input))
			if err != nil {
				t.Fatal(err)
			}
			cfg.Sources, cfg.Sinks = []connector.Source{src}, []connector.Sink{sink}
			cfg.BatchSize, cfg.CommitInterval = 16, 3*time.Millisecond
			sum, err := Run(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			return sum
		}
		first := &mem.Sink{Delay: 500 * time.Microsecond}
		src := mem.NewSource("t", input, mem.Pace(time.Millisecond))
		ctx, cancel := context.WithCancel(context.Background())
		seen := make(chan map[int32]int64, 1) // committed while running, before the stop
		go func() {
			for ctx.Err() == nil && (len(first.Rows()) < tt.rows || len(src.Committed()) == 0) {
				time.Sleep(time.Millisecond)
			}
			seen <- src.Committed()
			cancel()
		}()
		sum := run(ctx, src, first)
		cancel()
		before := <-seen
		committed := src.Committed()
		if len(before) == 0 || !sum.Interrupted || committed[0]+committed[1] >= int64(len(input[0])+len(input[1])) {
			t.Fatalf("%s: stop did not happen mid-run after a commit: interrupted %v, committed %v before the stop, %v after",
				q, sum.Interrupted, before, committed)
		}
		second, full := &mem.Sink{}, &mem.Sink{}
		run(context.Background(), mem.NewSource("t", input, mem.WithStart(committed)), second)
		run(context.Background(), mem.NewSource("t", input), full)
		got := map[string]bool{}
		for _, s := range rowStrings(append(first.Flushed(), second.Rows()...)) {
			got[s] = true
		}
		for _, s := range rowStrings(full.Rows()) {
			if !got[s] {
				t.Fatalf("%s: row %s missing after stop at %v and restart", q, s, committed)
			}
		}
	}
}

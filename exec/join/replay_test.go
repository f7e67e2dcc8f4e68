package join

import (
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/internal/replaytest"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// replayWindows selects per-key windowed counts of the joined rows.
const replayWindows = "SELECT a.k, _WINDOW_START AS ws, COUNT(*) AS n, SUM(b.w) AS s FROM a "

// replaySessions selects per-key sessions of the joined rows, named by
// their key, start and end.
const replaySessions = "SELECT a.k, _WINDOW_START AS ws, _WINDOW_END AS we, COUNT(*) AS n, SUM(b.w) AS s FROM a "

// replayGroups selects per-key counts of the joined rows, without a
// window (the second column names no window: every row has one group).
const replayGroups = "SELECT a.k, 0 AS g, COUNT(*) AS n, COUNT(b.w) AS matched, SUM(b.w) AS s FROM a "

// replayCases are the statements the replay tests run: outer interval
// joins with nothing kept after them, windows after inner joins, and
// windows after outer joins, with their rows with NULLs.
var replayCases = []struct{ sel, join, bound, after string }{
	{"", "LEFT JOIN", "WITHIN INTERVAL '500' MILLISECONDS", ""},
	{"", "RIGHT JOIN", "AND b.ts BETWEEN a.ts - INTERVAL '300' MILLISECONDS AND a.ts + INTERVAL '700' MILLISECONDS", ""},
	{"", "FULL JOIN", "AND b.ts BETWEEN a.ts - INTERVAL '300' MILLISECONDS AND a.ts + INTERVAL '700' MILLISECONDS", ""},
	{"", "FULL JOIN", "AND b.ts BETWEEN a.ts + INTERVAL '100' MILLISECONDS AND a.ts + INTERVAL '600' MILLISECONDS", ""},
	{"", "FULL JOIN", "AND a.ts BETWEEN b.ts + INTERVAL '100' MILLISECONDS AND b.ts + INTERVAL '600' MILLISECONDS", ""},
	{replayWindows, "JOIN", "WITHIN INTERVAL '500' MILLISECONDS", " GROUP BY a.k WINDOW TUMBLING(INTERVAL '100' MILLISECONDS) EMIT FINAL"},
	{replayWindows, "JOIN", "AND b.ts BETWEEN a.ts - INTERVAL '300' MILLISECONDS AND a.ts + INTERVAL '700' MILLISECONDS", " GROUP BY a.k WINDOW SLIDING(INTERVAL '300' MILLISECONDS, INTERVAL '100' MILLISECONDS) EMIT FINAL"},
	{replayWindows, "LEFT JOIN", "WITHIN INTERVAL '500' MILLISECONDS", " GROUP BY a.k WINDOW TUMBLING(INTERVAL '100' MILLISECONDS) EMIT FINAL"},
	{replayWindows, "LEFT JOIN", "WITHIN INTERVAL '500' MILLISECONDS", " GROUP BY a.k WINDOW TUMBLING(INTERVAL '200' MILLISECONDS) EMIT FINAL"},
	// large windows over a slow stream: each spans many offsets
	{replayWindows, "JOIN", "WITHIN INTERVAL '500' MILLISECONDS", " GROUP BY a.k WINDOW TUMBLING(INTERVAL '5' SECONDS) EMIT FINAL"},
	{replayWindows, "JOIN", "WITHIN INTERVAL '300' MILLISECONDS", " GROUP BY a.k WINDOW SLIDING(INTERVAL '4' SECONDS, INTERVAL '1' SECONDS) EMIT FINAL"},
	// sessions of joined rows: a replay writes nothing of those that had
	// fired under the fence less Lag, and the others whole
	{replayWindows, "JOIN", "WITHIN INTERVAL '500' MILLISECONDS", " GROUP BY a.k WINDOW SESSION(INTERVAL '100' MILLISECONDS) EMIT FINAL"},
	{replayWindows, "JOIN", "AND b.ts BETWEEN a.ts - INTERVAL '300' MILLISECONDS AND a.ts + INTERVAL '700' MILLISECONDS", " GROUP BY a.k WINDOW SESSION(INTERVAL '400' MILLISECONDS) EMIT FINAL"},
	{replaySessions, "JOIN", "WITHIN INTERVAL '200' MILLISECONDS", " GROUP BY a.k WINDOW SESSION(INTERVAL '150' MILLISECONDS) EMIT CHANGES"},
	// DISTINCT after an outer join: a replay writes a row again (at least
	// once), never one a single run does not write
	{"SELECT DISTINCT a.k, b.w % 4 AS m FROM a ", "LEFT JOIN", "WITHIN INTERVAL '500' MILLISECONDS", ""},
	{"SELECT DISTINCT COALESCE(a.k, b.k) AS k, a.v % 3 AS l, b.w % 3 AS r FROM a ", "FULL JOIN", "AND b.ts BETWEEN a.ts - INTERVAL '300' MILLISECONDS AND a.ts + INTERVAL '700' MILLISECONDS", ""},
	// sessions after an outer join
	{replaySessions, "LEFT JOIN", "WITHIN INTERVAL '500' MILLISECONDS", " GROUP BY a.k WINDOW SESSION(INTERVAL '100' MILLISECONDS) EMIT FINAL"},
	{replaySessions, "FULL JOIN", "AND b.ts BETWEEN a.ts - INTERVAL '300' MILLISECONDS AND a.ts + INTERVAL '700' MILLISECONDS", " GROUP BY a.k WINDOW SESSION(INTERVAL '150' MILLISECONDS) EMIT CHANGES"},
	// unmatched rows only (an anti-join): the pairs never reach a window
	{"SELECT a.k, _WINDOW_START AS ws, COUNT(*) AS n FROM a ", "LEFT JOIN", "WITHIN INTERVAL '500' MILLISECONDS", " WHERE b.w IS NULL GROUP BY a.k WINDOW TUMBLING(INTERVAL '100' MILLISECONDS) EMIT FINAL"},
	// windows that emit their updates: the last of each is the one run's
	{replayWindows, "LEFT JOIN", "WITHIN INTERVAL '500' MILLISECONDS", " GROUP BY a.k WINDOW TUMBLING(INTERVAL '100' MILLISECONDS) EMIT CHANGES"},
	{"SELECT a.k, _WINDOW_START AS ws, COUNT(*) AS n FROM a ", "LEFT JOIN", "WITHIN INTERVAL '500' MILLISECONDS", " WHERE b.w IS NULL GROUP BY a.k WINDOW TUMBLING(INTERVAL '100' MILLISECONDS) EMIT CHANGES"},
	{"SELECT COALESCE(a.k, b.k) AS k, _WINDOW_START AS ws, COUNT(a.v) AS a, COUNT(b.w) AS b FROM a ", "FULL JOIN", "AND b.ts BETWEEN a.ts - INTERVAL '300' MILLISECONDS AND a.ts + INTERVAL '700' MILLISECONDS",
		" GROUP BY COALESCE(a.k, b.k) WINDOW SLIDING(INTERVAL '300' MILLISECONDS, INTERVAL '100' MILLISECONDS) EMIT CHANGES"},
	{"SELECT COALESCE(a.k, b.k) AS k, _WINDOW_START AS ws, COUNT(a.v) AS a, COUNT(b.w) AS b FROM a ", "FULL JOIN", "AND b.ts BETWEEN a.ts - INTERVAL '300' MILLISECONDS AND a.ts + INTERVAL '700' MILLISECONDS",
		" WHERE a.v IS NULL OR b.w IS NULL GROUP BY COALESCE(a.k, b.k) WINDOW SLIDING(INTERVAL '300' MILLISECONDS, INTERVAL '100' MILLISECONDS) EMIT FINAL"},
	// a GROUP BY without a window after an outer join: its groups hold the
	// commit for ever, and so do the rows an outer row matched, or a replay
	// would write it with NULLs into a group rebuilt from the committed offset
	{replayGroups, "LEFT JOIN", "WITHIN INTERVAL '500' MILLISECONDS", " GROUP BY a.k EMIT CHANGES"},
	{replayGroups, "LEFT JOIN", "WITHIN INTERVAL '300' MILLISECONDS", " WHERE b.w IS NULL OR b.w % 3 = 0 GROUP BY a.k EMIT CHANGES"},
	{"SELECT a.k, 0 AS g, COUNT(*) AS n FROM a ", "LEFT JOIN", "WITHIN INTERVAL '200' MILLISECONDS", " WHERE b.w IS NULL GROUP BY a.k EMIT CHANGES"},
	{"SELECT a.k, 0 AS g, COUNT(*) AS n FROM a ", "FULL JOIN", "WITHIN INTERVAL '200' MILLISECONDS", " WHERE b.w IS NULL GROUP BY a.k EMIT FINAL"},
	{"SELECT COALESCE(a.k, b.k) AS k, 0 AS g, COUNT(a.v) AS a, COUNT(b.w) AS b FROM a ", "FULL JOIN", "AND b.ts BETWEEN a.ts - INTERVAL '300' MILLISECONDS AND a.ts + INTERVAL '700' MILLISECONDS",
		" WHERE a.v IS NULL OR b.w IS NULL OR (a.v + b.w) % 2 = 0 GROUP BY COALESCE(a.k, b.k) EMIT CHANGES"},
	{"SELECT b.k, 0 AS g, COUNT(*) AS n, COUNT(a.v) AS matched FROM a ", "RIGHT JOIN", "WITHIN INTERVAL '400' MILLISECONDS", " WHERE a.v IS NULL OR a.v % 2 = 1 GROUP BY b.k EMIT FINAL"},
	{"SELECT b.k, _WINDOW_START AS ws, COUNT(*) AS n, COUNT(a.v) AS matched FROM a ", "FULL JOIN", "AND b.ts BETWEEN a.ts - INTERVAL '300' MILLISECONDS AND a.ts + INTERVAL '700' MILLISECONDS",
		" GROUP BY b.k WINDOW SLIDING(INTERVAL '300' MILLISECONDS, INTERVAL '100' MILLISECONDS) EMIT FINAL"},
}

// replayInput is a generated repartition topic partition holding the rows
// of both inputs of a join, and the program that joins them.
type replayInput struct {
	prog *Program
	data []replayRow
	// wms[i] is the watermark before row i: the highest time before it
	// less the allowed disorder, which no row is behind (none is late)
	wms []int64
}

type replayRow struct{ s, k, ts, v int64 }

// newReplayInput compiles stmt over inputs a (k, ts, v) and b (k, ts, w)
// and generates n rows of keys below keys, both inputs interleaved about
// in time order, disordered within ooo milliseconds.
func newReplayInput(t *testing.T, stmt string, n int, keys int64, rng *rand.Rand) *replayInput {
	t.Helper()
	const ooo = 200
	prog := compileAB(t, stmt)
	prog.Program.HoldChanges() // as stage 2 does (runner's repartitionJoin)
	data := make([]replayRow, n)
	ts := int64(0)
	for i := range data {
		ts += rng.Int64N(25)
		data[i] = replayRow{s: rng.Int64N(2), k: rng.Int64N(keys), ts: ts, v: int64(i)}
	}
	for i := range data {
		if j := min(n-1, i+rng.IntN(6)); data[j].ts-data[i].ts <= ooo {
			data[i], data[j] = data[j], data[i]
		}
	}
	wms := make([]int64, n+1)
	high := int64(math.MinInt64)
	for i := range data {
		data[i].ts = max(data[i].ts, high)
		wms[i] = high
		high = max(high, data[i].ts-ooo)
	}
	wms[n] = high
	return &replayInput{prog: prog, data: data, wms: wms}
}

// compileAB compiles stmt over streams a (k, ts, v) and b (k, ts, w).
func compileAB(t *testing.T, stmt string) *Program {
	t.Helper()
	return compileJoin(t, stmt, Options{Inputs: []Input{
		{Name: "a", Schema: record.NewSchema("k", "ts", "v")}, {Name: "b", Schema: record.NewSchema("k", "ts", "w")}}})
}

// compileTableJoin compiles stmt over a stream s (k, u, v) and a table t
// (u, name) keyed by u, which holds the rows u = 0 .. rows-1, each named
// 100 + u.
func compileTableJoin(t *testing.T, stmt string, rows int64) *Program {
	t.Helper()
	prog := compileJoin(t, stmt, Options{Inputs: []Input{
		{Name: "s", Schema: record.NewSchema("k", "u", "v")},
		{Name: "t", Schema: record.NewSchema("u", "name"), PrimaryKey: []string{"u"}}}})
	for u := range rows {
		prog.Tables()[0].Apply(&record.Record{Values: []record.Value{record.IntValue(u), record.IntValue(100 + u)}})
	}
	return prog
}

// compileJoin parses and compiles the statement stmt with opts.
func compileJoin(t *testing.T, stmt string, opts Options) *Program {
	t.Helper()
	stmts, err := sql.Parse("q", stmt)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := Compile(stmts[0].Select(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return prog
}

// rec returns row i as stage 2 reads it.
func (in *replayInput) rec(i int) record.Record {
	r := in.data[i]
	side := in.prog.Sides()[r.s]
	vals := make([]record.Value, side.Width)
	vals[side.Offset] = record.IntValue(r.k)
	vals[side.Offset+1] = record.IntValue(r.ts)
	vals[side.Offset+2] = record.IntValue(r.v)
	vals[side.Slot] = record.IntValue(r.s)
	return record.Record{Values: vals, Timestamp: r.ts, Topic: "rp", Offset: int64(i)}
}

// run reads rows [from, to) into pl in batches of batch() rows, moving
// the watermark after a batch when advance says; skip says which rows a
// replay skips (nil: none). It returns the last watermark.
func (in *replayInput) run(pl *Pipeline, out *rows, from, to int, batch func() int, advance func() bool, skip func(*record.Record) bool) int64 {
	r := replaytest.Reader{Rec: in.rec, WMs: in.wms, Batch: batch, Advance: advance}
	return replaytest.Run[exec.Output](r, pl, out, from, to, skip)
}

// oneRun returns the rows of one run over the whole input, in order.
func (in *replayInput) oneRun() *rows {
	out := &rows{}
	pl := in.prog.NewPipeline()
	in.run(pl, out, 0, len(in.data), func() int { return 1 }, func() bool { return true }, nil)
	pl.Finish(out)
	return out
}

// answer returns what rows written in order say: with EMIT CHANGES
// (changes) the last row of each group and window (its first two
// columns), else every row once; sorted.
func answer(rows []string, changes bool) []string {
	if !changes {
		return replaytest.Distinct(rows)
	}
	last := map[string]string{}
	for _, r := range rows {
		f := strings.SplitN(r, ",", 3)
		last[f[0]+","+f[1]] = r
	}
	return replaytest.Distinct(slices.Collect(maps.Values(last)))
}

// add appends the rows o wrote after r's.
func (r *rows) add(o *rows) {
	r.out = append(r.out, o.out...)
	r.retract = append(r.retract, o.retract...)
}

// sessionState applies the changelog an EMIT CHANGES SESSION window
// wrote: each row replaces its session's (key, start and end: a session
// that grows gets a new one), a retraction deletes it (a replay may
// retract a session it does not know was written, which deletes
// nothing). It returns the rows left, sorted.
func sessionState(log *rows) []string {
	m := map[string]string{}
	for i, r := range log.out {
		f := strings.SplitN(r, ",", 4)
		s := strings.Join(f[:3], ",")
		if log.retract[i] {
			delete(m, s)
			continue
		}
		m[s] = r
	}
	return replaytest.Distinct(slices.Collect(maps.Values(m)))
}

// answer returns what the rows of one run over the input of query+after
// (compiled as in.prog) say, and how to read that from the rows of
// generations (see answer and sessionState).
func (in *replayInput) answer(t *testing.T, query, after string) (want []string, check func(*rows) []string) {
	t.Helper()
	changes := strings.HasSuffix(after, "EMIT CHANGES")
	want = answer(in.oneRun().out, changes)
	check = func(all *rows) []string { return answer(all.out, changes) }
	if changes && strings.Contains(after, "SESSION") {
		// the changelog's sessions are the EMIT FINAL rows
		fin := *in
		fin.prog = compileAB(t, query+strings.TrimSuffix(after, "CHANGES")+"FINAL")
		want = replaytest.Distinct(fin.oneRun().out)
		check = sessionState
		if got := check(in.oneRun()); !slices.Equal(got, want) {
			t.Fatalf("one run: the changelog's sessions are not the EMIT FINAL rows: extra %v, missing %v", replaytest.Minus(got, want), replaytest.Minus(want, got))
		}
	}
	return want, check
}

// generation runs a job that resumes from cp and reads to row to (the end
// of the input: it finishes), writing to out, as stage 2 does: the rows
// before the fence that the replay rule says had their effect are
// skipped. It returns the checkpoint it commits.
func (in *replayInput) generation(cp replaytest.Checkpoint, to int, out *rows, batch func() int, advance func() bool) replaytest.Checkpoint {
	prog := in.prog
	fto, fwm := cp.FenceTo, cp.FenceWM
	prog.SetReplayFences(exec.FenceFunc(cp.Fence))
	rule := prog.ReplayRule()
	pl := prog.NewPipeline()
	wm := in.run(pl, out, cp.From, to, batch, advance, func(r *record.Record) bool {
		if r.Offset >= fto {
			return false
		}
		if rule(r, fwm) {
			return true
		}
		r.Replay = true // as the repartition topic's reader marks it
		return false
	})
	if to == len(in.data) {
		pl.Finish(out)
		return replaytest.Checkpoint{ReadToTheEnd: true}
	}
	return cp.Commit(pl, to, wm)
}

// TestOuterReplayWritesTheOneRunRows runs outer interval joins, and
// windows after inner and outer ones, over one partition holding the rows
// of both inputs (a repartition topic's), as one run and as generations
// that each stop at a random point and commit what a job commits (the
// smallest offset held, the read offset and the watermark); the next
// generation replays from that offset with a fresh state, skipping and
// settling the rows stage 2 says, with the checkpoints joined as the
// repartition topic joins them. The rows the generations write together
// are exactly the one run's: none missing, no row with NULLs for a row
// that matched, no window with part of its rows.
func TestOuterReplayWritesTheOneRunRows(t *testing.T) {
	for _, tt := range replayCases {
		if tt.sel == "" {
			tt.sel = "SELECT a.v, b.w FROM a "
		}
		t.Run(tt.join+" "+tt.bound+tt.after, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, uint64(len(tt.bound))))
			const n = 3000
			in := newReplayInput(t, tt.sel+tt.join+" b ON a.k = b.k "+tt.bound+tt.after, n, 12, rng)
			want, check := in.answer(t, tt.sel+tt.join+" b ON a.k = b.k "+tt.bound, tt.after)
			if tt.after == "" && !slices.ContainsFunc(want, func(s string) bool { return len(s) > 4 && (s[:4] == "NULL" || s[len(s)-4:] == "NULL") }) {
				t.Fatal("no row with NULLs: the test checks little")
			}
			batch := func() int { return 1 + rng.IntN(40) }
			advance := func() bool { return rng.IntN(3) > 0 }
			for round := range 12 {
				all := &rows{}
				cp := replaytest.Start
				for gen := 0; !cp.ReadToTheEnd; gen++ {
					out := &rows{}
					to := cp.From + rng.IntN(n/3)
					if gen == 4 || to >= n {
						to = n
					}
					cp = in.generation(cp, to, out, batch, advance)
					all.add(out)
				}
				if got := check(all); !slices.Equal(got, want) {
					t.Fatalf("round %d: %d distinct rows, one run %d: extra %v, missing %v", round, len(got), len(want), replaytest.Minus(got, want), replaytest.Minus(want, got))
				}
			}
		})
	}
}

// TestOuterReplayAtEveryPoint stops a job of an outer join (or of SESSION windows after an inner one) after every
// row of a generated input and replays the rest from its checkpoint, the watermark moving
// after every row: among those points are all where a row of an outer
// side is undecided under the checkpoint's watermark (its time passed,
// its decision not) while a match of it comes after the checkpoint, or
// came before it. Each time the two generations write exactly the one
// run's rows.
func TestOuterReplayAtEveryPoint(t *testing.T) {
	for _, tt := range replayCases {
		if tt.join == "JOIN" && !strings.Contains(tt.after, "SESSION") {
			continue
		}
		if tt.sel == "" {
			tt.sel = "SELECT a.v, b.w FROM a "
		}
		t.Run(tt.join+" "+tt.bound+tt.after, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(11, uint64(len(tt.bound)+len(tt.after))))
			const n = 150
			in := newReplayInput(t, tt.sel+tt.join+" b ON a.k = b.k "+tt.bound+tt.after, n, 3, rng)
			want, check := in.answer(t, tt.sel+tt.join+" b ON a.k = b.k "+tt.bound, tt.after)
			one, always := func() int { return 1 }, func() bool { return true }
			for kill := range n {
				first, second := &rows{}, &rows{}
				cp := in.generation(replaytest.Start, kill, first, one, always)
				in.generation(cp, n, second, one, always)
				first.add(second)
				if got := check(first); !slices.Equal(got, want) {
					t.Fatalf("stopped after %d rows, resumed from %d (fence %d, watermark %d): %d distinct rows, one run %d: extra %v, missing %v",
						kill, cp.From, cp.FenceTo, cp.FenceWM, len(got), len(want), replaytest.Minus(got, want), replaytest.Minus(want, got))
				}
			}
		})
	}
}

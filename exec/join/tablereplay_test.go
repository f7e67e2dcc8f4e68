package join

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// tableReplay is a repartition topic's partition of a stream s (k, u, v)
// joined with a table t (u, name) read whole: a slow stream, so that a
// window or session spans many offsets.
type tableReplay struct {
	prog *Program
	ts   []int64
	wms  []int64
	rng  *rand.Rand
}

func newTableReplay(t *testing.T, stmt string, seed uint64) *tableReplay {
	t.Helper()
	stmts, err := sql.Parse("q", stmt)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := Compile(stmts[0].Select(), Options{Inputs: []Input{
		{Name: "s", Schema: record.NewSchema("k", "u", "v")},
		{Name: "t", Schema: record.NewSchema("u", "name"), PrimaryKey: []string{"u"}}}})
	if err != nil {
		t.Fatal(err)
	}
	for u := range int64(5) { // u 5 and 6 meet no row of t
		prog.Tables()[0].Apply(&record.Record{Values: []record.Value{record.IntValue(u), record.IntValue(100 + u)}})
	}
	const n, ooo = 2000, 200
	in := &tableReplay{prog: prog, ts: make([]int64, n), wms: make([]int64, n+1), rng: rand.New(rand.NewPCG(3, seed))}
	now := int64(0)
	for i := range in.ts {
		now += in.rng.Int64N(25)
		in.ts[i] = now
	}
	for i := range in.ts {
		if j := min(n-1, i+in.rng.IntN(6)); in.ts[j]-in.ts[i] <= ooo {
			in.ts[i], in.ts[j] = in.ts[j], in.ts[i]
		}
	}
	high := int64(math.MinInt64)
	for i := range in.ts {
		in.ts[i] = max(in.ts[i], high)
		in.wms[i] = high
		high = max(high, in.ts[i]-ooo)
	}
	in.wms[n] = high
	return in
}

// rec returns record i as stage 2 reads it, with the watermark of its
// partition before it.
func (in *tableReplay) rec(i int) record.Record {
	return record.Record{Values: []record.Value{record.IntValue(int64(i * 7 % 13)), record.IntValue(int64(i % 7)), record.IntValue(int64(i))},
		Timestamp: in.ts[i], Watermark: in.wms[i], Topic: "rp", Offset: int64(i)}
}

// run reads records [from, to) in random batches, moving the watermark
// as the partition's reports would; skip drops a replayed record.
func (in *tableReplay) run(pl *Pipeline, out *rows, from, to int, skip func(*record.Record) bool) int64 {
	wm := int64(math.MinInt64)
	for i := from; i < to; {
		var batch []record.Record
		for end := min(to, i+1+in.rng.IntN(40)); i < end; i++ {
			if r := in.rec(i); skip == nil || !skip(&r) {
				batch = append(batch, r)
			}
		}
		pl.Process(batch, out)
		if w := in.wms[i]; w > wm && in.rng.IntN(3) > 0 {
			wm = w
			pl.Advance(wm, out)
		}
	}
	return wm
}

// generation runs a stage-2 job that resumes from cp and reads up to
// record to, as the runner sets it up (the fences on the join and on the
// query after it, the join's replay rule marking replayed records).
func (in *tableReplay) generation(cp checkpoint, to int, out *rows) checkpoint {
	prog := in.prog
	fto, fwm := cp.fenceTo, cp.fenceWM
	fence := func(int32) (int64, bool) { return fwm, fwm != math.MinInt64 }
	prog.SetReplayFences(fence)
	rule := prog.ReplayRule()
	pl := prog.NewPipeline()
	wm := in.run(pl, out, cp.from, to, func(r *record.Record) bool {
		if r.Offset >= fto {
			return false
		}
		r.Replay = true
		return rule(r, fwm)
	})
	if to == len(in.ts) {
		pl.Finish(out)
		return checkpoint{readToTheEnd: true}
	}
	held := int64(to)
	pl.Held(func(_ string, _ int32, off int64) { held = min(held, off) })
	return checkpoint{from: max(cp.from, int(held)), fenceTo: max(int64(to), cp.fenceTo), fenceWM: max(wm, cp.fenceWM)}
}

// TestTableJoinReplayWritesTheOneRunRows runs windows after a stream-table
// join over one repartition topic partition, as one run and as
// generations that each stop at a random point and commit what a job
// commits; the next replays from there with a fresh state. Together they
// write exactly the one run's rows.
func TestTableJoinReplayWritesTheOneRunRows(t *testing.T) {
	const sel = "SELECT s.k, _WINDOW_START AS ws, _WINDOW_END AS we, COUNT(*) AS n, SUM(s.v) AS sv, MAX(t.name) AS mx FROM s "
	for _, tt := range []struct{ join, window string }{
		{"JOIN", "SESSION(INTERVAL '100' MILLISECONDS)"},
		{"JOIN", "SESSION(INTERVAL '400' MILLISECONDS)"},
		{"LEFT JOIN", "SESSION(INTERVAL '250' MILLISECONDS)"},
		{"JOIN", "TUMBLING(INTERVAL '5' SECONDS)"},
		{"LEFT JOIN", "SLIDING(INTERVAL '4' SECONDS, INTERVAL '1' SECONDS)"},
	} {
		t.Run(tt.join+" "+tt.window, func(t *testing.T) {
			stmt := sel + tt.join + " t ON s.u = t.u GROUP BY s.k WINDOW " + tt.window + " EMIT FINAL"
			in := newTableReplay(t, stmt, uint64(len(stmt)))
			n := len(in.ts)
			out := &rows{}
			pl := in.prog.NewPipeline()
			in.run(pl, out, 0, n, nil)
			pl.Finish(out)
			want := distinct(out.out)
			if len(want) < 10 {
				t.Fatalf("%d rows: the test checks little", len(want))
			}
			for round := range 15 {
				var all []string
				cp := start
				for gen := 0; !cp.readToTheEnd; gen++ {
					o := &rows{}
					to := cp.from + 1 + in.rng.IntN(n/3)
					if gen == 5 || to >= n {
						to = n
					}
					cp = in.generation(cp, to, o)
					all = append(all, o.out...)
				}
				if got := distinct(all); !slices.Equal(got, want) {
					t.Fatalf("round %d: %d distinct rows, one run %d: extra %v, missing %v", round, len(got), len(want), minus(got, want), minus(want, got))
				}
			}
		})
	}
}

// TestTableJoinHoldsTheOldestOpenRecord reads the partition one record at
// a time, the watermark moving after each, and compares the offset the
// pipeline holds after each record with the oldest record of any window
// or session not yet written at that point (known from the rows the run
// writes: a row's window holds the records of its key whose time is in
// it and that meet a table row), which is what a commit there must not
// pass.
func TestTableJoinHoldsTheOldestOpenRecord(t *testing.T) {
	const sel = "SELECT s.k, _WINDOW_START AS ws, _WINDOW_END AS we, COUNT(*) AS n FROM s "
	for _, tt := range []struct {
		join, window string
		gap          int64 // a SESSION window's gap: a row's end is its last record's time plus it
	}{
		{"JOIN", "SESSION(INTERVAL '150' MILLISECONDS)", 150},
		{"LEFT JOIN", "SESSION(INTERVAL '60' MILLISECONDS)", 60},
		{"JOIN", "TUMBLING(INTERVAL '5' SECONDS)", 0},
		{"LEFT JOIN", "SLIDING(INTERVAL '4' SECONDS, INTERVAL '1' SECONDS)", 0},
	} {
		t.Run(tt.join+" "+tt.window, func(t *testing.T) {
			stmt := sel + tt.join + " t ON s.u = t.u GROUP BY s.k WINDOW " + tt.window + " EMIT FINAL"
			in := newTableReplay(t, stmt, uint64(len(stmt)))
			n := len(in.ts)
			pl := in.prog.NewPipeline()
			out := &rows{}
			held, written := make([]int64, n), make([]int, n)
			for i := range n {
				pl.Process([]record.Record{in.rec(i)}, out)
				pl.Advance(in.wms[i+1], out)
				held[i] = math.MaxInt64
				pl.Held(func(_ string, _ int32, off int64) { held[i] = min(held[i], off) })
				written[i] = len(out.out)
			}
			pl.Finish(out)
			want := make([]int64, n)
			for i := range want {
				want[i] = math.MaxInt64
			}
			inner := tt.join == "JOIN"
			for r, line := range out.out {
				// the point after which row r was written (n: at the end)
				e, _ := slices.BinarySearch(written, r+1)
				var k int64
				var ws, we string
				if _, err := fmt.Sscanf(strings.ReplaceAll(line, ",", " "), "%d %s %s", &k, &ws, &we); err != nil {
					t.Fatalf("row %q: %v", line, err)
				}
				start, end := parseTime(t, ws), parseTime(t, we)-tt.gap
				if tt.gap == 0 {
					end-- // [start, end)
				}
				members := 0
				for j := range n {
					rec := in.rec(j)
					if rec.Values[0].Int() != k || in.ts[j] < start || in.ts[j] > end || inner && rec.Values[1].Int() >= 5 {
						continue
					}
					members++
					for i := j; i < e; i++ {
						want[i] = min(want[i], int64(j))
					}
				}
				if n := strings.Split(line, ",")[3]; fmt.Sprint(members) != n {
					t.Fatalf("row %q: %d records in its window", line, members)
				}
			}
			for i := range n {
				if held[i] != want[i] {
					t.Fatalf("after record %d: holds %d, the oldest record of a window not written is %d", i, held[i], want[i])
				}
			}
		})
	}
}

func parseTime(t *testing.T, s string) int64 {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm.UnixMilli()
}

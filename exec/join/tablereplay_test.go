package join

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/internal/replaytest"
	"github.com/sluicesql/sluice/record"
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

func newTableReplay(t *testing.T, stmt string, seed uint64, late bool) *tableReplay {
	t.Helper()
	prog := compileTableJoin(t, stmt, 5) // u 5 and 6 meet no row of t
	in := &tableReplay{prog: prog, rng: rand.New(rand.NewPCG(3, seed))}
	in.ts, in.wms = replaytest.Times(in.rng, 2000, 200, late)
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
	r := replaytest.Reader{Rec: in.rec, WMs: in.wms,
		Batch:   func() int { return 1 + in.rng.IntN(40) },
		Advance: func() bool { return in.rng.IntN(3) > 0 }}
	return replaytest.Run[exec.Output](r, pl, out, from, to, skip)
}

// generation runs a stage-2 job that resumes from cp and reads up to
// record to, as the runner sets it up (the fences on the join and on the
// query after it, the join's replay rule marking replayed records).
func (in *tableReplay) generation(cp replaytest.Checkpoint, to int, out *rows) replaytest.Checkpoint {
	prog := in.prog
	fto, fwm := cp.FenceTo, cp.FenceWM
	prog.SetReplayFences(exec.FenceFunc(cp.Fence))
	rule := prog.ReplayRule()
	pl := prog.NewPipeline()
	wm := in.run(pl, out, cp.From, to, func(r *record.Record) bool {
		if r.Offset >= fto {
			return false
		}
		r.Replay = true
		return rule(r, fwm)
	})
	if to == len(in.ts) {
		pl.Finish(out)
		return replaytest.Checkpoint{ReadToTheEnd: true}
	}
	return cp.Commit(pl, to, wm)
}

// TestTableJoinReplayWritesTheOneRunRows runs windows after a stream-table
// join over one repartition topic partition, as one run and as
// generations that each stop at a random point and commit what a job
// commits; the next replays from there with a fresh state. Together they
// write exactly the one run's rows.
func TestTableJoinReplayWritesTheOneRunRows(t *testing.T) {
	const sel = "SELECT s.k, _WINDOW_START AS ws, _WINDOW_END AS we, COUNT(*) AS n, SUM(s.v) AS sv, MAX(t.name) AS mx FROM s "
	for _, tt := range []struct {
		join, window string
		late         bool // about one record in 40 late
	}{
		{"JOIN", "SESSION(INTERVAL '100' MILLISECONDS)", false},
		{"JOIN", "SESSION(INTERVAL '400' MILLISECONDS)", false},
		{"LEFT JOIN", "SESSION(INTERVAL '250' MILLISECONDS)", false},
		{"JOIN", "SESSION(INTERVAL '100' MILLISECONDS)", true},
		{"LEFT JOIN", "SESSION(INTERVAL '250' MILLISECONDS)", true},
		{"JOIN", "TUMBLING(INTERVAL '5' SECONDS)", false},
		{"LEFT JOIN", "SLIDING(INTERVAL '4' SECONDS, INTERVAL '1' SECONDS)", false},
		{"JOIN", "TUMBLING(INTERVAL '1' SECONDS)", true},
	} {
		t.Run(fmt.Sprintf("%s %s late=%v", tt.join, tt.window, tt.late), func(t *testing.T) {
			stmt := sel + tt.join + " t ON s.u = t.u GROUP BY s.k WINDOW " + tt.window + " EMIT FINAL"
			in := newTableReplay(t, stmt, uint64(len(stmt)), tt.late)
			n := len(in.ts)
			out := &rows{}
			pl := in.prog.NewPipeline()
			in.run(pl, out, 0, n, nil)
			pl.Finish(out)
			want := replaytest.Distinct(out.out)
			if len(want) < 10 {
				t.Fatalf("%d rows: the test checks little", len(want))
			}
			for round := range 15 {
				var all []string
				cp := replaytest.Start
				for gen := 0; !cp.ReadToTheEnd; gen++ {
					o := &rows{}
					to := cp.From + 1 + in.rng.IntN(n/3)
					if gen == 5 || to >= n {
						to = n
					}
					cp = in.generation(cp, to, o)
					all = append(all, o.out...)
				}
				if got := replaytest.Distinct(all); !slices.Equal(got, want) {
					t.Fatalf("round %d: %d distinct rows, one run %d: extra %v, missing %v", round, len(got), len(want), replaytest.Minus(got, want), replaytest.Minus(want, got))
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
			in := newTableReplay(t, stmt, uint64(len(stmt)), false)
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

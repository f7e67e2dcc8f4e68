package join

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/internal/replaytest"
	"github.com/sluicesql/sluice/record"
)

// temporalReplay is a stream partition s (k, u, v, ts) joined with a
// temporal table t (u, name, ts) FOR SYSTEM_TIME AS OF s.ts, whose rows
// change every 100 ms: the version a record meets depends on its time.
type temporalReplay struct {
	stmt    string
	ts, wms []int64
	rng     *rand.Rand
}

// program compiles the statement and loads the table's versions: a fresh
// process's.
func (in *temporalReplay) program(t *testing.T) *Program {
	t.Helper()
	prog := compileJoin(t, in.stmt, Options{Properties: map[string]string{"event.time.field": "ts"}, Inputs: []Input{
		{Name: "s", Schema: record.NewSchema("k", "u", "v", "ts")},
		{Name: "t", Schema: record.NewSchema("u", "name", "ts"), PrimaryKey: []string{"u"}}}})
	for at := int64(0); at <= in.ts[len(in.ts)-1]+100; at += 100 {
		for u := range int64(5) {
			prog.Tables()[0].Apply(&record.Record{Values: []record.Value{record.IntValue(u), record.IntValue(1000*u + at/100), record.IntValue(at)}})
		}
	}
	return prog
}

// rec returns record i with the watermark of its partition before it.
func (in *temporalReplay) rec(i int) record.Record {
	return record.Record{Values: []record.Value{record.IntValue(int64(i * 7 % 13)), record.IntValue(int64(i % 5)), record.IntValue(int64(i)), record.IntValue(in.ts[i])},
		Timestamp: in.ts[i], Watermark: in.wms[i], Topic: "s", Offset: int64(i)}
}

// run reads records [from, to) in random batches.
func (in *temporalReplay) run(pl *Pipeline, out *rows, from, to int, skip func(*record.Record) bool) int64 {
	r := replaytest.Reader{Rec: in.rec, WMs: in.wms,
		Batch:   func() int { return 1 + in.rng.IntN(40) },
		Advance: func() bool { return in.rng.IntN(3) > 0 }}
	return replaytest.Run[exec.Output](r, pl, out, from, to, skip)
}

// generation runs a job of prog that resumes from cp and reads up to
// record to, as a restart or a rebalance runs it in a process whose
// tables outlive its jobs: the job's watermark starts at the fence's
// (seeded, as exactly once seeds it), the replayed records are fenced,
// and the program is told the watermark the partition resumes at (its
// watermark before record cp.From), then the one of the commit.
func (in *temporalReplay) generation(prog *Program, cp replaytest.Checkpoint, to int, out *rows) replaytest.Checkpoint {
	prog.SetReplayFences(exec.FenceFunc(cp.Fence))
	prog.ResumeAt(in.wms[cp.From])
	rule := prog.ReplayRule()
	pl := prog.NewPipeline()
	if _, ok := cp.Fence(0); ok {
		pl.Advance(cp.FenceWM, out)
	}
	wm := in.run(pl, out, cp.From, to, func(r *record.Record) bool {
		if r.Offset >= cp.FenceTo {
			return false
		}
		r.Replay = true
		return rule(r, cp.FenceWM)
	})
	defer pl.Release() // as its worker stops
	if to == len(in.ts) {
		pl.Finish(out)
		return replaytest.Checkpoint{ReadToTheEnd: true}
	}
	next := cp.Commit(pl, to, wm)
	prog.ResumeAt(in.wms[next.From])
	return next
}

// TestTemporalJoinReplayMeetsTheVersionsOfTheFirstRun runs TUMBLING
// windows after a temporal join AS OF the stream's event time as one run,
// and as jobs that each stop at a random point, commit what a job
// commits, and are followed by one that replays from there with the same
// table (a process's tables outlive its jobs across rebalances) and its
// watermark seeded with the fence's. Each replayed record meets the table
// version it met the first time, so the jobs write exactly the one run's
// rows and no dead letter. Before Program.ResumeAt, the watermarks
// dropped the versions of the times a replay reads again: records were
// dead-lettered as late, their windows written without them.
func TestTemporalJoinReplayMeetsTheVersionsOfTheFirstRun(t *testing.T) {
	const sel = "SELECT s.k, _WINDOW_START AS ws, COUNT(*) AS n, SUM(t.name) AS sn FROM s "
	for _, tt := range []struct{ join, window string }{
		{"JOIN", "TUMBLING(INTERVAL '1' SECONDS)"},
		{"LEFT JOIN", "TUMBLING(INTERVAL '3' SECONDS)"},
		{"JOIN", "SLIDING(INTERVAL '2' SECONDS, INTERVAL '500' MILLISECONDS)"},
	} {
		t.Run(tt.join+" "+tt.window, func(t *testing.T) {
			stmt := sel + tt.join + " t FOR SYSTEM_TIME AS OF s.ts ON s.u = t.u GROUP BY s.k WINDOW " + tt.window + " EMIT FINAL"
			in := &temporalReplay{stmt: stmt, rng: rand.New(rand.NewPCG(5, uint64(len(stmt))))}
			in.ts, in.wms = replaytest.Times(in.rng, 2000, 200, false)
			n := len(in.ts)
			out := &rows{}
			pl := in.program(t).NewPipeline()
			in.run(pl, out, 0, n, nil)
			pl.Finish(out)
			if len(out.dead) > 0 {
				t.Fatalf("one run: %d dead letters, first %v", len(out.dead), out.dead[0])
			}
			want := replaytest.Distinct(out.out)
			if len(want) < 10 {
				t.Fatalf("%d rows: the test checks little", len(want))
			}
			for round := range 10 {
				prog := in.program(t)
				var all []string
				cp := replaytest.Start
				floor := in.wms[0] // the watermark the last job resumed at
				for gen := 0; !cp.ReadToTheEnd; gen++ {
					floor = in.wms[cp.From]
					o := &rows{}
					to := cp.From + 1 + in.rng.IntN(n/3)
					if gen == 5 || to >= n {
						to = n
					}
					cp = in.generation(prog, cp, to, o)
					if len(o.dead) > 0 {
						t.Fatalf("round %d, job %d: %d dead letters, first %v", round, gen, len(o.dead), o.dead[0])
					}
					all = append(all, o.out...)
				}
				if got := replaytest.Distinct(all); !slices.Equal(got, want) {
					t.Fatalf("round %d: %d distinct rows, one run %d: extra %v, missing %v", round, len(got), len(want), replaytest.Minus(got, want), replaytest.Minus(want, got))
				}
				// per key, the versions from the newest at or below floor on
				last := in.ts[n-1] + 100
				if v, bound := prog.Tables()[0].Versions(), 5*((last-max(floor, 0))/100+2); v > bound {
					t.Errorf("round %d: the table holds %d versions after the run, more than the %d from watermark %d on", round, v, bound, floor)
				}
			}
		})
	}
}

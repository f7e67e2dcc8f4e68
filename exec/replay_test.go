package exec

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/internal/replaytest"
	"github.com/sluicesql/sluice/record"
)

// TestRepartitionReplayWritesTheOneRunRows runs windowed GROUP BYs with
// EMIT FINAL over one partition of a repartition topic as one run and as
// generations, as stage 2 runs them: each generation stops at a random
// point and commits what a job commits (the smallest offset held, the read
// offset and the watermark, joined with the fence it resumed from); the
// next replays from that offset with a fresh state, the records before the
// fence going through Program.Replayed as the topic's reader sends them.
// The windows the generations write together are exactly the one run's:
// none missing, none again with part of its rows (a SLIDING window's
// record replayed for its open windows must not reopen the ones that
// fired).
func TestRepartitionReplayWritesTheOneRunRows(t *testing.T) {
	for _, window := range []string{
		"TUMBLING(INTERVAL '100' MILLISECONDS)",
		"SLIDING(INTERVAL '300' MILLISECONDS, INTERVAL '100' MILLISECONDS)",
		"SLIDING(INTERVAL '250' MILLISECONDS, INTERVAL '50' MILLISECONDS)",
	} {
		t.Run(window, func(t *testing.T) {
			prog := compileSQL(t, "SELECT k, _WINDOW_START AS ws, COUNT(*) AS n, SUM(v) AS s FROM rp GROUP BY k WINDOW "+window+" EMIT FINAL",
				Options{ExternalWatermark: true}, "k", "v")
			p := newReplayPartition(uint64(len(window)), false)
			want := replaytest.Distinct(p.oneRun(prog).rows)
			for round := range 20 {
				if got := replaytest.Distinct(p.generations(prog).rows); !slices.Equal(got, want) {
					t.Fatalf("round %d: %d distinct rows, one run %d: extra %v, missing %v", round, len(got), len(want), replaytest.Minus(got, want), replaytest.Minus(want, got))
				}
			}
		})
	}
}

// replayPartition is a repartition topic's partition: a few keys,
// disordered within 200 ms, each record carrying the watermark before it
// (none is late, unless late: then about one in 40 is, by up to 300 ms).
type replayPartition struct {
	rng     *rand.Rand
	ts, wms []int64
}

func newReplayPartition(seed uint64, late bool) *replayPartition {
	p := &replayPartition{rng: rand.New(rand.NewPCG(11, seed))}
	p.ts, p.wms = replaytest.Times(p.rng, 3000, 200, late)
	return p
}

func (p *replayPartition) rec(i int) record.Record {
	return record.Record{Values: []record.Value{record.IntValue(int64(i % 7)), record.IntValue(int64(i))},
		Timestamp: p.ts[i], Watermark: p.wms[i], Topic: "rp", Offset: int64(i)}
}

// run reads records [from, to) in random batches, moving the watermark as
// the partition's reports would; skip drops a replayed record.
func (p *replayPartition) run(pl *Pipeline, out *collector, from, to int, skip func(*record.Record) bool) int64 {
	r := replaytest.Reader{Rec: p.rec, WMs: p.wms,
		Batch:   func() int { return 1 + p.rng.IntN(40) },
		Advance: func() bool { return p.rng.IntN(3) > 0 }}
	return replaytest.Run[Output](r, pl, out, from, to, skip)
}

// replayed is what a run writes: its rows in order and the offsets of
// the records it dead-letters.
type replayed struct {
	rows    []string
	retract []bool // per row: record.Record.Retract
	dead    []int64
}

// oneRun returns what prog writes over the whole partition in one run.
func (p *replayPartition) oneRun(prog *Program) replayed {
	out := &collector{}
	pl := prog.NewPipeline()
	p.run(pl, out, 0, len(p.ts), nil)
	pl.Finish(out)
	return replayed{rows: out.texts(), retract: out.retract, dead: deadOffsets(out)}
}

// deadOffsets returns the offsets of the records out dead-lettered.
func deadOffsets(out *collector) []int64 {
	var offs []int64
	for _, r := range out.deadRec {
		offs = append(offs, r.Offset)
	}
	return offs
}

// generations returns what prog writes over the partition read by
// generations, in order. A record read again before the fence that
// Replayed keeps is marked Replay, as the topic's reader marks it, and
// each generation's pipelines know its fence (SetReplayFences), as stage
// 2's do.
func (p *replayPartition) generations(prog *Program) replayed {
	return p.runGenerations(prog, false)
}

// runGenerations is generations, each killed past its last commit if
// killed: every generation but the last read on, and wrote rows and dead
// letters, after the checkpoint the next one resumes from. The next one
// marks Reread the records the killed one may have processed (those
// before the partition's end as it is assigned: here, exactly those the
// killed one read), as the topic's reader marks them.
func (p *replayPartition) runGenerations(prog *Program, killed bool) replayed {
	n := len(p.ts)
	var all replayed
	cp := replaytest.Start
	reach := int64(0) // the end of what a generation before read
	defer prog.SetReplayFences(nil)
	for gen := 0; ; gen++ {
		out := &collector{}
		fto, fwm, rto := cp.FenceTo, cp.FenceWM, reach
		prog.SetReplayFences(FenceFunc(cp.Fence))
		pl := prog.NewPipeline()
		to := cp.From + p.rng.IntN(n/3)
		if gen == 4 || to >= n {
			to = n
		}
		skip := func(r *record.Record) bool {
			r.Reread = r.Offset < rto
			if r.Offset >= fto {
				return false
			}
			r.Replay = true
			return prog.Replayed(r, fwm)
		}
		wm := p.run(pl, out, cp.From, to, skip)
		if to == n {
			pl.Finish(out)
		}
		next := cp.Commit(pl, to, wm)
		if killed && to < n {
			// the generation reads on past its commit, then dies
			ahead := min(n, to+1+p.rng.IntN(n/6))
			p.run(pl, out, to, ahead, skip)
			reach = max(reach, int64(ahead))
		}
		all.rows = append(all.rows, out.texts()...)
		all.retract = append(all.retract, out.retract...)
		all.dead = append(all.dead, deadOffsets(out)...)
		if to == n {
			return all
		}
		cp = next
	}
}

// TestRepartitionReplayUpdatesEndAtTheOneRunRows runs GROUP BYs with EMIT
// CHANGES over a repartition topic's partition as one run and as
// generations, as TestRepartitionReplayWritesTheOneRunRows does, with
// HoldChanges as stage 2 sets it: a replay may write updates again, but
// the last update of each group (and window) is the one run's, never one
// counted from the records after a commit only.
func TestRepartitionReplayUpdatesEndAtTheOneRunRows(t *testing.T) {
	for _, q := range []string{
		"SELECT k, COUNT(*) AS n, SUM(v) AS s FROM rp GROUP BY k EMIT CHANGES",
		"SELECT k, _WINDOW_START AS ws, COUNT(*) AS n, SUM(v) AS s FROM rp GROUP BY k WINDOW TUMBLING(INTERVAL '100' MILLISECONDS) EMIT CHANGES",
		"SELECT k, _WINDOW_START AS ws, COUNT(*) AS n, SUM(v) AS s FROM rp GROUP BY k WINDOW SLIDING(INTERVAL '300' MILLISECONDS, INTERVAL '100' MILLISECONDS) EMIT CHANGES",
	} {
		t.Run(q, func(t *testing.T) {
			prog := compileSQL(t, q, Options{ExternalWatermark: true}, "k", "v")
			prog.HoldChanges()
			windowed := strings.Contains(q, "WINDOW ")
			// last returns the last row of each group: a session's key is
			// its start and key, as it grows at its end
			last := func(rows []string) []string {
				m := map[string]string{}
				for _, r := range rows {
					f := strings.Split(r, "|")
					k := f[0]
					if windowed {
						k += "|" + f[1]
					}
					m[k] = r
				}
				return replaytest.Distinct(slices.Collect(maps.Values(m)))
			}
			p := newReplayPartition(uint64(len(q)), false)
			want := last(p.oneRun(prog).rows)
			for round := range 10 {
				if got := last(p.generations(prog).rows); !slices.Equal(got, want) {
					t.Fatalf("round %d: last updates differ from the one run's: extra %v, missing %v", round, replaytest.Minus(got, want), replaytest.Minus(want, got))
				}
			}
		})
	}
}

// TestRepartitionReplaySessionsWriteTheOneRunRows runs SESSION windows over
// a repartition topic's partition as one run and as generations that stop
// at random points and replay from their commits (as
// TestRepartitionReplayWritesTheOneRunRows does), with and without late
// records. A session's end depends on its later records, so a replay reads
// again records of sessions that fired before its fence, some of their
// records being before the committed offset: those sessions must not be
// written again with part of their records. With EMIT FINAL the
// generations write exactly the one run's sessions and dead-letter exactly
// its late records, each once; with EMIT CHANGES every row they write is
// one a one run could write (the state of a session after some prefix of
// the partition), and their changelog, each row replacing its session's
// (key, start and end) and each retraction deleting it, ends at the one
// run's sessions (a replay may retract a session it does not know was
// written, which deletes nothing). Every other round the generations are
// killed some way past their commits (runGenerations): the rows a
// killed one wrote past its commit, with its own batches, are retracted
// by the next, which marks Reread what the killed one read (before, one
// or two sessions of a few records were left, never retracted, as the
// e2e test of a kill found about 1 run in 10); its late records are
// dead-lettered again (at least once).
func TestRepartitionReplaySessionsWriteTheOneRunRows(t *testing.T) {
	const q = "SELECT k, _WINDOW_START AS ws, _WINDOW_END AS we, COUNT(*) AS n, SUM(v) AS s FROM rp GROUP BY k WINDOW SESSION(INTERVAL '%d' MILLISECONDS) EMIT %s"
	for _, tt := range []struct {
		gap   int
		emit  string
		props map[string]string
	}{
		{100, "FINAL", nil},
		{250, "FINAL", map[string]string{PropAllowedLateness: "150ms"}},
		{60, "FINAL", map[string]string{PropLateDataStrategy: "drop"}},
		{100, "CHANGES", nil},
		{150, "CHANGES", map[string]string{PropAllowedLateness: "50ms", PropLateDataStrategy: "drop"}},
	} {
		q := fmt.Sprintf(q, tt.gap, tt.emit)
		t.Run(fmt.Sprint(tt.gap, tt.emit, tt.props), func(t *testing.T) {
			opts := Options{ExternalWatermark: true, Properties: tt.props}
			prog := compileSQL(t, q, opts, "k", "v")
			prog.HoldChanges()
			changes := tt.emit == "CHANGES"
			for _, late := range []bool{false, true} {
				p := newReplayPartition(uint64(len(q)), late)
				one := p.oneRun(prog)
				want := replaytest.Distinct(one.rows)
				var states []string
				if changes {
					// the one run's sessions: its last rows of the sessions
					// EMIT FINAL writes
					final := compileSQL(t, strings.Replace(q, "EMIT CHANGES", "EMIT FINAL", 1), opts, "k", "v")
					want = replaytest.Distinct(p.oneRun(final).rows)
					if last := sessionState(one); !slices.Equal(last, want) {
						t.Fatalf("late %v: the one run's changelog differs from EMIT FINAL's sessions: extra %v, missing %v", late, replaytest.Minus(last, want), replaytest.Minus(want, last))
					}
					states = replaytest.Distinct(p.eachRun(prog))
				}
				for round := range 30 {
					// every other round the generations are killed past
					// their commits: their dead letters are written again
					killed := round%2 == 1
					gens := p.runGenerations(prog, killed)
					if dead := deadOnce(gens.dead, killed); !slices.Equal(dead, sortedInts(one.dead)) {
						t.Fatalf("late %v, round %d (killed %v): dead-lettered offsets %v, one run %v", late, round, killed, dead, sortedInts(one.dead))
					}
					got := replaytest.Distinct(gens.rows)
					if changes {
						if wrong := replaytest.Minus(gens.written(), states); len(wrong) > 0 {
							t.Fatalf("late %v, round %d (killed %v): %d rows no one run writes: %v", late, round, killed, len(wrong), wrong[:min(5, len(wrong))])
						}
						got = sessionState(gens)
					}
					if !slices.Equal(got, want) {
						extra, missing := replaytest.Minus(got, want), replaytest.Minus(want, got)
						t.Fatalf("late %v, round %d (killed %v): %d distinct rows, one run %d: %d extra %v, %d missing %v", late, round, killed, len(got), len(want), len(extra), extra[:min(5, len(extra))], len(missing), missing[:min(5, len(missing))])
					}
				}
			}
		})
	}
}

// written returns the rows of the log that are not retractions, sorted,
// each once.
func (log replayed) written() []string {
	var rows []string
	for i, r := range log.rows {
		if !log.retract[i] {
			rows = append(rows, r)
		}
	}
	return replaytest.Distinct(rows)
}

// deadOnce returns the dead-lettered offsets sorted, each once when the
// generations were killed past their commits (a killed generation's dead
// letters after its commit are written again: at least once), else all.
func deadOnce(dead []int64, killed bool) []int64 {
	out := sortedInts(dead)
	if killed {
		out = slices.Compact(out)
	}
	return out
}

// sessionState applies a changelog of session rows: each row replaces its
// session's (key, start and end: a session that grows gets a new one), a
// retraction deletes it. It returns the rows left, sorted.
func sessionState(log replayed) []string {
	m := map[string]string{}
	for i, r := range log.rows {
		if log.retract[i] {
			delete(m, sessionOf(r))
			continue
		}
		m[sessionOf(r)] = r
	}
	return replaytest.Distinct(slices.Collect(maps.Values(m)))
}

// sessionOf returns the key, start and end of a row.
func sessionOf(r string) string {
	f := strings.SplitN(r, "|", 4)
	return strings.Join(f[:3], "|")
}

// TestRepartitionReplaySessionJudgesLaterRecordsByTheFence: a record read
// after a replay's fence was judged, the first time, against a job
// watermark at or above the fence's (the job had moved its watermark
// there before the checkpoint), even when the watermark it carries is
// lower (its source partition was idle, say). The replay judges it so
// too: it must not join, as an on-time record, a session that fired before
// the fence and that the replay rebuilt from part of its records (it
// would write that session again, with a part of its records and this
// one).
func TestRepartitionReplaySessionJudgesLaterRecordsByTheFence(t *testing.T) {
	prog := compileSQL(t, "SELECT k, _WINDOW_START AS ws, _WINDOW_END AS we, COUNT(*) AS n FROM rp GROUP BY k WINDOW SESSION(INTERVAL '100' MILLISECONDS) EMIT FINAL",
		Options{ExternalWatermark: true}, "k", "v")
	rec := func(off int64, k string, ts, wm int64) record.Record {
		return record.Record{Values: []record.Value{record.StringValue(k), record.IntValue(off)}, Timestamp: ts, Watermark: wm, Topic: "rp", Offset: off}
	}
	// a's session [0, 150) fires at 250 while b's stays open, so the
	// commit holds b's first record (offset 1), after a's first
	first := []record.Record{rec(0, "a", 0, math.MinInt64), rec(1, "b", 5, math.MinInt64), rec(2, "a", 50, 0),
		rec(3, "b", 100, 0), rec(4, "b", 200, 100), rec(5, "b", 290, 190)}
	out := &collector{}
	pl := prog.NewPipeline()
	pl.Process(first, out)
	pl.Advance(260, out)
	held := int64(len(first))
	pl.Held(func(_ string, _ int32, off int64) { held = min(held, off) })
	if len(out.rows) != 1 || held != 1 {
		t.Fatalf("first run: rows %v, held from %d; want a's session and b's first record held", out.texts(), held)
	}
	// the replay: from the commit, a's record at 50 again, then a record
	// of a at 120 whose partition's watermark (100) is behind the fence's
	// (260): late, as it was for the first run, which dead-lettered it
	prog.SetReplayFences(FenceFunc(func(int32) (int64, bool) { return 260, true }))
	defer prog.SetReplayFences(nil)
	replay := out
	replay.rows = nil
	pl = prog.NewPipeline()
	again := slices.Clone(first[held:])
	for i := range again {
		again[i].Replay = true
	}
	pl.Process(append(again, rec(6, "a", 120, 100)), replay)
	pl.Finish(replay)
	for _, r := range replay.texts() {
		if strings.HasPrefix(r, "a|") {
			t.Errorf("the replay wrote a session of a again: %s", r)
		}
	}
	if len(replay.deadRec) != 1 || replay.deadRec[0].Offset != 6 {
		t.Errorf("dead letters %v, want the record at offset 6 (late)", replay.dead)
	}
}

// movingFences is Fences whose answer changes with its epoch, as a Kafka
// source's does when the group gives a partition back.
type movingFences struct{ wm, epoch int64 }

func (f *movingFences) FenceWatermark(int32) (int64, bool) { return f.wm, true }
func (f *movingFences) FenceEpoch() uint64                 { return uint64(f.epoch) }

// TestMovedFenceIsLookedUpAgain: a pipeline that judged a partition's
// records by the fence it resumed from judges them by the new one once
// the partition resumed again (a rebalance took it away and gave it back,
// FenceEpoch moved): a record whose window fired under the new fence is
// late. A pipeline that kept the first fence took it into a window the
// member before had written.
func TestMovedFenceIsLookedUpAgain(t *testing.T) {
	prog := compileSQL(t, "SELECT k, _WINDOW_START AS ws, COUNT(*) AS n FROM rp GROUP BY k WINDOW TUMBLING(INTERVAL '100' MILLISECONDS) EMIT FINAL",
		Options{ExternalWatermark: true}, "k", "v")
	rec := func(off int64, ts int64) record.Record {
		return record.Record{Values: []record.Value{record.StringValue("a"), record.IntValue(off)}, Timestamp: ts, Watermark: math.MinInt64, Topic: "rp", Offset: off}
	}
	fences := &movingFences{wm: 50, epoch: 1}
	prog.SetReplayFences(fences)
	defer prog.SetReplayFences(nil)
	pl := prog.NewPipeline()
	out := &collector{}
	pl.Process([]record.Record{rec(0, 120)}, out)
	if late := pl.Stats().Late; late != 0 {
		t.Fatalf("%d late under the first fence (50), want none", late)
	}
	fences.wm, fences.epoch = 300, 2
	pl.Process([]record.Record{rec(1, 150)}, out)
	if late := pl.Stats().Late; late != 1 {
		t.Errorf("%d late once the fence moved to 300, want the record at 150 (its window [100, 200) fired)", late)
	}
}

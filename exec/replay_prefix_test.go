package exec

import (
	"math"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/internal/replaytest"
	"github.com/sluicesql/sluice/record"
)

// lateSessionUpdates is a SESSION window whose late records update it,
// under HoldChanges as an aligned member or stage 2 runs it.
func lateSessionUpdates(t *testing.T) *Program {
	t.Helper()
	prog := compileSQL(t, "SELECT k, _WINDOW_START AS ws, _WINDOW_END AS we, COUNT(*) AS n FROM rp GROUP BY k WINDOW SESSION(INTERVAL '60' MILLISECONDS) EMIT FINAL",
		Options{ExternalWatermark: true, Properties: map[string]string{PropAllowedLateness: "20ms", PropLateDataStrategy: "update", "late.data.retention": "150ms"}}, "k", "v")
	prog.HoldChanges()
	return prog
}

// sessionRun feeds a partition's records to pipelines in steps.
type sessionRun struct {
	prog *Program
	recs []record.Record
}

// sessionRec is a record of key k at ts carrying its partition's watermark wm
// (the highest time before it less 50ms).
func sessionRec(off int64, k string, ts, wm int64) record.Record {
	return record.Record{Values: []record.Value{record.StringValue(k), record.IntValue(off)}, Timestamp: ts, Watermark: wm, Topic: "rp", Offset: off}
}

// step is records [from, to), then the watermark moved to wm (none when
// math.MinInt64).
type step struct {
	from, to int
	wm       int64
}

// run feeds steps to pl, writing to out. A replay's (cp, fenced) records
// before the fence are marked Replay and those Replayed skips dropped,
// as a reader of the partition does. It returns the last watermark.
func (s sessionRun) run(pl *Pipeline, out *collector, cp replaytest.Checkpoint, steps []step) int64 {
	wm := int64(math.MinInt64)
	for _, st := range steps {
		batch := make([]record.Record, 0, st.to-st.from)
		for _, r := range s.recs[st.from:st.to] {
			if r.Offset < cp.FenceTo {
				r.Replay = true
				if s.prog.Replayed(&r, cp.FenceWM) {
					continue
				}
			}
			batch = append(batch, r)
		}
		pl.Process(batch, out)
		if st.wm != math.MinInt64 {
			wm = st.wm
			pl.Advance(wm, out)
		}
	}
	return wm
}

// asTable applies the outputs in order as a table: the last row of each
// session (key, start and end), a retraction deleting it.
func asTable(outs ...*collector) map[string]string {
	rows := map[string]string{}
	for _, out := range outs {
		for i, r := range out.texts() {
			if out.retract[i] {
				delete(rows, sessionOf(r))
			} else {
				rows[sessionOf(r)] = r
			}
		}
	}
	return rows
}

// lastRowOf returns out's last row of key k.
func lastRowOf(out *collector, k string) string {
	var last string
	for _, r := range out.texts() {
		if strings.HasPrefix(r, k+"|") {
			last = r
		}
	}
	return last
}

// TestReplayWritesNoPartOfASessionFiredBeforeItsFence: a replay that
// rebuilds a session which fired before its fence, and which the
// pipeline's watermark happens to fire (silently) before a replayed late
// record bridges it with another, writes nothing of it: its row with the
// records replayed so far is a part of the row the run before wrote (with
// every record before the fence's read offset). A replay stopped by the
// next rebalance before the rest of the session's records left that part
// as the session's last row, and the replay after it, whose watermark
// lagged (an aligned member's pipelines fire by its slowest partition),
// rebuilt the session unfired and wrote nothing of it either (it fired
// before the fence): the output ended at the session without its late
// record, as e2e TestLateSessionUpdatesSurviveKillAndJoin found run
// aligned now and then (the session's row written again without the late
// record after the row with it).
func TestReplayWritesNoPartOfASessionFiredBeforeItsFence(t *testing.T) {
	s := sessionRun{prog: lateSessionUpdates(t), recs: []record.Record{
		sessionRec(0, "f", 1000, math.MinInt64),
		sessionRec(1, "k", 900, 950), // k's session [900, 960)
		sessionRec(2, "k", 980, 950), // another, [980, 1040)
		sessionRec(3, "f", 1120, 950),
		// after the watermark reaches 1070: late, bridges them
		sessionRec(4, "k", 955, 1070),
		sessionRec(5, "f", 1200, 1070),
		// after 1150: late, updates the session [900, 1040)
		sessionRec(6, "k", 970, 1150),
	}}
	defer s.prog.SetReplayFences(nil)
	// the first run reads every record and commits under 1150
	first := &collector{}
	pl := s.prog.NewPipeline()
	wm := s.run(pl, first, replaytest.Start, []step{{0, 4, 1070}, {4, 6, 1150}, {6, 7, math.MinInt64}})
	cp := replaytest.Start.Commit(pl, 7, wm)
	want := lastRowOf(first, "k")
	if cp.From > 1 || !strings.HasSuffix(want, "|4") {
		t.Fatalf("the first run resumes from %d and last wrote %q; want at most 1 (the sessions kept for late records) and k's session with 4 records", cp.From, want)
	}
	s.prog.SetReplayFences(FenceFunc(cp.Fence))
	// a replay whose watermark fires [900, 960) before the record that
	// bridges it, stopped by a rebalance after that record
	stopped := &collector{}
	s.run(s.prog.NewPipeline(), stopped, cp, []step{{cp.From, 4, 1070}, {4, 5, math.MinInt64}})
	// the next replay reads them all before its watermark moves
	next := &collector{}
	s.run(s.prog.NewPipeline(), next, cp, []step{{cp.From, 7, 1150}})
	if got := asTable(first, stopped, next)[sessionOf(want)]; got != want {
		t.Errorf("the session's row is %q after the replays (the stopped one wrote %v), want the first run's: %q", got, stopped.texts(), want)
	}
}

// TestReplayBehindItsFenceCommitsTheFence: a replay that fires a session
// above its fence's watermark before it has replayed the session's late
// record (read before the fence's read offset by the run before) writes
// the session without it. Stopped there, it committed the fence joined
// with its higher watermark, so the next replay took the session for
// fired before its fence and wrote nothing of it: the output ended at
// the session without its late record, as e2e
// TestLateSessionUpdatesSurviveKillAndJoin found run aligned now and then.
// Committing the fence itself with the replay's commit offset would not
// do either: that offset may be past sessions released under the
// replay's own watermark, which the next replay would rebuild in part
// under the lower fence. Behind its fence with a higher watermark, a
// replay commits nothing (connector.Fence.Join): the next one resumes
// where it did.
func TestReplayBehindItsFenceCommitsTheFence(t *testing.T) {
	s := sessionRun{prog: lateSessionUpdates(t), recs: []record.Record{
		sessionRec(0, "f", 1000, math.MinInt64),
		sessionRec(1, "k", 900, 950), // k's session [900, 960)
		sessionRec(2, "f", 1030, 950),
		sessionRec(3, "k", 935, 980), // extends it to [900, 995)
		sessionRec(4, "f", 1150, 980),
		// after the watermark reaches 1100: late, updates the session
		// within its bounds
		sessionRec(5, "k", 920, 1100),
	}}
	defer s.prog.SetReplayFences(nil)
	first := &collector{}
	pl := s.prog.NewPipeline()
	wm := s.run(pl, first, replaytest.Start, []step{{0, 4, 980}, {4, 6, math.MinInt64}})
	cp := replaytest.Start.Commit(pl, 6, wm)
	s.run(pl, first, replaytest.Start, []step{{6, 6, 1100}})
	want := lastRowOf(first, "k")
	if cp.FenceWM != 980 || !strings.HasSuffix(want, "|3") {
		t.Fatalf("the first run commits under %d and last wrote %q; want 980 and k's session with 3 records", cp.FenceWM, want)
	}
	s.prog.SetReplayFences(FenceFunc(cp.Fence))
	stopped := &collector{}
	pl = s.prog.NewPipeline()
	wm = s.run(pl, stopped, cp, []step{{cp.From, 5, 1100}})
	next := cp.Commit(pl, 5, wm)
	s.prog.SetReplayFences(FenceFunc(next.Fence))
	last := &collector{}
	s.run(s.prog.NewPipeline(), last, next, []step{{next.From, 6, 1100}})
	if got := asTable(first, stopped, last)[sessionOf(want)]; got != want {
		t.Errorf("the session's row is %q after the replays (the stopped one wrote %v, committing %+v), want the first run's: %q", got, stopped.texts(), next, want)
	}
}

package exec

import (
	"errors"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// Replayable says whether the query's results can be rebuilt exactly by
// reading its input again from committed offsets, which exactly-once
// processing relies on: nil for a stateless query (no aggregate, sort or
// OVER) and for a TUMBLING or SLIDING window aggregate with EMIT FINAL whose
// late records are dropped or dead-lettered (its open windows are rebuilt
// from the records after the committed offsets, and Replayed tells the
// records of windows already emitted). Other state (EMIT CHANGES, groups
// without a window, SESSION windows, late updates, ORDER BY, OVER, Top-N)
// lives only in memory, so a restart could not rebuild it.
func (p *Program) Replayable() error {
	switch {
	case len(p.order) > 0:
		return errors.New("ORDER BY keeps rows in memory until they are sorted")
	case p.analytic != nil || p.top != nil:
		return errors.New("OVER and Top-N keep rows in memory")
	case p.agg == nil:
		return nil
	case !p.agg.windowed():
		return errors.New("a GROUP BY without a window keeps its groups in memory for ever")
	case p.agg.session():
		return errors.New("SESSION windows are not supported (use TUMBLING or SLIDING)")
	case p.agg.changes():
		return errors.New("EMIT CHANGES emits updates of groups kept in memory (use EMIT FINAL)")
	case p.set.late == LateUpdate:
		return errors.New("the 'update' lateness strategy changes windows after they fire")
	}
	return nil
}

// Fired reports whether every window that event time t belongs to has fired
// once the watermark is wm: always false for a query without windows. A
// record read again after a restart (exactly-once) whose windows have all
// fired had its effect in the output already.
func (p *Program) Fired(t, wm int64) bool {
	return p.closedBy(t, wm, p.set.lateness)
}

// closedBy reports whether every TUMBLING or SLIDING window that event
// time t belongs to (of the aggregate, or of a Top-N within a window)
// ends, plus after, at or before wm.
func (p *Program) closedBy(t, wm, after int64) bool {
	ws := p.firingWindow()
	if ws == nil {
		return false
	}
	for start := floorDiv(t, ws.advance) * ws.advance; start > t-ws.size; start -= ws.advance {
		if start+ws.size+after > wm {
			return false
		}
	}
	return true
}

// firingWindow returns the TUMBLING or SLIDING window whose firing writes
// the query's rows (its aggregate's, or its Top-N's), or nil.
func (p *Program) firingWindow() *windowSpec {
	switch {
	case p.agg != nil && p.agg.window != nil && p.agg.window.kind != sql.Session:
		return p.agg.window
	case p.top != nil:
		return p.top.window
	}
	return nil
}

// WindowedChanges reports whether the query is a TUMBLING or SLIDING
// window aggregate with EMIT CHANGES whose late records are dropped or
// dead-lettered: with HoldChanges, a replay from the committed offsets
// rebuilds every window still open, and its last update is the one of
// one run.
func (p *Program) WindowedChanges() bool {
	return p.agg != nil && p.agg.windowed() && !p.agg.session() && p.agg.changes() && p.set.late != LateUpdate &&
		len(p.order) == 0 && p.analytic == nil && p.top == nil
}

// GroupsForEver reports whether the query folds its rows into groups
// without a window (a GROUP BY with no ORDER BY, OVER, Top-N or DISTINCT
// after it), which it keeps until the input ends: under HoldChanges, or
// with EMIT FINAL, every record folded into one holds the commit of its
// partition for ever, so a replay rebuilds the groups from their first
// records.
func (p *Program) GroupsForEver() bool {
	return p.agg != nil && !p.agg.windowed() && !p.agg.global && len(p.order) == 0 && p.analytic == nil && p.top == nil && p.groupTop == nil && !p.distinct
}

// HeldForGood says why, under HoldChanges, the first record each source
// partition gives the query holds the partition's commit until the input
// ends, or returns "" when its commits move on: a row window (OVER
// without a GROUP BY or Top-N) carries every earlier row of its key
// (heldRowWindow), and an aggregate without a window keeps its groups
// until the input ends. A replay from a commit past that record would
// rebuild the state without it.
func (p *Program) HeldForGood() string {
	switch {
	case p.top != nil:
		return ""
	case p.agg == nil && p.analytic != nil:
		return "its row window (OVER) carries every earlier row of its key"
	case p.agg != nil && !p.agg.windowed():
		return "its aggregate without a window keeps its groups until the input ends"
	}
	return ""
}

// HoldChanges makes Held report the records of the state that is updated
// after its rows were written too (the oldest record of each one still
// kept), not only of the state not yet emitted: the groups and windows
// EMIT CHANGES updates, the fired windows and sessions the 'update'
// lateness strategy keeps, the rows in an EMIT CHANGES Top-N's top n, and, for good, the
// first row each source partition gave a row window (its keys carry
// every earlier row: heldRowWindow). Stage 2 of a
// repartitioned statement keeps no durable state, so a replay from its
// committed offset must rebuild them, or a rebalance would start their
// counts again from zero (or rank a key's later rows without its top
// ones). The updates of the records replayed are written again (at least
// once); the last one of each group (or rank) is the one-process answer.
// Call it before the first pipeline.
func (p *Program) HoldChanges() { p.holdChanges = true }

// Replayed reports whether a record that a job reads again before its
// partition's fence (stage 2 of a repartitioned statement, a consumer-group
// member aligned with its source, a restart exactly once) had its whole effect
// under the fence's watermark wm: every window of it fired under wm, or
// under the watermark it carries (it was late by it, so dead-lettered or
// dropped, and would be again). A record it keeps goes only into its
// windows that had not fired under wm: the others were written with it
// (each had all its records before the fence), and a replay would open
// them again with part of their rows. So it raises the watermark the
// record is judged late by (record.Record.Watermark) to wm, which makes a
// SLIDING window's record skip its earlier windows, not dead-letter it.
//
// Under the 'update' lateness strategy a fired window keeps its state
// for late records until its retention has passed, and stage 2 commits
// only up to the oldest record of a window it keeps (HoldChanges): a
// record had its whole effect once its windows' retention had passed
// under wm. One it keeps is judged late as it was the first time (its
// windows kept, rebuilt whole, fire again with the same rows, and its late
// records update them as they did), and goes into none of its SLIDING
// windows whose retention had passed under its partition's fence
// (Pipeline.releasedBy): written and released, they would open again with
// part of their records.
//
// Whether a SESSION window's record had its effect depends on the other
// records of its session (a later one may have extended it past the
// fence's watermark), so only a record late by the watermark it carries
// is skipped (under 'update', late beyond its own session's retention);
// the others are kept, and the pipeline writes nothing of the sessions
// they rebuild that had fired under the fence, nor, under 'update', of
// those whose retention had passed under it (SetReplayFences; see
// Pipeline.releasedBeforeFence).
func (p *Program) Replayed(rec *record.Record, wm int64) bool {
	t, ok := p.EventTime(rec)
	switch {
	case p.agg != nil && p.agg.session():
		return ok && t+p.agg.window.gap+p.set.lateness+p.retention() <= rec.Watermark
	case p.set.late == LateUpdate:
		return ok && p.closedBy(t, max(wm, rec.Watermark), p.set.lateness+p.retention())
	}
	if ok && p.Fired(t, max(wm, rec.Watermark)) {
		return true
	}
	if p.firingWindow() != nil {
		rec.Watermark = max(rec.Watermark, wm)
	}
	return false
}

// ReplayRule returns Replayed, the rule a job applies to the records read
// again before the read offset of the checkpoint their partition resumed
// from (job.Replayer).
func (p *Program) ReplayRule() func(rec *record.Record, wm int64) bool { return p.Replayed }

// SetReplayFences makes a SESSION window program, run by stage 2 of a
// statement repartitioned across processes or by a consumer-group member
// of a statement aligned with its source, write nothing of the sessions
// a replay after a rebalance rebuilds that had fired before it: fence
// gives the watermark of the checkpoint a partition resumed from (false
// for none). Such a session closes at or before that watermark (see
// Pipeline.firedBeforeFence); a window's record after the checkpoint is
// judged late by it too (Pipeline.windowBound). A pipeline asks once per
// source partition, and again once the fences moved (Fences.FenceEpoch).
// Call it before the first pipeline; nil turns it off.
func (p *Program) SetReplayFences(fence Fences) {
	p.fence = fence
}

// Fences gives the replay fence of each source partition
// (SetReplayFences): a *kafka.Source, whose partitions resume from the
// checkpoints committed with their offsets as the group assigns them.
type Fences interface {
	// FenceWatermark returns the watermark of the checkpoint partition
	// resumed from, or false when it resumed from none.
	FenceWatermark(partition int32) (int64, bool)
	// FenceEpoch returns a number that changes whenever partitions
	// resume again (a rebalance gave them back): a fence looked up
	// before may no longer be the partition's.
	FenceEpoch() uint64
}

// FenceFunc is the Fences of a function whose answers never change.
type FenceFunc func(partition int32) (int64, bool)

// FenceWatermark implements Fences.
func (f FenceFunc) FenceWatermark(partition int32) (int64, bool) { return f(partition) }

// FenceEpoch implements Fences: the fences never move.
func (f FenceFunc) FenceEpoch() uint64 { return 0 }

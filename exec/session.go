package exec

import (
	"math"
	"slices"

	"github.com/sluicesql/sluice/record"
)

// session is one SESSION window of a key: [start, end) where end is the
// last event time plus the gap.
type session struct {
	start, end int64
	// fence is the watermark of the checkpoint its partition resumed from
	// (SetReplayFences; math.MinInt64 for none): a session that closes at
	// or before it fired before the replay, which read it again in part
	fence int64
	g     int32 // -1 once merged away or released
	fired bool
	held  heldSet
}

// sessionKey holds the sessions of one group key.
type sessionKey struct {
	key  string
	list []session
}

// sessionRecord folds the prepared record into its key's session: a
// record at t covers [t, t+gap), its own session. That session is open
// while its end plus the allowed lateness is after the watermark of the
// record's source partition (lateBound); then the record merges every
// session it overlaps into one, or starts a new one. Otherwise it is late
// (under 'update', while its own session is retained by that watermark,
// it merges the sessions it overlaps into one, or starts a new one, fired
// once the watermark here has passed its close).
//
// A session whose row was written and which a record extends or merges
// into another has that row retracted when the session's row is next
// written (Program.Retracts).
//
// Whether a record is late thus depends on the record alone, and the
// sessions are the connected runs of the records' own sessions, whatever
// the order in which source partitions' records arrive. A session closes
// (closeAt) only when no record still to come can reach it: one whose own
// session is open starts after it.
func (pl *Pipeline) sessionRecord(r *record.Record, t int64) {
	a := pl.p.agg
	lateness, keep := pl.p.set.lateness, pl.p.retention()
	// read after its partition's fence, a record is judged against the
	// fence's watermark too (see firedBeforeFence)
	wm := pl.windowBound(r)
	lo, hi := t, t+a.window.gap
	open := hi+lateness > wm
	if !open && (keep == 0 || hi+lateness+keep <= wm) {
		// its own session's retention has passed too: late, whatever
		// sessions of other partitions' records are still kept here
		pl.late(r, t, wm)
		return
	}
	sk := pl.sessions[string(pl.keyBuf)]
	if sk == nil {
		sk = &sessionKey{key: string(pl.keyBuf)}
		pl.sessions[sk.key] = sk
	}
	// read after its partition's fence, a late record under 'update'
	// found fired the sessions that fired before it: the replay, whose
	// watermark is behind, has not fired them (it writes nothing of them
	// until then, firedBeforeFence), but the record updates them
	fence := int64(math.MinInt64)
	if keep > 0 && !r.Replay {
		fence = pl.fenceOf(r)
	}
	var s *session
	for i := range sk.list {
		o := &sk.list[i]
		if o.start < hi && lo < o.end && !o.fired && pl.closeAt(o) <= fence {
			o.fired = true
		}
		switch {
		case o.start >= hi || lo >= o.end:
		case s == nil:
			s = o
		default:
			// an open record's sessions have not fired: a session
			// closes only when no open record can overlap it; a late
			// record under 'update' bridges sessions kept for it as
			// an on-time one would have
			pl.mergeSession(s, o)
		}
	}
	if s == nil {
		// A late record's own session that the watermark here has not
		// closed (another partition holds it back) is open, as its
		// window is (Pipeline.firedBound): made fired, it would be
		// written with the late record alone, before or after the
		// on-time records that join it, as the partitions were read.
		fired := !open && hi+a.window.gap+lateness <= pl.firedBound(r)
		sk.list = append(sk.list, session{start: lo, end: hi, fence: pl.fenceOf(r), g: pl.newSessionGroup(lo, hi), fired: fired})
		s = &sk.list[len(sk.list)-1]
	}
	s.start, s.end = min(s.start, lo), max(s.end, hi)
	pl.gt.start[s.g], pl.gt.end[s.g] = s.start, s.end
	if r.MayBeWritten() && pl.gt.moves {
		pl.replayedInto(s.g)
	}
	pl.fold(s.g, r)
	pl.stats.Accepted++
	switch {
	case s.fired:
		// a record read again before the fence updates a session that
		// fired before it with part of what the run before wrote: its
		// row would be a part of the one out (and the last one, were
		// this run stopped next), which a later replay, rebuilding the
		// session unfired, would not write again (firedBeforeFence)
		if !pl.releasedBeforeFence(s) && !(r.Replay && pl.firedBeforeFence(s)) {
			pl.markChanged(s.g)
		}
		if pl.p.holdChanges {
			s.held.note(pl.src.index(r), r.Offset)
		}
		pl.nextDue = min(pl.nextDue, pl.closeAt(s)+keep)
	case a.changes():
		if !pl.firedBeforeFence(s) {
			pl.markChanged(s.g)
		}
		if pl.p.holdChanges {
			s.held.note(pl.src.index(r), r.Offset)
		}
		pl.nextDue = min(pl.nextDue, pl.closeAt(s))
	default:
		s.held.note(pl.src.index(r), r.Offset)
		pl.nextDue = min(pl.nextDue, pl.closeAt(s))
	}
	pl.compactSessions(sk)
}

// closeAt returns the watermark at which session s closes and fires: its
// end plus the gap plus the allowed lateness. Before that a record whose
// own session is open may still start before s's end and extend it.
func (pl *Pipeline) closeAt(s *session) int64 {
	return s.end + pl.p.agg.window.gap + pl.p.set.lateness
}

// firedBeforeFence reports whether session s, rebuilt by a replay after a
// rebalance, fired before it: it closes at or before the watermark of the
// checkpoint its partition resumed from. Its rows are out, and it was
// rebuilt only from its records after the committed offset, so it writes
// nothing, neither its final row nor (EMIT CHANGES) an update.
//
// A session that had not fired then has every record after the committed
// offset (commits wait for its oldest one, Held), so the replay rebuilds
// it whole, and it closes after the fence: it was not closed at the
// checkpoint, and a record read after the checkpoint that joins a session
// is not late by a watermark at or above the fence's, so it ends after
// it (a record read after the fence is judged against the fence's
// watermark at least, as the job that wrote the checkpoint judged it,
// even when the watermark it carries is behind: its source partition was
// idle, say). The sessions the replay builds from records that belonged
// to one which fired are parts of it (a key's sessions are the runs of
// its on-time records' own sessions, and a subset of the records makes
// parts of those runs), so they close at or before it and write nothing
// either.
func (pl *Pipeline) firedBeforeFence(s *session) bool {
	return pl.closeAt(s) <= s.fence
}

// releasedBeforeFence reports whether session s, rebuilt by a replay
// after a rebalance, was released before it: its retention for late
// updates ('late.data.strategy'='update') passed at or before the fence's
// watermark. It is then part of a session whose every row is out, and
// writes nothing, not even an update a late record read again makes.
func (pl *Pipeline) releasedBeforeFence(s *session) bool {
	return pl.closeAt(s)+pl.p.retention() <= s.fence
}

// fenceOf returns the watermark of the checkpoint r's partition resumed
// from, or math.MinInt64 without one (SetReplayFences). It is looked up
// again once the fences moved: a partition the group took away and gave
// back resumed from a later checkpoint.
func (pl *Pipeline) fenceOf(r *record.Record) int64 {
	if pl.p.fence == nil {
		return math.MinInt64
	}
	i := pl.src.index(r)
	for len(pl.fences) <= i {
		pl.fences = append(pl.fences, fenceEntry{})
	}
	f := &pl.fences[i]
	if epoch := pl.p.fence.FenceEpoch(); !f.known || f.epoch != epoch {
		f.known, f.epoch, f.wm = true, epoch, math.MinInt64
		if wm, ok := pl.p.fence.FenceWatermark(r.Partition); ok {
			f.wm = wm
		}
	}
	return f.wm
}

// fenceEntry caches the fence of a source partition, as of a FenceEpoch.
type fenceEntry struct {
	wm    int64
	epoch uint64
	known bool
}

func (pl *Pipeline) newSessionGroup(start, end int64) int32 {
	g := pl.gt.alloc(pl.aggs, pl.keyVals)
	pl.gt.start[g], pl.gt.end[g] = start, end
	return g
}

// mergeSession folds session src into dst and marks src removed. A row
// written for src is retracted at the next emission, before dst's row
// (retractAbsorbed): src's group is kept until then.
func (pl *Pipeline) mergeSession(dst, src *session) {
	for _, ag := range pl.aggs {
		ag.merge(dst.g, src.g)
	}
	pl.gt.ts[dst.g] = max(pl.gt.ts[dst.g], pl.gt.ts[src.g])
	dst.start, dst.end = min(dst.start, src.start), max(dst.end, src.end)
	dst.fence = max(dst.fence, src.fence)
	dst.held.mergeFrom(src.held)
	if t := &pl.gt; t.moves && t.shown[src.g] {
		t.changed[src.g], t.shown[src.g] = false, false
		pl.stale = append(pl.stale, staleRow{g: src.g, start: t.shownStart[src.g], end: t.shownEnd[src.g], release: true})
	} else {
		pl.gt.release(pl.aggs, src.g)
	}
	src.g = -1
}

// staleRow is a row written for a session whose bounds have moved since,
// to be retracted at the next emission.
type staleRow struct {
	g          int32
	start, end int64
	release    bool // the session was merged into another: free g then
}

// replayedInto notes that a record read again after a rebalance joined
// session g, whose bounds it may have moved: the run before may have
// written g's row after any record, so the bounds g has now count as
// written, and a row written with other bounds is retracted.
func (pl *Pipeline) replayedInto(g int32) {
	t := &pl.gt
	if t.shown[g] && (t.shownStart[g] != t.start[g] || t.shownEnd[g] != t.end[g]) {
		pl.stale = append(pl.stale, staleRow{g: g, start: t.shownStart[g], end: t.shownEnd[g]})
	}
	t.shown[g] = true
	t.shownStart[g], t.shownEnd[g] = t.start[g], t.end[g]
}

// retractStale adds the rows that retract the stale rows (of sessions
// merged into others, or moved by replayed records) and frees the groups
// of merged sessions. It comes first in an emission: the row of the
// session they became may have a stale row's start.
func (pl *Pipeline) retractStale() {
	for _, s := range pl.stale {
		pl.addRetraction(s.g, s.start, s.end)
		if s.release {
			pl.gt.release(pl.aggs, s.g)
		}
	}
	pl.stale = pl.stale[:0]
}

// compactSessions drops removed sessions and forgets a key without any.
func (pl *Pipeline) compactSessions(sk *sessionKey) {
	sk.list = slices.DeleteFunc(sk.list, func(s session) bool { return s.g < 0 })
	if len(sk.list) == 0 {
		delete(pl.sessions, sk.key)
	}
}

// fireSessions fires the sessions the watermark has reached (all of them
// when all is set), ordered by start then key, as one emission, and
// releases fired sessions whose retention has passed.
func (pl *Pipeline) fireSessions(all bool) {
	keep := pl.p.retention()
	changes := pl.p.agg.changes()
	pl.nextDue = math.MaxInt64
	due := pl.due[:0]
	for _, sk := range pl.sessions {
		for i := range sk.list {
			s := &sk.list[i]
			switch closeAt := pl.closeAt(s); {
			case all || closeAt <= pl.wm && !s.fired || closeAt+keep <= pl.wm:
				due = append(due, dueItem{sk: sk, i: i, start: s.start})
			case s.fired:
				pl.nextDue = min(pl.nextDue, closeAt+keep)
			default:
				pl.nextDue = min(pl.nextDue, closeAt)
			}
		}
	}
	slices.SortFunc(due, cmpDue)
	pl.rows.reset()
	pl.retractStale()
	for _, d := range due {
		s := &d.sk.list[d.i]
		if pl.firedBeforeFence(s) && !s.fired {
			continue
		}
		if (!s.fired && !changes) || pl.gt.changed[s.g] {
			pl.gt.changed[s.g] = false
			pl.addGroupRow(s.g)
		}
	}
	pl.emit()
	for _, d := range due {
		s := &d.sk.list[d.i]
		if !s.fired && !all && keep > 0 && pl.closeAt(s)+keep > pl.wm {
			s.fired = true
			if !pl.p.holdChanges {
				s.held.reset()
			}
			pl.nextDue = min(pl.nextDue, pl.closeAt(s)+keep)
			continue
		}
		pl.gt.release(pl.aggs, s.g)
		s.g = -1
	}
	for _, d := range due {
		pl.compactSessions(d.sk)
	}
	clear(due)
	pl.due = due[:0]
}

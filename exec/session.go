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
	g          int32 // -1 once merged away or released
	fired      bool
	held       heldSet
}

// sessionKey holds the sessions of one group key.
type sessionKey struct {
	key  string
	list []session
}

// sessionRecord folds the prepared record into its key's session: a
// record at t covers [t, t+gap); it extends an overlapping open session,
// merges every open session it bridges, or starts a new one.
func (pl *Pipeline) sessionRecord(r *record.Record, t int64) {
	a := pl.p.agg
	lateness, keep := pl.p.set.lateness, pl.p.retention()
	wm := pl.lateBound(r)
	lo, hi := t, t+a.window.gap
	sk := pl.sessions[string(pl.keyBuf)]
	if sk == nil {
		sk = &sessionKey{key: string(pl.keyBuf)}
		pl.sessions[sk.key] = sk
	}
	open, fired := -1, -1
	for i := range sk.list {
		s := &sk.list[i]
		if s.start >= hi || lo >= s.end {
			continue
		}
		switch {
		case s.fired || s.end+lateness <= wm:
			// closed by r's watermark, whether or not the job's
			// watermark has fired it yet: r's fate must not depend on that
			if fired < 0 {
				fired = i
			}
		case open < 0:
			open = i
		default:
			pl.mergeSession(&sk.list[open], s)
		}
	}
	var s *session
	switch {
	case open >= 0:
		s = &sk.list[open]
	case hi+lateness > wm:
		sk.list = append(sk.list, session{start: lo, end: hi, g: pl.newSessionGroup(lo, hi)})
		s = &sk.list[len(sk.list)-1]
	case keep > 0 && fired >= 0:
		s = &sk.list[fired]
	case keep > 0 && hi+lateness+keep > wm:
		sk.list = append(sk.list, session{start: lo, end: hi, g: pl.newSessionGroup(lo, hi), fired: true})
		s = &sk.list[len(sk.list)-1]
	default:
		pl.compactSessions(sk)
		pl.late(r, t, wm)
		return
	}
	s.start, s.end = min(s.start, lo), max(s.end, hi)
	pl.gt.start[s.g], pl.gt.end[s.g] = s.start, s.end
	pl.fold(s.g, r)
	pl.stats.Accepted++
	switch {
	case s.fired:
		pl.markChanged(s.g)
		pl.nextDue = min(pl.nextDue, s.end+lateness+keep)
	case a.changes():
		pl.markChanged(s.g)
		pl.nextDue = min(pl.nextDue, s.end+lateness)
	default:
		s.held.note(pl.src.index(r), r.Offset)
		pl.nextDue = min(pl.nextDue, s.end+lateness)
	}
	pl.compactSessions(sk)
}

func (pl *Pipeline) newSessionGroup(start, end int64) int32 {
	g := pl.gt.alloc(pl.aggs, pl.keyVals)
	pl.gt.start[g], pl.gt.end[g] = start, end
	return g
}

// mergeSession folds session src into dst and marks src removed.
func (pl *Pipeline) mergeSession(dst, src *session) {
	for _, ag := range pl.aggs {
		ag.merge(dst.g, src.g)
	}
	pl.gt.ts[dst.g] = max(pl.gt.ts[dst.g], pl.gt.ts[src.g])
	dst.start, dst.end = min(dst.start, src.start), max(dst.end, src.end)
	dst.held.mergeFrom(src.held)
	pl.gt.release(pl.aggs, src.g)
	src.g = -1
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
	lateness, keep := pl.p.set.lateness, pl.p.retention()
	changes := pl.p.agg.changes()
	pl.nextDue = math.MaxInt64
	due := pl.due[:0]
	for _, sk := range pl.sessions {
		for i := range sk.list {
			s := &sk.list[i]
			switch {
			case all || s.end+lateness <= pl.wm && !s.fired || s.end+lateness+keep <= pl.wm:
				due = append(due, dueItem{sk: sk, i: i, start: s.start})
			case s.fired:
				pl.nextDue = min(pl.nextDue, s.end+lateness+keep)
			default:
				pl.nextDue = min(pl.nextDue, s.end+lateness)
			}
		}
	}
	slices.SortFunc(due, cmpDue)
	pl.rows.reset()
	for _, d := range due {
		s := &d.sk.list[d.i]
		if (!s.fired && !changes) || pl.gt.changed[s.g] {
			pl.gt.changed[s.g] = false
			pl.addGroupRow(s.g)
		}
	}
	pl.emit()
	for _, d := range due {
		s := &d.sk.list[d.i]
		if !s.fired && !all && keep > 0 && s.end+lateness+keep > pl.wm {
			s.fired = true
			s.held.reset()
			pl.nextDue = min(pl.nextDue, s.end+lateness+keep)
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

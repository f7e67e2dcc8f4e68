package exec

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/sluicesql/sluice/record"
)

// ErrLate is wrapped by the reason given to Output.DeadLetter for a record
// whose window had already fired.
var ErrLate = errors.New("late record")

// window is one open (or, under the update strategy, fired and retained)
// TUMBLING or SLIDING window instance with its groups.
type window struct {
	start, end int64
	fired      bool
	groups     map[string]int32
	gids       []int32
	held       heldSet
}

// dueItem is a window or session found due by a firing scan.
type dueItem struct {
	w     *window
	sk    *sessionKey
	i     int
	start int64
}

// floorDiv returns a / b rounded toward negative infinity (b > 0).
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// retention is how long fired windows keep their state for late updates:
// 0 unless the strategy is update; then late.data.retention, by default
// one window length.
func (p *Program) retention() int64 {
	if p.set.late != LateUpdate || p.agg == nil || p.agg.window == nil {
		return 0
	}
	if p.set.retention >= 0 {
		return p.set.retention
	}
	return p.agg.window.length()
}

// windowRecord folds the prepared record into every TUMBLING or SLIDING
// window that covers t: [start, end) with start a multiple of the advance.
func (pl *Pipeline) windowRecord(r *record.Record, t int64) {
	ws := pl.p.agg.window
	lateness, keep := pl.p.set.lateness, pl.p.retention()
	wm := pl.windowBound(r)
	released := pl.releasedBy(r, keep)
	applied, late, src := false, false, -1
	for start := floorDiv(t, ws.advance) * ws.advance; start > t-ws.size; start -= ws.advance {
		end := start + ws.size
		if end+lateness+keep <= released {
			// written and released before the replay: opened again, it
			// would be written once more with part of its records
			continue
		}
		// A record late by its own partition's watermark whose window
		// the watermark here has not reached (another partition holds it
		// back) joins the window as it stands, open: created fired, the
		// window would be written with the late records alone, and the
		// on-time records after them would never be written, or before
		// them, depending on the order partitions were read in.
		retained := keep > 0 && end+lateness+keep > wm
		if end+lateness <= wm && (!retained || end+lateness <= pl.firedBound(r)) {
			if retained {
				w := pl.windowAt(start, end, true)
				g := pl.windowGroup(w)
				pl.fold(g, r)
				pl.markChanged(g)
				applied = true
				if pl.p.holdChanges {
					w.held.note(pl.src.index(r), r.Offset)
				}
			} else {
				late = true
			}
			continue
		}
		w := pl.windowAt(start, end, false)
		g := pl.windowGroup(w)
		pl.fold(g, r)
		applied = true
		if pl.p.agg.changes() {
			pl.markChanged(g)
			if !pl.p.holdChanges {
				continue
			}
		}
		if src < 0 {
			src = pl.src.index(r)
		}
		w.held.note(src, r.Offset)
	}
	switch {
	case applied:
		pl.stats.Accepted++
	case late:
		pl.late(r, t, wm)
	}
}

// releasedBy returns the watermark under which the windows of r, a record
// a replay reads again before its partition's fence, had been written and
// released (math.MinInt64 for another record). Under the 'update' lateness
// strategy (keep > 0) such a record is judged late as it was the first
// time (Program.Replayed), so its SLIDING windows whose retention had
// passed under the fence would open again; it goes into none of them, and
// into the windows still kept (rebuilt whole from the committed offset)
// as it did the first time. Without 'update' Replayed raised its
// watermark to the fence's, which keeps it out of the windows that fired.
func (pl *Pipeline) releasedBy(r *record.Record, keep int64) int64 {
	if keep == 0 || !r.Replay || !pl.p.external {
		return math.MinInt64
	}
	return pl.fenceOf(r)
}

// lateBound returns the watermark r is judged late by: under a job, the
// watermark of r's source partition when it was read (the job stamps it),
// so that whether r is late depends only on the data. A watermark that is
// already past it (an idle partition let the job's watermark move on)
// takes over: a window that has fired cannot take the record.
func (pl *Pipeline) lateBound(r *record.Record) int64 {
	if pl.p.external {
		return max(pl.wm, r.Watermark)
	}
	return pl.wm
}

// windowBound is lateBound for a record of windows (TUMBLING or SLIDING,
// of an aggregate or a Top-N, and SESSION). With replay fences (stage 2 of
// a repartitioned statement, an aligned consumer-group member:
// SetReplayFences) a record after its partition's fence is judged against the
// fence's watermark too: the run that committed the fence had reached it
// before the record, and found late a record whose windows had fired by
// it, but a replay knows no watermark of its own until every source
// partition has reported again, and would open such a window again with
// that record alone (or join a session that fired to it). A record read
// again before the fence was judged when first read (Program.Replayed).
func (pl *Pipeline) windowBound(r *record.Record) int64 {
	wm := pl.lateBound(r)
	if pl.p.external && !r.Replay {
		wm = max(wm, pl.fenceOf(r))
	}
	return wm
}

// firedBound is the watermark the windows here have fired by: windowBound
// without the record's own partition's watermark.
func (pl *Pipeline) firedBound(r *record.Record) int64 {
	if pl.p.external && !r.Replay {
		return max(pl.wm, pl.fenceOf(r))
	}
	return pl.wm
}

// late handles a record whose windows have all closed by the watermark wm.
func (pl *Pipeline) late(r *record.Record, t, wm int64) {
	pl.lateBehind(r, t, wm, "the watermark %s plus allowed lateness; its window has closed")
}

// lateBehind counts a late record, with event time t behind bound, and
// drops or dead-letters it as the late-data strategy says; behind says
// what bound is (a format with one %s for it).
func (pl *Pipeline) lateBehind(r *record.Record, t, bound int64, behind string) {
	pl.stats.Late++
	if pl.p.set.late == LateDrop {
		pl.stats.LateDropped++
		return
	}
	pl.deadLetter(r, fmt.Errorf("%w: event time %s is behind "+behind, ErrLate, record.TimestampValue(t), record.TimestampValue(bound)))
}

// windowAt returns the window starting at start, creating it.
func (pl *Pipeline) windowAt(start, end int64, fired bool) *window {
	if w := pl.lastWin; w != nil && w.start == start {
		return w
	}
	w, ok := pl.windows[start]
	if !ok {
		if k := len(pl.freeWins); k > 0 {
			w = pl.freeWins[k-1]
			pl.freeWins = pl.freeWins[:k-1]
		} else {
			w = &window{groups: make(map[string]int32)}
		}
		w.start, w.end, w.fired = start, end, fired
		pl.windows[start] = w
		due := end + pl.p.set.lateness
		if fired {
			due += pl.p.retention()
		}
		pl.nextDue = min(pl.nextDue, due)
	}
	pl.lastWin = w
	return w
}

// windowGroup returns the group of the current key in w, creating it.
func (pl *Pipeline) windowGroup(w *window) int32 {
	if g, ok := w.groups[string(pl.keyBuf)]; ok {
		return g
	}
	g := pl.gt.alloc(pl.aggs, pl.keyVals)
	pl.gt.start[g], pl.gt.end[g] = w.start, w.end
	w.groups[string(pl.keyBuf)] = g
	w.gids = append(w.gids, g)
	return g
}

// fireDue fires the windows the watermark has reached (all of them when
// all is set, at the end of the input) in window order, and releases fired
// windows whose retention has passed.
func (pl *Pipeline) fireDue(all bool) {
	if pl.p.agg.session() {
		pl.fireSessions(all)
		return
	}
	lateness, keep := pl.p.set.lateness, pl.p.retention()
	pl.nextDue = math.MaxInt64
	due := pl.due[:0]
	for _, w := range pl.windows {
		switch {
		case all || w.end+lateness <= pl.wm && !w.fired || w.end+lateness+keep <= pl.wm:
			due = append(due, dueItem{w: w, start: w.start})
		case w.fired:
			pl.nextDue = min(pl.nextDue, w.end+lateness+keep)
		default:
			pl.nextDue = min(pl.nextDue, w.end+lateness)
		}
	}
	slices.SortFunc(due, func(a, b dueItem) int { return cmp.Compare(a.start, b.start) })
	for _, d := range due {
		w := d.w
		if !w.fired {
			if pl.p.agg.changes() {
				pl.emitChangedOf(w.gids)
			} else {
				pl.emitGroups(w.gids)
			}
			if !all && keep > 0 && w.end+lateness+keep > pl.wm {
				w.fired = true
				if !pl.p.holdChanges {
					w.held.reset()
				}
				pl.nextDue = min(pl.nextDue, w.end+lateness+keep)
				continue
			}
		} else {
			pl.emitChangedOf(w.gids)
		}
		pl.releaseWindow(w)
	}
	clear(due)
	pl.due = due[:0]
}

// releaseWindow frees a window's groups and recycles it.
func (pl *Pipeline) releaseWindow(w *window) {
	for _, g := range w.gids {
		pl.gt.release(pl.aggs, g)
	}
	clear(w.groups)
	w.gids = w.gids[:0]
	w.held.reset()
	delete(pl.windows, w.start)
	if pl.lastWin == w {
		pl.lastWin = nil
	}
	pl.freeWins = append(pl.freeWins, w)
}

// cmpDue orders session firing: by start, then by key.
func cmpDue(a, b dueItem) int {
	if c := cmp.Compare(a.start, b.start); c != 0 {
		return c
	}
	return strings.Compare(a.sk.key, b.sk.key)
}

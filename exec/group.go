package exec

import (
	"math"
	"slices"

	"github.com/sluicesql/sluice/record"
)

// groupTable allocates group ids and holds per-group metadata in parallel
// slices; aggregate states live in the aggregators, indexed by the same id.
// Released ids are reused.
type groupTable struct {
	width    int            // group key values per group
	types    []record.Type  // of the key values, which are kept in their KeyForm
	windowed bool           // the groups are windows' (start and end are kept)
	keys     []record.Value // width values per group
	start    []int64        // window start (windowed queries only)
	end      []int64        // window end (windowed queries only)
	ts       []int64        // largest record timestamp folded in
	changed  []bool         // queued in Pipeline.changed
	retracts bool           // a group's row written may be withdrawn (Program.Retracts; shown is kept)
	// shown says, with retracts, that the group's last row written met
	// HAVING (or may have: a run before a rebalance wrote it), so a row
	// that fails HAVING retracts it.
	shown []bool
	// moves says, with retracts, that a group's window may change its
	// bounds after its row is written (a session that a record extends,
	// or merges with another): shownStart and shownEnd hold the bounds of
	// the row written, which its retraction names.
	moves                bool
	shownStart, shownEnd []int64
	free                 []int32
	n                    int
}

func (t *groupTable) keyOf(g int32) []record.Value {
	return t.keys[int(g)*t.width : int(g+1)*t.width]
}

// alloc returns a fresh group id with the given key values, kept in the
// form of their type (record.Value.KeyForm): the values of one group take
// one form, so its key prints alike whichever came first.
func (t *groupTable) alloc(aggs []aggregator, keys []record.Value) int32 {
	var g int32
	if k := len(t.free); k > 0 {
		g = t.free[k-1]
		t.free = t.free[:k-1]
	} else {
		g = int32(t.n)
		t.n++
		t.keys = growTo(t.keys, t.n*t.width)
		if t.windowed {
			t.start = growTo(t.start, t.n)
			t.end = growTo(t.end, t.n)
		}
		t.ts = growTo(t.ts, t.n)
		t.changed = growTo(t.changed, t.n)
		if t.retracts {
			t.shown = growTo(t.shown, t.n)
		}
		if t.moves {
			t.shownStart = growTo(t.shownStart, t.n)
			t.shownEnd = growTo(t.shownEnd, t.n)
		}
		for _, a := range aggs {
			a.grow(t.n)
		}
	}
	dst := t.keyOf(g)
	for i, v := range keys {
		dst[i] = retain(v.KeyForm(t.types[i]))
	}
	t.ts[g] = math.MinInt64
	return g
}

// release frees group g's state for reuse.
func (t *groupTable) release(aggs []aggregator, g int32) {
	for _, a := range aggs {
		a.clear(g)
	}
	clear(t.keyOf(g))
	t.changed[g] = false
	if t.retracts {
		t.shown[g] = false
	}
	t.free = append(t.free, g)
}

// heldSet is the smallest offset per source (indexed as in sources) whose
// effect is still only in open state; math.MaxInt64 means none.
type heldSet []int64

func (h *heldSet) note(src int, off int64) {
	for len(*h) <= src {
		*h = append(*h, math.MaxInt64)
	}
	if off < (*h)[src] {
		(*h)[src] = off
	}
}

func (h *heldSet) mergeFrom(o heldSet) {
	for i, off := range o {
		if off != math.MaxInt64 {
			h.note(i, off)
		}
	}
}

func (h *heldSet) reset() { *h = (*h)[:0] }

// sources numbers the (topic, partition) pairs a pipeline has seen.
type sources struct {
	list []sourceID
	last int
}

type sourceID struct {
	topic     string
	partition int32
}

func (s *sources) index(r *record.Record) int {
	if s.last < len(s.list) && s.list[s.last].partition == r.Partition && s.list[s.last].topic == r.Topic {
		return s.last
	}
	for i, id := range s.list {
		if id.partition == r.Partition && id.topic == r.Topic {
			s.last = i
			return i
		}
	}
	s.list = append(s.list, sourceID{r.Topic, r.Partition})
	s.last = len(s.list) - 1
	return s.last
}

// aggregate folds one record into the state of an aggregating query.
func (pl *Pipeline) aggregate(r *record.Record) {
	a := pl.p.agg
	pl.stats.In++
	if !pl.pass(r) {
		return
	}
	var t int64
	if a.windowed() {
		var ok bool
		if t, ok = pl.eventTime(r); !ok {
			return
		}
	}
	b := pl.keyBuf[:0]
	for i, f := range a.keys {
		v, err := f(r)
		if err != nil {
			pl.keyBuf = b
			pl.deadLetter(r, err)
			return
		}
		pl.keyVals[i] = v
		b = v.AppendKey(b)
	}
	pl.keyBuf = b
	for _, ag := range pl.aggs {
		if err := ag.prepare(r); err != nil {
			pl.deadLetter(r, err)
			return
		}
	}
	switch {
	case !a.windowed():
		pl.unwindowed(r)
	case a.session():
		pl.sessionRecord(r, t)
	default:
		pl.windowRecord(r, t)
	}
	if a.windowed() && !pl.p.external {
		if wm := t - pl.p.set.outOfOrder; wm > pl.wm {
			pl.wm = wm
			if wm >= pl.nextDue {
				pl.fireDue(false)
			}
		}
	}
}

// fold applies the prepared record to group g.
func (pl *Pipeline) fold(g int32, r *record.Record) {
	for _, ag := range pl.aggs {
		ag.apply(g)
	}
	if r.Timestamp > pl.gt.ts[g] {
		pl.gt.ts[g] = r.Timestamp
	}
	if r.MayBeWritten() && pl.gt.retracts {
		// read again after a rebalance: the run before may have written
		// the group's row
		pl.gt.shown[g] = true
	}
}

// unwindowed folds the prepared record into its group.
func (pl *Pipeline) unwindowed(r *record.Record) {
	g, ok := pl.groups[string(pl.keyBuf)]
	if !ok {
		g = pl.gt.alloc(pl.aggs, pl.keyVals)
		pl.groups[string(pl.keyBuf)] = g
	}
	pl.fold(g, r)
	pl.stats.Accepted++
	if pl.p.agg.changes() {
		pl.markChanged(g)
		if !pl.p.holdChanges {
			return
		}
	}
	pl.held.note(pl.src.index(r), r.Offset)
}

// finishGroups emits every unwindowed group (EMIT FINAL) at the end of the
// input, in first-seen order, and releases the state.
func (pl *Pipeline) finishGroups() {
	a := pl.p.agg
	gs := make([]int32, 0, len(pl.groups))
	for _, g := range pl.groups {
		gs = append(gs, g)
	}
	slices.Sort(gs)
	if a.global && len(gs) == 0 {
		gs = append(gs, pl.gt.alloc(pl.aggs, nil))
	}
	if !a.changes() || (a.global && len(pl.groups) == 0) {
		pl.emitGroups(gs)
	}
	for _, g := range gs {
		pl.gt.release(pl.aggs, g)
	}
	clear(pl.groups)
	pl.held.reset()
}

// heldRowWindow notes, under HoldChanges, the first row each source
// partition gave a row window (OVER without a GROUP BY), for good: every
// later row of a key carries the rows before it (LAG, running aggregates,
// ROW_NUMBER), so a replay from a commit past them would write its rows
// with other values. The replay reads them all again and writes their
// rows again, identical (at least once).
func (pl *Pipeline) heldRowWindow(h *heldSet) {
	if pl.p.holdChanges && pl.p.agg == nil {
		h.mergeFrom(pl.held)
	}
}

// Held reports, for each source partition, the smallest offset whose effect
// is still only in open state (not yet emitted).
func (pl *Pipeline) Held(fn func(topic string, partition int32, minOffset int64)) {
	var h heldSet
	a := pl.p.agg
	switch {
	case pl.p.top != nil:
		pl.heldTop(&h)
	case pl.p.rowOrdered():
		pl.heldOrdered(&h)
		pl.heldRowWindow(&h)
	case a == nil && pl.p.analytic != nil && pl.p.holdChanges:
		pl.heldRowWindow(&h)
	case a == nil && pl.p.sortsAll():
		// rows wait for Finish, which sorts them
		for i := range pl.rows.rows {
			r := &pl.rows.rows[i]
			h.note(pl.src.index(r), r.Offset)
		}
	case a == nil || a.changes() && !pl.p.holdChanges:
		return
	case !a.windowed():
		h = pl.held
	case a.session():
		for _, sk := range pl.sessions {
			for i := range sk.list {
				// a fired session kept for late updates holds its
				// records only under HoldChanges
				h.mergeFrom(sk.list[i].held)
			}
		}
	default:
		// a fired window kept for late updates holds its records only
		// under HoldChanges
		for _, w := range pl.windows {
			h.mergeFrom(w.held)
		}
	}
	for i, off := range h {
		if off != math.MaxInt64 {
			id := pl.src.list[i]
			fn(id.topic, id.partition, off)
		}
	}
}

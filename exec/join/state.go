package join

import (
	"maps"
	"math"

	"github.com/sluicesql/sluice/record"
)

// ssState is one worker's stream-stream join state. Each input's buffered
// rows are held by value in slabs of their own (a row's values in one flat
// array, its links in another), addressed by index, so that a row costs no
// allocation and few cache lines. A join key links its rows of each input
// in arrival order. A row is dropped once the watermark passes the time
// after which no row of the other input can match it ("done"): each source
// partition's rows arrive about in time order, so they wait in a queue per
// input and source partition, and only a row done before the one queued
// before it goes to a heap.
type ssState struct {
	iv    *interval
	k     int           // the join's place in the chain (Program.ivs)
	wm    int64         // the watermark it last dropped rows at
	keys  keyMap[int32] // a join key's place in klist
	klist []ssKey
	// freeKeys are klist's unused places; empty counts the keys that hold
	// no row, deleted from keys only by sweep (a key seen once is mostly
	// seen again)
	freeKeys []int32
	empty    int
	sides    [2]sideRows
	queues   []doneQueue
	last     int     // the queue of the last row queued
	late     rowHeap // rows done before their queue's last row
	topics   []string
	rows     int64
	// matched are, in the order they were dropped, the rows of an outer
	// side dropped as matched whose row with NULLs could still fall in a
	// window after the joins not yet fired (see keepMatched)
	matched     []matchedRow
	matchedHead int
	// matchedFloor is, per source partition, the least offset an outer
	// row dropped as matched held, when the query after the joins keeps
	// its groups for ever or SESSION windows (see holdMatched)
	matchedFloor map[[2]int32]int64
	// spans are, when the join decides its rows with NULLs record by
	// record (Program.decidesByRecord; one partition per state), the rows
	// of an outer side dropped as matched after a row they matched in
	// their partition (see held); lastRead is the offset of the last
	// record the state took
	spans    []matchedSpan
	lastRead int64
}

// matchedSpan is an outer row dropped as matched: the offset it held (the
// earliest row it matched in its partition) and its own.
type matchedSpan struct {
	hold, offset     int64
	topic, partition int32
}

// matchedRow is an outer row dropped as matched: its event time and the
// offset it held in its source partition (its own, or an earlier row's it
// matched there).
type matchedRow struct {
	et, hold         int64
	topic, partition int32
}

// sideRows holds one input's buffered rows.
type sideRows struct {
	rows []ssRow
	vals []record.Value  // row i's values (its input's slots of the joined row) at i*width
	recs []record.Record // row i's record without values, kept only for an outer side
	// holds are, for an outer side, the offset each row holds in its
	// source partition (see held)
	holds []int64
	free  []int32 // unused places
	width int
	outer bool
}

// values returns row i's values.
func (sr *sideRows) values(i int32) []record.Value {
	at := int(i) * sr.width
	return sr.vals[at : at+sr.width : at+sr.width]
}

// ssRow is one buffered row: its time in the bound, its source position
// and its links among its key's rows of its input.
type ssRow struct {
	t          int64
	et         int64 // its event time: t, or a joined row's latest time
	offset     int64
	prev, next int32 // -1: none
	key        int32
	partition  int32
	topic      int32 // in ssState.topics
	matched    bool
}

// ssKey is a join key's rows: the first and last of each input.
type ssKey struct {
	head, tail [2]int32 // -1: none
	key        []byte
	used       bool
}

func (k *ssKey) holds() bool { return k.head[0] >= 0 || k.head[1] >= 0 }

// rowRef names a buffered row and the watermark at which it is done.
type rowRef struct {
	done int64
	row  int32
	side int32
}

// doneQueue holds one input's rows of one source partition in arrival
// order, in which their done times do not decrease.
type doneQueue struct {
	side      int
	topic     int32
	partition int32
	refs      []rowRef
	head      int // refs[head:] are buffered
}

func newSSState(iv *interval, k int) *ssState {
	st := &ssState{iv: iv, k: k, wm: math.MinInt64, keys: newKeyMap[int32]()}
	for s := range st.sides {
		st.sides[s] = sideRows{width: iv.width[s], outer: iv.outer(s)}
	}
	return st
}

// doneAt is the watermark past which no row of the other input can match
// a row of side s at time t.
func (iv *interval) doneAt(s int, t int64) int64 {
	if s == 0 {
		return t + iv.hi
	}
	return t - iv.lo
}

// insert joins a row of side s (time t in the bound, event time et) with
// the other side's buffered rows of its key, then buffers it unless it is
// already done at the join's watermark. A Settled row counts as matched.
func (st *ssState) insert(pl *Pipeline, r *record.Record, s int, t, et int64, key []byte) error {
	iv, wm := st.iv, st.wm
	matched := r.Settled
	// an outer row holds the offset of the earliest row it matched in its
	// own source partition, besides its own (see held)
	topic, hold := st.topic(r.Topic), r.Offset
	ki, found := st.keys.get(key)
	if found {
		o := &st.sides[1-s]
		for i := st.klist[ki].head[1-s]; i >= 0; {
			row := &o.rows[i]
			tl, tr := t, row.t
			if s == 1 {
				tl, tr = row.t, t
			}
			if d := tr - tl; d >= iv.lo && d <= iv.hi {
				// the pair holds the earlier offset of its rows when they
				// share a source partition (a repartition topic's)
				off := r.Offset
				if row.partition == r.Partition && row.topic == topic {
					off = min(off, row.offset)
				}
				ok, err := pl.emitPair(st, r, s, o.values(i), max(et, row.et), off, row.offset)
				if err != nil {
					return err
				}
				if ok {
					row.matched, matched = true, true
					hold = min(hold, off)
				}
			}
			i = row.next
		}
	}
	done := iv.doneAt(s, t)
	if done < wm {
		// late: every row it could meet is gone
		switch {
		case iv.outer(s) && !matched:
			st.emitOuter(pl, r, s, et)
		case iv.outer(s) && pl.parts != nil && hold < r.Offset:
			st.spans = append(st.spans, matchedSpan{hold: hold, offset: r.Offset, topic: topic, partition: r.Partition})
		}
		return nil
	}
	if !found {
		ki = st.newKey(key)
	}
	k := &st.klist[ki]
	if !k.holds() {
		st.empty--
	}
	sr := &st.sides[s]
	i := sr.add(r.Values[iv.offset[s] : iv.offset[s]+sr.width])
	if sr.outer {
		rec := &sr.recs[i]
		*rec = *r
		rec.Values, rec.Headers = nil, nil
		sr.holds[i] = hold
	}
	sr.rows[i] = ssRow{t: t, et: et, offset: r.Offset, prev: k.tail[s], next: -1, key: ki,
		partition: r.Partition, topic: topic, matched: matched}
	if k.tail[s] >= 0 {
		sr.rows[k.tail[s]].next = i
	} else {
		k.head[s] = i
	}
	k.tail[s] = i
	st.queue(s, sr.rows[i].topic, r.Partition, rowRef{done: done, row: i, side: int32(s)})
	st.rows++
	return nil
}

// add takes a place for a row with values vals.
func (sr *sideRows) add(vals []record.Value) int32 {
	if n := len(sr.free); n > 0 {
		i := sr.free[n-1]
		sr.free = sr.free[:n-1]
		copy(sr.values(i), vals)
		return i
	}
	i := int32(len(sr.rows))
	sr.rows = append(sr.rows, ssRow{})
	sr.vals = append(sr.vals, vals...)
	if sr.outer {
		sr.recs = append(sr.recs, record.Record{})
		sr.holds = append(sr.holds, 0)
	}
	return i
}

// newKey adds a key holding no row.
func (st *ssState) newKey(key []byte) int32 {
	var ki int32
	if n := len(st.freeKeys); n > 0 {
		ki, st.freeKeys = st.freeKeys[n-1], st.freeKeys[:n-1]
	} else {
		ki = int32(len(st.klist))
		st.klist = append(st.klist, ssKey{})
	}
	k := &st.klist[ki]
	k.key = append(k.key[:0], key...)
	k.head, k.tail, k.used = [2]int32{-1, -1}, [2]int32{-1, -1}, true
	st.keys.put(k.key, ki)
	st.empty++
	return ki
}

// topic returns the place of a source's name in st.topics.
func (st *ssState) topic(name string) int32 {
	for i := len(st.topics) - 1; i >= 0; i-- {
		if st.topics[i] == name {
			return int32(i)
		}
	}
	st.topics = append(st.topics, name)
	return int32(len(st.topics) - 1)
}

// queue puts a buffered row in line to be dropped: in its source
// partition's queue, or in the heap when it is done before the row queued
// last there.
func (st *ssState) queue(s int, topic, partition int32, ref rowRef) {
	qi := st.last
	if qi >= len(st.queues) || st.queues[qi].side != s || st.queues[qi].partition != partition || st.queues[qi].topic != topic {
		qi = -1
		for i := range st.queues {
			if q := &st.queues[i]; q.side == s && q.partition == partition && q.topic == topic {
				qi = i
				break
			}
		}
		if qi < 0 {
			st.queues = append(st.queues, doneQueue{side: s, topic: topic, partition: partition})
			qi = len(st.queues) - 1
		}
		st.last = qi
	}
	q := &st.queues[qi]
	if n := len(q.refs); n > q.head && ref.done < q.refs[n-1].done {
		st.late.push(ref)
		return
	}
	q.refs = append(q.refs, ref)
}

// evict drops the rows done at watermark wm, emitting the unmatched rows
// of an outer side with NULLs, and returns the watermark the query after
// the join may move to: no row it will still emit holds a time older.
func (st *ssState) evict(pl *Pipeline, wm int64) int64 {
	st.wm = max(st.wm, wm)
	low, any := int64(0), false
	for qi := range st.queues {
		q := &st.queues[qi]
		for q.head < len(q.refs) && q.refs[q.head].done < wm {
			st.drop(pl, q.refs[q.head])
			q.head++
		}
		q.refs, q.head = compact(q.refs, q.head)
		if q.head < len(q.refs) {
			low, any = lowest(low, any, q.refs[q.head].done)
		}
	}
	for len(st.late) > 0 && st.late[0].done < wm {
		st.drop(pl, st.late.pop())
	}
	if len(st.late) > 0 {
		low, any = lowest(low, any, st.late[0].done)
	}
	st.sweep()
	if !any {
		return wm
	}
	span := max(st.iv.hi, -st.iv.lo, 0)
	return min(wm, low-span-st.iv.slack)
}

func lowest(low int64, any bool, done int64) (int64, bool) {
	if !any || done < low {
		return done, true
	}
	return low, true
}

// drop removes a done row, emitting it with NULLs when it never matched
// and its side is outer.
func (st *ssState) drop(pl *Pipeline, ref rowRef) {
	s, i := int(ref.side), ref.row
	sr := &st.sides[s]
	row := &sr.rows[i]
	if sr.outer {
		switch {
		case !row.matched:
		case pl.p.keepsMatched():
			st.matched = append(st.matched, matchedRow{et: row.et, hold: sr.holds[i], topic: row.topic, partition: row.partition})
		case pl.p.holdsMatched():
			st.holdMatched(row, sr.holds[i])
		case pl.parts != nil && sr.holds[i] < row.offset:
			st.spans = append(st.spans, matchedSpan{hold: sr.holds[i], offset: row.offset, topic: row.topic, partition: row.partition})
		}
		if !row.matched {
			rec := sr.recs[i]
			vals := pl.row()
			copy(vals[st.iv.offset[s]:], sr.values(i))
			rec.Values = vals
			rec.EventTime, rec.HasEventTime = row.et, true
			if pl.settles {
				// a new row (see settles): its failure after the join is
				// dead-lettered even for a record read again
				rec.Replay = false
			}
			pl.outs[st.k] = append(pl.outs[st.k], rec)
			if pl.parts != nil {
				pl.nulls++
			}
		}
		sr.recs[i] = record.Record{}
	}
	k := &st.klist[row.key]
	if row.prev >= 0 {
		sr.rows[row.prev].next = row.next
	} else {
		k.head[s] = row.next
	}
	if row.next >= 0 {
		sr.rows[row.next].prev = row.prev
	} else {
		k.tail[s] = row.prev
	}
	if !k.holds() {
		st.empty++
	}
	sr.free = append(sr.free, i)
	st.rows--
}

// sweep deletes the keys that hold no row once they are many, both in
// number and beside the keys that hold rows.
func (st *ssState) sweep() {
	if st.empty < 8192 || st.empty < 2*(len(st.klist)-len(st.freeKeys)-st.empty) {
		return
	}
	for ki := range st.klist {
		if k := &st.klist[ki]; k.used && !k.holds() {
			st.keys.del(k.key)
			k.used = false
			st.freeKeys = append(st.freeKeys, int32(ki))
		}
	}
	st.empty = 0
}

// finish drops every row: the input has ended.
func (st *ssState) finish(pl *Pipeline) {
	for qi := range st.queues {
		q := &st.queues[qi]
		for _, ref := range q.refs[q.head:] {
			st.drop(pl, ref)
		}
		q.refs, q.head = q.refs[:0], 0
	}
	for len(st.late) > 0 {
		st.drop(pl, st.late.pop())
	}
	st.sweep()
	st.matched, st.matchedHead = st.matched[:0], 0
	clear(st.matchedFloor)
	st.spans = st.spans[:0]
}

// holdMatched keeps, for good, the offset an outer row dropped as matched
// held (its own, or that of an earlier row it matched in its partition)
// when the query after the joins keeps its groups for ever, or SESSION
// windows (Program.holdsMatched): those groups hold the commit at their
// first records, and an open session at its oldest, but a pair that no
// group or open session holds (a WHERE after the join dropped it, its
// session fired) holds nothing, and a replay from a commit past the row
// it paired with would find the outer row unmatched and fold it with
// NULLs into a group or a session. One offset per source partition: the
// least of them.
func (st *ssState) holdMatched(row *ssRow, hold int64) {
	if st.matchedFloor == nil {
		st.matchedFloor = map[[2]int32]int64{}
	}
	k := [2]int32{row.topic, row.partition}
	if old, ok := st.matchedFloor[k]; !ok || hold < old {
		st.matchedFloor[k] = hold
	}
}

// keepMatched forgets the outer rows dropped as matched whose every window
// fired under wm, the watermark the windows after the joins fire by.
//
// Stage 2 of a repartitioned statement keeps, in the offsets it commits,
// such a row and the rows it matched until the windows that its row with
// NULLs would fall in fired: a replay from a commit past the rows it
// matched would read the row alone and write it with NULLs into a window
// still open. A pair of it in a window holds them too, but not a pair
// that no window takes (a WHERE after the join drops it: an anti-join
// counting the unmatched rows). They go in drop order, about their time
// order: one behind a row whose windows are still open waits for it,
// which only holds the commit a little longer.
func (st *ssState) keepMatched(p *Program, wm int64) {
	for st.matchedHead < len(st.matched) && p.Program.Fired(st.matched[st.matchedHead].et, wm) {
		st.matchedHead++
	}
	st.matched, st.matchedHead = compact(st.matched, st.matchedHead)
}

// compact drops the items of queue q before head, which are done, when
// they are all of it or at least half (so that a queue popped from the
// front keeps its memory bounded without a copy on every pop), and
// returns the queue and its head.
func compact[T any](q []T, head int) ([]T, int) {
	switch {
	case head == len(q):
		return q[:0], 0
	case head >= len(q)/2:
		n := copy(q, q[head:])
		return q[:n], 0
	}
	return q, head
}

// held reports the smallest offset of the buffered rows per source
// partition. A row of an outer side holds the offset of the earliest row
// of its own source partition it matched, when that is earlier: a replay
// from the committed offset (a repartition topic's, where both inputs
// share a partition) must read that row again, or it would find the outer
// row unmatched and write it with NULLs.
//
// When the join decides its rows with NULLs record by record, such a row
// dropped as matched (a span) holds that offset as long as a commit could
// otherwise fall after it and at or before the row itself: while the
// partition's buffered rows hold an offset in that range. The offsets the
// buffered rows hold only rise (a row read later holds its own, or that
// of a buffered row it matched), so a span below them is forgotten, and
// with no buffered row the commit passes every span's row (the read offset
// is past it).
func (st *ssState) held(fn func(topic string, partition int32, minOffset int64)) {
	mins := leasts{}
	st.buffered(func(ref rowRef) {
		sr := &st.sides[ref.side]
		r := &sr.rows[ref.row]
		off := r.offset
		if sr.outer {
			off = sr.holds[ref.row]
		}
		mins.note(r.topic, r.partition, off)
	})
	for _, m := range st.matched[st.matchedHead:] {
		mins.note(m.topic, m.partition, m.hold)
	}
	for k, off := range st.matchedFloor {
		mins.note(k[0], k[1], off)
	}
	kept := st.spans[:0]
	low := maps.Clone(mins) // the buffered rows' holds
	for _, sp := range st.spans {
		if b, ok := low[[2]int32{sp.topic, sp.partition}]; !ok || sp.offset < b {
			continue // a commit passes the row, or stays before its hold
		}
		kept = append(kept, sp)
		mins.note(sp.topic, sp.partition, sp.hold)
	}
	clear(st.spans[len(kept):])
	st.spans = kept
	mins.report(st, fn)
}

// buffered calls fn with every buffered row.
func (st *ssState) buffered(fn func(ref rowRef)) {
	for qi := range st.queues {
		q := &st.queues[qi]
		for _, ref := range q.refs[q.head:] {
			fn(ref)
		}
	}
	for _, ref := range st.late {
		fn(ref)
	}
}

// pending reports, per source partition, the least event time of the
// buffered unmatched rows of an outer side: the rows with NULLs it may
// still write.
func (st *ssState) pending(fn func(topic string, partition int32, minEventTime int64)) {
	mins := leasts{}
	st.buffered(func(ref rowRef) {
		sr := &st.sides[ref.side]
		if r := &sr.rows[ref.row]; sr.outer && !r.matched {
			mins.note(r.topic, r.partition, r.et)
		}
	})
	mins.report(st, fn)
}

// leasts keeps the least of the values noted per source partition (its
// topic's place in ssState.topics, and its number).
type leasts map[[2]int32]int64

func (m leasts) note(topic, partition int32, v int64) {
	k := [2]int32{topic, partition}
	if old, ok := m[k]; !ok || v < old {
		m[k] = v
	}
}

// report calls fn with each partition's least value.
func (m leasts) report(st *ssState, fn func(topic string, partition int32, v int64)) {
	for k, v := range m {
		fn(st.topics[k[0]], k[1], v)
	}
}

// rowHeap is a binary min-heap of buffered rows by the watermark at which
// they are done.
type rowHeap []rowRef

func (h *rowHeap) push(r rowRef) {
	*h = append(*h, r)
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if a[p].done <= a[i].done {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *rowHeap) pop() rowRef {
	a := *h
	top := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a = a[:n]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < n && a[l].done < a[m].done {
			m = l
		}
		if r := l + 1; r < n && a[r].done < a[m].done {
			m = r
		}
		if m == i {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	*h = a
	return top
}

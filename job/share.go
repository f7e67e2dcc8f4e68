package job

import (
	"sync"
	"sync/atomic"

	"github.com/sluicesql/sluice/record"
)

// sharedBatch is a decoded batch whose records are routed one by one and
// read in place by the workers they go to: nothing is moved on the ingest
// side. order holds the record indexes grouped by destination (ascending
// within each group, so per-key order is kept), and a hand-over names its
// share as a range of order. refs counts the holders: the ingester while it
// routes the batch, and every segment handed over; the last holder to let go
// returns the batch to the pool.
type sharedBatch struct {
	b     *record.Batch
	order []int32
	refs  atomic.Int32
}

// sharedPool recycles sharedBatch wrappers with their order storage.
var sharedPool = sync.Pool{New: func() any { return new(sharedBatch) }}

// share wraps b for routing by dst (b.Records[i] goes to partition dst[i],
// every dst[i] in [0, len(pos))): a counting sort fills the batch's order
// and sets start[d]:start[d+1] to destination d's range of it. pos is
// scratch of len(start)-1. The caller holds one reference.
func share(b *record.Batch, dst []int, start, pos []int32) *sharedBatch {
	sb := sharedPool.Get().(*sharedBatch)
	sb.b = b
	sb.refs.Store(1)
	clear(start)
	for _, d := range dst {
		start[d+1]++
	}
	for d := 1; d < len(start); d++ {
		start[d] += start[d-1]
	}
	if cap(sb.order) < len(dst) {
		sb.order = make([]int32, len(dst))
	}
	sb.order = sb.order[:len(dst)]
	copy(pos, start)
	for i, d := range dst {
		sb.order[pos[d]] = int32(i)
		pos[d]++
	}
	return sb
}

// release drops one reference to sb; the last one recycles the batch.
func (r *run) release(sb *sharedBatch) {
	if sb.refs.Add(-1) > 0 {
		return
	}
	r.batches.put(sb.b)
	sb.b = nil
	sharedPool.Put(sb)
}

// segment is one hand-over's share of a shared batch: the records
// sb.b.Records[i] for i in sb.order[lo:hi].
type segment struct {
	sb     *sharedBatch
	lo, hi int32
}

// handover is the part of a destination's next hand-over routed so far.
type handover struct {
	segs  []segment
	n     int    // records in segs
	since uint64 // the ingester's routed count when the first segment was added
}

// size returns the number of records a data message carries.
func (m *message) size() int {
	if m.batch != nil {
		return len(m.batch.Records)
	}
	n := 0
	for _, s := range m.segs {
		n += int(s.hi - s.lo)
	}
	return n
}

// process runs a data message through the pipeline, then recycles its
// batch or lets go of its shared batches. A selector pipeline's end-of-call
// output (EMIT CHANGES rows, stateless rows) waits for flushPipe, so that
// changes coalesce over the messages a busy worker has queued.
func (w *worker) process(m message) {
	sel, selects := w.pipe.(selector)
	if m.batch != nil {
		if selects {
			sel.Add(m.batch.Records, nil, &w.col)
			w.unflushed += len(m.batch.Records)
		} else {
			w.pipe.Process(m.batch.Records, &w.col)
		}
		w.r.batches.put(m.batch)
		return
	}
	if selects {
		for _, s := range m.segs {
			sel.Add(s.sb.b.Records, s.sb.order[s.lo:s.hi], &w.col)
			w.unflushed += int(s.hi - s.lo)
		}
	} else {
		w.pipe.Process(w.gather(m.segs), &w.col)
	}
	for _, s := range m.segs {
		w.r.release(s.sb)
	}
}

// flushEvery bounds, in batches, how long a busy worker coalesces the
// end-of-call output of its pipeline.
const flushEvery = 8

// flushPipe emits what the pipeline left for the end of a call (Add's
// pending output) once the queue has run dry or enough records went in,
// or at once when now is set (before a watermark, a barrier or the end).
func (w *worker) flushPipe(now bool) {
	if w.unflushed == 0 || !now && len(w.in) > 0 && w.unflushed < flushEvery*w.r.cfg.BatchSize {
		return
	}
	w.pipe.(selector).Flush(&w.col)
	w.unflushed = 0
}

// gather returns copies of the records of segs, in order, in the worker's
// reused buffer (the Values stay in the shared batches): the input of a
// pipeline that cannot run a selection in place.
func (w *worker) gather(segs []segment) []record.Record {
	recs := w.local[:0]
	for _, s := range segs {
		all := s.sb.b.Records
		for _, i := range s.sb.order[s.lo:s.hi] {
			recs = append(recs, all[i])
		}
	}
	w.local = recs
	return recs
}

package job

import (
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/partition"
	"github.com/sluicesql/sluice/record"
)

// openReaders takes the partition readers a source has already handed out
// (without waiting) and registers their source partitions, so that they
// hold the watermark back from the start, before any partition is read.
func (r *run) openReaders(idx int, src connector.Source, readers <-chan connector.PartitionReader) []pendingReader {
	var out []pendingReader
	for {
		select {
		case rd, ok := <-readers:
			if !ok {
				return out
			}
			out = append(out, pendingReader{rd, r.addSourcePartition(idx, src.Name(), rd.Partition())})
		default:
			return out
		}
	}
}

// pendingReader is a partition reader with its registered source partition.
type pendingReader struct {
	rd connector.PartitionReader
	sp *sourcePartition
}

// readSource starts an ingest goroutine for every partition reader the
// source hands out (first the initial ones), at most cfg.Readers at once
// across the job (but every reader of a source that reads them all at once,
// connector.AllAtOnce). A reader waiting for its turn counts as busy, so it holds
// the watermark back without ever turning idle. When awaited > 0 the source
// counts in r.awaiting until that many more readers came or it hands out no
// more.
func (r *run) readSource(idx int, src connector.Source, initial []pendingReader, readers <-chan connector.PartitionReader, awaited int) {
	defer r.ingestWG.Done()
	arrived := func() {
		if awaited--; awaited == 0 {
			r.awaiting.Add(-1)
		}
	}
	defer func() {
		if awaited > 0 {
			r.awaiting.Add(-1)
		}
	}()
	for _, p := range initial {
		p.sp.busy.Store(true)
	}
	// a source whose readers share one feed has them all read at once
	a, ok := src.(connector.AllAtOnce)
	slots := r.slots
	if ok && a.ReadAllAtOnce() {
		slots = nil
	}
	start := func(p pendingReader) {
		p.sp.busy.Store(true)
		if slots != nil {
			select {
			case slots <- struct{}{}:
			case <-r.ctx.Done():
				p.rd.Close()
				p.sp.publish(noWatermark, -1, time.Now(), true)
				p.sp.busy.Store(false)
				return
			}
		}
		if b, ok := p.rd.(connector.Backlog); ok {
			p.sp.mu.Lock()
			p.sp.backlog = b
			p.sp.mu.Unlock()
		}
		p.sp.publish(noWatermark, -1, time.Now(), false) // idleness counts from the start of reading
		p.sp.busy.Store(false)
		r.ingestWG.Add(1)
		go func() {
			defer r.ingestWG.Done()
			if slots != nil {
				defer func() { <-slots }()
			}
			err := r.ingest(p.sp, p.rd)
			if cerr := p.rd.Close(); err == nil && cerr != nil {
				err = cerr
			}
			if err != nil {
				r.fail(fmt.Errorf("source %q partition %d: %w", p.sp.name, p.sp.partition, err))
			}
		}()
	}
	for _, p := range initial {
		start(p)
	}
	for {
		select {
		case rd, ok := <-readers:
			if !ok {
				return
			}
			p := pendingReader{rd, r.addSourcePartition(idx, src.Name(), rd.Partition())}
			if awaited > 0 {
				arrived()
			}
			start(p)
		case <-r.ctx.Done():
			for {
				select {
				case rd, ok := <-readers:
					if !ok {
						return
					}
					rd.Close()
				default:
					return
				}
			}
		}
	}
}

// ingester is one source partition's reading and routing state.
type ingester struct {
	r     *run
	sp    *sourcePartition
	rctx  partition.Context
	dst   []int
	start []int32    // per destination, then one: ranges of a shared batch's order
	pos   []int32    // per destination: scratch of share
	next  []handover // per destination: what the next hand-over holds so far
	first time.Time  // when the oldest held record was routed
	held  int        // destinations with a non-empty hand-over
	// routed counts the shared batches routed (handover.since)
	routed uint64
	topic  string
	// input is the partition's source's index, which every record
	// carries (record.Record.Input)
	input uint16

	maxEvent, offset int64 // routed so far (published at the next full flush)
	// wm is the partition's watermark, maxEvent minus the allowed
	// out-of-orderness; stamp says whether records carry it (Windowed)
	wm    int64
	stamp bool
	// early says whether the ingester sends the job's watermark itself
	// (advanceEarly), last at advanced
	early    bool
	advanced time.Time
	// carried: the records carry their writer's watermark, which stands
	// for maxEvent (connector.WatermarkCarrier)
	carried bool
	// carrier, when set, is a reader whose records carry their upstream
	// watermark (connector.Watermarker): it alone moves the partition's
	// watermark
	carrier connector.Watermarker
	// pending is the progress of the routed batches some of whose records
	// are still buffered, oldest first
	pending []progress
	// tracks: the partition's watermark comes from its own event times and
	// its source keeps checkpoints, so its progress points are noted for
	// them (sourcePartition.marks)
	tracks bool
	// skip is the restored Start's: the records before it had their whole
	// effect, and are read only for their event times
	skip int64
}

// progress is how far a partition had been read once a batch was routed.
type progress struct {
	seq              uint64 // the ingester's routed count after the batch
	maxEvent, offset int64
}

// ingest reads one source partition until it ends or the job stops,
// stamping event times and routing every batch to the workers.
func (r *run) ingest(sp *sourcePartition, rd connector.PartitionReader) error {
	parts := len(r.workers)
	in := &ingester{r: r, sp: sp, rctx: r.cfg.Routing, dst: make([]int, r.cfg.BatchSize),
		start: make([]int32, parts+1), pos: make([]int32, parts), next: make([]handover, parts),
		maxEvent: noWatermark, offset: -1, wm: noWatermark, stamp: r.prog.Windowed() || r.cfg.StampWatermarks, input: uint16(sp.source)}
	if wc, ok := r.cfg.Sources[sp.source].(connector.WatermarkCarrier); ok && wc.CarriesWatermarks() {
		in.carried = true
	}
	if c, ok := rd.(connector.Watermarker); ok {
		in.carrier, in.stamp = c, false
		sp.follows.Store(true)
	}
	_, checkpoints := r.cfg.Sources[sp.source].(connector.Checkpointer)
	in.tracks = checkpoints && in.stamp && !in.carried && in.carrier == nil
	in.resume()
	// a reader that resumed from a checkpoint knows it by its first records
	fenced, _ := rd.(connector.Fenced)
	b := r.batches.get(r.cfg.BatchSize)
	defer func() { r.batches.put(b) }()
	aligns := r.aligns()
	in.early = aligns
	for {
		if r.ctx.Err() != nil {
			in.flushAll(false)
			return nil
		}
		if aligns {
			r.align(sp)
		}
		err := rd.Next(r.ctx, b, r.cfg.BatchSize)
		if aligns {
			sp.setCaughtUp(len(b.Records), r.cfg.BatchSize)
		}
		if fenced != nil && len(b.Records) > 0 {
			if f, ok := fenced.Fence(); ok {
				sp.fenceTo, sp.fenceWM = f.Read, f.Watermark
				if f.HasStart {
					sp.mu.Lock()
					sp.start, sp.started = f.Start, true
					sp.mu.Unlock()
					in.resume()
					r.resumeFrom([]*sourcePartition{sp}, []int64{r.startWatermark(f.Start)})
				}
			}
			fenced = nil
		}
		if len(b.Records) > 0 {
			sp.busy.Store(true)
			var rerr error
			b, rerr = in.route(b)
			sp.busy.Store(false)
			if rerr != nil {
				return rerr
			}
		}
		if in.carrier != nil {
			in.carry()
			in.publishIfFlushed(false)
		}
		if p, ok := rd.(connector.Positioner); ok && p.Position() > in.offset {
			// past dead letters the batch did not carry (they are in the DLQ,
			// which the job flushes before it commits)
			in.offset = p.Position()
			if in.tracks {
				sp.mu.Lock()
				sp.addMarkLocked(mark{in.offset, in.maxEvent})
				sp.mu.Unlock()
			}
			in.publishIfFlushed(false)
		}
		switch {
		case errors.Is(err, io.EOF):
			// A reader closed because the job is stopping (a rebalance
			// took its partition away and stopped the job) did not reach
			// the partition's end: counted as ended, the partition would
			// no longer hold the watermark back while the others finish,
			// and windows of its keys would fire with the records read so
			// far.
			in.flushAll(r.ctx.Err() == nil)
			return nil
		case err != nil && r.ctx.Err() != nil:
			in.flushAll(false)
			return nil
		case err != nil:
			in.flushAll(false)
			return err
		}
		if in.held > 0 && time.Since(in.first) >= r.cfg.Linger {
			sp.busy.Store(true)
			in.flushAll(false)
			sp.busy.Store(false)
		}
	}
}

// route stamps event times, and their source's index, on b's records and
// hands them to their partitions. It returns the batch to read into next.
func (in *ingester) route(b *record.Batch) (*record.Batch, error) {
	r := in.r
	n := len(b.Records)
	if n > len(in.dst) {
		return b, fmt.Errorf("reader returned %d records, more than the %d asked for", n, len(in.dst))
	}
	maxBefore := in.maxEvent
	for i := range b.Records {
		// A record keeps no stamp when its event time is its timestamp:
		// every reader of event times falls back to that. Not writing
		// keeps the record's cache lines clean for the worker's core.
		rec := &b.Records[i]
		if rec.Input != in.input {
			rec.Input = in.input
		}
		et, ok := r.prog.EventTime(rec)
		switch {
		case ok && (rec.HasEventTime || et != rec.Timestamp):
			rec.EventTime, rec.HasEventTime = et, true
		case !ok && rec.HasEventTime:
			rec.HasEventTime = false
		}
		if in.carried {
			// the writer's watermark when it read the record: the event
			// times before it in the writer's source partition decide
			if wm := rec.Watermark; wm > in.maxEvent {
				in.maxEvent = wm
				in.wm = wm - r.cfg.MaxOutOfOrder.Milliseconds()
			}
			if in.stamp {
				rec.Watermark = in.wm
			}
			continue
		}
		if in.stamp {
			// the watermark before the record: only the data read before
			// it in this partition decides whether it is late
			rec.Watermark = in.wm
		}
		if ok && et > in.maxEvent {
			in.maxEvent = et
			in.wm = et - r.cfg.MaxOutOfOrder.Milliseconds()
		}
	}
	if in.carrier != nil {
		in.carry()
		low := b.Records[0].Watermark
		for i := range b.Records {
			low = min(low, b.Records[i].Watermark)
		}
		in.sp.mu.Lock()
		in.sp.addLowLocked(lowMark{b.Records[0].Offset, low})
		in.sp.mu.Unlock()
	}
	if in.tracks {
		// before the batch's progress is published: a commit stands at
		// a mark (sourcePartition.commitPoint)
		in.sp.mu.Lock()
		in.sp.addMarkLocked(mark{b.Records[0].Offset, maxBefore})
		in.sp.addMarkLocked(mark{b.Records[n-1].Offset + 1, in.maxEvent})
		in.sp.mu.Unlock()
	}
	if first := b.Records[0].Offset; first < in.sp.fenceTo || first < in.skip {
		// after the stamps: a record that had its effect moved the
		// partition's watermark on for the records after it, as it did
		// for the run that read it first
		if n = in.fence(b); n == 0 {
			return b, nil
		}
	}
	in.offset = max(in.offset, b.Records[n-1].Offset+1)
	now := time.Now()
	if t := b.Records[0].Topic; t != in.topic {
		in.topic = t
		in.sp.addTopic(t)
	}
	in.rctx.SourcePartition = b.Partition
	dst := in.dst[:n]
	whole := r.cfg.Strategy.Route(b, &in.rctx, dst)
	parts := len(in.next)
	if whole >= 0 {
		if whole >= parts {
			return b, fmt.Errorf("strategy %s routed a batch to partition %d of %d", r.cfg.Strategy.Name(), whole, parts)
		}
		if in.next[whole].n > 0 {
			in.flush(whole)
		}
		r.send(whole, message{kind: msgData, batch: b})
		in.routedProgress()
		in.publishIfFlushed(false)
		return r.batches.get(r.cfg.BatchSize), nil
	}
	for _, d := range dst {
		if uint(d) >= uint(parts) {
			return b, fmt.Errorf("strategy %s routed a record to partition %d of %d", r.cfg.Strategy.Name(), d, parts)
		}
	}
	in.routed++
	sb := share(b, dst, in.start, in.pos)
	for d := range parts {
		in.hold(d, sb, in.start[d], in.start[d+1], now)
	}
	r.release(sb)
	in.flushOld()
	in.routedProgress()
	in.publishIfFlushed(false)
	return r.batches.get(r.cfg.BatchSize), nil
}

// resume starts the partition's watermark, and skips the records, as the
// Start of the checkpoint it resumed from says (sourcePartition.start),
// when it has one: the watermark only when it comes from the partition's
// own event times.
func (in *ingester) resume() {
	sp := in.sp
	sp.mu.Lock()
	st, ok := sp.start, sp.started
	sp.mu.Unlock()
	if !ok {
		return
	}
	in.skip = st.Skip
	if in.carried || in.carrier != nil || st.MaxEvent <= in.maxEvent {
		return
	}
	in.maxEvent = st.MaxEvent
	in.wm = st.MaxEvent - in.r.cfg.MaxOutOfOrder.Milliseconds()
}

// carry takes the partition's watermark from its reader (carrier): the
// published highest event time is set so that it less the allowed
// out-of-orderness is the upstream watermark, as watermarkOf computes it.
func (in *ingester) carry() {
	in.maxEvent = noWatermark
	if wm, ok := in.carrier.Watermark(); ok && wm != noWatermark {
		in.maxEvent = wm + in.r.cfg.MaxOutOfOrder.Milliseconds()
	}
}

// fence drops the records of b that the checkpoint the partition resumed
// from says already had their effect (before its Start's Skip, or read
// before it, and every window of theirs fired under its watermark, or they
// were late: Replayer), keeping the others in order, marked Replay, and
// returns how many are left. Dropped records still count as read for the
// commit.
func (in *ingester) fence(b *record.Batch) int {
	sp, r := in.sp, in.r
	kept := 0
	for i := range b.Records {
		rec := &b.Records[i]
		if rec.Offset < in.skip {
			in.offset = max(in.offset, rec.Offset+1)
			r.replayed.Add(1)
			continue
		}
		if rec.Offset < sp.fenceTo {
			if r.hadEffect(rec, sp.fenceWM) {
				in.offset = max(in.offset, rec.Offset+1)
				r.replayed.Add(1)
				continue
			}
			rec.Replay = true
		}
		if kept != i {
			b.Records[kept], b.Records[i] = b.Records[i], b.Records[kept]
		}
		kept++
	}
	b.Records = b.Records[:kept]
	if kept == 0 {
		in.publishIfFlushed(false)
	}
	return kept
}

// hold adds the records sb.order[lo:hi] to destination d's next hand-over,
// handing it over whenever it reaches the batch size.
func (in *ingester) hold(d int, sb *sharedBatch, lo, hi int32, now time.Time) {
	size := in.r.cfg.BatchSize
	h := &in.next[d]
	for lo < hi {
		take := min(hi-lo, int32(size-h.n))
		if h.n == 0 {
			if in.held == 0 {
				in.first = now
			}
			in.held++
			h.since = in.routed
		}
		sb.refs.Add(1)
		h.segs = append(h.segs, segment{sb, lo, lo + take})
		h.n += int(take)
		lo += take
		if h.n >= size {
			in.flush(d)
		}
	}
}

// flushOld hands over what has waited for as many shared batches as there
// are partitions, so that an ingester keeps at most that many batches alive
// besides the one it reads into: the storage per-destination buffers took.
func (in *ingester) flushOld() {
	for d := range in.next {
		if h := &in.next[d]; h.n > 0 && in.routed-h.since >= uint64(len(in.next)) {
			in.flush(d)
		}
	}
}

// flush hands destination d's held records to its worker.
func (in *ingester) flush(d int) {
	h := &in.next[d]
	in.r.send(d, message{kind: msgData, segs: h.segs})
	*h = handover{}
	in.held--
}

// flushAll hands over every buffer and publishes the progress.
func (in *ingester) flushAll(ended bool) {
	for d := range in.next {
		if in.next[d].n > 0 {
			in.flush(d)
		}
	}
	in.publishIfFlushed(ended)
}

// publishIfFlushed publishes the routed progress, so that every published
// offset and event time is in a worker queue: all of it when no record is
// still buffered, else that of the batches whose records every destination
// handed over (a destination's buffer is rarely empty when the others' are,
// and a partition whose progress stayed unpublished would hold the
// watermark back and not be aligned).
func (in *ingester) publishIfFlushed(ended bool) {
	maxEvent, offset := in.maxEvent, in.offset
	if in.held == 0 {
		in.pending = in.pending[:0]
	} else {
		oldest := uint64(math.MaxUint64) // the oldest batch still buffered
		for d := range in.next {
			if h := &in.next[d]; h.n > 0 {
				oldest = min(oldest, h.since)
			}
		}
		done := 0
		for done < len(in.pending) && in.pending[done].seq < oldest {
			done++
		}
		if done == 0 {
			return
		}
		maxEvent, offset = in.pending[done-1].maxEvent, in.pending[done-1].offset
		in.pending = append(in.pending[:0], in.pending[done:]...)
		ended = false
	}
	// the hand-over just completed: the partition was active until now
	now := time.Now()
	in.sp.publish(maxEvent, offset, now, ended)
	if in.early {
		in.advanceEarly(now)
	}
}

// routedProgress notes the progress of the batch just routed, published
// once its records left every destination's buffer (publishIfFlushed).
func (in *ingester) routedProgress() {
	if in.held > 0 {
		in.pending = append(in.pending, progress{seq: in.routed, maxEvent: in.maxEvent, offset: in.offset})
	}
}

// earlyEvery is how often an ingester may send the job's watermark itself.
const earlyEvery = 500 * time.Microsecond

// advanceEarly sends the job's watermark to the workers as soon as a
// hand-over moved it (at most every earlyEvery), rather than at the
// control loop's next tick, for a program that holds rows until the
// watermark passes them: it then holds fewer, and runs faster. It never
// waits for the control loop, which sends the watermark when this skips.
func (in *ingester) advanceEarly(now time.Time) {
	r := in.r
	if now.Sub(in.advanced) < earlyEvery || !r.wmMu.TryLock() {
		return
	}
	r.advanceLocked(r.sourcePartitions(), now)
	r.wmMu.Unlock()
	in.advanced = now
}

// send puts a data message on worker d's queue, waiting while the queue is
// full; a wait counts as backpressure.
func (r *run) send(d int, m message) {
	w := r.workers[d]
	select {
	case w.in <- m:
		return
	default:
	}
	start := time.Now()
	w.in <- m
	w.waited.Add(int64(time.Since(start)))
	w.waits.Add(1)
}

// addSourcePartition registers a source partition whose reading is to start.
func (r *run) addSourcePartition(src int, name string, p int32) *sourcePartition {
	sp := newSourcePartition(src, name, p, time.Now())
	if b, ok := r.cfg.Sources[src].(connector.Bounded); ok {
		sp.bounded = b.Bounded()
	}
	var st connector.Start
	if c, ok := r.restored[src]; ok {
		if read, ok := c.Read[p]; ok {
			sp.fenceTo, sp.fenceWM = read, c.Watermark
		}
		st, sp.started = c.Starts[p]
		sp.start = st
	}
	r.spMu.Lock()
	r.sps = append(r.sps, sp)
	r.spMu.Unlock()
	if sp.started {
		r.resumeFrom([]*sourcePartition{sp}, []int64{r.startWatermark(st)})
	}
	return sp
}

// sourcePartitions returns the registered source partitions.
func (r *run) sourcePartitions() []*sourcePartition {
	r.spMu.Lock()
	defer r.spMu.Unlock()
	return append([]*sourcePartition(nil), r.sps...)
}

// addTopic records a topic name that this partition's records carry.
func (sp *sourcePartition) addTopic(t string) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	for _, have := range sp.topics {
		if have == t {
			return
		}
	}
	sp.topics = append(sp.topics, t)
}

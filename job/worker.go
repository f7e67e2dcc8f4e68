package job

import (
	"slices"
	"sync/atomic"
	"time"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/codec"
	"github.com/sluicesql/sluice/record"
)

// msgKind says what a worker message carries.
type msgKind uint8

const (
	msgData      msgKind = iota // a batch of records to process
	msgWatermark                // a new job watermark
	msgBarrier                  // a commit barrier
)

// message is what travels on a worker's queue. Data, watermarks and
// barriers share the queue, so a worker sees them in the order they were
// sent: never a watermark before records that were handed over earlier.
type message struct {
	kind  msgKind
	batch *record.Batch // data: a whole batch, or nil when segs holds the records
	segs  []segment     // data: records routed one by one, in order
	wm    int64
	bar   *barrier
}

// heldOffset is one Pipeline.Held report or, when pending, one
// Pender.Pending report (offset is then an event time).
type heldOffset struct {
	topic     string
	partition int32
	offset    int64
	pending   bool
}

// worker owns one partition's pipeline. Only its goroutine touches the
// pipeline; the counters are atomics so that Snapshot can read them.
type worker struct {
	id   int
	r    *run
	in   chan message
	pipe Pipeline
	col  collector
	// local holds the records gathered from shared batches for one Process
	local []record.Record
	// unflushed counts the records added since the pipeline's last Flush
	unflushed int

	in64, filtered, limited, accepted, deadLettered, lateDropped, late atomic.Int64
	rowErrors, out, busy, maxDepth                                     atomic.Int64
	// waits counts hand-overs that found the queue full; waited is the time
	// (ns) the ingest goroutines spent blocked on them.
	waits, waited atomic.Int64
}

// loop processes the queue until it is closed, then finishes the pipeline
// when the input ended normally.
func (w *worker) loop() {
	defer w.r.workerWG.Done()
	if rl, ok := w.pipe.(Releaser); ok {
		defer rl.Release()
	}
	round := 0
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	for {
		m, ok := w.next(linger)
		if !ok {
			break
		}
		if d := int64(len(w.in)); d > w.maxDepth.Load() {
			w.maxDepth.Store(d)
		}
		start := time.Now()
		records := -1
		switch m.kind {
		case msgData:
			records = m.size()
			w.process(m)
			w.flushPipe(false)
		case msgWatermark:
			w.flushPipe(true)
			w.col.inAdvance = true
			w.pipe.Advance(m.wm, &w.col)
			w.col.inAdvance = false
			if w.r.ordered {
				w.col.sendRun(w.col.round, round)
				w.col.round = w.r.rows.get()
				round++
			}
		case msgBarrier:
			w.flushPipe(true)
			w.col.flush()
			// ordered: rows emitted outside a watermark's round wait for the
			// end in the final run, so this barrier cannot be committed
			pending := w.r.ordered && len(w.col.buf.rows) > 0
			w.r.emitCh <- emitMsg{kind: emitAck, worker: w.id, bar: m.bar, held: w.held(), pending: pending}
		}
		d := time.Since(start)
		w.busy.Add(int64(d))
		if f := w.r.cfg.OnBatch; f != nil && records >= 0 {
			f(w.id, records, d)
		}
		w.publish()
	}
	// A pipeline that never got a record holds nothing; finishing it would
	// only repeat the empty-input row of a global aggregate, which worker 0
	// alone emits, once for the job. One whose workers exchange rows may
	// hold rows others sent it.
	w.flushPipe(true)
	if w.r.finishing() && (w.id == 0 || w.pipe.Stats().In > 0 || exchanges(w.pipe)) {
		start := time.Now()
		w.pipe.Finish(&w.col)
		w.busy.Add(int64(time.Since(start)))
		w.publish()
	}
	if w.r.ordered {
		w.col.sendRun(w.col.buf, finalRound)
		w.col.buf = nil
		w.r.rows.put(w.col.round)
	} else {
		w.col.flush()
	}
	w.r.emitCh <- emitMsg{kind: emitDone, worker: w.id, held: w.held()}
}

// next returns the next message, or false once the queue is closed and
// drained. Buffered output rows leave when the queue runs dry and the
// oldest has waited Linger, so a slow stream keeps a low latency while a
// busy one hands rows over in full batches.
func (w *worker) next(linger *time.Timer) (message, bool) {
	for {
		select {
		case m, ok := <-w.in:
			return m, ok
		default:
		}
		c := &w.col
		if len(c.buf.rows) == 0 || w.r.ordered {
			m, ok := <-w.in
			return m, ok
		}
		wait := w.r.cfg.Linger - time.Since(c.first)
		if wait <= 0 {
			c.flush()
			continue
		}
		linger.Reset(wait)
		select {
		case m, ok := <-w.in:
			linger.Stop()
			return m, ok
		case <-linger.C:
			c.flush()
		}
	}
}

// publish copies the pipeline's counters into the worker's atomics.
func (w *worker) publish() {
	s := w.pipe.Stats()
	w.in64.Store(s.In)
	w.filtered.Store(s.Filtered)
	w.limited.Store(s.Limited)
	w.accepted.Store(s.Accepted)
	w.deadLettered.Store(s.DeadLettered)
	w.lateDropped.Store(s.LateDropped)
	w.late.Store(s.Late)
	w.rowErrors.Store(s.RowErrors)
	w.out.Store(w.col.emitted)
}

// held returns the pipeline's held offsets, and the event times of the
// rows it may still write behind the watermark (Pender).
func (w *worker) held() []heldOffset {
	var h []heldOffset
	w.pipe.Held(func(topic string, partition int32, offset int64) {
		h = append(h, heldOffset{topic, partition, offset, false})
	})
	if p, ok := w.pipe.(Pender); ok {
		p.Pending(func(topic string, partition int32, et int64) {
			h = append(h, heldOffset{topic, partition, et, true})
		})
	}
	return h
}

// collector is the Output a worker gives its pipeline. Unordered rows are
// buffered and handed to the emitter in batches; ordered rows are kept as
// sorted runs for the emitter's merge: rows emitted by one Advance form that
// watermark's run, all others the final run.
type collector struct {
	w         *worker
	buf       *rowBuf
	round     *rowBuf // ordered: rows of the current Advance
	inAdvance bool
	first     time.Time // when the oldest buffered row was emitted
	emitted   int64
	// enc renders dead records that carry no original bytes
	enc *codec.JSONEncoder
}

// Emit implements Output.
func (c *collector) Emit(rows []record.Record) {
	c.emitted += int64(len(rows))
	r := c.w.r
	if r.ordered {
		if c.inAdvance {
			c.round.add(rows)
		} else {
			c.buf.add(rows)
		}
		return
	}
	for len(rows) > 0 {
		if len(c.buf.rows) == 0 {
			c.first = time.Now()
		}
		n := min(len(rows), r.cfg.BatchSize-len(c.buf.rows))
		c.buf.add(rows[:n])
		rows = rows[n:]
		if len(c.buf.rows) >= r.cfg.BatchSize {
			c.flush()
		}
	}
}

// DeadLetter implements Output: the letter names the source the record
// was read from (record.Record.Input), which a row made from it keeps.
func (c *collector) DeadLetter(rec *record.Record, reason error) {
	src := c.w.r.cfg.Sources[rec.Input]
	raw := append([]byte(nil), rec.Raw...)
	if len(raw) == 0 {
		// the source kept no bytes (generator, in-memory records): the
		// decoded record as JSON is the best original there is
		if c.enc == nil {
			c.enc = codec.NewJSONEncoder(c.w.r.prog.InputSchema())
		}
		raw = c.enc.AppendRow(nil, rec.Values)
	}
	d := connector.DeadLetter{Source: src.Name(), Partition: rec.Partition, Offset: rec.Offset,
		Raw: raw, Key: append([]byte(nil), rec.Key...), Reason: reason.Error(), Time: time.Now()}
	if rec.HasOrigin {
		// read through a repartition topic: the letter says where the
		// record is in its source, and where the job read it; the topic's
		// message key is the routing key's encoding, not the record's
		d.Via = &connector.Place{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset}
		d.Partition, d.Offset, d.Key = rec.OriginPartition, rec.OriginOffset, nil
		if up, ok := src.(connector.Upstream); ok {
			d.Source, d.Partition = up.Origin(rec.OriginPartition)
		}
	}
	c.w.r.dlq.add(d)
}

// flush hands buffered unordered rows to the emitter.
func (c *collector) flush() {
	if c.w.r.ordered || len(c.buf.rows) == 0 {
		return
	}
	c.w.r.emitCh <- emitMsg{kind: emitRows, worker: c.w.id, rows: c.buf}
	c.buf = c.w.r.rows.get()
}

// sendRun sorts a run and hands it to the emitter's merge.
func (c *collector) sendRun(run *rowBuf, round int) {
	less := c.w.r.prog.Less
	slices.SortStableFunc(run.rows, func(a, b record.Record) int {
		switch {
		case less(&a, &b):
			return -1
		case less(&b, &a):
			return 1
		}
		return 0
	})
	c.w.r.emitCh <- emitMsg{kind: emitRun, worker: c.w.id, rows: run, round: round}
}

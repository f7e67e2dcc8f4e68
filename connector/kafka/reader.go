package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/record"
)

// queueChunks bounds each partition's queue of fetched record chunks: the
// polling goroutine blocks (and so stops fetching) when a reader falls behind.
const queueChunks = 16

// idleWait is how long Next waits for records before returning none, so
// that the caller can do other work (advance watermarks, commit) while a
// partition is quiet.
const idleWait = 100 * time.Millisecond

// partReader reads one Kafka partition. The source's polling goroutine feeds
// it chunks of raw records; Next decodes them in the caller's goroutine, so
// every partition decodes in parallel.
type partReader struct {
	src   *Source
	part  int32
	queue chan []*kgo.Record // closed when the partition ends or is revoked
	dec   *decoder
	up    *upstream // the upstream view of a repartition topic's partition, else nil
	// assignment is the group assignment that created the reader (a
	// repartition topic's; see Source.Assignment)
	assignment int64
	// rereadTo is the partition's end when the group assigned it: a
	// member that had it before may have processed the records before it
	// (record.Record.Reread); 0 when the source marks no reread
	rereadTo int64
	// fence is the checkpoint an aligned member's partition resumed from
	// (loadFences; connector.Fenced), set under the source's lock before
	// the reader's first records
	fence fence

	closeOnce sync.Once     // closes queue
	stop      chan struct{} // closed by Close: the consumer went away
	stopOnce  sync.Once
	drained   chan struct{} // closed when Next has returned io.EOF (or Close)
	drainOnce sync.Once
	ended     atomic.Bool  // the partition reached its end offset (stop.at=end)
	next      atomic.Int64 // the offset after the last record handed out (or dead-lettered); -1 before any
	start     atomic.Int64 // the first offset to hand out; -1 until known
	hwm       atomic.Int64 // the partition's latest known high watermark; -1 until known

	cur   []*kgo.Record
	eof   bool
	timer *time.Timer
}

func newPartReader(s *Source, part int32, dec *decoder) *partReader {
	r := &partReader{
		src:     s,
		part:    part,
		queue:   make(chan []*kgo.Record, queueChunks),
		dec:     dec,
		stop:    make(chan struct{}),
		drained: make(chan struct{}),
	}
	r.next.Store(-1)
	r.start.Store(-1)
	r.hwm.Store(-1)
	return r
}

// lag returns how many records the partition holds past the next one the
// reader hands out, and false while its position or high watermark is
// unknown.
func (r *partReader) lag() (int64, bool) {
	pos, hwm := r.next.Load(), r.hwm.Load()
	if pos < 0 {
		pos = r.start.Load()
	}
	if pos < 0 || hwm < 0 {
		return 0, false
	}
	return max(0, hwm-pos), true
}

// Partition returns the Kafka partition number.
func (r *partReader) Partition() int32 { return r.part }

// push hands a chunk of fetched records to the reader, blocking while its
// queue is full. It returns false when ctx ends or the reader was closed.
// Only the polling goroutine pushes, and never concurrently with finish.
func (r *partReader) push(ctx context.Context, recs []*kgo.Record) bool {
	select {
	case r.queue <- recs:
		return true
	case <-r.stop:
		return false
	case <-ctx.Done():
		return false
	}
}

// finish closes the queue: Next returns io.EOF once it has handed out the
// records already queued.
func (r *partReader) finish() { r.closeOnce.Do(func() { close(r.queue) }) }

func (r *partReader) markDrained() { r.drainOnce.Do(func() { close(r.drained) }) }

// Next replaces b.Records with up to max decoded records. Records that fail
// to decode go to the dead-letter queue. It returns io.EOF after the last
// record of a partition that ended (stop.at=end) or was revoked.
func (r *partReader) Next(ctx context.Context, b *record.Batch, max int) error {
	b.Source = r.src.cfg.name
	b.Partition = r.part
	b.Reset()
	if max <= 0 {
		return nil
	}
	if len(r.cur) == 0 {
		if r.eof {
			return io.EOF
		}
		if err := r.wait(ctx); err != nil {
			return err
		}
	}
	for len(b.Records) < max {
		if len(r.cur) == 0 && !r.poll() {
			break
		}
		kr := r.cur[0]
		r.cur[0] = nil
		r.cur = r.cur[1:]
		r.decodeInto(b, kr)
	}
	if r.up != nil {
		r.upstreamEnd()
	}
	if len(b.Records) == 0 && r.eof && len(r.cur) == 0 {
		return io.EOF
	}
	return nil
}

// wait blocks until a chunk arrives, the queue closes, idleWait passes or
// ctx ends.
func (r *partReader) wait(ctx context.Context) error {
	if r.timer == nil {
		r.timer = time.NewTimer(idleWait)
	} else {
		r.timer.Reset(idleWait)
	}
	defer r.timer.Stop()
	select {
	case recs, ok := <-r.queue:
		r.take(recs, ok)
	case <-r.timer.C:
	case <-r.src.failed:
		return r.src.Failure()
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// poll takes a queued chunk without blocking and reports whether records
// are available.
func (r *partReader) poll() bool {
	if r.eof {
		return false
	}
	select {
	case recs, ok := <-r.queue:
		r.take(recs, ok)
		return len(r.cur) > 0
	default:
		return false
	}
}

func (r *partReader) take(recs []*kgo.Record, ok bool) {
	if !ok {
		r.eof = true
		r.markDrained()
		return
	}
	r.cur = recs
}

// upstreamEnd publishes how far a repartition partition may be committed
// and ends the reader once its upstream says it holds nothing more.
func (r *partReader) upstreamEnd() {
	r.up.publish(r.next.Load())
	if r.eof || !r.up.ended() {
		return
	}
	r.eof, r.cur = true, nil
	r.ended.Store(true)
	r.markDrained()
	r.src.signal()
}

// decodeInto decodes kr into the next record of b, or dead-letters it.
func (r *partReader) decodeInto(b *record.Batch, kr *kgo.Record) {
	if kr.Attrs.IsControl() {
		// a transaction marker: read, but no record
		r.next.Store(kr.Offset + 1)
		return
	}
	if r.up != nil {
		keep, err := r.up.admit(kr)
		if err != nil {
			r.next.Store(kr.Offset + 1)
			r.src.deadLetter(kr, err)
			return
		}
		if !keep {
			r.next.Store(kr.Offset + 1)
			return
		}
	}
	n := len(b.Records)
	b.Records = record.Extend(b.Records)
	rec := &b.Records[n]
	r.next.Store(kr.Offset + 1)
	if err := r.dec.decode(rec, kr); err != nil {
		b.Records = b.Records[:n]
		if r.up != nil {
			r.src.deadLetterOrigin(kr, r.up.origin, err)
			return
		}
		r.src.deadLetter(kr, err)
		return
	}
	if r.up != nil {
		// the row's bytes are the topic's encoding, not the source
		// record's: a dead letter of stage 2 carries the row as JSON
		rec.Raw = nil
		// the watermark the record carries is set first: whether it had
		// its effect may depend on it (a record that was late); the
		// record's timestamp was its event time, its source's comes back
		rec.Watermark = r.up.carried
		if r.src.repart.partitionWatermarks {
			rec.Watermark = r.up.high
		}
		if r.src.repart.eventTimes {
			rec.EventTime, rec.HasEventTime = rec.Timestamp+r.up.origin.eventShift, true
		}
		rec.Timestamp += r.up.shift
		rec.HasOrigin, rec.OriginPartition, rec.OriginOffset = true, r.up.origin.partition, r.up.origin.offset
		if o := &r.up.origin; o.source {
			// a joined row of an exchange topic: the place in its source
			// of the record that made it, not its identity in stage 2
			rec.OriginPartition, rec.OriginOffset = o.sourcePartition, o.sourceOffset
		}
		if kr.Offset < r.up.fenceTo {
			if r.src.repart.fired(rec, r.up.fenceWM) {
				b.Records = b.Records[:n]
				return
			}
			rec.Replay = true
		}
	}
	rec.Reread = kr.Offset < r.rereadTo
	r.src.verify(rec)
}

// Fence implements connector.Fenced for an aligned member's reader
// (MarkRereads): the checkpoint committed with the offset its partition
// resumed from. A repartition topic's reader skips the records its fence
// covers itself, and reports none.
func (r *partReader) Fence() (connector.Fence, bool) {
	if r.up != nil {
		return connector.Fence{}, false
	}
	r.src.mu.Lock()
	defer r.src.mu.Unlock()
	return r.fence.public(), r.fence.to > 0
}

// repartReader is the reader of a repartition topic's partition: its
// records carry their upstream watermark (connector.Watermarker).
type repartReader struct{ *partReader }

// Watermark implements connector.Watermarker.
func (r repartReader) Watermark() (int64, bool) { return r.up.watermark() }

// Position implements connector.Positioner.
func (r *partReader) Position() int64 { return r.next.Load() }

// Close releases the reader; the source stops feeding it.
func (r *partReader) Close() error {
	r.stopOnce.Do(func() { close(r.stop) })
	r.markDrained()
	return nil
}

// decode sets rec's metadata from kr and its Values from the decoded value.
func (d *decoder) decode(rec *record.Record, kr *kgo.Record) error {
	if cap(rec.Values) >= d.width {
		rec.Values = rec.Values[:d.width]
		clear(rec.Values)
	} else {
		rec.Values = make([]record.Value, d.width)
	}
	rec.Timestamp = kr.Timestamp.UnixMilli()
	rec.EventTime, rec.HasEventTime, rec.Watermark, rec.WindowStart, rec.Settled, rec.Replay, rec.Reread, rec.HasOrigin, rec.Retract = 0, false, 0, 0, false, false, false, false, false
	rec.Partition = kr.Partition
	rec.Offset = kr.Offset
	rec.Topic = kr.Topic
	rec.Key = kr.Key
	rec.Raw = kr.Value
	rec.Headers = rec.Headers[:0]
	for _, h := range kr.Headers {
		rec.Headers = append(rec.Headers, record.Header{Key: h.Key, Value: h.Value})
	}
	if kr.Value == nil {
		return errNoValue
	}
	if err := d.value.Decode(kr.Value, rec.Values); err != nil {
		return err
	}
	if d.keys != nil && kr.Key != nil {
		if err := d.keys.decodeInto(kr.Key, rec.Values); err != nil {
			return fmt.Errorf("key: %w", err)
		}
	}
	if d.keySlot >= 0 {
		if kr.Key == nil {
			rec.Values[d.keySlot] = record.NullValue()
		} else {
			key, err := d.key.str(kr.Key)
			if err != nil {
				return fmt.Errorf("key: %w", err)
			}
			rec.Values[d.keySlot] = record.StringValue(key)
		}
	}
	if d.conform != nil {
		return d.conform.Apply(rec.Values)
	}
	return nil
}

// deadLetter sends a record that failed to decode to the dead-letter queue.
func (s *Source) deadLetter(kr *kgo.Record, err error) {
	if s.dlq == nil || s.lettered(kr) {
		return
	}
	s.dlq.Add(connector.DeadLetter{
		Source:    s.cfg.name,
		Partition: kr.Partition,
		Offset:    kr.Offset,
		Raw:       kr.Value,
		Key:       kr.Key,
		Reason:    fmt.Sprintf("topic %s: %v", kr.Topic, err),
		Time:      time.Now().UTC(),
		Tombstone: errors.Is(err, errNoValue),
	})
}

// lettered reports whether kr, read again by an exactly-once source after
// a restart, is before the read offset of the checkpoint it restored: its
// dead letter committed then, with the first transaction whose checkpoint
// read past it (Transaction.hold), and is not written again.
func (s *Source) lettered(kr *kgo.Record) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.restored == nil {
		return false
	}
	read, ok := s.restored.Read[kr.Partition]
	return ok && kr.Offset < read
}

// deadLetterOrigin sends a repartition topic's record whose row failed to
// decode to the dead-letter queue, placed at o, its place in its source
// (the record's place in the topic is its Via). Its raw bytes are the
// topic's row, the only bytes there are.
func (s *Source) deadLetterOrigin(kr *kgo.Record, o origin, err error) {
	if s.dlq == nil {
		return
	}
	part, off := o.partition, o.offset
	if o.source {
		// an exchange topic's row: the place in its source of the record
		// that made it
		part, off = o.sourcePartition, o.sourceOffset
	}
	name, p := s.Origin(part)
	s.dlq.Add(connector.DeadLetter{
		Source:    name,
		Partition: p,
		Offset:    off,
		Raw:       kr.Value,
		Reason:    fmt.Sprintf("repartition topic %s: %v", kr.Topic, err),
		Time:      time.Now().UTC(),
		Via:       &connector.Place{Topic: kr.Topic, Partition: kr.Partition, Offset: kr.Offset},
	})
}

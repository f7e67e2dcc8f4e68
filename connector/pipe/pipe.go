// Package pipe connects two jobs of one application in process: the rows
// one statement writes to a name (CREATE STREAM x AS SELECT ...) reach the
// statements reading x through bounded, back-pressured queues of batches,
// without a broker or a file in between.
//
// A Stream has a Sink for the writing job and a Source for the reading job.
// Rows keep their event time and timestamp across. When the writing query
// has a key (GROUP BY k, a PRIMARY KEY), the stream is partitioned by it
// with the routing hash, and its Source says so in its Facts, so a reading
// statement that groups by the same key needs no re-hash.
//
// At-least-once holds across the chain: the reading job commits stream
// offsets (row positions) like any source's, and a Gate around the writing
// job's own sources holds their commits back until every stream it writes
// has been committed past the rows written before that commit.
package pipe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/partition"
	"github.com/sluicesql/sluice/record"
)

// Defaults of a Stream.
const (
	// BatchSize is the number of rows per hand-over.
	BatchSize = 1024
	// QueueSize is the capacity, in batches, of each stream partition.
	QueueSize = 8
	// poll is how long a reader waits for a batch before it returns none,
	// so the reading job can hand over what it holds.
	poll = 20 * time.Millisecond
)

// Stream is one in-process stream: the output of one job, read by another.
type Stream struct {
	name string

	// set by Configure, before either side runs
	out      connector.Schema // what the writer produces
	schema   *record.Schema   // out.Columns
	keySlots []int
	assign   []int32
	parts    []*part
	writer   string
	bounded  bool
	carry    bool // rows carry the writer's watermark
	sorted   bool // read as one sorted partition once the writer ended (sorted.go)

	done     chan struct{} // closed when the reading side is closed
	doneOnce sync.Once
	opened   chan struct{} // closed when the reading side opens
	openOnce sync.Once
	ended    chan struct{} // closed when every partition was read to its end

	mu          sync.Mutex
	committed   []int64 // per partition: next offset the reader will need after a restart
	endedParts  int
	sortedRows  int64 // rows of a sorted stream, once collected
	sinkClosed  bool
	aborted     bool
	interrupted bool
	listeners   []func()
}

// part is one stream partition: its queue and the writer's position.
type part struct {
	ch      chan *batch
	pending *batch
	// free holds batches the reader has copied out, for the writer to
	// fill again: in steady state a stream allocates nothing per row
	free chan *batch
	seq  int64 // offset of the next row written
	mark int64 // seq at the last Flush (under Stream.mu)
	// held are the batches a held stream took before its reader opened,
	// oldest first; the reader takes them before ch. holding is closed
	// when no more are added.
	held    []*batch
	holding chan struct{}
}

// batch is one hand-over: rows whose values live in vals.
type batch struct {
	recs []record.Record
	vals []record.Value
}

// New returns the stream called name; Configure it before use.
func New(name string) *Stream {
	return &Stream{name: name, done: make(chan struct{}), ended: make(chan struct{}), opened: make(chan struct{})}
}

// Name returns the stream's name.
func (s *Stream) Name() string { return s.name }

// Configure sets what the writing job produces: its output schema (the
// columns with their types; a primary key makes the stream a table), the
// output slots of its key (nil: none), its partition count, its source's
// partition count and whether its input ends, and names the writing job. A
// stream with a key has as many partitions as the writer, each holding
// whole keys; one without a key has a partition per source partition of
// the writer, so the rows of one source partition stay in the order the
// writer emitted them.
func (s *Stream) Configure(writer string, out connector.Schema, keySlots []int, partitions, sourcePartitions int, bounded bool) {
	n := max(sourcePartitions, 1)
	if len(keySlots) > 0 {
		n = max(partitions, 1)
		s.assign = partition.Assignment(n)
	}
	s.writer, s.out, s.schema, s.keySlots, s.bounded = writer, out, out.Columns, keySlots, bounded
	s.parts = make([]*part, n)
	for i := range s.parts {
		s.parts[i] = &part{ch: make(chan *batch, QueueSize), free: make(chan *batch, QueueSize+1)}
	}
	s.committed = make([]int64, n)
	if len(keySlots) > 0 && bounded {
		s.sorted = true
		s.take(nil) // until the writer ends: the reader sorts it whole
	}
}

// Schema returns the writer's output schema, as Configure set it.
func (s *Stream) Schema() connector.Schema { return s.out }

// Facts returns the stream's partitioning: by the writer's key when it has one.
func (s *Stream) Facts() connector.Facts {
	f := connector.Facts{Partitions: len(s.parts)}
	if s.sorted {
		return connector.Facts{Partitions: 1}
	}
	if len(s.keySlots) > 0 {
		for _, k := range s.keySlots {
			f.Key = append(f.Key, s.schema.Name(k))
		}
		f.Origin = "upstream"
	}
	return f
}

// CarryWatermarks says that the writer stamps each row with its watermark
// (job.Config.StampWatermarks), in the event time of the reader: the
// reading job takes it (connector.WatermarkCarrier). Call it before either
// side runs.
func (s *Stream) CarryWatermarks() { s.carry = true }

// Hold makes a configured stream take every batch its writer hands over
// until its reader opens, without back-pressure, and give them to the
// reader first. It is for a reader that reads another input to its end
// before this one (a join bootstrapping a table): when that input comes
// from the same upstream as this stream, a full queue here would stop the
// upstream, and so the input the reader waits for. What it takes is held
// in memory.
func (s *Stream) Hold() {
	if s.sorted {
		return // it holds everything already
	}
	s.take(s.opened)
}

// take takes every batch of every partition, without back-pressure, into
// its held batches until the writer closes the stream (the closed queue
// ends the reader after the held batches), the reader goes, or until is
// closed (nil: never).
func (s *Stream) take(until <-chan struct{}) {
	for _, pt := range s.parts {
		pt.holding = make(chan struct{})
		go func() {
			defer close(pt.holding)
			for {
				select {
				case b, ok := <-pt.ch:
					if !ok {
						return
					}
					pt.held = append(pt.held, b)
				case <-until:
					return
				case <-s.done:
					return
				}
			}
		}()
	}
}

// Interrupt marks the writer as stopping before its end: once the reader
// has taken every row, it waits for its own stop instead of ending, so the
// reading job drains and commits rather than finishing its windows as if
// the input were complete. Call it before stopping the writing job.
func (s *Stream) Interrupt() {
	s.mu.Lock()
	s.interrupted = true
	s.mu.Unlock()
}

// Ended is closed when the reader has taken every row of every partition
// (the writer closed or aborted the stream).
func (s *Stream) Ended() <-chan struct{} { return s.ended }

// Interrupted reports whether Interrupt was called.
func (s *Stream) Interrupted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.interrupted
}

// Sink returns the writing side.
func (s *Stream) Sink() connector.Sink { return &sink{s: s} }

// Source returns the reading side.
func (s *Stream) Source() connector.Source { return &source{s: s} }

// onChange registers f, called after every commit of the reader and when
// the reader closes.
func (s *Stream) onChange(f func()) {
	s.mu.Lock()
	s.listeners = append(s.listeners, f)
	s.mu.Unlock()
}

// notify calls the listeners.
func (s *Stream) notify() {
	s.mu.Lock()
	ls := append([]func(){}, s.listeners...)
	s.mu.Unlock()
	for _, f := range ls {
		f()
	}
}

// marks returns, per partition, the position of the writer's last Flush.
func (s *Stream) marks() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make([]int64, len(s.parts))
	for i, p := range s.parts {
		m[i] = p.mark
	}
	return m
}

// reached reports whether the reader committed every partition up to m.
func (s *Stream) reached(m []int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, off := range m {
		if s.committed[i] < off {
			return false
		}
	}
	return true
}

// readerDone reports whether the reading side was closed.
func (s *Stream) readerDone() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// sink is the writing side of a Stream.
type sink struct {
	s   *Stream
	key []record.Value
}

// Open implements connector.Sink.
func (k *sink) Open(ctx context.Context, schema *record.Schema, keySlots []int) error {
	if k.s.parts == nil {
		return fmt.Errorf("stream %q: not configured", k.s.name)
	}
	if schema.Len() != k.s.schema.Len() {
		return fmt.Errorf("stream %q: opened with %d columns, configured with %d", k.s.name, schema.Len(), k.s.schema.Len())
	}
	return nil
}

// Write implements connector.Sink: it copies the rows into batches per
// partition (of at most BatchSize rows) and hands them over, waiting while
// a partition's queue is full. Rows written after the
// reading job stopped are dropped: that job reports its own end.
func (k *sink) Write(ctx context.Context, rows []record.Record) error {
	s := k.s
	width := s.schema.Len()
	for i := range rows {
		row := &rows[i]
		p := int(max(row.Partition, 0)) % len(s.parts)
		if s.assign != nil {
			k.key = k.key[:0]
			for _, slot := range s.keySlots {
				k.key = append(k.key, row.Values[slot])
			}
			p = int(s.assign[partition.KeyGroup(k.key)])
		}
		pt := s.parts[p]
		b := pt.pending
		if b == nil {
			b = k.batch(pt, width)
			pt.pending = b
		}
		start := len(b.vals)
		b.vals = append(b.vals, row.Values[:width]...)
		b.recs = append(b.recs, record.Record{Values: b.vals[start:len(b.vals):len(b.vals)],
			Timestamp: row.Timestamp, EventTime: row.EventTime, HasEventTime: row.HasEventTime, Watermark: row.Watermark,
			Retract: row.Retract, WindowStart: row.WindowStart, Partition: int32(p), Offset: pt.seq, Topic: s.name})
		pt.seq++
		if len(b.recs) == BatchSize {
			if err := k.send(ctx, pt); err != nil {
				return err
			}
		}
	}
	// the job hands rows over in batches already: pass them on now rather
	// than wait for more, which may be long in coming
	for _, pt := range s.parts {
		if err := k.send(ctx, pt); err != nil {
			return err
		}
	}
	return nil
}

// batch returns an empty batch for pt: one the reader is done with, else
// a new one (whose values never move: rows point into them).
func (k *sink) batch(pt *part, width int) *batch {
	select {
	case b := <-pt.free:
		b.recs, b.vals = b.recs[:0], b.vals[:0]
		return b
	default:
		return &batch{recs: make([]record.Record, 0, BatchSize), vals: make([]record.Value, 0, BatchSize*width)}
	}
}

// send hands pt's pending batch to the reader.
func (k *sink) send(ctx context.Context, pt *part) error {
	b := pt.pending
	if b == nil || len(b.recs) == 0 {
		return nil
	}
	pt.pending = nil
	select {
	case pt.ch <- b:
		return nil
	case <-k.s.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stream %q: %w", k.s.name, ctx.Err())
	}
}

// Flush implements connector.Sink: it hands every pending row over and
// marks the position that the writer's next source commit waits for.
func (k *sink) Flush(ctx context.Context) error {
	for _, pt := range k.s.parts {
		if err := k.send(ctx, pt); err != nil {
			return err
		}
	}
	k.s.mu.Lock()
	for _, pt := range k.s.parts {
		pt.mark = pt.seq
	}
	k.s.mu.Unlock()
	return nil
}

// Close implements connector.Sink: the reader gets the rest and then the end.
func (k *sink) Close() error {
	err := k.Flush(context.Background())
	k.closeQueues(false)
	return err
}

// Abort implements connector.Sink: the reader fails after what it has.
func (k *sink) Abort() { k.closeQueues(true) }

func (k *sink) closeQueues(aborted bool) {
	s := k.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sinkClosed {
		return
	}
	s.sinkClosed, s.aborted = true, aborted
	for _, pt := range s.parts {
		close(pt.ch)
	}
}

// source is the reading side of a Stream.
type source struct {
	s *Stream
}

// Name implements connector.Source.
func (r *source) Name() string { return r.s.name }

// Facts implements connector.Source.
func (r *source) Facts() connector.Facts { return r.s.Facts() }

// Bounded implements connector.Bounded: the stream ends when its writer's
// input does.
func (r *source) Bounded() bool { return r.s.bounded }

// CarriesWatermarks implements connector.WatermarkCarrier. A sorted
// stream's rows are no longer in the order their watermarks were taken
// in, so its reader judges by the event times it sees.
func (r *source) CarriesWatermarks() bool { return r.s.carry && !r.s.sorted }

// Open implements connector.Source: one reader per stream partition, with
// the columns mapped by name.
func (r *source) Open(ctx context.Context, schema *record.Schema, dlq connector.DeadLetters) (<-chan connector.PartitionReader, error) {
	s := r.s
	slots := make([]int, schema.Len())
	identity := schema.Len() == s.schema.Len()
	for i := range slots {
		name := schema.Name(i)
		slots[i] = -1
		for j := 0; j < s.schema.Len(); j++ {
			if strings.EqualFold(s.schema.Name(j), name) {
				slots[i] = j
				break
			}
		}
		if _, sys := record.IsSystemColumn(name); slots[i] < 0 && !sys {
			return nil, fmt.Errorf("stream %q has no column %q (it has %s)", s.name, name, strings.Join(s.schema.Names(), ", "))
		}
		identity = identity && slots[i] == i
	}
	s.openOnce.Do(func() { close(s.opened) })
	if s.sorted {
		ch := make(chan connector.PartitionReader, 1)
		ch <- &sortedReader{reader: &reader{s: s, slots: slots, identity: identity, timer: time.NewTimer(poll)}, keys: s.keySlots}
		close(ch)
		return ch, nil
	}
	for _, pt := range s.parts {
		if pt.holding != nil {
			<-pt.holding // pt.held is the reader's from now on
		}
	}
	ch := make(chan connector.PartitionReader, len(s.parts))
	for i, pt := range s.parts {
		ch <- &reader{s: s, p: int32(i), pt: pt, slots: slots, identity: identity, timer: time.NewTimer(poll)}
	}
	close(ch)
	return ch, nil
}

// Commit implements connector.Source: the reading job has flushed every
// effect of the rows before offsets; writers' gates wait for this.
func (r *source) Commit(ctx context.Context, offsets map[int32]int64) error {
	s := r.s
	s.mu.Lock()
	if s.sorted {
		// offsets number the sorted rows: only all of them map back to
		// the writer's partitions
		if off, ok := offsets[0]; ok && s.sortedRows > 0 && off >= s.sortedRows {
			for i, pt := range s.parts {
				s.committed[i] = pt.seq
			}
		}
		offsets = nil
	}
	for p, off := range offsets {
		if int(p) < len(s.committed) && off > s.committed[p] {
			s.committed[p] = off
		}
	}
	s.mu.Unlock()
	s.notify()
	return nil
}

// Close implements connector.Source: the reader is gone; the writer's
// further rows are dropped and its gate stops waiting.
func (r *source) Close() error {
	r.s.doneOnce.Do(func() { close(r.s.done) })
	r.s.notify()
	return nil
}

// reader reads one stream partition.
type reader struct {
	s        *Stream
	p        int32
	pt       *part
	slots    []int // input slot -> stream column (-1: a system column)
	identity bool
	cur      []record.Record
	curBatch *batch // the batch cur is part of
	end      bool
	timer    *time.Timer
}

// ErrWriterFailed is returned by a reader whose writing job failed.
var ErrWriterFailed = errors.New("the writing job failed")

// Partition implements connector.PartitionReader.
func (rd *reader) Partition() int32 { return rd.p }

// Next implements connector.PartitionReader.
func (rd *reader) Next(ctx context.Context, b *record.Batch, max int) error {
	b.Source, b.Partition = rd.s.name, rd.p
	b.Reset()
	if len(rd.cur) == 0 && len(rd.pt.held) > 0 {
		rd.curBatch, rd.pt.held = rd.pt.held[0], rd.pt.held[1:]
		rd.cur = rd.curBatch.recs
	}
	if len(rd.cur) == 0 {
		if rd.end {
			return rd.atEnd(ctx)
		}
		rd.timer.Reset(poll)
		select {
		case recs, ok := <-rd.pt.ch:
			if !ok {
				rd.end = true
				rd.s.mu.Lock()
				rd.s.endedParts++
				if rd.s.endedParts == len(rd.s.parts) {
					close(rd.s.ended)
				}
				rd.s.mu.Unlock()
				return rd.atEnd(ctx)
			}
			rd.curBatch, rd.cur = recs, recs.recs
		case <-ctx.Done():
			return ctx.Err()
		case <-rd.timer.C:
			return nil
		}
	}
	n := min(max, len(rd.cur))
	take := rd.cur[:n:n]
	rd.cur = rd.cur[n:]
	rd.copyTo(b, take)
	if len(rd.cur) == 0 {
		select {
		case rd.pt.free <- rd.curBatch:
		default:
		}
		rd.curBatch = nil
	}
	return nil
}

// copyTo copies take into b, whose records and values the job owns, so
// that the stream's batch can go back to its writer at once.
func (rd *reader) copyTo(b *record.Batch, take []record.Record) {
	width := len(rd.slots)
	n := len(take)
	var slab []record.Value // values for records the job's batch never held
	for i := range take {
		b.Records = record.Extend(b.Records)
		out := &b.Records[i]
		vals := out.Values[:0]
		if cap(vals) < width {
			if len(slab) < width {
				slab = make([]record.Value, width*(n-i))
			}
			vals, slab = slab[:0:width], slab[width:]
		}
		if rd.identity {
			vals = append(vals, take[i].Values...)
		} else {
			for _, slot := range rd.slots {
				if slot < 0 {
					vals = append(vals, record.Value{})
				} else {
					vals = append(vals, take[i].Values[slot])
				}
			}
		}
		*out = take[i]
		out.Values = vals
	}
}

// atEnd is what Next returns after the last row: io.EOF when the writer
// finished, an error when it failed, and nothing until ctx is done when it
// was interrupted (the application stops this job next).
func (rd *reader) atEnd(ctx context.Context) error {
	rd.s.mu.Lock()
	aborted, interrupted := rd.s.aborted, rd.s.interrupted
	rd.s.mu.Unlock()
	switch {
	case aborted:
		return fmt.Errorf("stream %q: %w (job %s)", rd.s.name, ErrWriterFailed, rd.s.writer)
	case interrupted:
		rd.timer.Reset(poll)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-rd.timer.C:
			return nil
		}
	}
	return io.EOF
}

// Close implements connector.PartitionReader.
func (rd *reader) Close() error {
	rd.timer.Stop()
	return nil
}

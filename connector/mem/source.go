// Package mem holds in-memory connectors: a Source over messages kept in
// memory and a Sink that collects rows, for tests and benchmarks.
package mem

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/record"
)

// Message is one input message of a Source.
type Message struct {
	// Fields holds the decoded columns by name (any case). A nil Fields
	// marks a message that fails to decode: it goes to the dead-letter
	// queue with Raw as its bytes.
	Fields map[string]record.Value
	// Timestamp is the message time in Unix milliseconds.
	Timestamp int64
	// Key is the message key.
	Key []byte
	// Raw is the message's original bytes.
	Raw []byte
}

// Source is a bounded (or, with Live, endless) source over messages kept in
// memory. Message i of partition p has offset i.
type Source struct {
	name      string
	parts     [][]Message
	facts     connector.Facts
	start     map[int32]int64
	live      bool
	poll      time.Duration
	pace      time.Duration
	mu        sync.Mutex
	committed map[int32]int64
	cache     *decoded
	// pre-decoded input (FromRecords): records by slot of recSchema
	recSchema *record.Schema
	recs      [][]record.Record
}

// decoded is the data decoded for one schema, reused across runs. Readers
// hand its records out by reference and the job stamps their event times,
// so one decoded is read by one Open at a time: readers counts the open
// readers (under Source.mu).
type decoded struct {
	names   []string
	recs    [][]record.Record
	bad     [][]bool
	readers int
}

// Option configures a Source.
type Option func(*Source)

// WithFacts sets what the source reports about its partitioning.
func WithFacts(f connector.Facts) Option { return func(s *Source) { s.facts = f } }

// WithStart resumes partitions at the given offsets (as committed earlier).
func WithStart(offsets map[int32]int64) Option { return func(s *Source) { s.start = offsets } }

// Live keeps the partitions open after their last message: readers return
// no records (after waiting poll) instead of io.EOF until the job stops.
func Live(poll time.Duration) Option { return func(s *Source) { s.live, s.poll = true, poll } }

// Pace makes every reader wait d before each batch, so that a test can
// stop a job while it is still reading.
func Pace(d time.Duration) Option { return func(s *Source) { s.pace = d } }

// NewSource returns a source named name with one message slice per partition.
func NewSource(name string, partitions [][]Message, opts ...Option) *Source {
	s := &Source{name: name, parts: partitions, committed: map[int32]int64{}}
	s.facts.Partitions = len(partitions)
	for _, o := range opts {
		o(s)
	}
	return s
}

// FromRecords returns a source over records already decoded by slot of
// schema, one slice per partition: the "pre-built batches" of benchmarks.
// Opening it with another schema maps the columns by name. The source sets
// each record's Partition, Offset and Topic. Readers hand the records out
// without copying them (record.Batch.Borrowed); the caller's Values are
// never modified, but the job sets the records' event times, so the source
// keeps its own copy of the Record structs.
func FromRecords(name string, schema *record.Schema, partitions [][]record.Record, opts ...Option) *Source {
	s := NewSource(name, make([][]Message, len(partitions)), opts...)
	s.recSchema, s.recs = schema, partitions
	return s
}

// Name implements connector.Source.
func (s *Source) Name() string { return s.name }

// Facts implements connector.Source.
func (s *Source) Facts() connector.Facts { return s.facts }

// Bounded reports whether the source ends (it is not Live).
func (s *Source) Bounded() bool { return !s.live }

// Open implements connector.Source: it decodes the messages for schema (once
// per schema) and hands out one reader per partition.
func (s *Source) Open(ctx context.Context, schema *record.Schema, dlq connector.DeadLetters) (<-chan connector.PartitionReader, error) {
	if dlq == nil {
		return nil, errors.New("mem source: nil dead-letter queue")
	}
	d := s.decode(schema)
	ch := make(chan connector.PartitionReader, len(s.parts))
	for p := range s.parts {
		ch <- &reader{s: s, d: d, p: int32(p), pos: s.start[int32(p)], dlq: dlq}
	}
	close(ch)
	return ch, nil
}

// Prepare decodes the messages for schema now, so that the next Open with
// that schema (a measured run, say) finds them decoded.
func (s *Source) Prepare(schema *record.Schema) {
	d := s.decode(schema)
	s.mu.Lock()
	d.readers -= len(s.parts)
	s.mu.Unlock()
}

// decode converts the messages to records for schema, or returns the cached
// conversion when no other Open is reading it, and counts the readers
// about to read it.
func (s *Source) decode(schema *record.Schema) *decoded {
	names := schema.Names()
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.cache; c != nil && c.readers == 0 && equal(c.names, names) {
		c.readers = len(s.parts)
		return c
	}
	d := &decoded{names: names, recs: make([][]record.Record, len(s.parts)), bad: make([][]bool, len(s.parts)),
		readers: len(s.parts)}
	if s.recs != nil {
		s.fromRecords(d, schema)
		s.cache = d
		return d
	}
	for p, msgs := range s.parts {
		recs := make([]record.Record, len(msgs))
		bad := make([]bool, len(msgs))
		for i, m := range msgs {
			r := record.Record{Timestamp: m.Timestamp, Partition: int32(p), Offset: int64(i), Topic: s.name, Key: m.Key, Raw: m.Raw}
			if m.Fields == nil {
				bad[i] = true
			} else {
				r.Values = make([]record.Value, len(names))
				for k, v := range m.Fields {
					if slot, ok := schema.Lookup(k); ok {
						r.Values[slot] = v
					}
				}
			}
			recs[i] = r
		}
		d.recs[p], d.bad[p] = recs, bad
	}
	s.cache = d
	return d
}

// fromRecords fills d from the pre-decoded records, remapping slots when
// schema differs from the records' own.
func (s *Source) fromRecords(d *decoded, schema *record.Schema) {
	same := equal(s.recSchema.Names(), d.names)
	slot := make([]int, s.recSchema.Len()) // record slot -> schema slot (-1: not wanted)
	for i, n := range s.recSchema.Names() {
		slot[i] = -1
		if j, ok := schema.Lookup(n); ok {
			slot[i] = j
		}
	}
	for p, in := range s.recs {
		recs := make([]record.Record, len(in))
		for i := range in {
			r := in[i]
			r.Partition, r.Offset, r.Topic = int32(p), int64(i), s.name
			if !same {
				vals := make([]record.Value, len(d.names))
				for k, v := range r.Values {
					if k < len(slot) && slot[k] >= 0 {
						vals[slot[k]] = v
					}
				}
				r.Values = vals
			}
			recs[i] = r
		}
		d.recs[p], d.bad[p] = recs, make([]bool, len(in))
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Commit implements connector.Source; Committed returns what it got.
func (s *Source) Commit(_ context.Context, offsets map[int32]int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p, o := range offsets {
		if o < s.committed[p] {
			return fmt.Errorf("mem source %q: commit of partition %d goes back from %d to %d", s.name, p, s.committed[p], o)
		}
		s.committed[p] = o
	}
	return nil
}

// Committed returns the committed offsets so far.
func (s *Source) Committed() map[int32]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := make(map[int32]int64, len(s.committed))
	for p, o := range s.committed {
		c[p] = o
	}
	return c
}

// Close implements connector.Source.
func (s *Source) Close() error { return nil }

// reader reads one partition.
type reader struct {
	s   *Source
	d   *decoded
	p   int32
	pos int64
	dlq connector.DeadLetters
	// closed is set by the first Close
	closed bool
}

// Partition implements connector.PartitionReader.
func (r *reader) Partition() int32 { return r.p }

// Next implements connector.PartitionReader. Records are handed out
// without copying (the batch borrows the decoded records, see
// record.Batch.Borrowed); messages that fail to decode go to the DLQ, so a
// batch ends before the next of them.
func (r *reader) Next(ctx context.Context, b *record.Batch, max int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.Source, b.Partition = r.s.name, r.p
	b.Reset()
	if r.s.pace > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(r.s.pace):
		}
	}
	recs, bad := r.d.recs[r.p], r.d.bad[r.p]
	for r.pos < int64(len(recs)) && bad[r.pos] {
		r.dlq.Add(connector.DeadLetter{Source: r.s.name, Partition: r.p, Offset: r.pos, Raw: recs[r.pos].Raw, Key: recs[r.pos].Key,
			Reason: "mem: message has no fields", Time: time.Now()})
		r.pos++
	}
	if r.pos >= int64(len(recs)) {
		if !r.s.live {
			return io.EOF
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(r.s.poll):
			return nil
		}
	}
	end := r.pos
	for end < int64(len(recs)) && end-r.pos < int64(max) && !bad[end] {
		end++
	}
	if end > r.pos {
		run := recs[r.pos:end:end]
		for i := range run {
			// an earlier job's event-time stamp: hand the record out as
			// decoded (a read, and a write only when there is a stamp)
			if run[i].HasEventTime {
				run[i].HasEventTime = false
			}
		}
		b.Records, b.Borrowed = run, true
		r.pos = end
	}
	return nil
}

// Position implements connector.Positioner: the next message's offset.
func (r *reader) Position() int64 { return r.pos }

// Close implements connector.PartitionReader: the reader no longer reads
// its decoded records.
func (r *reader) Close() error {
	if !r.closed {
		r.closed = true
		r.s.mu.Lock()
		r.d.readers--
		r.s.mu.Unlock()
	}
	return nil
}

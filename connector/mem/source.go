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

// decoded is the data decoded for one schema, reused across runs.
type decoded struct {
	names []string
	recs  [][]record.Record
	bad   [][]bool
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
// each record's Partition, Offset and Topic; the records are copied into
// the readers' batches and never modified.
func FromRecords(name string, schema *record.Schema, partitions [][]record.Record, opts ...Option) *Source {
	s := NewSource(name, make([][]Message, len(partitions)), opts...)
	s.recSchema, s.recs = schema, partitions
	return s
}

// Name implements connector.Source.
func (s *Source) Name() string { return s.name }

// Facts implements connector.Source.
func (s *Source) Facts() connector.Facts { return s.facts }

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

// decode converts the messages to records for schema, or returns the cached
// conversion.
func (s *Source) decode(schema *record.Schema) *decoded {
	names := schema.Names()
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.cache; c != nil && equal(c.names, names) {
		return c
	}
	d := &decoded{names: names, recs: make([][]record.Record, len(s.parts)), bad: make([][]bool, len(s.parts))}
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
}

// Partition implements connector.PartitionReader.
func (r *reader) Partition() int32 { return r.p }

// Next implements connector.PartitionReader. Records are copied into the
// batch's reused storage; messages that fail to decode go to the DLQ.
func (r *reader) Next(ctx context.Context, b *record.Batch, max int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.Source, b.Partition = r.s.name, r.p
	b.Records = b.Records[:0]
	if r.s.pace > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(r.s.pace):
		}
	}
	recs, bad := r.d.recs[r.p], r.d.bad[r.p]
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
	for r.pos < int64(len(recs)) && len(b.Records) < max {
		src := &recs[r.pos]
		if bad[r.pos] {
			r.dlq.Add(connector.DeadLetter{Source: r.s.name, Partition: r.p, Offset: r.pos, Raw: src.Raw,
				Reason: "mem: message has no fields", Time: time.Now()})
			r.pos++
			continue
		}
		n := len(b.Records)
		if n < cap(b.Records) {
			b.Records = b.Records[:n+1]
		} else {
			b.Records = append(b.Records, record.Record{})
		}
		d := &b.Records[n]
		vals := append(d.Values[:0], src.Values...)
		raw := append(d.Raw[:0], src.Raw...)
		*d = *src
		d.Values, d.Raw = vals, raw
		r.pos++
	}
	return nil
}

// Close implements connector.PartitionReader.
func (r *reader) Close() error { return nil }

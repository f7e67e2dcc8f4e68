package gen

import (
	"context"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/record"
)

// Source is a generator source. See the package documentation.
type Source struct {
	name   string
	g      *state
	opened bool
}

// NewSource returns the generator source called name, configured by the
// '<name>.'-prefixed keys of props.
func NewSource(name string, props map[string]string) (*Source, error) {
	opts, err := ParseOptions(name, props)
	if err != nil {
		return nil, err
	}
	return New(name, opts)
}

// New returns a generator source called name.
func New(name string, opts Options) (*Source, error) {
	if opts.Partitions == 0 {
		opts.Partitions = 1
	}
	g, err := newState(opts)
	if err != nil {
		return nil, fmt.Errorf("generator %q: %w", name, err)
	}
	return &Source{name: name, g: g}, nil
}

// Name returns the source's name.
func (s *Source) Name() string { return s.name }

// Schema returns the generator's columns.
func (s *Source) Schema() *record.Schema {
	k := s.g.kind
	fields := make([]record.Field, len(k.columns))
	for i, c := range k.columns {
		fields[i] = record.Field{Name: c, Type: k.types[i]}
	}
	return record.NewSchemaOf(fields...)
}

// Bounded reports whether the generator has a count: it then ends.
func (s *Source) Bounded() bool { return s.g.opts.Count > 0 }

// Facts reports no partition key and the configured partition count.
func (s *Source) Facts() connector.Facts {
	return connector.Facts{Partitions: s.g.opts.Partitions}
}

// Open returns a closed channel holding one reader per partition. Generated
// records always decode, so dlq receives nothing.
func (s *Source) Open(_ context.Context, schema *record.Schema, _ connector.DeadLetters) (<-chan connector.PartitionReader, error) {
	if s.opened {
		return nil, fmt.Errorf("generator %q: already open", s.name)
	}
	s.opened = true
	p := s.g.opts.Partitions
	ch := make(chan connector.PartitionReader, p)
	for part := 0; part < p; part++ {
		ch <- newReader(s.name, s.g, int32(part), schema)
	}
	close(ch)
	return ch, nil
}

// Commit does nothing: a generator produces the same records on every run.
func (s *Source) Commit(context.Context, map[int32]int64) error { return nil }

// Close does nothing.
func (s *Source) Close() error { return nil }

// reader produces the records of one partition.
type reader struct {
	source string
	g      *state
	part   int32
	parts  uint64
	next   uint64 // the partition's next offset; its record index is part + next×parts
	total  uint64 // the partition's record count (MaxUint64 when unbounded)
	slots  []int  // by generator column: schema slot or -1
	n      int    // schema length
	row    []record.Value
	rate   float64 // records per second in this partition; 0 = unpaced
	start  time.Time
}

func newReader(source string, g *state, part int32, schema *record.Schema) *reader {
	parts := uint64(g.opts.Partitions)
	r := &reader{
		source: source, g: g, part: part, parts: parts,
		total: math.MaxUint64,
		n:     schema.Len(),
		row:   make([]record.Value, len(g.kind.columns)),
		rate:  g.opts.Rate / float64(parts),
	}
	if c := uint64(g.opts.Count); c > 0 {
		r.total = 0
		if uint64(part) < c {
			r.total = (c - uint64(part) + parts - 1) / parts
		}
	}
	r.slots = make([]int, len(g.kind.columns))
	for i, c := range g.kind.columns {
		r.slots[i] = -1
		if s, ok := schema.Lookup(c); ok {
			r.slots[i] = s
		}
	}
	return r
}

// Partition returns the partition number.
func (r *reader) Partition() int32 { return r.part }

// Next generates up to max records, fewer when a rate holds it back.
func (r *reader) Next(ctx context.Context, b *record.Batch, max int) error {
	b.Source, b.Partition = r.source, r.part
	b.Reset()
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.next >= r.total {
		return io.EOF
	}
	want := uint64(max)
	if left := r.total - r.next; want > left {
		want = left
	}
	if r.rate > 0 {
		allowed, err := r.pace(ctx)
		if err != nil {
			return err
		}
		want = min(want, allowed)
	}
	recs := b.Records
	var slab []record.Value
	for k := uint64(0); k < want; k++ {
		recs = record.Extend(recs)
		rec := &recs[len(recs)-1]
		vals := rec.Values
		if cap(vals) < r.n {
			if len(slab) < r.n {
				slab = make([]record.Value, r.n*int(min(want-k, 1024)))
			}
			vals, slab = slab[:r.n:r.n], slab[r.n:]
		}
		vals = vals[:r.n]
		clear(vals)
		i := uint64(r.part) + r.next*r.parts
		r.g.kind.row(r.g, i, r.row)
		for c, s := range r.slots {
			if s >= 0 {
				vals[s] = r.row[c]
			}
		}
		*rec = record.Record{
			Values:    vals,
			Timestamp: r.timestamp(i),
			Partition: r.part,
			Offset:    int64(r.next),
			Topic:     r.source,
		}
		r.next++
	}
	b.Records = recs
	return nil
}

// timestamp is the record's event time.
func (r *reader) timestamp(i uint64) int64 {
	return r.g.eventTime(i)
}

// pace returns how many records the rate allows now: record k of the
// partition is due k/rate seconds after the first call. When none is due it
// waits, at most 100 ms, and may then return 0.
func (r *reader) pace(ctx context.Context) (uint64, error) {
	if r.start.IsZero() {
		r.start = time.Now()
	}
	for {
		elapsed := time.Since(r.start)
		if due := uint64(elapsed.Seconds()*r.rate) + 1; due > r.next {
			return due - r.next, nil
		}
		wait := time.Duration(float64(r.next)/r.rate*float64(time.Second)) - elapsed
		capped := wait > 100*time.Millisecond
		if capped {
			wait = 100 * time.Millisecond
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return 0, ctx.Err()
		case <-t.C:
		}
		if capped {
			return 0, nil
		}
	}
}

// Close releases nothing: a reader holds no resources.
func (r *reader) Close() error { return nil }

// SourceSchema returns the generator's columns with their types, which it
// knows without reading anything.
func (s *Source) SourceSchema(context.Context, connector.InferLimits) (connector.Schema, error) {
	return connector.Schema{Columns: s.Schema(), Origin: connector.SchemaGenerator}, nil
}

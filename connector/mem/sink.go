package mem

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/sluicesql/sluice/record"
)

// Sink collects rows in memory. Rows count as durable once Flush returns.
// Delay makes every Write sleep, to model a slow sink.
type Sink struct {
	Delay time.Duration

	mu       sync.Mutex
	schema   *record.Schema
	keySlots []int
	rows     []record.Record
	flushed  int
	closed   bool
	aborted  bool
	writes   int
}

// Open implements connector.Sink.
func (s *Sink) Open(_ context.Context, schema *record.Schema, keySlots []int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.schema, s.keySlots = schema, keySlots
	return nil
}

// Write implements connector.Sink: it copies rows.
func (s *Sink) Write(ctx context.Context, rows []record.Record) error {
	if s.Delay > 0 {
		select {
		case <-time.After(s.Delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.aborted {
		return errors.New("mem sink: write after close")
	}
	s.writes++
	for _, r := range rows {
		r.Values = append([]record.Value(nil), r.Values...)
		r.Raw, r.Key, r.Headers = nil, nil, nil
		s.rows = append(s.rows, r)
	}
	return nil
}

// Flush implements connector.Sink.
func (s *Sink) Flush(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushed = len(s.rows)
	return nil
}

// Close implements connector.Sink.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.flushed = len(s.rows)
	s.closed = true
	return nil
}

// Abort implements connector.Sink.
func (s *Sink) Abort() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.aborted = true
}

// Rows returns a copy of every row written.
func (s *Sink) Rows() []record.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]record.Record(nil), s.rows...)
}

// Flushed returns the rows that were written before the last Flush or Close.
func (s *Sink) Flushed() []record.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]record.Record(nil), s.rows[:s.flushed]...)
}

// Schema returns the schema given to Open.
func (s *Sink) Schema() *record.Schema {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.schema
}

// State reports whether the sink was closed or aborted.
func (s *Sink) State() (closed, aborted bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed, s.aborted
}

// Discard is a sink that drops every row: a blackhole for benchmarks. It
// counts the rows it was given.
type Discard struct {
	mu   sync.Mutex
	rows int64
}

// Open implements connector.Sink.
func (d *Discard) Open(context.Context, *record.Schema, []int) error { return nil }

// Write implements connector.Sink.
func (d *Discard) Write(_ context.Context, rows []record.Record) error {
	d.mu.Lock()
	d.rows += int64(len(rows))
	d.mu.Unlock()
	return nil
}

// Flush implements connector.Sink.
func (d *Discard) Flush(context.Context) error { return nil }

// Close implements connector.Sink.
func (d *Discard) Close() error { return nil }

// Abort implements connector.Sink.
func (d *Discard) Abort() {}

// Count returns the number of rows written.
func (d *Discard) Count() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rows
}

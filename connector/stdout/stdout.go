// Package stdout is the sink of a query without one: it prints result rows as
// JSON lines.
package stdout

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/sluicesql/sluice/connector/codec"
	"github.com/sluicesql/sluice/connector/internal/props"
	"github.com/sluicesql/sluice/record"
)

// Sink writes rows as JSON lines to a writer, buffered until Flush. It is
// safe for concurrent use.
type Sink struct {
	mu  sync.Mutex
	w   *bufio.Writer
	enc *codec.JSONEncoder
	buf []byte
}

// options are the options a stdout sink accepts as '<name>.<option>'.
var options = []string{"type"}

// Options returns the options a stdout sink accepts as '<name>.<option>'.
func Options() []string { return append([]string(nil), options...) }

// CheckOptions checks the '<name>.'-prefixed keys of props of the stdout
// sink called name: it takes no option but its type.
func CheckOptions(name string, all map[string]string) error {
	_, err := props.Extract("stdout sink", name, all, options...)
	return err
}

// New returns a sink writing to w, or to os.Stdout when w is nil.
func New(w io.Writer) *Sink {
	if w == nil {
		w = os.Stdout
	}
	return &Sink{w: bufio.NewWriterSize(w, 64<<10)}
}

// Open prepares the sink for rows of schema.
func (s *Sink) Open(_ context.Context, schema *record.Schema, _ []int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.enc = codec.NewJSONEncoder(schema)
	return nil
}

// Write encodes rows into the buffer, one JSON object per line.
func (s *Sink) Write(_ context.Context, rows []record.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.enc == nil {
		return errors.New("stdout sink: not open")
	}
	buf := s.buf[:0]
	for i := range rows {
		buf = append(s.enc.AppendRow(buf, rows[i].Values), '\n')
	}
	s.buf = buf
	if _, err := s.w.Write(buf); err != nil {
		return fmt.Errorf("stdout sink: %w", err)
	}
	return nil
}

// Flush writes the buffered lines out.
func (s *Sink) Flush(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("stdout sink: %w", err)
	}
	return nil
}

// Close writes the buffered lines out.
func (s *Sink) Close() error { return s.Flush(context.Background()) }

// Abort writes out the lines buffered so far: printed output cannot be taken
// back, and the rows already computed are worth showing.
func (s *Sink) Abort() { _ = s.Flush(context.Background()) }

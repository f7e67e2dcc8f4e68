// Package stdout is the sink of a query without one: it prints result rows as
// JSON lines.
package stdout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"

	"github.com/sluicesql/sluice/connector/codec"
	"github.com/sluicesql/sluice/connector/internal/props"
	"github.com/sluicesql/sluice/record"
)

// ErrClosedPipe is wrapped by the error of a write whose reader has gone
// away (EPIPE: the next command of a shell pipeline exited).
var ErrClosedPipe = errors.New("the reader of the output went away (broken pipe)")

// Sink writes rows as JSON lines to a writer. Every Write goes out at once,
// so a reader at the other end of a pipe sees the rows as they are
// produced; there is nothing left to flush. A write blocked by a reader that
// does not read ends when Write's context is cancelled, and the sink is then
// unusable: the rows it held may be half written. It is safe for concurrent
// use.
type Sink struct {
	mu  sync.Mutex
	w   io.Writer
	enc *codec.JSONEncoder
	buf []byte
	err error // the first write error; every later call returns it
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
	return &Sink{w: w}
}

// Open prepares the sink for rows of schema.
func (s *Sink) Open(_ context.Context, schema *record.Schema, _ []int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.enc = codec.NewJSONEncoder(schema)
	return nil
}

// Write writes rows out, one JSON object per line, and returns when the
// writer took them or ctx is done.
func (s *Sink) Write(ctx context.Context, rows []record.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	if s.enc == nil {
		return errors.New("stdout sink: not open")
	}
	buf := s.buf[:0]
	for i := range rows {
		buf = append(s.enc.AppendRow(buf, rows[i].Values), '\n')
	}
	s.buf = buf
	if len(buf) == 0 {
		return nil
	}
	// The write runs on its own goroutine so that a reader that stops
	// reading cannot hold a stopping job past its drain timeout. An
	// abandoned write keeps buf, which the sink, now failed, never reuses.
	done := make(chan error, 1)
	go func() {
		_, err := s.w.Write(buf)
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		err = fmt.Errorf("write blocked, the reader is not reading: %w", context.Cause(ctx))
	}
	if err != nil {
		if errors.Is(err, syscall.EPIPE) {
			err = ErrClosedPipe
		}
		s.err = fmt.Errorf("stdout: %w", err)
	}
	return s.err
}

// Flush returns the first write error: every row written has already gone
// out.
func (s *Sink) Flush(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close returns the first write error.
func (s *Sink) Close() error { return s.Flush(context.Background()) }

// WriteThrough reports true: a row is out once Write returns.
func (s *Sink) WriteThrough() bool { return true }

// Abort does nothing: printed output cannot be taken back.
func (s *Sink) Abort() {}

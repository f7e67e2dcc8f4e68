package stdout

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"

	"github.com/sluicesql/sluice/record"
)

var rows = []record.Record{
	{Values: []record.Value{record.StringValue("Oslo"), record.DecimalValue(125, 1)}},
	{Values: []record.Value{record.StringValue("Rome"), record.NullValue()}},
}

func openSink(t *testing.T, s *Sink) {
	t.Helper()
	if err := s.Open(context.Background(), record.NewSchema("station", "max_temp"), nil); err != nil {
		t.Fatal(err)
	}
}

// TestSinkWritesThrough: each Write is on the writer when it returns.
func TestSinkWritesThrough(t *testing.T) {
	var out bytes.Buffer
	s := New(&out)
	openSink(t, s)
	ctx := context.Background()
	if err := s.Write(ctx, rows); err != nil {
		t.Fatal(err)
	}
	want := `{"station":"Oslo","max_temp":12.5}` + "\n" + `{"station":"Rome","max_temp":null}` + "\n"
	if out.String() != want {
		t.Errorf("after Write: %q, want %q", out.String(), want)
	}
	if err := s.Write(ctx, rows[:1]); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.String()[len(want):]; got != `{"station":"Oslo","max_temp":12.5}`+"\n" {
		t.Errorf("second Write wrote %q", got)
	}
}

// TestClosedPipe: a write to a pipe whose reader is gone fails with
// ErrClosedPipe, and so does every later call.
func TestClosedPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	r.Close()
	s := New(w)
	openSink(t, s)
	if err := s.Write(context.Background(), rows); !errors.Is(err, ErrClosedPipe) {
		t.Fatalf("Write: %v, want ErrClosedPipe", err)
	}
	if err := s.Flush(context.Background()); !errors.Is(err, ErrClosedPipe) {
		t.Errorf("Flush: %v, want ErrClosedPipe", err)
	}
}

// TestBlockedWriteEndsWithItsContext: a write into a pipe nobody reads
// returns once its context is cancelled.
func TestBlockedWriteEndsWithItsContext(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	s := New(w)
	openSink(t, s)
	big := make([]record.Record, 0, 20000) // far more than a pipe holds
	for range 10000 {
		big = append(big, rows...)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("stopping")
	done := make(chan error, 1)
	go func() { done <- s.Write(ctx, big) }()
	cancel(stop)
	if err := <-done; !errors.Is(err, stop) {
		t.Fatalf("Write: %v, want the cancellation's cause", err)
	}
}

func TestWriteBeforeOpen(t *testing.T) {
	if err := New(&bytes.Buffer{}).Write(context.Background(), rows); err == nil {
		t.Error("Write before Open: want error")
	}
}

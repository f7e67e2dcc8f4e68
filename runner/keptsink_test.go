package runner

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/record"
)

// stalledSink is a sink on a cluster that no longer acknowledges: its
// Flush returns only when its context ends.
type stalledSink struct{ connector.Sink }

func (stalledSink) Open(context.Context, *record.Schema, []int) error { return nil }
func (stalledSink) Flush(ctx context.Context) error {
	<-ctx.Done()
	return ctx.Err()
}

// TestKeptSinkCloseEndsWithItsGeneration: a stage-2 generation's Close
// flushes the sink kept across generations within the generation's
// context for its sinks, which its job cancels when a stop does not drain
// within 'drain.timeout'. It flushed with a context nothing cancelled, so a
// stopping generation whose flush waited for a cluster that answered slowly
// or not at all held its process past the drain timeout (seen under -race
// at load 15-20: a stage 2 stopped by a rebalance still in its last flush
// when its drain timer fired).
func TestKeptSinkCloseEndsWithItsGeneration(t *testing.T) {
	k := &keptSink{Sink: stalledSink{}}
	for gen := range 2 {
		ctx, cancel := context.WithCancel(context.Background())
		if err := k.Open(ctx, nil, nil); err != nil {
			t.Fatal(err)
		}
		cancel() // the generation's drain timeout passed
		done := make(chan error, 1)
		go func() { done <- k.Close() }()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("generation %d: Close returned %v, want the cancellation of its sinks' context", gen, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("generation %d: Close still flushing 10s after its sinks' context was cancelled", gen)
		}
	}
}

package job

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/record"
)

// stalledDLQ is a dead-letter queue on a cluster that no longer answers,
// its producer's buffer full: Add waits for ever, AddContext until its
// context ends.
type stalledDLQ struct{ added chan struct{} }

func (q *stalledDLQ) Add(connector.DeadLetter) { select {} }

func (q *stalledDLQ) AddContext(ctx context.Context, _ connector.DeadLetter) {
	select {
	case q.added <- struct{}{}:
	default:
	}
	<-ctx.Done()
}

// TestStopWithStalledDeadLetterQueue: a job stopped while a worker waits
// to add a dead letter to a queue whose cluster no longer answers ends
// within its drain timeout, failed: the worker's wait ends with the job's
// context for its sinks (ContextAdder). It waited with no context, so the
// stop waited for the worker for as long as the queue did (a Kafka queue:
// its 2-minute delivery timeout).
func TestStopWithStalledDeadLetterQueue(t *testing.T) {
	var input [][]mem.Message
	for range 2 {
		var part []mem.Message
		for i := range 50 {
			part = append(part, mem.Message{Fields: map[string]record.Value{"k": record.StringValue("bad"), "v": record.IntValue(int64(i))}, Timestamp: int64(i)})
		}
		input = append(input, part)
	}
	q := &stalledDLQ{added: make(chan struct{}, 1)}
	cfg := baseConfig(t, &fakeProgram{mode: "pass"}, "hash", 2, mem.NewSource("in", input, mem.Pace(time.Millisecond)), &mem.Sink{})
	cfg.DLQ, cfg.DrainTimeout = q, 200*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-q.added
		cancel()
	}()
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, cfg)
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "did not drain") {
			t.Errorf("Run = %v, want the drain timeout's error", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the stopped job still runs 20s after its 200ms drain timeout: a worker waits on the dead-letter queue")
	}
}

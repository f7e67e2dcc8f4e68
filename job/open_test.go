package job

import (
	"context"
	"testing"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/record"
)

// slowOpen is a source whose Open waits until the job is stopped and then
// fails with the context's error, as a Kafka source listing offsets does.
type slowOpen struct {
	*mem.Source
	opening chan struct{}
}

func (s *slowOpen) Open(ctx context.Context, _ *record.Schema, _ connector.DeadLetters) (<-chan connector.PartitionReader, error) {
	close(s.opening)
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestStoppedWhileOpening: a job stopped before its source has opened is
// interrupted, not failed: it read nothing.
func TestStoppedWhileOpening(t *testing.T) {
	src := &slowOpen{Source: mem.NewSource("t", nil), opening: make(chan struct{})}
	cfg := baseConfig(t, &fakeProgram{}, "hash", 2, src, &mem.Sink{})
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-src.opening
		cancel()
	}()
	sum, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("Run: %v, want an interrupted run without error", err)
	}
	if !sum.Interrupted || sum.Failed {
		t.Fatalf("summary interrupted=%v failed=%v, want interrupted and not failed", sum.Interrupted, sum.Failed)
	}
}

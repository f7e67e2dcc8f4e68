package pipe_test

import (
	"context"
	"maps"
	"sync"
	"testing"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/connector/pipe"
	"github.com/sluicesql/sluice/job"
)

// TestGateKeepsCheckpoints: the gate of a source that stores the job's
// checkpoint with its offsets (a Kafka consumer-group member aligned with
// its topic, whose next owner of a partition fences its replay with it)
// is a connector.Checkpointer too, and its commits reach the source with
// their checkpoint, once the reading job committed the rows before them.
func TestGateKeepsCheckpoints(t *testing.T) {
	msgs := messages(2, 3000)
	src := &checkpointSource{Source: mem.NewSource("t", msgs)}
	s := pipe.New("evens")
	var gated connector.Source = pipe.NewGate(src, []*pipe.Stream{s})
	if _, ok := gated.(connector.Checkpointer); !ok {
		t.Fatalf("the gate of a connector.Checkpointer is a %T, which is not one: its commits lose their checkpoints", gated)
	}
	upCfg, prog := config(t, "CREATE STREAM evens AS SELECT k, x FROM t WHERE x % 2 = 0", gated, nil, s.Sink())
	s.Configure("evens", connector.Schema{Columns: prog.OutputSchema()}, prog.KeySlots(), upCfg.Partitions, src.Facts().Partitions, true)
	out := &mem.Sink{}
	downCfg, _ := config(t, "SELECT k, x FROM evens", s.Source(), s.Schema().Columns.Names(), out)
	errs := make(chan error, 2)
	go func() { _, err := job.Run(context.Background(), upCfg); errs <- err }()
	go func() { _, err := job.Run(context.Background(), downCfg); errs <- err }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.commits > 0 {
		t.Errorf("%d commits without a checkpoint", src.commits)
	}
	for p := range int32(2) {
		if src.offsets[p] != 3000 || src.read[p] != 3000 {
			t.Errorf("partition %d: committed %d with a checkpoint read to %d, want 3000 and 3000", p, src.offsets[p], src.read[p])
		}
	}
}

// checkpointSource is a memory source that notes the checkpoints committed
// with its offsets.
type checkpointSource struct {
	*mem.Source
	mu      sync.Mutex
	commits int // Commit calls (no checkpoint)
	offsets map[int32]int64
	read    map[int32]int64
}

func (s *checkpointSource) Commit(ctx context.Context, offsets map[int32]int64) error {
	s.mu.Lock()
	s.commits++
	s.mu.Unlock()
	return s.Source.Commit(ctx, offsets)
}

func (s *checkpointSource) CommitCheckpoint(ctx context.Context, offsets map[int32]int64, cp connector.Checkpoint) error {
	s.mu.Lock()
	if s.offsets == nil {
		s.offsets, s.read = map[int32]int64{}, map[int32]int64{}
	}
	maps.Copy(s.offsets, offsets)
	maps.Copy(s.read, cp.Read)
	s.mu.Unlock()
	return s.Source.Commit(ctx, offsets)
}

func (s *checkpointSource) Restored() (connector.Checkpoint, bool) {
	return connector.Checkpoint{}, false
}

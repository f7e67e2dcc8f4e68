package job

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/record"
)

// sharedSource is a live source whose readers share one feed and must
// all be read at once (connector.AllAtOnce), as a Kafka source's do; it
// notes the partitions read from.
type sharedSource struct {
	*mem.Source
	mu   sync.Mutex
	read map[int32]bool
}

func (s *sharedSource) ReadAllAtOnce() bool { return true }

func (s *sharedSource) Open(ctx context.Context, schema *record.Schema, dlq connector.DeadLetters) (<-chan connector.PartitionReader, error) {
	in, err := s.Source.Open(ctx, schema, dlq)
	if err != nil {
		return nil, err
	}
	out := make(chan connector.PartitionReader, cap(in))
	go func() {
		defer close(out)
		for rd := range in {
			out <- notedReader{rd, s}
		}
	}()
	return out, nil
}

func (s *sharedSource) partitionsRead() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.read)
}

type notedReader struct {
	connector.PartitionReader
	s *sharedSource
}

func (r notedReader) Next(ctx context.Context, b *record.Batch, max int) error {
	err := r.PartitionReader.Next(ctx, b, max)
	if len(b.Records) > 0 {
		r.s.mu.Lock()
		r.s.read[r.Partition()] = true
		r.s.mu.Unlock()
	}
	return err
}

// TestAllAtOnceReadsEveryPartition: the partitions of a source whose
// readers must all be read at once are, beyond Config.Readers: those of
// an unbounded source never end to give their turn to the rest, which
// were never read (a Kafka topic of more than 64 partitions in one
// process), and a reader left waiting would fill its queue and stop the
// feed of all (e2e TestEveryPartitionRead shows it on Kafka).
func TestAllAtOnceReadsEveryPartition(t *testing.T) {
	const parts = 4
	src := &sharedSource{Source: mem.NewSource("in", genInput(3, parts, 50), mem.Live(5*time.Millisecond)), read: map[int32]bool{}}
	cfg := baseConfig(t, &fakeProgram{mode: "window", size: 100}, "hash", 2, src, &mem.Sink{})
	cfg.Readers = 1
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, cfg)
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for src.partitionsRead() < parts && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	got := src.partitionsRead()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got < parts {
		t.Fatalf("%d of %d partitions read with Readers 1: a reader of a source read all at once waited for a turn that never came", got, parts)
	}
}

package job

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/mem"
)

// ackDLQ is a dead-letter queue whose entries become durable only on Flush,
// like a Kafka topic's produce acknowledgements.
type ackDLQ struct {
	mu      sync.Mutex
	pending []connector.DeadLetter
	acked   map[[2]int64]bool // partition, offset
	flushes int
}

func (q *ackDLQ) Add(d connector.DeadLetter) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pending = append(q.pending, d)
}

func (q *ackDLQ) Flush(context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, d := range q.pending {
		q.acked[[2]int64{int64(d.Partition), d.Offset}] = true
	}
	q.pending = q.pending[:0]
	q.flushes++
	return nil
}

func (q *ackDLQ) Topic() string { return "dead" }

// isAcked reports whether the dead letter of partition p, offset o is durable.
func (q *ackDLQ) isAcked(p int32, o int64) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.acked[[2]int64{int64(p), o}]
}

// checkedSource fails a commit that covers a record whose dead letter is
// not yet durable.
type checkedSource struct {
	*mem.Source
	dlq     *ackDLQ
	bad     map[int32][]int64 // offsets of the undecodable messages per partition
	commits atomic.Int64
}

func (s *checkedSource) Commit(ctx context.Context, offsets map[int32]int64) error {
	for p, next := range offsets {
		for _, o := range s.bad[p] {
			if o < next && !s.dlq.isAcked(p, o) {
				return fmt.Errorf("commit of partition %d at %d before the dead letter of offset %d is durable", p, next, o)
			}
		}
	}
	s.commits.Add(1)
	return s.Source.Commit(ctx, offsets)
}

// TestCommitWaitsForDeadLetters runs a job whose DLQ acknowledges entries
// only when flushed: no commit, periodic or final, may cover a dead-lettered
// record before its entry is durable; the summary names the DLQ topic and
// no dead-letter file is written.
func TestCommitWaitsForDeadLetters(t *testing.T) {
	input := genInput(11, 3, 400)
	bad := map[int32][]int64{}
	for p := range input {
		for i := 7 + p; i < len(input[p]); i += 53 {
			input[p][i] = mem.Message{Raw: []byte(fmt.Sprintf("bad %d/%d", p, i))}
			bad[int32(p)] = append(bad[int32(p)], int64(i))
		}
	}
	dlq := &ackDLQ{acked: map[[2]int64]bool{}}
	src := &checkedSource{Source: mem.NewSource("in", input, mem.Pace(2*time.Millisecond)), dlq: dlq, bad: bad}
	cfg := baseConfig(t, &fakeProgram{mode: "pass"}, "hash", 2, src, &mem.Sink{})
	cfg.BatchSize, cfg.CommitInterval, cfg.DLQ = 16, 5*time.Millisecond, dlq
	sum, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkBalance(t, sum, countMessages(input))
	nbad := 0
	for p, offs := range bad {
		nbad += len(offs)
		if got, want := src.Committed()[p], int64(len(input[p])); got != want {
			t.Errorf("partition %d committed at %d, want %d", p, got, want)
		}
	}
	if src.commits.Load() < 2 || dlq.flushes < 2 {
		t.Errorf("%d commits and %d DLQ flushes, want periodic ones before the final", src.commits.Load(), dlq.flushes)
	}
	if sum.DeadLetters != int64(nbad) || sum.DLQTopic != "dead" || sum.DLQPath != "" {
		t.Errorf("dead letters %d (want %d), topic %q, path %q", sum.DeadLetters, nbad, sum.DLQTopic, sum.DLQPath)
	}
	if _, err := os.Stat(cfg.DLQPath); !os.IsNotExist(err) {
		t.Errorf("dead-letter file written with a DLQ given: %v", err)
	}
}

package job

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/record"
)

// TestOnBatch checks that the hook sees every batch a worker processed:
// per partition, its record counts add up to the records the partition got.
func TestOnBatch(t *testing.T) {
	input := genInput(3, 3, 500)
	var mu sync.Mutex
	records := map[int]int64{}
	calls := 0
	cfg := baseConfig(t, &fakeProgram{mode: "pass"}, "hash", 3, mem.NewSource("in", input), &mem.Sink{})
	cfg.OnBatch = func(p, n int, d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if n <= 0 || n > cfg.BatchSize || d < 0 {
			t.Errorf("partition %d: batch of %d records in %v", p, n, d)
		}
		records[p] += int64(n)
	}
	sum, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkBalance(t, sum, countMessages(input))
	mu.Lock()
	defer mu.Unlock()
	if calls == 0 {
		t.Fatal("OnBatch never called")
	}
	for p, s := range sum.Partitions {
		if records[p] != s.In {
			t.Errorf("partition %d: OnBatch saw %d records, the partition got %d", p, records[p], s.In)
		}
	}
	if len(records) > len(sum.Partitions) {
		t.Errorf("OnBatch reported partitions %v of %d", records, len(sum.Partitions))
	}
}

// slowProgram is fakeProgram whose pipelines take delay per batch.
type slowProgram struct {
	*fakeProgram
	delay time.Duration
}

func (p slowProgram) NewPipeline() Pipeline {
	return slowPipe{p.fakeProgram.NewPipeline(), p.delay}
}

type slowPipe struct {
	Pipeline
	delay time.Duration
}

func (s slowPipe) Process(recs []record.Record, out Output) {
	time.Sleep(s.delay)
	s.Pipeline.Process(recs, out)
}

// TestBackpressureCounted makes one worker slower than its reader with a
// queue of one batch: the reader must wait, and the waits are counted.
func TestBackpressureCounted(t *testing.T) {
	input := genInput(4, 1, 800)
	cfg := baseConfig(t, slowProgram{&fakeProgram{mode: "pass"}, time.Millisecond}, "sticky", 1,
		mem.NewSource("in", input), &mem.Sink{})
	cfg.BatchSize, cfg.QueueSize = 16, 1
	sum, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkBalance(t, sum, countMessages(input))
	p := sum.Partitions[0]
	if p.BackpressureWaits == 0 || p.BackpressureWait <= 0 {
		t.Fatalf("no backpressure counted: %d waits, %v", p.BackpressureWaits, p.BackpressureWait)
	}
	if batches := (p.In + 15) / 16; p.BackpressureWaits > batches {
		t.Errorf("%d waits for at most %d batches", p.BackpressureWaits, batches)
	}
	if sum.Total.BackpressureWaits != p.BackpressureWaits || sum.Total.BackpressureWait != p.BackpressureWait {
		t.Errorf("total %d waits, %v; partition %d, %v", sum.Total.BackpressureWaits, sum.Total.BackpressureWait,
			p.BackpressureWaits, p.BackpressureWait)
	}
}

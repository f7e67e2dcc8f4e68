package job

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/record"
)

// outageSink acknowledges flushes until it has taken more than okRows rows;
// then its broker is gone: every Flush fails, as a Kafka producer's does
// when its records are not acknowledged.
type outageSink struct {
	mem.Sink
	okRows int

	mu             sync.Mutex
	written, acked int
}

func (s *outageSink) Write(ctx context.Context, rows []record.Record) error {
	s.mu.Lock()
	s.written += len(rows)
	s.mu.Unlock()
	return s.Sink.Write(ctx, rows)
}

func (s *outageSink) Flush(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.written > s.okRows {
		return errors.New("produce: not acknowledged: broker unreachable")
	}
	s.acked = s.written
	return s.Sink.Flush(ctx)
}

// TestSinkOutageSummary: a run whose sink stops acknowledging says it
// failed, and counts as written only the rows the sink acknowledged.
func TestSinkOutageSummary(t *testing.T) {
	input := genInput(5, 2, 400)
	sink := &outageSink{okRows: 150}
	src := mem.NewSource("in", input, mem.Pace(200*time.Microsecond))
	cfg := baseConfig(t, &fakeProgram{mode: "pass"}, "hash", 2, src, sink)
	cfg.BatchSize, cfg.CommitInterval = 8, 2*time.Millisecond
	sum, err := Run(context.Background(), cfg)
	if err == nil {
		t.Fatal("the run succeeded through a sink outage")
	}
	if sum == nil || !sum.Failed {
		t.Fatalf("summary %+v: want Failed", sum)
	}
	sink.mu.Lock()
	written, acked := sink.written, sink.acked
	sink.mu.Unlock()
	if sum.RowsWritten != int64(acked) || written <= acked {
		t.Errorf("rows written %d; the sink took %d and acknowledged %d", sum.RowsWritten, written, acked)
	}
}

// TestSummaryStates: a run that ends normally is neither failed nor
// interrupted; a cancelled one is interrupted.
func TestSummaryStates(t *testing.T) {
	sum, err := Run(context.Background(), baseConfig(t, &fakeProgram{mode: "pass"}, "hash", 2,
		mem.NewSource("in", genInput(6, 2, 100)), &mem.Sink{}))
	if err != nil || sum.Failed || sum.Interrupted {
		t.Fatalf("clean run: err %v, failed %v, interrupted %v", err, sum.Failed, sum.Interrupted)
	}
	if sum.RowsWritten != sum.Total.Accepted {
		t.Errorf("clean run: rows written %d, accepted %d", sum.RowsWritten, sum.Total.Accepted)
	}
	ctx, cancel := context.WithCancel(context.Background())
	src := mem.NewSource("in", genInput(7, 1, 100), mem.Live(time.Millisecond))
	time.AfterFunc(20*time.Millisecond, cancel)
	sum, err = Run(ctx, baseConfig(t, &fakeProgram{mode: "pass"}, "hash", 1, src, &mem.Sink{}))
	if err != nil || sum.Failed || !sum.Interrupted {
		t.Fatalf("cancelled run: err %v, failed %v, interrupted %v", err, sum.Failed, sum.Interrupted)
	}
}

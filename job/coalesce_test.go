package job

import (
	"context"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/mem"
)

// TestChangesFlowWhileTheInputIsSlow: a worker coalesces EMIT CHANGES rows
// only while messages queue up; on a slow stream every change reaches the
// sink while the job still runs, not at the end.
func TestChangesFlowWhileTheInputIsSlow(t *testing.T) {
	input := keyedInput(3, 2, 400)
	for p := range input {
		for i := range input[p] {
			input[p][i].Timestamp = 1_700_000_000_000 // one event time: the watermark never moves
		}
	}
	_, cfg, err := planned(t, "SELECT k, COUNT(*) AS c FROM t GROUP BY k EMIT CHANGES", "always_hash", 2, len(input))
	if err != nil {
		t.Fatal(err)
	}
	sink := &mem.Sink{}
	cfg.Sources = []connector.Source{mem.NewSource("t", input, mem.Live(time.Millisecond), mem.Pace(2*time.Millisecond))}
	cfg.Sinks = []connector.Sink{sink}
	// no barriers and no watermark moves: only the worker's own rule lets
	// the changes out
	cfg.BatchSize, cfg.Linger, cfg.CommitInterval = 8, time.Millisecond, -1
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := Run(ctx, cfg)
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for len(sink.Rows()) < 20 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	rows := len(sink.Rows())
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if rows < 20 {
		t.Fatalf("%d change rows reached the sink while the slow input ran, want them to flow (20 or more)", rows)
	}
}

package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/internal/kafkatest"
)

// cutAtDoneMarker is a repartition producer's hook: when the producer
// takes its first done marker (a control record of kind 'd'), the
// process's network goes (kill, as kill -9) and its run is stopped.
type cutAtDoneMarker struct {
	once sync.Once
	at   chan time.Time // when it cut
	cut  func()
}

// OnProduceRecordBuffered implements kgo.HookProduceRecordBuffered.
func (h *cutAtDoneMarker) OnProduceRecordBuffered(r *kgo.Record) {
	for _, hd := range r.Headers {
		if hd.Key == "sluice.control" && len(hd.Value) > 0 && hd.Value[0] == 'd' {
			h.once.Do(func() {
				h.cut()
				h.at <- time.Now()
			})
		}
	}
}

// TestStopWhileMarkingDoneIsBounded: a process stopped while it writes the
// done markers of a bounded repartitioned run, its connections dead and its
// repartition producer's buffer full (a report, a marker wait for room),
// ends within its drain timeout and a few seconds, not after Kafka's
// delivery timeout (2 minutes): the producer's progress reports and the
// done markers give up once the run stops (a marker not acknowledged is
// not committed: whoever resumes the partition reads it from its last
// commit).
func TestStopWhileMarkingDoneIsBounded(t *testing.T) {
	t.Parallel()
	brokers := startCluster(t, "trades")
	produce(t, brokers, "trades", keyBy(genTrades(t, 500, 20), byTrader))
	ctx, cancel := testContext(t)
	defer cancel()
	var net kafkatest.Cutter
	var s *stage
	hook := &cutAtDoneMarker{at: make(chan time.Time, 1), cut: func() { net.Kill(); s.cancel() }}
	text := strings.Replace(fmt.Sprintf(perSymbolWindow, kafkaTrades(brokers, "group.id", "stop-marking"), filepath.Join(t.TempDir(), "out.jsonl")),
		"'commit.interval'", "'drain.timeout'='1s', 'commit.interval'", 1)
	s = prepareStage(t, ctx, text, func(client string) []kgo.Opt {
		opts := []kgo.Opt{kgo.Dialer(net.Dial)}
		if strings.HasPrefix(client, "repartition:") {
			opts = append(opts, kgo.WithHooks(hook), kgo.MaxBufferedRecords(1))
		}
		return opts
	})
	s.start()
	var cut time.Time
	select {
	case cut = <-hook.at:
	case <-s.done:
		t.Fatalf("the run ended without writing a done marker: %v", s.err)
	case <-ctx.Done():
		t.Fatal("no done marker")
	}
	endedWithin(t, stopWithin, s.done, "the stopped process")
	t.Logf("the stopped process ended %s after its stop", time.Since(cut).Round(100*time.Millisecond))
}

// stopWithin bounds how long the stopped process of
// TestStopWhileMarkingDoneIsBounded takes to end: its drain timeout (1s),
// the done markers' grace and the producer's abort, with room for a slow
// machine under -race (30s was passed once there, at load 3-5), below the
// 2-minute delivery timeout the stop waited for before the fix (and it
// hung for good when the producer's buffer was full).
const stopWithin = 100 * time.Second

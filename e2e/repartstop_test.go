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
// takes its first done marker (a control record of kind 'd'), cut runs
// (the process's network goes, as with kill -9, and its run is stopped).
type cutAtDoneMarker struct {
	once sync.Once
	at   chan time.Time // when the run was stopped
	cut  func() time.Time
}

// OnProduceRecordBuffered implements kgo.HookProduceRecordBuffered.
func (h *cutAtDoneMarker) OnProduceRecordBuffered(r *kgo.Record) {
	for _, hd := range r.Headers {
		if hd.Key == "sluice.control" && len(hd.Value) > 0 && hd.Value[0] == 'd' {
			h.once.Do(func() { h.at <- h.cut() })
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
// commit). The producer's network goes a few progress reports (100ms
// apart) before the rest, so that a periodic report waits for room,
// holding the order of the producing, when stage 1 drains: its last flush
// waited for that report, which only the producer's abort after the drain
// let go, and the stop did not end for minutes. Without the fix it fails
// in about half the runs (a flush before a commit may take the order
// first; with the whole network cut at once, under -race on a loaded
// machine, 2 in 10); TestShuffleFlushNotBehindABlockedReport pins it.
func TestStopWhileMarkingDoneIsBounded(t *testing.T) {
	t.Parallel()
	brokers := startCluster(t, "trades")
	produce(t, brokers, "trades", keyBy(genTrades(t, 500, 20), byTrader))
	ctx, cancel := testContext(t)
	defer cancel()
	// the repartition producer's network goes first: its periodic reports
	// wait for room while the group still gives stage 1 its partitions
	var net, producerNet kafkatest.Cutter
	var s *stage
	hook := &cutAtDoneMarker{at: make(chan time.Time, 1), cut: func() time.Time {
		producerNet.Kill()
		time.Sleep(reportsBeforeStop)
		net.Kill()
		s.cancel()
		return time.Now()
	}}
	text := strings.Replace(fmt.Sprintf(perSymbolWindow, kafkaTrades(brokers, "group.id", "stop-marking"), filepath.Join(t.TempDir(), "out.jsonl")),
		"'commit.interval'", fmt.Sprintf("'drain.timeout'='%s', 'commit.interval'", drainTimeout), 1)
	s = prepareStage(t, ctx, text, func(client string) []kgo.Opt {
		if strings.HasPrefix(client, "repartition:") {
			return []kgo.Opt{kgo.Dialer(producerNet.Dial), kgo.WithHooks(hook), kgo.MaxBufferedRecords(1)}
		}
		return []kgo.Opt{kgo.Dialer(net.Dial)}
	})
	s.start()
	var stopped time.Time
	select {
	case stopped = <-hook.at:
	case <-s.done:
		t.Fatalf("the run ended without writing a done marker: %v", s.err)
	case <-ctx.Done():
		t.Fatal("no done marker")
	}
	endedWithin(t, stopWithin, s.done, "the stopped process")
	t.Logf("the stopped process ended %s after its stop", time.Since(stopped).Round(100*time.Millisecond))
}

const (
	// drainTimeout is the stopped process's 'drain.timeout'.
	drainTimeout = time.Second
	// reportsBeforeStop is how long after the repartition producer's
	// network went the rest goes and the process is stopped: a few of the
	// producer's progress reports.
	reportsBeforeStop = 300 * time.Millisecond
	// stopWithin bounds how long the stopped process takes to end: its
	// drain timeout, then the producer's abort (5s; the done markers'
	// grace, 5s, runs beside), and room for a loaded machine under -race.
	stopWithin = drainTimeout + 5*time.Second + 10*time.Second
)

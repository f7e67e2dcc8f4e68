package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/runner"
)

// TestRepartitionedIdlePartitions: an unbounded repartitioned statement
// whose source has partitions without records (and, once read, partitions
// that get no more) still fires its windows: stage 1 reports a source
// partition idle after 'watermark.idle_timeout' without records, and stage
// 2's watermark then leaves it out, as one process's does. Two processes
// write every window up to the highest event time, each once.
func TestRepartitionedIdlePartitions(t *testing.T) {
	t.Parallel()
	brokers := startCluster(t, "trades", "windows")
	// only the traders whose records go to partitions 0 to 3: 4 to 7 stay empty
	var trades []trade
	for _, tr := range genTrades(t, 6000, 40) {
		if kafka.Partition([]byte(tr.trader), kafkaPartitions) < 4 {
			trades = append(trades, tr)
		}
	}
	produce(t, brokers, "trades", keyBy(trades, byTrader))
	const q = `CREATE STREAM per_symbol AS
SELECT symbol, _WINDOW_START AS w, COUNT(*) AS n, SUM(quantity) AS qty
FROM trades
GROUP BY symbol
WINDOW TUMBLING(trade_time, INTERVAL '100' MILLISECOND)
EMIT FINAL
WITH (%s, 'per_symbol.type'='file_sink', 'per_symbol.path'='%s', 'commit.interval'='50ms',
      'watermark.idle_timeout'='300ms', 'watermark.max_out_of_orderness'='0ms')`
	// every window but those the highest event time has not passed
	var last time.Time
	for _, tr := range trades {
		var f struct {
			At time.Time `json:"trade_time"`
		}
		if err := json.Unmarshal(tr.line, &f); err != nil {
			t.Fatal(err)
		}
		if f.At.After(last) {
			last = f.At
		}
	}
	var want []string
	for _, line := range singleProcessOf(t, q, trades) {
		var r struct {
			W time.Time `json:"w"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatal(err)
		}
		if !r.W.Add(100 * time.Millisecond).After(last) {
			want = append(want, line)
		}
	}
	if len(want) < 100 {
		t.Fatalf("%d windows to fire: the test checks little", len(want))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// the windows go to a topic: a file sink shows its file only at the end
	text := strings.Replace(fmt.Sprintf(q, kafkaTrades(brokers, "group.id", "idle", "session.timeout.ms", "6000"), "-"),
		"'per_symbol.type'='file_sink', 'per_symbol.path'='-'",
		fmt.Sprintf("'per_symbol.type'='kafka_sink', 'per_symbol.topic.name'='windows', 'per_symbol.bootstrap.servers'='%s'", brokers), 1)
	var procs []*stage
	for range 2 {
		s := &stage{done: make(chan struct{})}
		runCtx, stop := context.WithCancel(ctx)
		s.cancel = stop
		j := prepare(t, runCtx, text, runner.Options{Partitions: 2})
		if j.Plan.Repartition == nil {
			t.Fatal("not repartitioned")
		}
		go func() {
			defer close(s.done)
			s.sum, s.err = j.Run(runCtx)
		}()
		procs = append(procs, s)
	}
	lines := func() []string {
		var all []string
		for _, r := range readTopic(t, brokers, "windows") {
			all = append(all, string(r.Value))
		}
		return all
	}
	waitWithin(t, 60*time.Second, "the windows to fire although half the source partitions have no records", func() bool {
		return len(windowLines(t, lines())) >= len(want)
	})
	for i, p := range procs {
		p.cancel()
		<-p.done
		if p.err != nil {
			t.Errorf("process %d: %v", i, p.err)
		}
	}
	sameLines(t, "windows of two unbounded processes with idle source partitions", windowLines(t, lines()), want)
}

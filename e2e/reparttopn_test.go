package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/internal/kafkatest"
	"github.com/sluicesql/sluice/runner"
)

// topPerSymbol is the unaligned Top-N of the repartition tests: the three
// largest trades of each symbol by size bucket (many ties, which rank by
// the trades' places in the source), over a topic keyed by trader_id,
// written as updates keyed by the symbol and the rank. %s is the source's
// WITH properties and %s the output topic.
const topPerSymbol = `CREATE STREAM top_symbol AS
SELECT symbol, trader_id, quantity, ROW_NUMBER() OVER (PARTITION BY symbol ORDER BY quantity / 100 DESC) AS rn
FROM trades
QUALIFY rn <= 3
WITH (%s, 'top_symbol.type'='kafka_sink', 'top_symbol.topic.name'='%s', 'top_symbol.bootstrap.servers'='%s', 'commit.interval'='50ms')`

// TestRepartitionedTopNSurvivesKill runs an unaligned Top-N (EMIT
// CHANGES) in three processes of one group over 8 partitions, unbounded:
// once they have committed the first half of the input, one is killed (its
// connections cut, as by kill -9), the second half is produced and two
// more processes start. The last update of each (symbol, rank) is the one
// process's, reading the topic in one stage: a replay after the rebalance
// ranks a key's top rows (read before the kill) again with the later
// ones, and tied rows rank by their places in the source, not in the
// repartition topic, whatever the processes' timing.
func TestRepartitionedTopNSurvivesKill(t *testing.T) {
	t.Parallel()
	brokers := startCluster(t, "trades", "want", "got")
	trades := genTrades(t, 12000, 40)
	msgs := keyBy(trades, byTrader)
	produce(t, brokers, "trades", msgs[:6000])
	ctx, cancel := testContext(t)
	defer cancel()

	text := fmt.Sprintf(topPerSymbol, kafkaTrades(brokers, "group.id", "g", "session.timeout.ms", "6000"), "got", brokers)
	victim := &kafkatest.Cutter{}
	procs := []*stage{runUnbounded(t, ctx, strings.Replace(text, "'commit.interval'", "'drain.timeout'='1s', 'commit.interval'", 1), victim),
		runUnbounded(t, ctx, text, &kafkatest.Cutter{}), runUnbounded(t, ctx, text, &kafkatest.Cutter{})}
	defer func() {
		for _, p := range procs {
			p.cancel()
		}
		for i, p := range procs {
			ended(t, p.done, fmt.Sprint("process ", i))
		}
	}()
	waitFor(t, "stage 2 ranks the first half", func() bool {
		return committedSum(ctx, brokers, "g") == 6000 && len(lastPerKey(t, brokers, "got")) == 150
	})
	victim.Kill()
	produce(t, brokers, "trades", msgs[6000:])
	procs = append(procs, runUnbounded(t, ctx, text, &kafkatest.Cutter{}), runUnbounded(t, ctx, text, &kafkatest.Cutter{}))

	runToEnd(t, fmt.Sprintf(topPerSymbol, kafkaTrades(brokers, "group.id", "one", "stop.at", "end")+", 'repartition'='false'", "want", brokers))
	want := lastPerKey(t, brokers, "want")
	if len(want) != 150 {
		t.Fatalf("one process wrote %d ranks, want 3 of each of 50 symbols", len(want))
	}
	// the processes never end: wait until they wrote the one process's
	// top rows (a wrong result shows as the difference once time is up)
	got := lastPerKey(t, brokers, "got")
	for deadline := testDeadline(t); !slices.Equal(got, want) && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		got = lastPerKey(t, brokers, "got")
	}
	sameLines(t, "last update of each rank", got, want)
}

// runUnbounded starts the statement text in a process that reads on until
// its context ends, its Kafka connections made through net.
func runUnbounded(t *testing.T, ctx context.Context, text string, net *kafkatest.Cutter) *stage {
	t.Helper()
	s := &stage{done: make(chan struct{})}
	runCtx, cancel := context.WithCancel(ctx)
	s.cancel = cancel
	j := prepare(t, runCtx, text, runner.Options{Partitions: 2,
		KafkaOpts: func(string, string) []kgo.Opt { return []kgo.Opt{kgo.Dialer(net.Dial)} }})
	if j.Plan.Repartition == nil {
		t.Fatalf("statement not repartitioned:\n%s", text)
	}
	go func() {
		defer close(s.done)
		s.sum, s.err = j.Run(runCtx)
	}()
	return s
}

// lastPerKey returns the last value written to topic under each message
// key, sorted: the updates' result.
func lastPerKey(t *testing.T, brokers, topic string) []string {
	t.Helper()
	last := map[string]string{}
	for _, r := range readTopic(t, brokers, topic) {
		last[string(r.Key)] = string(r.Value)
	}
	out := make([]string, 0, len(last))
	for _, v := range last {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

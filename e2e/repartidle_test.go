package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/internal/kafkatest"
	"github.com/sluicesql/sluice/runner"
)

// slowPartition is a kgo hook slowing a process's reading of one source
// partition, so that it lags behind the others.
type slowPartition struct{ partition int32 }

// OnFetchRecordUnbuffered implements kgo.HookFetchRecordUnbuffered.
func (s slowPartition) OnFetchRecordUnbuffered(r *kgo.Record, polled bool) {
	if polled && r.Topic == "trades" && r.Partition == s.partition {
		time.Sleep(300 * time.Microsecond)
	}
}

// TestRepartitionedUnboundedWatermarks runs an unaligned windowed GROUP BY
// unbounded in two processes and checks that stage 2's windows fire as one
// process's do, by the watermark of every source partition:
//
//   - with half the source partitions empty, the windows still fire: stage
//     1 reports a partition idle after 'watermark.idle_timeout' without
//     records, and stage 2's watermark then leaves it out (once every
//     partition is read and idle, every window up to the highest event time
//     fires);
//   - with every partition busy, one read slowly, and an idle timeout of an
//     hour, no window fires before the slow partition's records reached it
//     (no record is late): the windows up to the lowest of the partitions'
//     highest event times fire, each with all its records, and without
//     waiting for any partition to go idle, also when the second process
//     joins after the first read some partitions to their end (a lull for
//     those partitions): the first reports them a last time after the
//     records its handover wrote.
func TestRepartitionedUnboundedWatermarks(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		parts int32  // the source partitions that get records
		props string // more WITH entries
		slow  bool   // partition 0 is read slowly
	}{
		{"idle partitions", 4, ", 'watermark.idle_timeout'='5s'", false}, // long enough that a busy partition is not idle between two fetches, under load
		{"slow partition", kafkaPartitions, ", 'watermark.idle_timeout'='1h'", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			brokers := startCluster(t, "trades", "windows")
			var trades []trade
			for _, tr := range genTrades(t, 8000, 40) {
				if kafka.Partition([]byte(tr.trader), kafkaPartitions) < tt.parts {
					trades = append(trades, tr)
				}
			}
			produce(t, brokers, "trades", keyBy(trades, byTrader))
			q := `CREATE STREAM per_symbol AS
SELECT symbol, _WINDOW_START AS w, COUNT(*) AS n, SUM(quantity) AS qty
FROM trades
GROUP BY symbol
WINDOW TUMBLING(trade_time, INTERVAL '100' MILLISECOND)
EMIT FINAL
WITH (%s, 'per_symbol.type'='file_sink', 'per_symbol.path'='%s', 'commit.interval'='50ms',
      'watermark.max_out_of_orderness'='0ms'` + tt.props + `)`
			// the watermark the run reaches: the highest event time once
			// every partition is idle, else the lowest partition's highest
			highest := map[int32]time.Time{}
			for _, tr := range trades {
				var f struct {
					At time.Time `json:"trade_time"`
				}
				if err := json.Unmarshal(tr.line, &f); err != nil {
					t.Fatal(err)
				}
				if p := kafka.Partition([]byte(tr.trader), kafkaPartitions); f.At.After(highest[p]) {
					highest[p] = f.At
				}
			}
			var reach time.Time
			for _, at := range highest {
				if reach.IsZero() || (tt.slow && at.Before(reach)) || (!tt.slow && at.After(reach)) {
					reach = at
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
				if !r.W.Add(100 * time.Millisecond).After(reach) {
					want = append(want, line)
				}
			}
			if len(want) < 100 {
				t.Fatalf("%d windows to fire: the test checks little", len(want))
			}

			ctx, cancel := testContext(t)
			defer cancel()
			// the windows go to a topic: a file sink shows its file only at the end
			text := strings.Replace(fmt.Sprintf(q, kafkaTrades(brokers, "group.id", "g", "session.timeout.ms", "6000"), "-"),
				"'per_symbol.type'='file_sink', 'per_symbol.path'='-'",
				fmt.Sprintf("'per_symbol.type'='kafka_sink', 'per_symbol.topic.name'='windows', 'per_symbol.bootstrap.servers'='%s'", brokers), 1)
			var procs []*stage
			for range 2 {
				s := &stage{done: make(chan struct{})}
				runCtx, stop := context.WithCancel(ctx)
				s.cancel = stop
				var opts []kgo.Opt
				if tt.slow {
					opts = append(opts, kgo.WithHooks(slowPartition{0}))
				}
				net := &kafkatest.Cutter{}
				j := prepare(t, runCtx, text, runner.Options{Partitions: 2,
					KafkaOpts: func(string, string) []kgo.Opt { return append([]kgo.Opt{kgo.Dialer(net.Dial)}, opts...) }})
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
			// When the second process joins after the first read some
			// partitions to their end, the new owner reads nothing
			// there and reports no watermark for them: the windows
			// wait for the first owner's last report of them, after
			// the records its handover wrote (before, they waited for
			// the idle timeout, here an hour)
			waitWithin(t, hangAfter(ctx), "the windows to fire", func() bool {
				return len(windowLines(t, lines())) >= len(want)
			})
			var late int64
			for i, p := range procs {
				p.stop(t, fmt.Sprint(i))
				if p.err != nil {
					t.Errorf("process %d: %v", i, p.err)
				}
				if p.sum != nil {
					late += p.sum.Total.Late
				}
			}
			if late > 0 {
				t.Errorf("%d records late, none in one process", late)
			}
			sameLines(t, "windows of two unbounded processes", windowLines(t, lines()), want)
		})
	}
}

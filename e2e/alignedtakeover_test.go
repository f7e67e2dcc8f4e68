package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/internal/kafkatest"
)

// TestAlignedSurvivorsTakeOverExactly runs windowed statements grouped by
// the source's partition key (aligned: no repartition topic) over
// disordered trades with allowed lateness, in three processes of a group
// over 8 partitions, the first slower than the others. Once the three
// hold partitions and have read a sixth of the records, the slow one is
// killed (as by kill -9, past its last commit) and not restarted: the two
// others, held until the group expired it, take its partitions over while
// they keep running. The output topic must hold exactly one process's
// rows: every row written for a message key is that key's row of one
// process (a window written again after the takeover is written the
// same), and the last one of each key (EMIT CHANGES: applied as a table)
// is one process's answer. Before a member ran its job once per
// assignment, a survivor's watermark stood where its own partitions had
// taken it, so the records of a partition it gained, replayed from the
// killed member's last commit, were late or fell in windows that had
// fired: a third of the TUMBLING windows and of the sessions were
// missing.
func TestAlignedSurvivorsTakeOverExactly(t *testing.T) {
	t.Parallel()
	const late = ", 'watermark.max_out_of_orderness'='50ms', 'window.allowed_lateness'='20ms', 'late.data.strategy'='drop'"
	cases := []struct {
		name, cols, window, emit string
	}{
		{"tumbling-final", "_WINDOW_START AS w,", "WINDOW TUMBLING(trade_time, INTERVAL '200' MILLISECOND)", "FINAL"},
		{"session-final", "_WINDOW_START AS w, _WINDOW_END AS e,", "WINDOW SESSION(trade_time, INTERVAL '60' MILLISECOND)", "FINAL"},
		{"tumbling-changes", "_WINDOW_START AS w,", "WINDOW TUMBLING(trade_time, INTERVAL '200' MILLISECOND)", "CHANGES"},
	}
	var topics []string
	for _, tt := range cases {
		topics = append(topics, "trades-"+tt.name, "out-"+tt.name)
	}
	// one cluster for every case; a short session timeout, so that the
	// group expires the killed process soon
	const session = time.Second
	c := kafkatest.Cluster(t, kfake.NumBrokers(3), kfake.SeedTopics(kafkaPartitions, topics...), kfake.GroupMinSessionTimeout(session))
	brokers := strings.Join(c.ListenAddrs(), ",")
	const total = 9000
	trades, _ := disorderedTrades(t, total, 40, 300)
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in, out, group := "trades-"+tt.name, "out-"+tt.name, "takeover-"+tt.name
			produce(t, brokers, in, keyBy(trades, byTrader))
			stmt := func(emit, src, sink string) string {
				return fmt.Sprintf(alignedPerTrader, tt.cols, tt.window, emit, src, sink, late)
			}
			one := filepath.Join(t.TempDir(), "one.jsonl")
			_, sum := runToEnd(t, stmt("FINAL", kafkaTrades(brokers, "topic.name", in, "partition.key", "trader_id"),
				fmt.Sprintf("'per_trader.type'='file_sink', 'per_trader.path'='%s'", one)))
			if sum.Total.Late == 0 {
				t.Fatal("no late records: the test checks nothing")
			}
			want := readLines(t, one)
			if len(want) < 20 {
				t.Fatalf("%d rows: too few to tell", len(want))
			}
			ctx, cancel := testContext(t)
			defer cancel()
			text := "-- @batch_size: 2\n" + stmt(tt.emit,
				kafkaTrades(brokers, "topic.name", in, "partition.key", "trader_id", "group.id", group, "session.timeout.ms", fmt.Sprint(session.Milliseconds())),
				fmt.Sprintf("'per_trader.type'='kafka_sink', 'per_trader.topic.name'='%s', 'per_trader.bootstrap.servers'='%s'", out, brokers))
			// Every process reads slowly until the group gave each some
			// partitions, and the victim more slowly than the others after
			// that, so that its commits fall behind their watermarks; once
			// it is killed the survivors wait until the group expired it:
			// they are still running when they take its partitions over.
			var done atomic.Int64
			var formed, killed, expired atomic.Bool
			pace := func(per time.Duration) func(int, int, time.Duration) {
				return func(_, n int, _ time.Duration) {
					done.Add(int64(n))
					d := per
					if !formed.Load() {
						d = 5 * time.Millisecond
					}
					time.Sleep(time.Duration(n) * d)
				}
			}
			held := func(p, n int, d time.Duration) {
				pace(300*time.Microsecond)(p, n, d)
				for killed.Load() && !expired.Load() && ctx.Err() == nil {
					time.Sleep(5 * time.Millisecond)
				}
			}
			victim := &kafkatest.Cutter{}
			// killed, the victim's stop cannot flush its sink: a drain
			// timeout bounds it (long enough for each rebalance's stop
			// of its slow job before)
			victimText := strings.Replace(text, "'commit.interval'", "'drain.timeout'='3s', 'commit.interval'", 1)
			// small fetches: a handover waits until the records fetched
			// of the partitions it revokes are processed
			small := kgo.FetchMaxPartitionBytes(2 << 10)
			procs := []*stage{startAligned(t, ctx, victimText, victim, pace(1500*time.Microsecond), small),
				startAligned(t, ctx, text, &kafkatest.Cutter{}, held, small), startAligned(t, ctx, text, &kafkatest.Cutter{}, held, small)}
			waitWithin(t, hangAfter(ctx), "every process given partitions", func() bool {
				for i, p := range procs {
					select {
					case <-p.done:
						t.Fatalf("process %d ended before every process had partitions (error %v), having read %d records", i, p.err, done.Load())
					default:
					}
				}
				shares := groupShares(t, ctx, brokers, group, in)
				return len(shares) == 3 && !slices.Contains(shares, 0)
			})
			formed.Store(true)
			from := done.Load()
			waitWithin(t, hangAfter(ctx), "records processed by the three", func() bool { return done.Load()-from >= total/6 })
			killed.Store(true)
			victim.Kill()
			procs[0].stop(t, "0")
			waitWithin(t, hangAfter(ctx), "the group to expire the killed process", func() bool { return len(groupShares(t, ctx, brokers, group, in)) == 2 })
			expired.Store(true)
			for i, p := range procs[1:] {
				p.wait(t, ctx, fmt.Sprint(i+1))
			}
			rows := map[string][]string{}
			for _, r := range readTopic(t, brokers, out) {
				k := string(r.Key)
				if r.Value == nil {
					delete(rows, k)
					continue
				}
				rows[k] = append(rows[k], string(r.Value))
			}
			var got []string
			for k, vs := range rows {
				if distinct := slices.Compact(slices.Sorted(slices.Values(vs))); tt.emit == "FINAL" && len(distinct) > 1 {
					t.Errorf("key %s: different rows %q", k, vs)
				}
				got = append(got, vs[len(vs)-1])
			}
			slices.Sort(got)
			slices.Sort(want)
			sameLines(t, "rows", got, want)
		})
	}
}

// groupShares returns how many partitions of topic the group assigns to
// each of its members now (nil when the cluster does not say).
func groupShares(t *testing.T, ctx context.Context, brokers, group, topic string) []int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	gs, err := kadm.NewClient(cl).DescribeGroups(ctx, group)
	if err != nil || gs.Error() != nil {
		return nil
	}
	var shares []int
	for _, m := range gs[group].Members {
		n := 0
		if a, ok := m.Assigned.AsConsumer(); ok {
			for _, tp := range a.Topics {
				if tp.Topic == topic {
					n += len(tp.Partitions)
				}
			}
		}
		shares = append(shares, n)
	}
	return shares
}

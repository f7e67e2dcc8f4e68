package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/internal/kafkatest"
	"github.com/sluicesql/sluice/runner"
	"github.com/twmb/franz-go/pkg/kgo"
)

// alignedPerTrader is a statement grouped by the trades topic's partition key,
// which it declares: each process of a group runs it on the source
// partitions the group gives it, with no repartition topic.
const alignedPerTrader = `CREATE STREAM per_trader AS
SELECT trader_id, %s COUNT(*) AS n, SUM(quantity) AS qty
FROM trades
GROUP BY trader_id
%s
EMIT %s
WITH (%s, %s, 'commit.interval'='20ms'%s)`

// TestAlignedChangesSurviveKillAndJoin runs EMIT CHANGES statements grouped
// by the source's partition key (aligned: no repartition topic), alone or
// after a join with a table of traders, in three processes of a group over
// 8 partitions, slowed so that the run is under way when, a third of the
// records in, one process is killed (as by kill -9, past its last commit),
// and two more join. The output topic applied as a table (the last value
// of each message key, a tombstone deleting it) must hold exactly one
// process's rows: the groups and windows open at a commit hold it, so a
// partition that moves is replayed with their records (before, their
// counts started again from zero: 30 of 2386 windows and all but a few of
// the 25 HAVING groups wrong), the rows a HAVING that turned false leaves
// are retracted (MarkRereads), and the replay is fenced by the watermark
// and read offset committed with the offset (before, a SESSION window
// wrote 5 to 10 sessions again from their records after the commit, and
// windows over disordered records were written with part of their records:
// 24 of 2380 TUMBLING windows, 43 of 4739 SLIDING ones; after a join with a
// table, which replayed nothing, every case was wrong).
func TestAlignedChangesSurviveKillAndJoin(t *testing.T) {
	t.Parallel()
	const late = ", 'watermark.max_out_of_orderness'='50ms', 'window.allowed_lateness'='20ms', 'late.data.strategy'='drop'"
	for _, tt := range []struct {
		name, cols, window string
		disorder           int64
		more               string
		table              bool // the trades joined with a table of traders first
	}{
		{"having", "", "HAVING SUM(quantity) % 3 <> 0", 0, "", false},
		{"tumbling", "_WINDOW_START AS w,", "WINDOW TUMBLING(trade_time, INTERVAL '200' MILLISECOND)", 0, "", false},
		{"tumbling-late", "_WINDOW_START AS w,", "WINDOW TUMBLING(trade_time, INTERVAL '200' MILLISECOND)", 300, late, false},
		{"sliding-late", "_WINDOW_START AS w,", "WINDOW SLIDING(trade_time, INTERVAL '200' MILLISECOND, INTERVAL '100' MILLISECOND)", 300, late, false},
		{"session", "_WINDOW_START AS w, _WINDOW_END AS e,", "WINDOW SESSION(trade_time, INTERVAL '60' MILLISECOND)", 0, "", false},
		{"session-late", "_WINDOW_START AS w, _WINDOW_END AS e,", "WINDOW SESSION(trade_time, INTERVAL '60' MILLISECOND)", 300, late, false},
		{"table-having", "", "HAVING SUM(quantity) % 3 <> 0", 0, "", true},
		{"table-tumbling-late", "_WINDOW_START AS w,", "WINDOW TUMBLING(trade_time, INTERVAL '200' MILLISECOND)", 300, late, true},
		{"table-session-late", "_WINDOW_START AS w, _WINDOW_END AS e,", "WINDOW SESSION(trade_time, INTERVAL '60' MILLISECOND)", 300, late, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const total = 12000
			brokers := startCluster(t, "trades", "out", "traders")
			trades, _ := disorderedTrades(t, total, 40, tt.disorder)
			produce(t, brokers, "trades", keyBy(trades, byTrader))
			tmpl := alignedPerTrader
			if tt.table {
				// every process reads the table whole; a trader missing
				// from it filters its trades out (an INNER join)
				var traders []kafka.Message
				for i := range 35 {
					traders = append(traders, kafka.Message{Key: fmt.Appendf(nil, "%d", i), Value: fmt.Appendf(nil, `{"trader_id":%d,"name":"trader %d"}`, i, i)})
				}
				produce(t, brokers, "traders", traders)
				tmpl = strings.NewReplacer("SELECT trader_id,", "SELECT t.trader_id,", "COUNT(*)", "COUNT(r.name)", "GROUP BY trader_id", "GROUP BY t.trader_id", "FROM trades\n", "FROM trades t JOIN traders r ON t.trader_id = r.trader_id\n",
					"'commit.interval'", fmt.Sprintf("'traders.type'='kafka_source', 'traders.bootstrap.servers'='%s', 'traders.primary.key'='trader_id', 'commit.interval'", brokers)).Replace(tmpl)
			}
			stmt := func(emit, src, sink string) string {
				return fmt.Sprintf(tmpl, tt.cols, tt.window, emit, src, sink, tt.more)
			}
			want, _ := oneProcessReference(t, func(path string) string {
				return stmt("FINAL", kafkaTrades(brokers, "partition.key", "trader_id"), fmt.Sprintf("'per_trader.type'='file_sink', 'per_trader.path'='%s'", path))
			}, 20, tt.disorder > 0)
			ctx, cancel := testContext(t)
			defer cancel()
			text := "-- @batch_size: 2\n" + stmt("CHANGES", kafkaTrades(brokers, "partition.key", "trader_id", "group.id", "g", "session.timeout.ms", "6000"),
				fmt.Sprintf("'per_trader.type'='kafka_sink', 'per_trader.topic.name'='out', 'per_trader.bootstrap.servers'='%s'", brokers))
			victimText := strings.Replace(text, "'commit.interval'", "'drain.timeout'='1s', 'commit.interval'", 1)
			slow := &slowed{}
			procs := []*stage{startAligned(t, ctx, victimText, &kafkatest.Cutter{}, slow.onBatch), startAligned(t, ctx, text, &kafkatest.Cutter{}, slow.onBatch),
				startAligned(t, ctx, text, &kafkatest.Cutter{}, slow.onBatch)}
			slow.wait(t, total/3)
			procs[0].kill(t, "0")
			procs = append(procs[1:], startAligned(t, ctx, text, &kafkatest.Cutter{}, slow.onBatch), startAligned(t, ctx, text, &kafkatest.Cutter{}, slow.onBatch))
			for i, p := range procs {
				p.wait(t, ctx, fmt.Sprint(i+1))
			}
			sameLines(t, "rows", changelogTable(t, brokers, "out"), want)
		})
	}
}

// startAligned runs a process of an aligned statement (no repartition
// topic) whose connections go through net, calling onBatch after each batch;
// extra are added to its Kafka clients' options.
func startAligned(t *testing.T, ctx context.Context, text string, net *kafkatest.Cutter, onBatch func(partition, records int, took time.Duration), extra ...kgo.Opt) *stage {
	t.Helper()
	s := &stage{done: make(chan struct{}), net: net}
	s.ctx, s.cancel = context.WithCancel(ctx)
	s.job = prepare(t, s.ctx, text, runner.Options{Partitions: 2, UntilEnd: true,
		KafkaOpts: func(_, _ string) []kgo.Opt { return append([]kgo.Opt{kgo.Dialer(net.Dial)}, extra...) }})
	if s.job.Plan.Repartition != nil {
		t.Fatalf("statement repartitioned, want aligned:\n%s", text)
	}
	s.job.SetOnBatch(onBatch)
	s.start()
	return s
}

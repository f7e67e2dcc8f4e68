package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/plan"
)

// oneProcessCase is a statement that neither splits over the processes of
// a consumer group nor is repartitioned: %[1]s is the brokers, %[2]s the
// FROM stream's group properties and %[3]s out's properties.
type oneProcessCase struct {
	topics []string
	data   map[string][]kafka.Message
	stmt   string
	from   string
	why    string // a fragment of the scale-out line's reason
	remedy string // a fragment of the error's remedy ("": none checked)
	// sc, for a join, gives the answer of one process: every row a member
	// writes must be one of its rows
	sc *joinScenario
}

// oneProcessCases are the statements that run in one process per group:
// a row window after a join, SESSION windows with late updates after a
// join, joins that exchange rows between their workers, two streams of
// one topic and a temporal join AS OF the event time; and an unaligned GROUP BY and a join with
// 'repartition'='false'. (A GROUP BY on a column of a table is
// repartitioned with the table joined in stage 1:
// TestTableColumnRoutedAcrossProcesses.)
func oneProcessCases(t *testing.T) map[string]oneProcessCase {
	trades := keyBy(genTrades(t, 3000, 50), byTrader)
	var traders []kafka.Message
	for i := range 100 {
		traders = append(traders, kafka.Message{Key: fmt.Appendf(nil, "%d", i), Value: fmt.Appendf(nil, `{"trader_id":%d,"desk":"d%d"}`, i, i%7)})
	}
	trade := func(stmt, why string, extra ...string) oneProcessCase {
		with := "'trades.type'='kafka_source', 'trades.bootstrap.servers'='%[1]s'%[2]s, 'commit.interval'='20ms', %[3]s"
		for i := 0; i+1 < len(extra); i += 2 {
			with += fmt.Sprintf(", '%s'='%s'", extra[i], extra[i+1])
		}
		return oneProcessCase{topics: []string{"trades"}, data: map[string][]kafka.Message{"trades": trades}, from: "trades",
			stmt: "CREATE STREAM out AS " + stmt + " WITH (" + with + ")", why: why}
	}
	join := func(sc joinScenario, repl []string, why string) oneProcessCase {
		sc.stmt = strings.NewReplacer(repl...).Replace(sc.stmt)
		c := oneProcessCase{data: sc.data, from: sc.from, stmt: sc.stmt, why: why, sc: &sc}
		for topic := range sc.data {
			c.topics = append(c.topics, topic)
		}
		return c
	}
	off := func(c oneProcessCase) oneProcessCase {
		c.why, c.remedy = "('repartition'='false')", "Run one process; or drop 'repartition'='false', so that the processes repartition the records"
		return c
	}
	ships := shippedOrders()
	selfJoin := trade("SELECT a.symbol, a.price, b.price AS other FROM trades a JOIN trades2 b ON a.symbol = b.symbol WITHIN INTERVAL '1' MILLISECOND",
		"two of its streams read topic trades", "trades2.type", "kafka_source", "trades2.topic.name", "trades", "trades2.bootstrap.servers", "%[1]s",
		"event.time.field", "trade_time")
	sessionUpdateAfterJoin := trade("SELECT t.symbol, COUNT(*) AS n FROM trades t JOIN traders r ON t.trader_id = r.trader_id GROUP BY t.symbol WINDOW SESSION(t.trade_time, INTERVAL '5' MILLISECOND) EMIT FINAL",
		"its SESSION window with 'late.data.strategy'='update' after a join is not yet known to be rebuilt", "late.data.strategy", "update",
		"traders.type", "kafka_source", "traders.bootstrap.servers", "%[1]s", "traders.primary.key", "trader_id", "traders.stop.at", "end")
	sessionUpdateAfterJoin.topics = append(sessionUpdateAfterJoin.topics, "traders")
	sessionUpdateAfterJoin.data = map[string][]kafka.Message{"trades": trades, "traders": traders}
	return map[string]oneProcessCase{
		"row window after a join": join(paidOrders(), []string{"SELECT o.order_id, o.customer, o.amount, p.pay_id, p.paid", "SELECT o.order_id, p.paid, LAG(p.paid) OVER (PARTITION BY o.order_id) AS prev"},
			"its row window (LAG(p.paid) OVER (PARTITION BY o.order_id)) follows stream-stream joins"),
		"session update after a join": sessionUpdateAfterJoin,
		"self join":                   selfJoin,
		"group by, repartition off": off(trade("SELECT symbol, COUNT(*) AS n FROM trades GROUP BY symbol EMIT CHANGES",
			"", "repartition", "false")),
		"full join, repartition off": off(join(paidOrdersN(3000, "FULL JOIN"), []string{"'commit.interval'", "'repartition'='false', 'commit.interval'"}, "")),
		"temporal join as of the event time": join(tradersTemporal(bySymbol)(t), nil,
			"its temporal JOIN traders FOR SYSTEM_TIME AS OF the event time drops the table's old versions as the watermark passes them, and a partition a process gains from another"),
		"exchange": join(ships, []string{"JOIN ships s ON o.order_id = s.order_id", "JOIN ships s ON p.paid = s.paid"},
			"its stream-stream joins re-route the rows between the workers of one process on another key (an exchange)"),
	}
}

// TestOneProcessStatementsStopOnSecondMember runs each statement that
// neither splits over a consumer group nor is repartitioned in one
// process of a group, then starts a second: EXPLAIN says it runs in one
// process per group and why, and the second member stops both with an
// error naming the reason, before the second has written a row (it
// writes no part of the answer).
func TestOneProcessStatementsStopOnSecondMember(t *testing.T) {
	t.Parallel()
	for name, tt := range oneProcessCases(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			brokers := startCluster(t, append(tt.topics, "out-a", "out-b")...)
			for topic, msgs := range tt.data {
				produce(t, brokers, topic, msgs)
			}
			group := fmt.Sprintf(", '%[1]s.group.id'='shared', '%[1]s.session.timeout.ms'='6000'", tt.from)
			// each writes a topic of its own (a file sink writes nothing
			// of a run that fails)
			text := func(out string) string {
				return fmt.Sprintf(tt.stmt, brokers, group, fmt.Sprintf("'out.type'='kafka_sink', 'out.topic.name'='%s', 'out.bootstrap.servers'='%s'", out, brokers))
			}
			ctx, cancel := testContext(t)
			defer cancel()
			a := startMember(t, ctx, text("out-a"), "out-a")
			var b strings.Builder
			if err := plan.Explain(&b, []*plan.Plan{a.plan}); err != nil {
				t.Fatal(err)
			}
			line := scaleOutLine(b.String())
			for _, want := range []string{"scale-out:    one process per consumer group: ", tt.why, "a second member of the group stops the job"} {
				if !strings.Contains(line, want) {
					t.Errorf("EXPLAIN's scale-out line does not say %q:\n%s", want, line)
				}
			}
			waitFor(t, "process a reads", func() bool { return a.in.Load() > 0 })
			second := startMember(t, ctx, text("out-b"), "out-b")
			bothStop(t, ctx, a, second, "runs in one process per group")
			for _, m := range []*member{a, second} {
				if !strings.Contains(m.err.Error(), tt.why) || !strings.Contains(m.err.Error(), tt.remedy) {
					t.Errorf("err = %v, want the reason (%q) and the remedy (%q)", m.err, tt.why, tt.remedy)
				}
			}
			if rows := readTopic(t, brokers, "out-b"); len(rows) > 0 {
				t.Errorf("the second member wrote %d rows before it stopped, the first %s", len(rows), rows[0].Value)
			}
			if tt.sc == nil {
				return
			}
			want := tt.sc.oneProcess(t, brokers)
			for _, r := range readTopic(t, brokers, "out-a") {
				if _, ok := slices.BinarySearch(want, string(r.Value)); !ok {
					t.Errorf("the first member wrote a row one process does not: %s", r.Value)
				}
			}
		})
	}
}

// scaleOutLine returns the scale-out line of an EXPLAIN text.
func scaleOutLine(text string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, "scale-out:") {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

// TestOneProcessKeepsItsStateAcrossARebalance: a statement run in one
// process per group keeps its partitions' readers when a rebalance gives
// the whole topic back to it (another member of the group reads another
// topic, as another statement of an application sharing the group.id
// does). Before, its readers ended and new ones read again from the
// committed offsets, which open windows hold back: their records were
// counted twice.
func TestOneProcessKeepsItsStateAcrossARebalance(t *testing.T) {
	t.Parallel()
	brokers := startCluster(t, "trades", "other", "out-a")
	trades := keyBy(genTrades(t, 4000, 50), byTrader)
	produce(t, brokers, "trades", trades[:2000])
	ctx, cancel := testContext(t)
	defer cancel()
	text := fmt.Sprintf("CREATE STREAM out AS SELECT symbol, COUNT(*) AS n FROM trades GROUP BY symbol WINDOW TUMBLING(trade_time, INTERVAL '1' HOUR) EMIT FINAL "+
		"WITH (%s, 'repartition'='false', 'commit.interval'='20ms', 'out.type'='kafka_sink', 'out.topic.name'='out-a', 'out.bootstrap.servers'='%s')",
		kafkaTrades(brokers, "group.id", "shared", "session.timeout.ms", "6000"), brokers)
	a := startMember(t, ctx, text, "out-a")
	waitFor(t, "process a reads the first half", func() bool { return a.in.Load() >= 2000 })
	// another member of the group, on another topic: the group rebalances
	// and gives a the whole of trades again
	var joined atomic.Bool
	other, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.ConsumerGroup("shared"), kgo.ConsumeTopics("other"),
		kgo.Balancers(kgo.RangeBalancer()), kgo.SessionTimeout(6*time.Second),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) { joined.Store(true) }))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	waitFor(t, "the other member joins", func() bool {
		pctx, pcancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer pcancel()
		other.PollFetches(pctx)
		return joined.Load()
	})
	produce(t, brokers, "trades", trades[2000:])
	waitFor(t, "process a reads the second half", func() bool { return a.in.Load() >= 4000 })
	a.stop()
	<-a.done
	if a.err != nil {
		t.Fatalf("the rebalance stopped process a: %v", a.err)
	}
	if n := a.sum.Total.In; n != 4000 {
		t.Errorf("process a read %d records of 4000: a rebalance that gave it the whole topic again made it read some twice", n)
	}
}

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/internal/kafkatest"
	"github.com/sluicesql/sluice/runner"
)

// pricedTrades returns n trades keyed by trader (23 traders, 17 symbols):
// FLOAT prices with long fractions (a sum depends on its order unless it
// is exact), a NULL price now and then, and four trades at each event
// time, so that FIRST_VALUE, LAST_VALUE and STRING_AGG meet ties that only
// the records' places in the source break.
func pricedTrades(n int) []kafka.Message {
	base := time.Date(2024, 1, 15, 0, 0, 0, 0, time.UTC)
	msgs := make([]kafka.Message, n)
	for i := range n {
		trader := i % 23
		price := fmt.Sprintf("%.17g", 100+float64(i%97)/7)
		if i%31 == 7 {
			price = "null"
		}
		ts := base.Add(time.Duration(i/4*5) * time.Millisecond).Format("2006-01-02T15:04:05.000Z")
		msgs[i] = kafka.Message{Key: fmt.Appendf(nil, "%d", trader),
			Value: fmt.Appendf(nil, `{"trader_id":%d,"symbol":"S%d","price":%s,"quantity":%d,"trade_time":"%s"}`,
				trader, (i*7+i/50)%17, price, 1+(i*13)%500, ts)}
	}
	return msgs
}

// pricedColumns declares the columns of pricedTrades, the price a FLOAT.
const pricedColumns = "trader_id BIGINT, symbol STRING, price DOUBLE, quantity BIGINT, trade_time TIMESTAMP"

// everyAggregate is a GROUP BY symbol with every aggregate whose value
// could depend on the order in which a group's records arrive, a HAVING,
// and %s the window and EMIT clause.
const everyAggregate = `SELECT symbol, _WINDOW_START AS w, COUNT(*) AS n, COUNT(price) AS priced, SUM(quantity) AS qty,
  SUM(price) AS total, AVG(price) AS mean, MIN(price) AS lo, MAX(price) AS hi, COUNT(DISTINCT trader_id) AS traders,
  STDDEV(price) AS sd, VARIANCE(price) AS var, MEDIAN(price) AS med, FIRST_VALUE(trader_id) AS first_trader,
  LAST_VALUE(trader_id) AS last_trader, STRING_AGG(CAST(trader_id AS STRING), '-') AS who
FROM trades GROUP BY symbol HAVING COUNT(*) > 3 AND MAX(price) > 101 %s`

// TestAuditAggregatesAcrossProcesses runs an unaligned windowed GROUP BY
// with every order-dependent aggregate (a FLOAT SUM and AVG, STDDEV,
// VARIANCE, MEDIAN, FIRST_VALUE and LAST_VALUE over ties, STRING_AGG,
// COUNT(DISTINCT)) and a HAVING, in three processes of a group over topics
// of 12, 8 and 3 partitions with a repartition topic of another count
// ('repartition.partitions' 5, 7, 16), over topics of 1 and 40 partitions
// with the default count (32, 40), SLIDING and TUMBLING windows, EMIT
// FINAL and EMIT CHANGES: the group writes exactly the rows of one
// process, to the last digit; and again with a process killed mid-run and
// two joining.
func TestAuditAggregatesAcrossProcesses(t *testing.T) {
	t.Parallel()
	for name, tt := range map[string]struct {
		source  int32
		topic   string
		window  string
		changes bool
		kill    bool
	}{
		"sliding-final-12-into-5":    {12, "5", "WINDOW SLIDING(trade_time, INTERVAL '1' SECOND, INTERVAL '250' MILLISECOND) EMIT FINAL", false, false},
		"sliding-changes-3-into-7":   {3, "7", "WINDOW SLIDING(trade_time, INTERVAL '1' SECOND, INTERVAL '250' MILLISECOND) EMIT CHANGES", true, false},
		"tumbling-final-8-into-16":   {8, "16", "WINDOW TUMBLING(trade_time, INTERVAL '500' MILLISECOND) EMIT FINAL", false, true},
		"tumbling-changes-12-into-5": {12, "5", "WINDOW TUMBLING(trade_time, INTERVAL '500' MILLISECOND) EMIT CHANGES", true, true},
		// one source partition: two processes read nothing in stage 1
		"sliding-final-1-into-default": {1, "", "WINDOW SLIDING(trade_time, INTERVAL '1' SECOND, INTERVAL '250' MILLISECOND) EMIT FINAL", false, false},
		// more source partitions than 32: the topic takes their count
		"tumbling-final-40-into-default": {40, "", "WINDOW TUMBLING(trade_time, INTERVAL '500' MILLISECOND) EMIT FINAL", false, false},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sh := tradeShapeOf(t, pricedTrades(6000), fmt.Sprintf(everyAggregate, tt.window), "trades.columns", pricedColumns)
			sh.sized["trades"], sh.changes = tt.source, tt.changes
			var extra []string
			want := max(int(tt.source), 32) // the default
			if tt.topic != "" {
				extra = []string{"repartition.partitions", tt.topic}
				want, _ = strconv.Atoi(tt.topic)
			}
			var got []string
			var brokers string
			if tt.kill {
				var tail *heldTail
				brokers, tail = sh.startHeld(t, 0.4, "want", "got")
				got = sh.killAndJoin(t, brokers, tail, extra...)
			} else {
				brokers = sh.start(t, "want", "got")
				got = sh.group(t, brokers, 3, extra...)
			}
			sameLines(t, "rows of the group", got, sh.oneProcess(t, brokers))
			if n := topicPartitions(t, brokers, "g-out-repartition"); n != want {
				t.Errorf("the repartition topic has %d partitions, want %d", n, want)
			}
		})
	}
}

// topicPartitions returns how many partitions topic has.
func topicPartitions(t *testing.T, brokers, topic string) int {
	t.Helper()
	n := 0
	withAdmin(t, brokers, func(ctx context.Context, adm *kadm.Client) error {
		td, err := adm.ListTopics(ctx, topic)
		if err == nil {
			err = td.Error()
		}
		n = len(td[topic].Partitions)
		return err
	})
	return n
}

// TestAuditJoinsOfUnequalTopics joins orders (4 partitions, keyed by
// customer, the FROM stream) with payments (8 partitions, keyed by payment
// id) within a second, inner and LEFT, through a repartition topic of 6
// partitions, in three processes of a group, and again with one killed
// mid-run and two joining: the group writes exactly one process's rows.
func TestAuditJoinsOfUnequalTopics(t *testing.T) {
	t.Parallel()
	for _, join := range []string{"JOIN", "LEFT JOIN"} {
		for _, kill := range []bool{false, true} {
			name := strings.ReplaceAll(join, " ", "-") + "/three"
			if kill {
				name = strings.ReplaceAll(join, " ", "-") + "/kill-and-join"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				sc := paidOrdersN(3000, join)
				sc.sized["orders"], sc.sized["payments"] = 4, 8
				sh := shape{kafkaInput: sc.kafkaInput, stmt: sc.stmt}
				var brokers string
				var got []string
				if kill {
					var tail *heldTail
					brokers, tail = sh.startHeld(t, 0.4, "want", "got")
					got = sh.killAndJoin(t, brokers, tail, "repartition.partitions", "6")
				} else {
					brokers = sh.start(t, "want", "got")
					got = sh.group(t, brokers, 3, "repartition.partitions", "6")
				}
				sameLines(t, "rows of the group", got, sh.oneProcess(t, brokers))
				if n := topicPartitions(t, brokers, "g-out-repartition"); n != 6 {
					t.Errorf("the repartition topic has %d partitions, want 6", n)
				}
			})
		}
	}
}

// heldWindows is the unaligned GROUP BY of every aggregate in TUMBLING
// windows over pricedTrades, started on a cluster with its last 40% held
// back (heldTail), its answer in topic "got" ("want" for one process).
func heldWindows(t *testing.T) (shape, string, *heldTail) {
	t.Helper()
	sh := tradeShapeOf(t, pricedTrades(6000), fmt.Sprintf(everyAggregate, "WINDOW TUMBLING(trade_time, INTERVAL '250' MILLISECOND) EMIT FINAL"),
		"trades.columns", pricedColumns)
	brokers, tail := sh.startHeld(t, 0.4, "want", "got")
	return sh, brokers, tail
}

// waitCommitted waits until group g has committed an offset of its
// repartition topic g-out-repartition: its processes are mid-run.
func waitCommitted(t *testing.T, ctx context.Context, brokers string) {
	t.Helper()
	waitWithin(t, hangAfter(ctx), "the group commits on the repartition topic", func() bool {
		offs, err := groupOffsets(ctx, brokers, "g", "g-out-repartition")
		return err == nil && len(offs) > 0
	})
}

// TestAuditProcessesLeaveGracefully runs the unaligned windowed GROUP BY
// in three processes; once the group committed on the repartition topic,
// two of them stop cleanly (drained, committed, leaving the group) and one
// more starts, and the rest of the input arrives: the two processes left
// write exactly one process's windows, with the rows the leavers wrote
// never contradicting them.
func TestAuditProcessesLeaveGracefully(t *testing.T) {
	t.Parallel()
	sh, brokers, tail := heldWindows(t)
	ctx, cancel := testContext(t)
	defer cancel()
	text := sh.text(brokers, "g", "got")
	procs := []*stage{startStage(t, ctx, text), startStage(t, ctx, text), startStage(t, ctx, text)}
	waitCommitted(t, ctx, brokers)
	procs[0].stop(t, "0")
	procs[1].stop(t, "1")
	for i, p := range procs[:2] {
		if p.err != nil {
			t.Fatalf("process %d stopped with %v", i, p.err)
		}
	}
	joined := startStage(t, ctx, text)
	waitFor(t, "the process started after the others left lists where the source ends", func() bool { return listedEnds(joined) })
	tail.release(t)
	procs[2].wait(t, ctx, "2")
	joined.wait(t, ctx, "3")
	sameLines(t, "rows of the group", sh.answer(t, brokers, "got"), sh.oneProcess(t, brokers))
}

// TestAuditDeadLettersOfRepartitionedRecords: malformed records (JSON cut
// short, a quantity that is not a number) and records that fail to
// evaluate (a division by zero in WHERE) in a repartitioned statement run
// by three processes are dead-lettered as one process dead-letters them:
// at their place in the source (topic, partition, offset), with the same
// reason, a malformed one with its original bytes; and the group writes
// one process's windows.
func TestAuditDeadLettersOfRepartitionedRecords(t *testing.T) {
	t.Parallel()
	msgs := keyBy(genTrades(t, 6000, 40), byTrader)
	bad := spoilTrades(msgs)
	sh := tradeShapeOf(t, msgs, "SELECT symbol, _WINDOW_START AS w, COUNT(*) AS n, SUM(quantity) AS qty FROM trades "+
		"WHERE 100 / (quantity %% 97) >= 0 GROUP BY symbol WINDOW TUMBLING(trade_time, INTERVAL '100' MILLISECOND) EMIT FINAL",
		"trades.columns", "trader_id BIGINT, symbol STRING, price DECIMAL(10,2), quantity BIGINT, trade_time TIMESTAMP")
	brokers := sh.start(t, "want", "got", "dead-want", "dead-got")
	got := sh.group(t, brokers, 3, "dlq.topic", "dead-got")
	sameLines(t, "rows of the group", got, sh.oneProcess(t, brokers, "dlq.topic", "dead-want"))
	sameDeadLetterPlaces(t, deadLetters(t, brokers, "dead-got"), deadLetters(t, brokers, "dead-want"), bad, func(at string, g, w connector.DeadLetterJSON, malformed bool) {
		if malformed {
			if original(t, g) != original(t, w) {
				t.Errorf("dead letter at %s holds %q, want the original %q", at, original(t, g), original(t, w))
			}
			return
		}
		if !strings.Contains(g.Reason, "division by zero") {
			t.Errorf("dead letter at %s: reason %q, want a division by zero", at, g.Reason)
		}
		if g.Repartition == nil {
			t.Errorf("dead letter at %s of stage 2 does not give its place in the repartition topic", at)
		}
	})
}

// sameDeadLetterPlaces fails the test unless the group's dead letters got
// are at the places of one process's, want, with the same reasons, and
// hands each pair to check, malformed when want holds one of the original
// bytes of the malformed records, bad. It fails the test too when there
// are no dead letters of records that were not malformed, or not every
// malformed one: it would check little.
func sameDeadLetterPlaces(t *testing.T, got, want map[string]connector.DeadLetterJSON, bad map[string]bool, check func(at string, g, w connector.DeadLetterJSON, malformed bool)) {
	t.Helper()
	if len(want) != len(got) {
		t.Errorf("the group dead-lettered %d records, one process %d", len(got), len(want))
	}
	malformed, failed := 0, 0
	for at, w := range want {
		g, ok := got[at]
		switch {
		case !ok:
			t.Errorf("no dead letter at %s (one process: %s)", at, w.Reason)
			continue
		case g.Reason != w.Reason:
			t.Errorf("dead letter at %s: reason %q, one process %q", at, g.Reason, w.Reason)
		}
		if bad[original(t, w)] {
			malformed++
		} else {
			failed++
		}
		check(at, g, w, bad[original(t, w)])
	}
	if malformed != len(bad) || failed == 0 {
		t.Errorf("%d malformed records dead-lettered of %d, %d failed: the test checks little", malformed, len(bad), failed)
	}
}

// spoilTrades makes some of msgs malformed, cut in half or with a
// quantity that is no number, and returns their original bytes.
func spoilTrades(msgs []kafka.Message) map[string]bool {
	bad := map[string]bool{}
	for i := 50; i < len(msgs); i += 613 {
		msgs[i].Value = msgs[i].Value[:len(msgs[i].Value)/2]
		bad[string(msgs[i].Value)] = true
	}
	for i := 90; i < len(msgs); i += 877 {
		msgs[i].Value = quantityRe.ReplaceAll(msgs[i].Value, []byte(`"quantity":"many"`))
		bad[string(msgs[i].Value)] = true
	}
	return bad
}

// quantityRe matches the quantity of a generated trade's JSON line.
var quantityRe = regexp.MustCompile(`"quantity":[0-9]+`)

// deadLetters returns the dead letters in topic by their place in the
// source, failing the test when one place has two different reasons.
func deadLetters(t *testing.T, brokers, topic string) map[string]connector.DeadLetterJSON {
	t.Helper()
	out := map[string]connector.DeadLetterJSON{}
	for _, r := range readTopic(t, brokers, topic) {
		var l connector.DeadLetterJSON
		if err := json.Unmarshal(r.Value, &l); err != nil {
			t.Fatalf("dead letter %q: %v", r.Value, err)
		}
		at := fmt.Sprintf("%s/%d/%d", l.Source, l.Partition, l.Offset)
		if old, ok := out[at]; ok && old.Reason != l.Reason {
			t.Errorf("two dead letters at %s: %q and %q", at, old.Reason, l.Reason)
		}
		out[at] = l
	}
	return out
}

// TestAuditEqualNumbersMeetAcrossProcesses: numbers that are one key for
// GROUP BY and a join's equality however they are written (150, 150.0,
// 150.00, 1.5e2; 0 and -0.0) are one key across processes too: a GROUP BY
// of a DECIMAL column whose values come with different scales, and a join
// of INTEGER order ids with payments that give them as DECIMALs,
// write one process's rows in three processes. (Stage 1 keyed each record
// of the repartition topic by its key's text, so 150 and 150.00 went to
// two partitions: two partial counts.)
func TestAuditEqualNumbersMeetAcrossProcesses(t *testing.T) {
	t.Parallel()
	const base = int64(1_700_000_000_000)
	forms := []string{"150", "150.0", "150.00", "1.5e2", "7.5", "7.50", "-0.0", "0", "0.000", "100", "100.000", "1e2", "12.345"}
	var levels []kafka.Message
	for i := range int64(3000) {
		levels = append(levels, kafka.Message{Key: fmt.Appendf(nil, "t%d", i%13),
			Value: fmt.Appendf(nil, `{"trader":"t%d","lvl":%s,"q":%d,"ts":%d}`, i%13, forms[i%int64(len(forms))], i%7, base+i)})
	}
	levelCounts := tradeShapeOf(t, levels, "SELECT lvl, _WINDOW_START AS w, COUNT(*) AS n, SUM(q) AS q FROM trades GROUP BY lvl "+
		"WINDOW TUMBLING(ts, INTERVAL '300' MILLISECOND) EMIT FINAL", "event.time.field", "ts")
	var orders, payments []kafka.Message
	for i := range int64(2000) {
		orders = append(orders, kafka.Message{Key: fmt.Appendf(nil, "c%d", i%37),
			Value: fmt.Appendf(nil, `{"order_id":%d,"amount":%d,"ts":%d}`, i, i%113, base+3*i)})
		id := fmt.Sprintf("%d.%0*d", i, 1+i%3, 0) // a DECIMAL of scale 1 to 3
		payments = append(payments, kafka.Message{Key: fmt.Appendf(nil, "p%d", i),
			Value: fmt.Appendf(nil, `{"order_id":%s,"paid":%d,"ts":%d}`, id, i%97, base+3*i+50)})
	}
	paid := shape{kafkaInput: kafkaInput{from: "orders", sized: map[string]int32{"orders": 8, "payments": 5},
		data: map[string][]kafka.Message{"orders": orders, "payments": payments}},
		stmt: `CREATE STREAM out AS
SELECT o.order_id, o.amount, p.paid FROM orders o JOIN payments p ON o.order_id = p.order_id WITHIN INTERVAL '1' SECOND
WITH ('orders.type'='kafka_source', 'orders.bootstrap.servers'='%[1]s'%[2]s,
      'payments.type'='kafka_source', 'payments.bootstrap.servers'='%[1]s',
      'event.time.field'='ts', 'commit.interval'='50ms', %[3]s)`}
	for name, sh := range map[string]shape{"decimal-group": levelCounts, "integer-decimal-join": paid} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			brokers := sh.start(t, "want", "got")
			// a group's lvl is written in one form (record.Value.KeyForm),
			// whichever of its records arrived first
			sameLines(t, "rows of the group", sh.group(t, brokers, 3), sh.oneProcess(t, brokers))
		})
	}
}

// TestAuditUnboundedStopThenBoundedRun runs the unaligned GROUP BY with
// every aggregate in three unbounded processes (no stop.at) until the
// group committed on the repartition topic, stops them all (Ctrl-C: each
// drains and commits), and then, once the rest of the input arrived, runs
// three processes to its end (--until-end): the two runs together write
// one process's windows, none partial.
func TestAuditUnboundedStopThenBoundedRun(t *testing.T) {
	t.Parallel()
	sh, brokers, tail := heldWindows(t)
	ctx, cancel := testContext(t)
	defer cancel()
	text := sh.text(brokers, "g", "got")
	var procs []*stage
	for range 3 {
		s := &stage{done: make(chan struct{})}
		s.ctx, s.cancel = context.WithCancel(ctx)
		s.job = prepare(t, s.ctx, text, runner.Options{Partitions: 2}) // unbounded
		s.start()
		procs = append(procs, s)
	}
	waitWithin(t, hangAfter(ctx), "the group commits on the repartition topic and writes windows", func() bool {
		offs, err := groupOffsets(ctx, brokers, "g", "g-out-repartition")
		end, err2 := topicEnd(ctx, brokers, "got")
		return err == nil && len(offs) > 0 && err2 == nil && end > 0
	})
	for i, p := range procs {
		p.stop(t, fmt.Sprint(i))
		if p.err != nil {
			t.Fatalf("process %d stopped with %v", i, p.err)
		}
	}
	tail.release(t)
	sameLines(t, "rows of both runs", sh.group(t, brokers, 3), sh.oneProcess(t, brokers))
}

// TestAuditLargeRecordsAcrossProcesses: records larger than Kafka's
// default limit of 1 MB, in a source topic that takes them
// (max.message.bytes), go through the repartition topic as one process
// reads them: the topic is created to take records as large as its
// source's. (It took 1 MB, and stage 1's producer as much, so the
// group's run failed with MESSAGE_TOO_LARGE where one process ran.)
func TestAuditLargeRecordsAcrossProcesses(t *testing.T) {
	t.Parallel()
	msgs := keyBy(genTrades(t, 3000, 40), byTrader)
	note := strings.Repeat("x", 1_500_000)
	for _, i := range []int{100, 1700} {
		msgs[i].Value = bytes.Replace(msgs[i].Value, []byte(`"symbol":"`), []byte(`"note":"`+note+`","symbol":"`), 1)
	}
	sh := tradeShapeOf(t, nil, "SELECT symbol, _WINDOW_START AS w, COUNT(*) AS n, MAX(LENGTH(note)) AS longest FROM trades GROUP BY symbol "+
		"WINDOW TUMBLING(trade_time, INTERVAL '100' MILLISECOND) EMIT FINAL")
	brokers := startCluster(t, "want", "got")
	withAdmin(t, brokers, func(ctx context.Context, adm *kadm.Client) error {
		resp, err := adm.CreateTopic(ctx, kafkaPartitions, -1, map[string]*string{"max.message.bytes": kadm.StringPtr("4000000")}, "trades")
		if err == nil {
			err = resp.Err
		}
		return err
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.ProducerBatchMaxBytes(4_000_000))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := testContext(t)
	defer cancel()
	recs := make([]*kgo.Record, len(msgs))
	for i, m := range msgs {
		recs[i] = &kgo.Record{Topic: "trades", Key: m.Key, Value: m.Value}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	sameLines(t, "rows of the group", sh.group(t, brokers, 3), sh.oneProcess(t, brokers))
}

// TestAuditJoinDeadLetters: malformed records of both streams of a LEFT
// interval join repartitioned across three processes (payments cut
// short, orders with an amount that is no number) are dead-lettered as
// one process dead-letters them: at their place in their own topic, with
// the same reason and their original bytes; the group writes one
// process's rows.
func TestAuditJoinDeadLetters(t *testing.T) {
	t.Parallel()
	sc := paidOrdersN(3000, "LEFT JOIN")
	for i := 7; i < len(sc.data["payments"]); i += 301 {
		sc.data["payments"][i].Value = sc.data["payments"][i].Value[:10]
	}
	for i := 11; i < len(sc.data["orders"]); i += 401 {
		sc.data["orders"][i].Value = bytes.Replace(sc.data["orders"][i].Value, []byte(`"amount":`), []byte(`"amount":"x`), 1)
	}
	sh := shape{kafkaInput: sc.kafkaInput, stmt: sc.stmt}
	brokers := sh.start(t, "want", "got", "dead-want", "dead-got")
	got := sh.group(t, brokers, 3, "dlq.topic", "dead-got")
	sameLines(t, "rows of the group", got, sh.oneProcess(t, brokers, "dlq.topic", "dead-want"))
	want, gotDead := deadLetters(t, brokers, "dead-want"), deadLetters(t, brokers, "dead-got")
	if len(want) < 10 || len(gotDead) != len(want) {
		t.Errorf("the group dead-lettered %d records, one process %d", len(gotDead), len(want))
	}
	for at, w := range want {
		if g, ok := gotDead[at]; !ok || g.Reason != w.Reason || original(t, g) != original(t, w) {
			t.Errorf("dead letter at %s: %+v, one process %+v", at, g, w)
		}
	}
}

// TestAuditDuplicateInstanceID: a process started with the
// group.instance.id of a process that runs (a configuration copied to a
// second machine) takes the first's place in the group, as Kafka's static
// membership does; the first, fenced, stops with an error that names the
// option instead of retrying to join for ever, and the second finishes the
// run with one process's windows.
func TestAuditDuplicateInstanceID(t *testing.T) {
	t.Parallel()
	sh, brokers, tail := heldWindows(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	text := sh.text(brokers, "g", "got", "trades.group.instance.id", "same")
	first := startStage(t, ctx, text)
	waitCommitted(t, ctx, brokers)
	second := startStage(t, ctx, text)
	endedWithin(t, 30*time.Second, first.done, "the fenced process")
	if first.err == nil || !strings.Contains(first.err.Error(), "'trades.group.instance.id'") || !strings.Contains(first.err.Error(), "same") {
		t.Fatalf("the fenced process ended with %v, want an error naming 'trades.group.instance.id' and its value", first.err)
	}
	tail.release(t)
	second.wait(t, ctx, "second")
	sameLines(t, "rows of the group", sh.answer(t, brokers, "got"), sh.oneProcess(t, brokers))
}

// TestAuditWholeGroupKilled kills every process of the group mid-run (as
// by kill -9, a machine lost) and starts three new ones: once the killed
// members' sessions time out, the new processes finish the run from the
// group's commits with one process's windows.
func TestAuditWholeGroupKilled(t *testing.T) {
	t.Parallel()
	sh, brokers, tail := heldWindows(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	text := sh.text(brokers, "g", "got")
	victim := strings.Replace(text, "'commit.interval'", "'drain.timeout'='1s', 'commit.interval'", 1)
	var procs []*stage
	for range 3 {
		procs = append(procs, startStageOn(t, ctx, victim, &kafkatest.Cutter{}))
	}
	waitCommitted(t, ctx, brokers)
	for i, p := range procs {
		p.kill(t, fmt.Sprint(i))
	}
	started := []*stage{startStage(t, ctx, text), startStage(t, ctx, text), startStage(t, ctx, text)}
	waitFor(t, "the processes started after the kill list where the source ends", func() bool { return listedEnds(started...) })
	tail.release(t)
	for i, p := range started {
		p.wait(t, ctx, fmt.Sprint(i))
	}
	sameLines(t, "rows of the group", sh.answer(t, brokers, "got"), sh.oneProcess(t, brokers))
}

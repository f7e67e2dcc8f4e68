package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/internal/kafkatest"
	"github.com/sluicesql/sluice/plan"
	"github.com/sluicesql/sluice/runner"
)

// customerWindows counts the rows of unpaidOrders' inner join per customer
// in windows of 200ms, its order ids recurring (recurringOrders: a record
// meets several of the other stream): the query after the join groups on
// o.customer, not on the join key, so its rows go through the exchange
// topic.
func customerWindows() joinScenario {
	sc := recurringOrders(unpaidOrders("JOIN", "WITHIN INTERVAL '1' SECOND")).aggregated(
		"SELECT o.customer, _WINDOW_START AS w, COUNT(*) AS n, SUM(p.pay_id) AS pays, SUM(o.amount) AS amount",
		"GROUP BY o.customer WINDOW TUMBLING(INTERVAL '200' MILLISECOND) EMIT FINAL")
	sc.key = []string{"customer", "w"}
	return sc
}

// customerCounts counts the rows of unpaidOrders' inner join, its order
// ids recurring, per order amount without a window (EMIT CHANGES: each
// amount's last update).
func customerCounts() joinScenario {
	sc := recurringOrders(unpaidOrders("JOIN", "WITHIN INTERVAL '1' SECOND")).aggregated(
		"SELECT o.amount, COUNT(*) AS n, SUM(p.pay_id) AS pays", "GROUP BY o.amount EMIT CHANGES")
	// the groups are kept for ever: a replay reads the exchange topic
	// from its start, killed at the group's first commit
	sc.key, sc.changes, sc.midRun = []string{"amount"}, true, false
	return sc
}

// customerPairs is the distinct pairs of customer and payment code of
// unpaidOrders' inner join.
func customerPairs() joinScenario {
	sc := unpaidOrders("JOIN", "WITHIN INTERVAL '1' SECOND")
	sc.stmt = strings.Replace(sc.stmt, "SELECT o.order_id, o.customer, o.amount, p.pay_id, p.order_id AS paid_order, p.paid",
		"SELECT DISTINCT o.customer, p.paid %% 41 AS code", 1)
	return sc
}

// TestExchangedJoinsAcrossProcesses runs stream-stream joins whose query
// after the join needs another key than the join's (a window per customer,
// a count per order amount, DISTINCT pairs) in three processes of one
// consumer group, and again with one of them killed mid-run and
// restarted while a fourth joins: stage 2 writes the joined rows to the
// exchange topic, keyed by the query's key, and stage 3 runs the query;
// the group writes exactly the rows one process writes.
func TestExchangedJoinsAcrossProcesses(t *testing.T) {
	t.Parallel()
	runAcrossProcesses(t, map[string]func(*testing.T) joinScenario{
		"windows":  func(*testing.T) joinScenario { return customerWindows() },
		"counts":   func(*testing.T) joinScenario { return customerCounts() },
		"distinct": func(*testing.T) joinScenario { return customerPairs() },
	})
}

// TestExchangePlanEXPLAIN: the statement runs in three stages, and EXPLAIN
// names both topics and what each stage does.
func TestExchangePlanEXPLAIN(t *testing.T) {
	t.Parallel()
	sc := customerWindows()
	brokers := sc.start(t)
	j := prepare(t, context.Background(), sc.text(brokers, "'out.type'='stdout'", "group.id", "g"), runner.Options{UntilEnd: true})
	defer j.Discard()
	if rp := j.Plan.Repartition; rp == nil || rp.Exchange == nil || rp.Exchange.Topic != "g-out-exchange" {
		t.Fatalf("repartition %+v, want through g-out-repartition and g-out-exchange", rp)
	}
	var b strings.Builder
	if err := plan.Explain(&b, []*plan.Plan{j.Plan}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"three stages", "g-out-repartition (32 partitions", "to topic g-out-exchange", "to the partition of its o.customer", "stage 3:      reads g-out-exchange in group g"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("EXPLAIN does not say %q:\n%s", want, b.String())
		}
	}
}

// TestExchangedWindowsFireMidRun: stage 3's windows fire as the
// watermark stage 2 reports passes them, not only at the end of a bounded
// run: with the last 40% of the orders held back (an open transaction),
// two processes write the windows of the first part before the release,
// and the whole run writes the rows of one process.
func TestExchangedWindowsFireMidRun(t *testing.T) {
	t.Parallel()
	// 37 customers, a window of 200ms, the held orders from about 5.4s
	// of event time on: some 900 windows can fire before the release
	firesMidRun(t, customerWindows(), 500)
}

// firesMidRun runs sc in two processes of a group with the last 40% of
// its FROM stream held back, waits for at least rows rows written before
// the release (windows that fired mid-run), then releases them and checks
// that the group wrote the rows of one process.
func firesMidRun(t *testing.T, sc joinScenario, rows int) {
	t.Helper()
	brokers, tail := sc.startHeld(t, 0.4, "results")
	ctx, cancel := testContext(t)
	defer cancel()
	text := sc.groupText(brokers)
	procs := []*stage{startStageOn(t, ctx, text, &kafkatest.Cutter{}), startStageOn(t, ctx, text, &kafkatest.Cutter{})}
	waitWithin(t, hangAfter(ctx), "windows written before the held orders are released", func() bool {
		return len(readTopic(t, brokers, "results")) >= rows
	})
	tail.release(t)
	for i, p := range procs {
		p.wait(t, ctx, fmt.Sprint(i))
	}
	sc.sameAsOneProcess(t, brokers)
}

// BenchmarkExchangedJoin measures records/s (orders and payments) of the
// stream-stream JOIN of paidOrders with 100,000 orders counted in windows
// of 200ms, read from Kafka to the end of both topics: per order (the
// join key) through the repartition topic alone ("one-hop", two stages),
// and per customer in one process without a group ("one-process", one
// stage) and through both topics in one and two processes ("two-hops",
// three stages: every joined row is written to the exchange topic and
// read again). The ratio of "two-hops/1" to "one-hop/1" is the cost of
// the exchange topic. Run it with
//
//	go test ./e2e -run '^$' -bench ExchangedJoin -benchtime 3x
func BenchmarkExchangedJoin(b *testing.B) {
	sc := paidOrdersN(100000, "JOIN")
	brokers, records := sc.filled(b)
	by := func(key string) string {
		return strings.NewReplacer("SELECT o.order_id, o.customer, o.amount, p.pay_id, p.paid", "SELECT "+key+", _WINDOW_START AS w, COUNT(*) AS n, SUM(p.paid) AS paid",
			"\nWITH", "\nGROUP BY "+key+" WINDOW TUMBLING(INTERVAL '200' MILLISECOND) EMIT FINAL\nWITH").Replace(sc.stmt)
	}
	benchHops(b, brokers, records, sc.kafkaInput, by, []hopRun{{"one-process", "o.customer", 1, false}, {"one-hop/1", "o.order_id", 1, true}, {"two-hops/1", "o.customer", 1, true}, {"two-hops/2", "o.customer", 2, true}})
}

// TestExchangedJoinRunsAgain: a second bounded run of the group reads on
// from where the first ended, through both topics: the first run's done
// markers (stage 2's on the repartition topic, stage 3's on the exchange
// topic) do not end the second before it has read the records written
// since, which it ends after. The records of the second run are 100s of
// event time later than the first's (nothing joins across the runs), and
// the two runs write the rows one process writes over all of them.
func TestExchangedJoinRunsAgain(t *testing.T) {
	t.Parallel()
	sc := customerWindows()
	brokers := sc.start(t, "results")
	ctx, cancel := testContext(t)
	defer cancel()
	text := sc.groupText(brokers)
	run := func() {
		procs := []*stage{startStageOn(t, ctx, text, &kafkatest.Cutter{}), startStageOn(t, ctx, text, &kafkatest.Cutter{})}
		for i, p := range procs {
			p.wait(t, ctx, fmt.Sprint(i))
		}
	}
	run()
	first := len(readTopic(t, brokers, "results"))
	ts := regexp.MustCompile(`"ts":(\d+)`)
	for topic, msgs := range sc.data {
		later := make([]kafka.Message, len(msgs))
		for i, m := range msgs {
			m.Value = ts.ReplaceAllFunc(m.Value, func(b []byte) []byte {
				n, _ := strconv.ParseInt(string(ts.FindSubmatch(b)[1]), 10, 64)
				return fmt.Appendf(nil, `"ts":%d`, n+100_000)
			})
			later[i] = m
		}
		produce(t, brokers, topic, later)
	}
	run()
	if n := len(readTopic(t, brokers, "results")); n < 2*first {
		t.Errorf("the second run wrote %d rows, the first %d: it did not read on", n-first, first)
	}
	sc.sameAsOneProcess(t, brokers)
}

// TestExchangedJoinDeadLetters: a joined row that fails in the query after
// an exchanged stream-stream join (a division by zero) is dead-lettered by
// stage 3 at the place in its source of the record whose arrival in stage
// 2 made it, as one process places a joined row at the record whose
// arrival made it there (see joinDeadLetters).
func TestExchangedJoinDeadLetters(t *testing.T) {
	t.Parallel()
	joinDeadLetters(t, unpaidOrders("JOIN", "WITHIN INTERVAL '1' SECOND").aggregated(
		"SELECT o.customer, _WINDOW_START AS w, COUNT(*) AS n, SUM(100 / (o.amount %% 13)) AS x",
		"GROUP BY o.customer WINDOW TUMBLING(INTERVAL '200' MILLISECOND) EMIT FINAL"), "g-out-exchange")
}

// TestRepartitionedJoinDeadLetters: a row of a LEFT stream-stream join
// that fails in the select list after it (a division by zero) is
// dead-lettered by stage 2, which runs the join and the query after it,
// at the place in its source of the record that made it: a pair's at one
// of its two records, a row with NULLs at its order, whenever the join
// decides it (see joinDeadLetters). A row with NULLs the watermark
// decided for a record read again after a rebalance was not
// dead-lettered (a stress run of 6 at once lost some in 1 of 6); before,
// a row with NULLs decided as the watermark passed named the repartition
// topic and its partition as source.
func TestRepartitionedJoinDeadLetters(t *testing.T) {
	t.Parallel()
	joinDeadLetters(t, unpaidOrders("LEFT JOIN", "WITHIN INTERVAL '1' SECOND").aggregated(
		"SELECT o.order_id, o.amount, p.pay_id, 100 / (o.amount %% 13) AS x", ""), "g-out-repartition")
}

// joinDeadLetters runs sc, a statement over unpaidOrders' join whose rows
// of an order with an amount that is a multiple of 13 fail after the
// join, in one process and in a group of three, and checks their dead
// letters. The group writes one process's rows and dead-letters as many.
// One process's letters name the stream of the record that made each
// row, its place there and its bytes. The group's name the place in its
// source of one of the row's records (a row with NULLs: its order's),
// with the row's place in topic (the repartition or exchange topic) under
// repartition and the joined row as raw, without the join's internal
// side column.
func joinDeadLetters(t *testing.T, sc joinScenario, topic string) {
	t.Helper()
	sh := shape{kafkaInput: sc.kafkaInput, stmt: sc.stmt}
	brokers := sh.start(t, "want", "got", "dead-want", "dead-got")
	got := sh.group(t, brokers, 3, "dlq.topic", "dead-got")
	sameLines(t, "rows of the group", got, sh.oneProcess(t, brokers, "dlq.topic", "dead-want"))
	letters := func(topic string) []connector.DeadLetterJSON {
		var out []connector.DeadLetterJSON
		for _, r := range readTopic(t, brokers, topic) {
			var l connector.DeadLetterJSON
			if err := json.Unmarshal(r.Value, &l); err != nil {
				t.Fatalf("dead letter %q: %v", r.Value, err)
			}
			out = append(out, l)
		}
		return out
	}
	want, dead := letters("dead-want"), letters("dead-got")
	if len(dead) != len(want) || len(want) == 0 {
		t.Fatalf("the group dead-lettered %d joined rows, one process %d", len(dead), len(want))
	}
	// each source message's order and payment ids, and its bytes, by its place
	type ids struct{ Order, Pay int64 }
	source, value := map[string]ids{}, map[string]string{}
	for _, topic := range []string{"orders", "payments"} {
		for _, r := range readTopic(t, brokers, topic) {
			var m struct {
				Order int64 `json:"order_id"`
				Pay   int64 `json:"pay_id"`
			}
			if err := json.Unmarshal(r.Value, &m); err != nil {
				t.Fatal(err)
			}
			at := fmt.Sprintf("%s/%d/%d", topic, r.Partition, r.Offset)
			source[at], value[at] = ids{m.Order, m.Pay}, string(r.Value)
		}
	}
	for _, w := range want {
		if w.Reason != "division by zero" || w.Repartition != nil {
			t.Fatalf("one process's dead letter %+v: want a division by zero read from its source", w)
		}
		if at := fmt.Sprintf("%s/%d/%d", w.Source, w.Partition, w.Offset); value[at] != w.Raw {
			t.Errorf("one process's dead letter at %s: raw %s, the message there %s", at, w.Raw, value[at])
		}
	}
	for _, l := range dead {
		var row struct {
			Order  *int64 `json:"order_id"`
			Amount int64  `json:"amount"`
			Pay    int64  `json:"p.pay_id"` // 0: NULL
		}
		if err := json.Unmarshal([]byte(l.Raw), &row); err != nil || row.Order == nil || row.Amount%13 != 0 {
			t.Errorf("dead letter raw %q: want the joined row of an order whose amount is a multiple of 13 (%v)", l.Raw, err)
			continue
		}
		var cols map[string]any
		if err := json.Unmarshal([]byte(l.Raw), &cols); err != nil {
			t.Fatal(err)
		}
		for c := range cols {
			if strings.TrimSpace(c) != c {
				t.Errorf("dead letter raw %q: shows the internal column %q", l.Raw, c)
			}
		}
		at, ok := source[fmt.Sprintf("%s/%d/%d", l.Source, l.Partition, l.Offset)]
		switch {
		case !ok || l.Source == "orders" && at.Order != *row.Order || l.Source == "payments" && (row.Pay == 0 || at.Pay != row.Pay):
			t.Errorf("dead letter of order %d and payment %d at %s/%d/%d: want the place of one of them in its source",
				*row.Order, row.Pay, l.Source, l.Partition, l.Offset)
		case l.Reason != "division by zero" || l.Repartition == nil || l.Repartition.Topic != topic:
			t.Errorf("dead letter %+v (via %+v): want a division by zero and its place in %s", l, l.Repartition, topic)
		}
	}
}

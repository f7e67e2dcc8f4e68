package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/internal/kafkatest"
	"github.com/sluicesql/sluice/runner"
	"github.com/sluicesql/sluice/sql"
)

// lateRecords makes some records of sc's topics late past the allowed
// disorder ('watermark.max_out_of_orderness', 100ms) but within the
// join's bound (a second): every 23rd order 400ms earlier than its place,
// every 29th payment 600ms earlier. One process joins them (their match
// windows are still open) and counts their rows in the windows after the
// join, which the watermark after the join has not passed.
func lateRecords(sc joinScenario) joinScenario {
	ts := regexp.MustCompile(`"ts":(\d+)`)
	for topic, back := range map[string]struct{ every, ms int64 }{"orders": {23, 400}, "payments": {29, 600}} {
		msgs := sc.data[topic]
		for i := range msgs {
			if int64(i)%back.every != 7 {
				continue
			}
			msgs[i].Value = ts.ReplaceAllFunc(msgs[i].Value, func(b []byte) []byte {
				n, _ := strconv.ParseInt(string(ts.FindSubmatch(b)[1]), 10, 64)
				return fmt.Appendf(nil, `"ts":%d`, n-back.ms)
			})
		}
	}
	return sc
}

// exchangedShape is unpaidOrders' inner join, its order ids recurring,
// with sel as its SELECT list and tail after the join, keyed by key.
func exchangedShape(sel, tail string, key ...string) joinScenario {
	sc := recurringOrders(unpaidOrders("JOIN", "WITHIN INTERVAL '1' SECOND")).aggregated(sel, tail)
	sc.key = key
	return sc
}

// TestExchangedShapesAcrossProcesses runs more shapes of the query after
// an inner stream-stream join on another key than the join's, which go
// through the exchange topic, in three processes of one group and again
// with one killed mid-run and restarted while a fourth joins: records
// late past the allowed disorder but within the join's bound, SESSION
// windows per customer, windows per customer with EMIT CHANGES, a window
// on a column of the joined row (SLIDING on o.ts), a GROUP BY on an
// expression of the other side's column with HAVING, and DISTINCT over
// both sides' columns. The group writes exactly the rows of one process.
func TestExchangedShapesAcrossProcesses(t *testing.T) {
	t.Parallel()
	runAcrossProcesses(t, map[string]func(*testing.T) joinScenario{
		"late": func(*testing.T) joinScenario {
			return lateRecords(customerWindows())
		},
		"sessions": func(*testing.T) joinScenario {
			return exchangedShape("SELECT o.customer, _WINDOW_START AS w, _WINDOW_END AS e, COUNT(*) AS n, SUM(p.pay_id) AS pays",
				"GROUP BY o.customer WINDOW SESSION(INTERVAL '60' MILLISECOND) EMIT FINAL", "customer", "w")
		},
		"window-changes": func(*testing.T) joinScenario {
			sc := exchangedShape("SELECT o.customer, _WINDOW_START AS w, COUNT(*) AS n, SUM(p.pay_id) AS pays",
				"GROUP BY o.customer WINDOW TUMBLING(INTERVAL '200' MILLISECOND) EMIT CHANGES", "customer", "w")
			// a window's updates hold the commits until it closes: killed
			// at the group's first commit
			sc.changes, sc.killOnly, sc.midRun = true, true, false
			return sc
		},
		"sliding-column": func(*testing.T) joinScenario {
			return exchangedShape("SELECT o.customer, _WINDOW_START AS w, COUNT(*) AS n, SUM(o.amount) AS amount",
				"GROUP BY o.customer WINDOW SLIDING(o.ts, INTERVAL '300' MILLISECOND, INTERVAL '100' MILLISECOND) EMIT FINAL", "customer", "w")
		},
		"other-side-having": func(*testing.T) joinScenario {
			return exchangedShape("SELECT p.paid %% 7 AS code, _WINDOW_START AS w, COUNT(*) AS n, MAX(o.customer) AS c",
				"GROUP BY p.paid %% 7 HAVING COUNT(*) > 4 WINDOW TUMBLING(INTERVAL '300' MILLISECOND) EMIT FINAL", "code", "w")
		},
		"distinct-both": func(*testing.T) joinScenario {
			sc := unpaidOrders("JOIN", "WITHIN INTERVAL '1' SECOND")
			sc.stmt = strings.Replace(sc.stmt, "SELECT o.order_id, o.customer, o.amount, p.pay_id, p.order_id AS paid_order, p.paid",
				"SELECT DISTINCT o.amount %% 11 AS a, p.paid %% 13 AS b", 1)
			// the rows DISTINCT keeps hold the commits for good: killed at
			// the group's first commit
			sc.midRun = false
			return sc
		},
	})
}

// fewKeys is customerWindows with its order ids taken modulo 7 and a
// bound of 10ms (a payment meets at most the orders of its id 10ms
// around it): the join's 7 keys fill 7 of the repartition topic's 32
// partitions at most, and stage 2 reads nothing but stage 1's reports in
// the others.
func fewKeys() joinScenario {
	sc := unpaidOrders("JOIN", "WITHIN INTERVAL '10' MILLISECOND").aggregated(
		"SELECT o.customer, _WINDOW_START AS w, COUNT(*) AS n, SUM(p.pay_id) AS pays",
		"GROUP BY o.customer WINDOW TUMBLING(INTERVAL '200' MILLISECOND) EMIT FINAL")
	id := regexp.MustCompile(`"order_id":(\d+)`)
	for topic, msgs := range sc.data {
		for i := range msgs {
			msgs[i].Value = id.ReplaceAllFunc(msgs[i].Value, func(b []byte) []byte {
				n, _ := strconv.Atoi(string(id.FindSubmatch(b)[1]))
				return fmt.Appendf(nil, `"order_id":%d`, n%7)
			})
		}
		sc.data[topic] = msgs
	}
	sc.key = []string{"customer", "w"}
	return sc
}

// TestExchangedWindowsFireWithEmptyPartitions: stage 3's windows fire as
// the watermark passes them mid-run although most partitions of the
// repartition topic hold no record of the join (fewKeys): stage 2 reports
// a watermark for those too, or stage 3 waits for them for ever (an
// unbounded run would never write a window). The last 40% of the orders
// are held back; the run writes the rows of one process.
func TestExchangedWindowsFireWithEmptyPartitions(t *testing.T) {
	t.Parallel()
	firesMidRun(t, fewKeys(), 100)
}

// TestExchangedJoinProcessesLeaveGracefully runs customerWindows in three
// processes; once stage 3 committed on the exchange topic, two of them
// stop cleanly (drained, committed, leaving the group) and one more
// starts before the rest of the input arrives: the group writes exactly
// the windows of one process.
func TestExchangedJoinProcessesLeaveGracefully(t *testing.T) {
	t.Parallel()
	sc := customerWindows()
	brokers, tail := sc.startHeld(t, 0.4, "results")
	ctx, cancel := testContext(t)
	defer cancel()
	text := sc.groupText(brokers)
	procs := []*stage{startStageOn(t, ctx, text, &kafkatest.Cutter{}), startStageOn(t, ctx, text, &kafkatest.Cutter{}), startStageOn(t, ctx, text, &kafkatest.Cutter{})}
	waitWithin(t, hangAfter(ctx), "the group commits on the exchange topic past 3s of event time", func() bool {
		offs, err := groupOffsets(ctx, brokers, "g", "g-out-exchange")
		return err == nil && len(offs) > 0 && checkpointPast(ctx, brokers, "g", "g-out-repartition", 1_700_000_003_000)
	})
	for i, p := range procs[:2] {
		p.stop(t, fmt.Sprint(i))
		if p.err != nil {
			t.Fatalf("process %d stopped with %v", i, p.err)
		}
	}
	joined := startStageOn(t, ctx, text, &kafkatest.Cutter{})
	waitFor(t, "the process started after the others left lists where the source ends", func() bool { return listedEnds(joined) })
	tail.release(t)
	procs[2].wait(t, ctx, "2")
	joined.wait(t, ctx, "3")
	sc.sameAsOneProcess(t, brokers)
}

// TestExchangedJoinExactlyOnceRefused: 'processing.guarantee'='exactly_once'
// on a stream-stream join whose query needs another key is refused before
// anything is read, as on every stream-stream join (a replay writes again
// pairs it cannot tell from those committed, and stage 2 would write the
// joined rows outside a transaction): not run at-least-once in its place.
func TestExchangedJoinExactlyOnceRefused(t *testing.T) {
	t.Parallel()
	sc := customerWindows()
	brokers := sc.start(t)
	text := sc.text(brokers, fmt.Sprintf("'out.type'='kafka_sink', 'out.topic.name'='results', 'out.bootstrap.servers'='%s', 'processing.guarantee'='exactly_once'", brokers),
		"group.id", "g")
	stmts, err := sql.Parse("e2e.sql", text)
	if err != nil {
		t.Fatal(err)
	}
	j, err := runner.Prepare(context.Background(), stmts[0], runner.Options{UntilEnd: true})
	if err == nil {
		j.Discard()
		t.Fatalf("exactly_once through an exchange topic was accepted (repartition %+v)", j.Plan.Repartition)
	}
	if !strings.Contains(err.Error(), "'processing.guarantee'='exactly_once': not available for a stream-stream join (JOIN payments)") {
		t.Errorf("err = %v, want exactly_once refused for a stream-stream join", err)
	}
}

// shiftedTimes shifts every event time of sc's topics by d milliseconds.
func shiftedTimes(sc joinScenario, d int64) joinScenario {
	ts := regexp.MustCompile(`"ts":(-?\d+)`)
	for _, msgs := range sc.data {
		for i := range msgs {
			msgs[i].Value = ts.ReplaceAllFunc(msgs[i].Value, func(b []byte) []byte {
				n, _ := strconv.ParseInt(string(ts.FindSubmatch(b)[1]), 10, 64)
				return fmt.Appendf(nil, `"ts":%d`, n+d)
			})
		}
	}
	return sc
}

// TestExchangedJoinEventTimesBeyondKafka: joined rows whose event times
// are no Kafka timestamp (in 2100, more than an hour ahead; in 1960,
// before 1970) go through the exchange topic with their event times in
// the origin header, and three processes write one process's windows:
// stage 2 stopped with "a joined row's event time ... is not a Kafka
// timestamp", where one process runs.
func TestExchangedJoinEventTimesBeyondKafka(t *testing.T) {
	t.Parallel()
	const year = 365 * 86_400_000
	for name, d := range map[string]int64{"2100": 76 * year, "1960": -64 * year} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			shiftedTimes(customerWindows(), d).acrossProcesses(t, false)
		})
	}
}

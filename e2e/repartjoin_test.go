package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/internal/kafkatest"
	"github.com/sluicesql/sluice/plan"
	"github.com/sluicesql/sluice/runner"
	"github.com/sluicesql/sluice/sql"
)

// joinScenario is an unaligned join over Kafka topics: what the topics
// hold and the statement, whose target is out.
type joinScenario struct {
	kafkaInput
	// stmt is the statement with %[1]s the brokers, %[2]s the FROM
	// stream's group properties ("" for none) and %[3]s out's properties
	stmt string
	// key names the fields that identify an output row: two rows with the
	// same key and other values are a partial result (nil: the whole row)
	key []string
	// changes: the statement emits updates (EMIT CHANGES), and the answer
	// is the last row of each key
	changes bool
	// killOnly: only the run with a process killed and one joining (the
	// run of three alone adds nothing to the scenario it varies)
	killOnly bool
	// midRun kills a process once the group checkpointed past 3s of
	// event time, its state and watermark well under way (else at the
	// group's first commit on the repartition topic)
	midRun bool
	// exactlyOnce runs the group with 'processing.guarantee'='exactly_once':
	// read committed, it writes each row of one process exactly once
	exactlyOnce bool
}

// paidOrders is a stream-stream JOIN within a second of orders (8
// partitions, keyed by customer) and payments (5 partitions, keyed by
// payment id): neither topic is partitioned by the join key, nor are
// they partitioned alike. Some orders are never paid, some paid too late
// to join, and some payments are for unknown orders.
func paidOrders() joinScenario { return paidOrdersN(3000, "JOIN") }

// paidOrdersN is paidOrders with n orders, joined with join ("JOIN",
// "FULL JOIN", ...).
func paidOrdersN(n int64, join string) joinScenario {
	const base = int64(1_700_000_000_000)
	type pay struct {
		ts int64
		m  kafka.Message
	}
	var orders []kafka.Message
	var pays []pay
	payment := func(id, order, ts int64) pay {
		return pay{ts, kafka.Message{Key: []byte(fmt.Sprint(id)),
			Value: fmt.Appendf(nil, `{"pay_id":%d,"order_id":%d,"paid":%d,"ts":%d}`, id, order, order%97, ts)}}
	}
	for i := range n {
		ts := base + 3*i
		orders = append(orders, kafka.Message{Key: fmt.Appendf(nil, "c%d", i%37),
			Value: fmt.Appendf(nil, `{"order_id":%d,"customer":"c%d","amount":%d,"ts":%d}`, i, i%37, i%113, ts)})
		switch i % 10 {
		case 0: // never paid
		case 3: // paid too late to join
			pays = append(pays, payment(i+50000, i, ts+1500))
		default:
			pays = append(pays, payment(i+50000, i, ts+(i*37)%900))
		}
	}
	for i := range int64(200) { // payments of unknown orders
		pays = append(pays, payment(i+90000, 100000+i, base+40*i))
	}
	slices.SortStableFunc(pays, func(a, b pay) int { return int(a.ts - b.ts) })
	var payments []kafka.Message
	for _, p := range pays {
		payments = append(payments, p.m)
	}
	return joinScenario{
		kafkaInput: kafkaInput{from: "orders", sized: map[string]int32{"orders": 8, "payments": 5},
			data: map[string][]kafka.Message{"orders": orders, "payments": payments}},
		stmt: `CREATE STREAM out AS
SELECT o.order_id, o.customer, o.amount, p.pay_id, p.paid
FROM orders o ` + join + ` payments p ON o.order_id = p.order_id WITHIN INTERVAL '1' SECOND
WITH ('orders.type'='kafka_source', 'orders.bootstrap.servers'='%[1]s'%[2]s,
      'payments.type'='kafka_source', 'payments.bootstrap.servers'='%[1]s',
      'event.time.field'='ts', 'watermark.max_out_of_orderness'='100ms', 'commit.interval'='50ms', %[3]s)`,
	}
}

// unpaidOrders is an outer stream-stream join (join: "LEFT JOIN", "FULL
// JOIN", ...) of orders (8 partitions, keyed by customer) and payments (5
// partitions, keyed by payment id) on bound (the rest of ON after the
// key), with rows left unmatched on both sides: orders never paid, orders
// paid too late (and their payments), payments of unknown orders; some
// orders are paid before they were placed (their only match is an earlier
// row), some twice. Each topic's event times are out of order by up to
// 89ms, within the allowed 100ms (no record is late).
func unpaidOrders(join, bound string) joinScenario {
	const base = int64(1_700_000_000_000)
	const n = 3000
	type pay struct {
		ts        int64
		id, order int64
	}
	var orders []kafka.Message
	var pays []pay
	for i := range int64(n) {
		ts := base + 3*i + (i*7919)%90
		orders = append(orders, kafka.Message{Key: fmt.Appendf(nil, "c%d", i%37),
			Value: fmt.Appendf(nil, `{"order_id":%d,"customer":"c%d","amount":%d,"ts":%d}`, i, i%37, i%113, ts)})
		switch i % 10 {
		case 0: // never paid
		case 3: // paid too late to join
			pays = append(pays, pay{ts + 1500, i + 50000, i})
		case 5, 8: // paid before the order was placed
			pays = append(pays, pay{ts - 100 - (i*13)%380, i + 50000, i})
		case 7: // paid twice
			pays = append(pays, pay{ts - 200, i + 50000, i}, pay{ts + 700 + i%200, i + 60000, i})
		default:
			pays = append(pays, pay{ts + 120 + (i*37)%850, i + 50000, i})
		}
	}
	for i := range int64(300) { // payments of unknown orders
		pays = append(pays, pay{base + 30*i, i + 90000, 100000 + i})
	}
	slices.SortStableFunc(pays, func(a, b pay) int { return int(a.ts - b.ts) })
	var payments []kafka.Message
	for k, p := range pays {
		ts := p.ts + (int64(k)*31)%90
		payments = append(payments, kafka.Message{Key: []byte(fmt.Sprint(p.id)),
			Value: fmt.Appendf(nil, `{"pay_id":%d,"order_id":%d,"paid":%d,"ts":%d}`, p.id, p.order, p.order%97, ts)})
	}
	return joinScenario{
		kafkaInput: kafkaInput{from: "orders", sized: map[string]int32{"orders": 8, "payments": 5},
			data: map[string][]kafka.Message{"orders": orders, "payments": payments}},
		midRun: true,
		stmt: `CREATE STREAM out AS
SELECT o.order_id, o.customer, o.amount, p.pay_id, p.order_id AS paid_order, p.paid
FROM orders o ` + join + ` payments p ON o.order_id = p.order_id ` + bound + `
WITH ('orders.type'='kafka_source', 'orders.bootstrap.servers'='%[1]s'%[2]s,
      'payments.type'='kafka_source', 'payments.bootstrap.servers'='%[1]s',
      'event.time.field'='ts', 'watermark.max_out_of_orderness'='100ms', 'commit.interval'='50ms', %[3]s)`,
	}
}

// paidWindows counts the rows of a join (join: "JOIN", "LEFT JOIN") of
// unpaidOrders' streams in windows of 200ms per order (the join key), a
// window's rows reaching a second past their orders' times.
func paidWindows(join string) joinScenario {
	sc := unpaidOrders(join, "WITHIN INTERVAL '1' SECOND")
	sc.stmt = strings.Replace(sc.stmt, "SELECT o.order_id, o.customer, o.amount, p.pay_id, p.order_id AS paid_order, p.paid",
		"SELECT o.order_id, _WINDOW_START AS w, COUNT(*) AS n, COUNT(p.pay_id) AS paid, SUM(p.pay_id) AS pays", 1)
	sc.stmt = strings.Replace(sc.stmt, "\nWITH", "\nGROUP BY o.order_id WINDOW TUMBLING(INTERVAL '200' MILLISECOND) EMIT FINAL\nWITH", 1)
	sc.key = []string{"order_id", "w"}
	return sc
}

// paidWindowUpdates is paidWindows with EMIT CHANGES: the answer is each
// window's last update.
func paidWindowUpdates(join string) joinScenario {
	sc := paidWindows(join)
	sc.stmt = strings.Replace(sc.stmt, "EMIT FINAL", "EMIT CHANGES", 1)
	sc.changes, sc.killOnly = true, true
	return sc
}

// paidCounts counts the rows of a join (join: "JOIN", "LEFT JOIN") of
// unpaidOrders' streams per order (the join key), without a window, with
// EMIT CHANGES: the answer is each order's last update (a LEFT JOIN's
// unpaid orders counted with NULLs).
func paidCounts(join string) joinScenario {
	sc := unpaidOrders(join, "WITHIN INTERVAL '1' SECOND")
	sc.stmt = strings.Replace(sc.stmt, "SELECT o.order_id, o.customer, o.amount, p.pay_id, p.order_id AS paid_order, p.paid",
		"SELECT o.order_id, COUNT(*) AS n, COUNT(p.pay_id) AS paid, SUM(p.pay_id) AS pays", 1)
	sc.stmt = strings.Replace(sc.stmt, "\nWITH", "\nGROUP BY o.order_id EMIT CHANGES\nWITH", 1)
	// every group is kept, so a replay reads the topic from its start:
	// killed at the group's first commit, not slowed down mid-run
	sc.key, sc.changes, sc.midRun, sc.killOnly = []string{"order_id"}, true, false, true
	return sc
}

// unpaidCounts counts per order the unmatched orders and the payments
// with a paid code over 48 of unpaidOrders' LEFT JOIN, without a window: a
// WHERE after the join drops the other pairs, which no group holds, so
// the orders they paired hold the commit themselves (a replay past the
// payment an order matched would count the order as unpaid).
func unpaidCounts() joinScenario {
	sc := paidCounts("LEFT JOIN")
	sc.stmt = strings.Replace(sc.stmt, "\nGROUP BY", "\nWHERE p.pay_id IS NULL OR p.paid > 48\nGROUP BY", 1)
	return sc
}

// shippedOrders chains paidOrders with a third stream on the same key:
// shipments (3 partitions, keyed by shipment id), within a second of the
// order.
func shippedOrders() joinScenario {
	sc := paidOrders()
	var ships []kafka.Message
	for _, m := range sc.data["payments"] {
		ships = append(ships, kafka.Message{Key: m.Key, Value: []byte(strings.Replace(string(m.Value), `"pay_id"`, `"ship_id"`, 1))})
	}
	sc.sized["ships"] = 3
	sc.data["ships"] = ships
	sc.stmt = strings.NewReplacer("p.pay_id, p.paid", "p.pay_id, p.paid, s.ship_id",
		"WITHIN INTERVAL '1' SECOND\n", "WITHIN INTERVAL '1' SECOND\nJOIN ships s ON o.order_id = s.order_id WITHIN INTERVAL '1' SECOND\n",
		"'payments.type'", "'ships.type'='kafka_source', 'ships.bootstrap.servers'='%[1]s', 'payments.type'").Replace(sc.stmt)
	return sc
}

// shippedSessions counts shippedOrders' chain in SESSION windows of 400ms
// per order, its order ids recurring (recurringOrders).
func shippedSessions() joinScenario {
	sc := recurringOrders(shippedOrders())
	sc.stmt = strings.NewReplacer("SELECT o.order_id, o.customer, o.amount, p.pay_id, p.paid, s.ship_id",
		"SELECT o.order_id, _WINDOW_START AS w, _WINDOW_END AS e, COUNT(*) AS n, SUM(s.ship_id) AS ships",
		"\nWITH", "\nGROUP BY o.order_id WINDOW SESSION(INTERVAL '400' MILLISECOND) EMIT FINAL\nWITH").Replace(sc.stmt)
	sc.key, sc.midRun = []string{"order_id", "w"}, true
	return sc
}

// unpaidSessions counts the rows of unpaidOrders' LEFT JOIN, its order
// ids recurring (recurringOrders), in SESSION windows of 400ms per order:
// a session holds orders paid and unpaid (their rows with NULLs).
func unpaidSessions() joinScenario {
	sc := recurringOrders(unpaidOrders("LEFT JOIN", "WITHIN INTERVAL '1' SECOND")).aggregated(
		"SELECT o.order_id, _WINDOW_START AS w, _WINDOW_END AS e, COUNT(*) AS n, COUNT(p.pay_id) AS paid, SUM(p.pay_id) AS pays",
		"GROUP BY o.order_id WINDOW SESSION(INTERVAL '400' MILLISECOND) EMIT FINAL")
	sc.key = []string{"order_id", "w"}
	return sc
}

// aggregated replaces the SELECT list of an unpaidOrders statement with
// sel and adds tail (its GROUP BY, WINDOW and EMIT) before its WITH.
func (sc joinScenario) aggregated(sel, tail string) joinScenario {
	sc.stmt = strings.NewReplacer("SELECT o.order_id, o.customer, o.amount, p.pay_id, p.order_id AS paid_order, p.paid", sel,
		"\nWITH", "\n"+tail+"\nWITH").Replace(sc.stmt)
	return sc
}

// unpaidDistinct is the distinct pairs of order and payment code (NULL
// for an unpaid order) of unpaidOrders' LEFT JOIN, its order ids
// recurring (recurringOrders).
func unpaidDistinct() joinScenario {
	sc := recurringOrders(unpaidOrders("LEFT JOIN", "WITHIN INTERVAL '1' SECOND"))
	sc.stmt = strings.Replace(sc.stmt, "SELECT o.order_id, o.customer, o.amount, p.pay_id, p.order_id AS paid_order, p.paid",
		"SELECT DISTINCT o.order_id, p.paid %% 3 AS code", 1)
	return sc
}

// recurringOrders rewrites the order ids of sc's topics modulo 300, so
// that each recurs every 300 orders (900ms of event time): a key's rows
// meet again after the join, in sessions of several orders or as rows
// DISTINCT writes once.
func recurringOrders(sc joinScenario) joinScenario {
	id := regexp.MustCompile(`"order_id":(\d+)`)
	for topic, msgs := range sc.data {
		recurring := make([]kafka.Message, len(msgs))
		for i, m := range msgs {
			m.Value = id.ReplaceAllFunc(m.Value, func(b []byte) []byte {
				n, _ := strconv.Atoi(string(id.FindSubmatch(b)[1]))
				return fmt.Appendf(nil, `"order_id":%d`, n%300)
			})
			recurring[i] = m
		}
		sc.data[topic] = recurring
	}
	return sc
}

// tradersWindows is a stream-table join counted in windows per trader:
// trades (8 partitions) keyed by symbol, joined on trader_id with a
// traders table (5 partitions) too big to broadcast, with updates.
func tradersWindows(t *testing.T) joinScenario {
	trades := genTrades(t, 8000, 40)
	var traders []kafka.Message
	for i := range 40 {
		traders = append(traders, kafka.Message{Key: fmt.Appendf(nil, "%d", i), Value: fmt.Appendf(nil, `{"trader_id":%d,"name":"first %d"}`, i, i)})
	}
	for i := 0; i < 40; i += 3 {
		traders = append(traders, kafka.Message{Key: fmt.Appendf(nil, "%d", i), Value: fmt.Appendf(nil, `{"trader_id":%d,"name":"second %d"}`, i, i)})
	}
	return joinScenario{
		kafkaInput: kafkaInput{from: "trades", sized: map[string]int32{"trades": 8, "traders": 5},
			data: map[string][]kafka.Message{"trades": keyBy(trades, bySymbol), "traders": traders}},
		stmt: `CREATE STREAM out AS
SELECT t.trader_id, _WINDOW_START AS w, COUNT(*) AS n, SUM(t.quantity) AS qty, MAX(r.name) AS name
FROM trades t JOIN traders r ON t.trader_id = r.trader_id
GROUP BY t.trader_id
WINDOW TUMBLING(trade_time, INTERVAL '100' MILLISECOND)
EMIT FINAL
WITH ('trades.type'='kafka_source', 'trades.bootstrap.servers'='%[1]s'%[2]s,
      'traders.type'='kafka_source', 'traders.bootstrap.servers'='%[1]s', 'traders.primary.key'='trader_id', 'traders.broadcast'='false',
      'commit.interval'='50ms', %[3]s)`,
		key: []string{"trader_id", "w"},
	}
}

// tradersWindowed is tradersWindows with another window (SLIDING: a
// record in several windows, which a replay must put only into those
// that had not fired).
func tradersWindowed(window string) func(*testing.T) joinScenario {
	return func(t *testing.T) joinScenario {
		sc := tradersWindows(t)
		sc.stmt = strings.NewReplacer("_WINDOW_START AS w,", "_WINDOW_START AS w, _WINDOW_END AS e,",
			"WINDOW TUMBLING(trade_time, INTERVAL '100' MILLISECOND)", "WINDOW "+window).Replace(sc.stmt)
		return sc
	}
}

// kafkaInput is what a test's topics hold: its FROM stream, and each
// topic's partitions and messages.
type kafkaInput struct {
	from  string           // the FROM stream
	sized map[string]int32 // the partitions of each topic
	data  map[string][]kafka.Message
}

// start starts a cluster with topics more, empty, and the input's topics,
// filled, and returns the brokers.
func (in kafkaInput) start(t *testing.T, more ...string) string {
	t.Helper()
	brokers, _ := in.startHeld(t, 0, more...)
	return brokers
}

// startHeld is start with the last fraction held (0 to 1) of the FROM
// stream's records written in a transaction left open (holdTail): a
// bounded run counts them, but reads them only once the test releases
// them. It returns the brokers and that tail (nil when none is held).
func (in kafkaInput) startHeld(t *testing.T, held float64, more ...string) (string, *heldTail) {
	t.Helper()
	brokers := startCluster(t, more...)
	var tail *heldTail
	for topic, n := range in.sized {
		createTopic(t, brokers, topic, n)
		msgs := in.data[topic]
		k := len(msgs)
		if topic == in.from {
			k -= int(held * float64(len(msgs)))
		}
		if k > 0 {
			produce(t, brokers, topic, msgs[:k])
		}
		if k < len(msgs) {
			tail = holdTail(t, brokers, topic, msgs[k:])
		}
	}
	return brokers, tail
}

// heldTail is the end of a topic written in a transaction that stays open
// until release: a read_committed consumer (a Kafka source's default)
// reads the topic up to the transaction's first record and waits there,
// while the topic's end offsets, where a bounded run ends, count every
// record of it. A run of a group over the topic cannot end before the
// release, whatever the speed of its processes: the test acts mid-run
// without racing them.
type heldTail struct {
	cl *kgo.Client
}

// holdTail writes msgs to topic (partitioned as produce does) in a
// transaction left open, before which every record of topic must have been
// written (in each partition, the transaction's first record is where
// reading stops). The transaction outlives the test's waits before its
// release (maxWait, within Kafka's 15-minute transaction.max.timeout.ms):
// with 5 minutes, a kill-and-join run that took 351s under -race at load
// 15-20 found it aborted by the broker at its release (INVALID_TXN_STATE).
func holdTail(t *testing.T, brokers, topic string, msgs []kafka.Message) *heldTail {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)), kgo.TransactionalID("held-"+topic),
		kgo.TransactionTimeout(maxWait+time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	ctx, cancel := testContext(t)
	defer cancel()
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	recs := make([]*kgo.Record, len(msgs))
	for i, m := range msgs {
		recs[i] = &kgo.Record{Key: m.Key, Value: m.Value}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	return &heldTail{cl: cl}
}

// release commits the tail's transaction: its records become readable.
func (h *heldTail) release(t *testing.T) {
	t.Helper()
	ctx, cancel := testContext(t)
	defer cancel()
	if err := h.cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
}

// text returns the statement: group props for its FROM stream (pairs of
// key and value) and out's.
func (sc joinScenario) text(brokers, out string, group ...string) string {
	var g string
	for i := 0; i+1 < len(group); i += 2 {
		g += fmt.Sprintf(", '%s.%s'='%s'", sc.from, group[i], group[i+1])
	}
	return fmt.Sprintf(sc.stmt, brokers, g, out)
}

// groupText returns the statement run as a member of consumer group g
// (a session of 6s), writing its rows to topic "results".
func (sc joinScenario) groupText(brokers string) string {
	sink := fmt.Sprintf("'out.type'='kafka_sink', 'out.topic.name'='results', 'out.bootstrap.servers'='%s'", brokers)
	if sc.exactlyOnce {
		sink += ", 'processing.guarantee'='exactly_once'"
	}
	return sc.text(brokers, sink, "group.id", "g", "session.timeout.ms", "6000")
}

// rows returns lines as distinct rows, sorted, failing the test when two
// rows have the same key and other values (distinctRows).
func (sc joinScenario) rows(t *testing.T, lines []string) []string {
	t.Helper()
	return distinctRows(t, lines, func(line string) string {
		if sc.key == nil {
			return "row " + line
		}
		var r map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		return "row " + messageKey(r, sc.key)
	})
}

// last returns, for a statement that emits updates, the last line of
// each key (lines in the order they were written per key), else lines.
func (sc joinScenario) last(t *testing.T, lines []string) []string {
	t.Helper()
	if !sc.changes {
		return lines
	}
	byKey := map[string]string{}
	for _, line := range lines {
		var r map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		byKey[messageKey(r, sc.key)] = line
	}
	return slices.Collect(maps.Values(byKey))
}

// oneProcess runs the statement in one process, without a consumer group,
// and returns its rows: the answer every group of processes must give.
func (sc joinScenario) oneProcess(t *testing.T, brokers string) []string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "want.jsonl")
	j, _ := runToEnd(t, sc.text(brokers, fmt.Sprintf("'out.type'='file_sink', 'out.path'='%s'", out)))
	if j.Plan.Repartition != nil {
		t.Fatal("one process without a group was repartitioned")
	}
	// the updates of a key in the order they were written: its last is
	// its answer
	lines := sc.last(t, readLinesInOrder(t, out))
	want := sc.rows(t, lines)
	if len(want) != len(lines) || len(want) < 100 {
		t.Fatalf("one process wrote %d rows, %d distinct: the test checks little", len(lines), len(want))
	}
	return want
}

// sameAsOneProcess fails the test unless the rows written to topic
// "results" are the rows of oneProcess, each at least once (exactly
// once, read committed, when the group ran exactly once).
func (sc joinScenario) sameAsOneProcess(t *testing.T, brokers string) {
	t.Helper()
	want := sc.oneProcess(t, brokers)
	if sc.exactlyOnce {
		var got []string
		for _, v := range readCommittedValues(t, brokers, "results") {
			got = append(got, string(v))
		}
		slices.Sort(got)
		sameLines(t, "rows of the group read committed", got, want)
		return
	}
	var lines []string
	for _, r := range readTopic(t, brokers, "results") {
		lines = append(lines, string(r.Value))
	}
	sameLines(t, "rows of the group", sc.rows(t, sc.last(t, lines)), want)
}

// TestRepartitionedJoinsAcrossProcesses runs unaligned joins in three
// processes of one consumer group, and again with one of them killed
// mid-run (its connections cut at once, as by kill -9) and restarted
// while a fourth joins (mid-run by construction: the last 40% of the FROM
// stream is held in an open transaction until then, heldTail): a
// stream-stream JOIN of two topics with different partition counts,
// neither keyed by the join key, its LEFT (WITHIN) and
// FULL (asymmetric BETWEEN) forms with rows unmatched on both sides and
// event times out of order, windowed counts per order after the inner
// and the LEFT join (EMIT FINAL, and EMIT CHANGES after the LEFT join),
// counts per order without a window after the inner join (EMIT CHANGES:
// each order's last update), a windowed count over a stream-table join whose
// stream is keyed by another column, and a chain of three streams joined
// on one key. Each statement runs in two stages joined by one
// repartition topic that every stream is written to by its side of the
// key; the group writes exactly the rows one process writes (some more
// than once after a rebalance: at-least-once), none partial, no row with
// NULLs for a row that matched.
func TestRepartitionedJoinsAcrossProcesses(t *testing.T) {
	t.Parallel()
	scenarios := map[string]func(*testing.T) joinScenario{
		"interval":       func(*testing.T) joinScenario { return paidOrders() },
		"chain":          func(*testing.T) joinScenario { return shippedOrders() },
		"chain-sessions": func(*testing.T) joinScenario { return shippedSessions() },
		"left-sessions":  func(*testing.T) joinScenario { return unpaidSessions() },
		"left-distinct":  func(*testing.T) joinScenario { return unpaidDistinct() },
		"table":          tradersWindows,
		"table-sliding":  tradersWindowed("SLIDING(trade_time, INTERVAL '300' MILLISECOND, INTERVAL '100' MILLISECOND)"),
		"windows":        func(*testing.T) joinScenario { return paidWindows("JOIN") },
		"left-windows":   func(*testing.T) joinScenario { return paidWindows("LEFT JOIN") },
		"counts":         func(*testing.T) joinScenario { return paidCounts("JOIN") },
		"left-counts":    func(*testing.T) joinScenario { return paidCounts("LEFT JOIN") },
		"unpaid-counts":  func(*testing.T) joinScenario { return unpaidCounts() },
		"left-updates":   func(*testing.T) joinScenario { return paidWindowUpdates("LEFT JOIN") },
		"left": func(*testing.T) joinScenario {
			return unpaidOrders("LEFT JOIN", "WITHIN INTERVAL '1' SECOND")
		},
		"full": func(*testing.T) joinScenario {
			// a bound longer on one side: the payment from 300ms before the order to 1s after
			return unpaidOrders("FULL JOIN", "AND p.ts BETWEEN o.ts - INTERVAL '300' MILLISECOND AND o.ts + INTERVAL '1' SECOND")
		},
	}
	runAcrossProcesses(t, scenarios)
}

// runAcrossProcesses runs each scenario in a subtest with three processes
// and in one with a process killed and one joining (acrossProcesses).
func runAcrossProcesses(t *testing.T, scenarios map[string]func(*testing.T) joinScenario) {
	for name, scenario := range scenarios {
		for _, kill := range []bool{false, true} {
			sub := name + "/three"
			if kill {
				sub = name + "/kill-and-join"
			}
			t.Run(sub, func(t *testing.T) {
				t.Parallel()
				sc := scenario(t)
				if sc.killOnly && !kill {
					t.Skip("varies another scenario: only its run with a process killed and one joining")
				}
				sc.acrossProcesses(t, kill)
			})
		}
	}
}

// acrossProcesses runs the scenario in three processes of one consumer
// group, or, with kill, with one of them killed mid-run (its connections
// cut at once, as by kill -9) and restarted while a fourth joins, and
// checks that the group writes the rows of one process.
func (sc joinScenario) acrossProcesses(t *testing.T, kill bool) {
	t.Helper()
	// killed and joined: the last part of the FROM stream is
	// held back until the kill, so that the kill comes mid-run
	// whatever the speed of the processes (unheld, the whole run
	// takes them half a second, and about 1 run in 3 had ended
	// before the test saw a checkpoint past 3s)
	var brokers string
	var tail *heldTail
	if kill {
		brokers, tail = sc.startHeld(t, 0.4, "results")
	} else {
		brokers = sc.start(t, "results")
	}
	ctx, cancel := testContext(t)
	defer cancel()
	text := sc.groupText(brokers)
	victimText := text
	if kill {
		// a killed process drains nothing: do not wait for it
		victimText = strings.Replace(text, "'commit.interval'", "'drain.timeout'='1s', 'commit.interval'", 1)
	}
	procs := []*stage{startStageOn(t, ctx, victimText, &kafkatest.Cutter{}), startStageOn(t, ctx, text, &kafkatest.Cutter{}), startStageOn(t, ctx, text, &kafkatest.Cutter{})}
	if kill {
		if sc.midRun {
			// the held records start past 5s of event time:
			// every process's watermark gets past 3s
			waitWithin(t, hangAfter(ctx), "a checkpoint past 3s of event time", func() bool {
				return checkpointPast(ctx, brokers, "g", "g-out-repartition", 1_700_000_003_000)
			})
		} else {
			waitWithin(t, hangAfter(ctx), "the group commits on the repartition topic", func() bool {
				offs, err := groupOffsets(ctx, brokers, "g", "g-out-repartition")
				return err == nil && len(offs) > 0
			})
		}
		if n := doneMarkers(ctx, brokers, "g", "g-out-repartition"); n > 0 {
			t.Fatalf("%d partitions of the repartition topic finished before the kill: not mid-run", n)
		}
		procs[0].kill(t, "0")
		// the processes started now list where the source ends
		// before the release, as those that run on did: all end
		// at the same offsets (the release adds a commit marker)
		started := []*stage{startStageOn(t, ctx, text, &kafkatest.Cutter{}), startStageOn(t, ctx, text, &kafkatest.Cutter{})}
		waitFor(t, "the processes started after the kill list where the source ends", func() bool { return listedEnds(started...) })
		tail.release(t)
		procs = append(procs[1:], started...)
	}
	for i, p := range procs {
		p.wait(t, ctx, fmt.Sprint(i))
	}
	sc.sameAsOneProcess(t, brokers)
}

// listedEnds reports whether every process has opened its Kafka source
// (listed where a bounded run of it ends).
func listedEnds(procs ...*stage) bool {
	for _, p := range procs {
		for _, ks := range p.job.KafkaSources() {
			if _, ends := ks.Offsets(); ends == nil {
				return false
			}
		}
	}
	return true
}

// doneMarkers returns how many partitions of the repartition topic topic
// group committed at a done marker (finished in a bounded run), -1 when
// the offsets cannot be fetched.
func doneMarkers(ctx context.Context, brokers, group, topic string) int {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		return -1
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err != nil {
		return -1
	}
	n := 0
	for _, o := range resp[topic] {
		if strings.HasPrefix(o.Metadata, "sluice-done:") {
			n++
		}
	}
	return n
}

// checkpointPast reports whether a partition of the repartition topic
// topic is committed by group with a stage-2 checkpoint whose watermark is
// past wm (not a done marker: a partition still being read).
func checkpointPast(ctx context.Context, brokers, group, topic string, wm int64) bool {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		return false
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err != nil {
		return false
	}
	for _, o := range resp[topic] {
		rest, ok := strings.CutPrefix(o.Metadata, "sluice-stage2:")
		w, _, _ := strings.Cut(rest, ":")
		if v, err := strconv.ParseInt(w, 10, 64); ok && err == nil && v > wm {
			return true
		}
	}
	return false
}

// TestJoinRepartitionPlan: a join whose streams are read in a consumer
// group is repartitioned when splitting them would split its keys, and
// EXPLAIN names the topic and each input's routing in each stage; a
// stream-table join with nothing keyed after it splits as its stream
// does, every process reading the table whole.
func TestJoinRepartitionPlan(t *testing.T) {
	t.Parallel()
	for name, tt := range map[string]struct {
		sc    joinScenario
		stage []string
	}{
		"interval": {paidOrders(), []string{"stage 1:", "reads orders and payments as members of group g", "g-out-repartition (32 partitions",
			"orders by o.order_id and payments by p.order_id", "stage 2:"}},
		"table": {tradersWindows(t), []string{"reads trades as a member of group g", "g-out-repartition (32 partitions", "to the partition of its t.trader_id",
			"every process reads table traders whole"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			brokers := tt.sc.start(t)
			j := prepare(t, context.Background(), tt.sc.text(brokers, "'out.type'='stdout'", "group.id", "g"), runner.Options{UntilEnd: true})
			defer j.Discard()
			if rp := j.Plan.Repartition; rp == nil || rp.Topic != "g-out-repartition" {
				t.Fatalf("repartition %+v, want through g-out-repartition", rp)
			}
			var b strings.Builder
			if err := plan.Explain(&b, []*plan.Plan{j.Plan}); err != nil {
				t.Fatal(err)
			}
			for _, want := range tt.stage {
				if !strings.Contains(b.String(), want) {
					t.Errorf("EXPLAIN does not say %q:\n%s", want, b.String())
				}
			}
		})
	}
	t.Run("plain stream-table join", func(t *testing.T) {
		t.Parallel()
		sc := tradersWindows(t)
		brokers := sc.start(t)
		text := fmt.Sprintf(`SELECT t.trader_id, t.quantity, r.name FROM trades t JOIN traders r ON t.trader_id = r.trader_id
WITH ('trades.type'='kafka_source', 'trades.bootstrap.servers'='%[1]s', 'trades.group.id'='g',
      'traders.type'='kafka_source', 'traders.bootstrap.servers'='%[1]s', 'traders.primary.key'='trader_id', 'traders.broadcast'='false')`, brokers)
		j := prepare(t, context.Background(), text, runner.Options{UntilEnd: true})
		defer j.Discard()
		if s := j.Plan.ScaleOut(); !s.Split || j.Plan.Repartition != nil || !strings.Contains(s.Why, "reads table traders whole") {
			t.Errorf("scale-out %+v, want split without a repartition topic, every process reading the table whole", s)
		}
	})
}

// TestUnrepartitionedJoinStopsOnSecondMember: a stream-stream join run in
// a consumer group without a repartition topic would join the part of
// its FROM stream each process reads with the whole other stream, and
// write an outer join's unmatched rows once per process: with
// 'repartition'='false' the job runs in one process, and the group's
// second member stops both.
func TestUnrepartitionedJoinStopsOnSecondMember(t *testing.T) {
	t.Parallel()
	for name, tt := range map[string]struct{ join, with string }{
		"repartition off":      {"JOIN", ", 'repartition'='false'"},
		"full join, no repart": {"FULL JOIN", ", 'repartition'='false'"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			secondMemberStops(t, paidOrdersN(3000, tt.join), tt.with)
		})
	}
}

// secondMemberStops runs the scenario in one process of a group, then a
// second, and checks that both stop, naming the join.
func secondMemberStops(t *testing.T, sc joinScenario, with string) {
	brokers := sc.start(t)
	dir := t.TempDir()
	text := func(out string) string {
		return sc.text(brokers, fmt.Sprintf("'out.type'='file_sink', 'out.path'='%s'%s", out, with),
			"group.id", "shared", "session.timeout.ms", "6000")
	}
	ctx, cancel := testContext(t)
	defer cancel()
	a := startMember(t, ctx, text(filepath.Join(dir, "a.jsonl")), filepath.Join(dir, "a.jsonl"))
	waitFor(t, "process a reads", func() bool { return a.in.Load() > 0 })
	b := startMember(t, ctx, text(filepath.Join(dir, "b.jsonl")), filepath.Join(dir, "b.jsonl"))
	bothStop(t, ctx, a, b, "stream-stream join")
}

// TestJoinStaysRepartitioned: once a join has run repartitioned in a group,
// its repartition topic may hold records committed on the streams that
// only stage 2 reads, so running it in one stage is refused, naming the
// topic.
func TestJoinStaysRepartitioned(t *testing.T) {
	t.Parallel()
	sc := paidOrders()
	brokers := sc.start(t)
	ctx := context.Background()
	first := prepare(t, ctx, sc.text(brokers, "'out.type'='stdout'", "group.id", "sticky"), runner.Options{UntilEnd: true})
	first.Discard()
	if first.Plan.Repartition == nil {
		t.Fatal("the join was not repartitioned")
	}
	stmts, err := sql.Parse("e2e.sql", sc.text(brokers, "'out.type'='stdout', 'repartition'='false'", "group.id", "sticky"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runner.Prepare(ctx, stmts[0], runner.Options{UntilEnd: true}); err == nil || !strings.Contains(err.Error(), "sticky-out-repartition") {
		t.Errorf("'repartition'='false' with the group's repartition topic: err = %v, want it refused naming the topic", err)
	}
}

// TestJoinGroupOfFromOnly: only the FROM stream names the consumer group;
// a group on another input is refused, saying how each input is read.
func TestJoinGroupOfFromOnly(t *testing.T) {
	t.Parallel()
	sc := paidOrders()
	brokers := sc.start(t)
	text := strings.Replace(sc.text(brokers, "'out.type'='stdout'", "group.id", "g"), "'payments.type'", "'payments.group.id'='g', 'payments.type'", 1)
	stmts, err := sql.Parse("e2e.sql", text)
	if err != nil {
		t.Fatal(err)
	}
	_, err = runner.Prepare(context.Background(), stmts[0], runner.Options{UntilEnd: true})
	if err == nil || !strings.Contains(err.Error(), "only the FROM source orders has a consumer group") || !strings.Contains(err.Error(), "read in orders's group") {
		t.Errorf("err = %v, want the group of payments refused", err)
	}
}

// TestOneProcessJoinRestart: a stream-stream join run in one process of a
// consumer group ('repartition'='false') reads only its FROM stream in the
// group, and its other streams whole, so a restart from the FROM stream's
// committed offsets would join every payment with part of the orders and
// write again with NULLs the payments whose orders were before them. A
// FULL join's process therefore commits nothing (EXPLAIN says why), and a
// restart writes the one-process rows again; a LEFT join's, whose
// unmatched rows are the FROM stream's, commits as it goes and a restart
// writes no row that one process does not.
func TestOneProcessJoinRestart(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		join    string
		commits bool
	}{{"FULL JOIN", false}, {"LEFT JOIN", true}} {
		t.Run(tt.join, func(t *testing.T) {
			t.Parallel()
			sc := unpaidOrders(tt.join, "WITHIN INTERVAL '1' SECOND")
			brokers := sc.start(t)
			want := sc.oneProcess(t, brokers)
			dir := t.TempDir()
			for run := range 2 {
				out := filepath.Join(dir, fmt.Sprintf("run%d.jsonl", run))
				j, _ := runToEnd(t, sc.text(brokers, fmt.Sprintf("'out.type'='file_sink', 'out.path'='%s', 'repartition'='false'", out), "group.id", "g"))
				if s := j.Plan.ScaleOut(); (s.Restart == "") != tt.commits {
					t.Fatalf("scale-out %+v: want a restart from committed offsets %v", s, tt.commits)
				}
				got := sc.rows(t, readLines(t, out))
				if run == 0 || !tt.commits {
					sameLines(t, fmt.Sprintf("rows of run %d", run), got, want)
					continue
				}
				for _, r := range got {
					if _, ok := slices.BinarySearch(want, r); !ok {
						t.Errorf("the restart wrote a row one process does not: %s", r)
					}
				}
			}
			offs, err := groupOffsets(context.Background(), brokers, "g", "orders")
			if err != nil {
				t.Fatal(err)
			}
			if committed := len(offs) > 0; committed != tt.commits {
				t.Errorf("group g committed orders offsets %v, want commits %v", offs, tt.commits)
			}
		})
	}
}

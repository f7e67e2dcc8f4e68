package e2e

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sluicesql/sluice/connector/kafka"
)

// TestChainedStreamJoinsFromKafka joins three Kafka topics in one
// statement: orders with their payments on order_id, then the payments'
// cards with alerts on card (an exchange between the joins), and counts
// per customer (an exchange after them), and compares the counts with a
// nested loop's.
func TestChainedStreamJoinsFromKafka(t *testing.T) {
	t.Parallel()
	type row struct{ key, ts, x int64 }
	var orders, payments, alerts []row // key: order_id, order_id, card; x: customer, card, -
	var ord, pay, ale []kafka.Message
	for i := range int64(400) {
		orders = append(orders, row{i, i * 100, i % 17})
		ord = append(ord, kafka.Message{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprintf(`{"order_id":%d,"customer":%d,"ts":%d}`, i, i%17, i*100))})
		if i%3 != 0 {
			ts := i*100 + (i%7)*250 // within 1.5 s of the order: some too late
			payments = append(payments, row{i, ts, i % 11})
			pay = append(pay, kafka.Message{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprintf(`{"order_id":%d,"card":%d,"ts":%d}`, i, i%11, ts))})
		}
		if i%4 == 0 {
			alerts = append(alerts, row{i % 11, i*100 + 50, 0})
			ale = append(ale, kafka.Message{Key: []byte(fmt.Sprint(i % 11)), Value: []byte(fmt.Sprintf(`{"card":%d,"ts":%d}`, i%11, i*100+50))})
		}
	}
	counts := map[int64]int{}
	for _, o := range orders {
		for _, p := range payments {
			if p.key != o.key || p.ts-o.ts < -1000 || p.ts-o.ts > 1000 {
				continue
			}
			n := 0
			for _, a := range alerts {
				if a.key == p.x && a.ts-p.ts >= -500 && a.ts-p.ts <= 500 {
					n++
				}
			}
			counts[o.x] += max(n, 1) // LEFT: one row with NULLs when none
		}
	}
	var want []string
	for c, n := range counts {
		want = append(want, fmt.Sprintf(`{"customer":%d,"n":%d}`, c, n))
	}
	slices.Sort(want)
	brokers := startCluster(t, "orders", "payments", "alerts")
	produce(t, brokers, "orders", ord)
	produce(t, brokers, "payments", pay)
	produce(t, brokers, "alerts", ale)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	j, sum := runToEnd(t, fmt.Sprintf(`CREATE STREAM out AS SELECT o.customer, COUNT(*) AS n
FROM orders o JOIN payments p ON o.order_id = p.order_id WITHIN INTERVAL '1' SECOND
LEFT JOIN alerts a ON p.card = a.card AND a.ts BETWEEN p.ts - INTERVAL '500' MILLISECONDS AND p.ts + INTERVAL '500' MILLISECONDS
GROUP BY o.customer EMIT FINAL
WITH ('event.time.field'='ts',
      'orders.type'='kafka_source', 'orders.bootstrap.servers'='%[1]s',
      'payments.type'='kafka_source', 'payments.bootstrap.servers'='%[1]s',
      'alerts.type'='kafka_source', 'alerts.bootstrap.servers'='%[1]s',
      'out.type'='file_sink', 'out.path'='%[2]s')`, brokers, out))
	p := j.Plan
	if len(p.Stages) != 2 || !p.Stages[1].Exchange || p.Inputs[2].Routing != "exchange on a.card" || len(p.FinalKeys) != 1 {
		t.Errorf("stages %+v, alerts routed %q, final exchange %v", p.Stages, p.Inputs[2].Routing, p.FinalKeys)
	}
	if n := int64(len(ord) + len(pay) + len(ale)); sum.Total.In != n {
		t.Errorf("in %d, want %d", sum.Total.In, n)
	}
	sameLines(t, "counts", readLines(t, out), want)
}

package e2e

import (
	"strings"
	"testing"
)

// unpaidCustomers counts the rows of unpaidOrders' LEFT JOIN, its order
// ids recurring, per customer in windows of 200ms: an unpaid order (or one
// paid too late) is counted with NULLs once the join's bound passed it, so
// its row goes through the exchange topic as its partition's watermark
// decides it.
func unpaidCustomers() joinScenario {
	return exchangedShape("SELECT o.customer, _WINDOW_START AS w, COUNT(*) AS n, COUNT(p.pay_id) AS paid, SUM(p.pay_id) AS pays, SUM(o.amount) AS amount",
		"GROUP BY o.customer WINDOW TUMBLING(INTERVAL '200' MILLISECOND) EMIT FINAL", "customer", "w").outer("LEFT JOIN")
}

// unpaidCodes counts the rows of unpaidOrders' FULL JOIN, its order ids
// recurring, in windows of 300ms per code: the order's amount modulo 7,
// or the payment's code modulo 7 for a payment of no order (unknown
// orders, or paid too late).
func unpaidCodes() joinScenario {
	return exchangedShape("SELECT COALESCE(o.amount, p.paid) %% 7 AS code, _WINDOW_START AS w, COUNT(*) AS n, COUNT(o.order_id) AS orders, COUNT(p.pay_id) AS paid",
		"GROUP BY COALESCE(o.amount, p.paid) %% 7 WINDOW TUMBLING(INTERVAL '300' MILLISECOND) EMIT FINAL", "code", "w").outer("FULL JOIN")
}

// outer makes the scenario's inner join an outer one (join: "LEFT JOIN",
// "FULL JOIN").
func (sc joinScenario) outer(join string) joinScenario {
	sc.stmt = strings.Replace(sc.stmt, "FROM orders o JOIN payments p", "FROM orders o "+join+" payments p", 1)
	return sc
}

// TestExchangedOuterJoinsAcrossProcesses runs outer stream-stream joins
// whose query after the join groups on another key than the join's (a
// LEFT JOIN's windows per customer, a FULL JOIN's windows per a key of
// either side) in three processes of one consumer group, and the LEFT
// JOIN again with one killed mid-run (kill -9) and restarted while a
// fourth joins: stage 2 decides each row with NULLs by its partition's
// watermark as the records carry it, so a replay writes the same ones
// with the same identity, and stage 3 drops the copies. The group writes
// exactly the rows of one process. The cases run one after the other:
// under -race on a loaded machine, three groups of processes at once
// starved the broker until a stage 2 could not drain within its timeout.
func TestExchangedOuterJoinsAcrossProcesses(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		sc   func() joinScenario
		kill bool
	}{
		{"left/three", unpaidCustomers, false},
		{"full/three", unpaidCodes, false},
		{"left/kill-and-join", unpaidCustomers, true},
	} {
		t.Run(tt.name, func(t *testing.T) { tt.sc().acrossProcesses(t, tt.kill) })
	}
}

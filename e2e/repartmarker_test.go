package e2e

import (
	"fmt"
	"testing"
)

// TestRepartitionedEndAfterTransactionMarker runs a bounded repartitioned
// statement in two processes over a topic written in Kafka transactions,
// whose partitions end with a commit marker (a control record, no data):
// each process reads its partitions up to the end offsets it listed, the
// markers included, and both end with the one-process windows.
func TestRepartitionedEndAfterTransactionMarker(t *testing.T) {
	t.Parallel()
	brokers := startCluster(t, "trades")
	trades := genTrades(t, 3000, 40)
	msgs := keyBy(trades, byTrader)
	produce(t, brokers, "trades", msgs[:1000])
	holdTail(t, brokers, "trades", msgs[1000:]).release(t) // written in a transaction, committed
	src := kafkaTrades(brokers, "group.id", "g", "session.timeout.ms", "6000")
	text := fmt.Sprintf(perSymbolWindow, src, "%s")
	sameLines(t, "windows of two processes", runStages(t, text, 2, t.TempDir(), "p"), singleProcess(t, trades))
}

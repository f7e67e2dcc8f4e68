package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/connector"
)

// TestMalformedMessagesReachTheDLQ produces keyed trades with some values
// that are not JSON objects and some whose WHERE fails to evaluate, and runs
// a filter over them: each failing message is in the 'dlq.path' file with
// its exact bytes, partition and offset, the good ones are processed, and
// the counters balance (decode failures counted by the source, evaluation
// failures by the partitions).
func TestMalformedMessagesReachTheDLQ(t *testing.T) {
	t.Parallel()
	brokers := startCluster(t, "trades")
	trades := genTrades(t, 3000, 40)
	msgs := keyBy(trades, byTrader)
	malformed := map[int]string{3: `{"trader_id":`, 500: `not json`, 1234: `{"price": 1.2.3}`, 2999: "\xff\xfe{}", 2000: `[1,2]`}
	failing := map[int]string{10: `{"trader_id":1,"symbol":"X","price":1.5,"quantity":"lots"}`, 2500: `{"trader_id":2,"quantity":true}`}
	bad := map[int]string{}
	for _, m := range []map[int]string{malformed, failing} {
		for i, v := range m {
			bad[i] = v
		}
	}
	where := places(msgs)
	wantRows := spoil(msgs, trades, bad)
	produce(t, brokers, "trades", msgs)

	dir := t.TempDir()
	dlqPath, out := filepath.Join(dir, "dead.jsonl"), filepath.Join(dir, "out.jsonl")
	_, sum := runToEnd(t, fmt.Sprintf(`CREATE STREAM big AS
SELECT trader_id, symbol, quantity FROM trades WHERE quantity > 500
WITH (%s, 'big.type'='file_sink', 'big.path'='%s', 'dlq.path'='%s')`, kafkaTrades(brokers), out, dlqPath))

	dead := map[at]connector.DeadLetterJSON{}
	for _, line := range readLines(t, dlqPath) {
		var e connector.DeadLetterJSON
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("dead-letter line %q: %v", line, err)
		}
		dead[at{e.Partition, e.Offset}] = e
	}
	if len(dead) != len(bad) {
		t.Errorf("%d dead letters, want %d", len(dead), len(bad))
	}
	for i, raw := range bad {
		e, ok := dead[where[i]]
		switch {
		case !ok:
			t.Errorf("message %d (%q) at partition %d offset %d is not in the DLQ", i, raw, where[i].p, where[i].o)
		case e.Source != "trades" || e.Reason == "" || e.Time.IsZero():
			t.Errorf("dead letter %+v: want source trades, a reason and a time", e)
		case failing[i] != "" && !(strings.Contains(e.Reason, "column quantity") && strings.Contains(e.Reason, "does not fit type INTEGER")):
			// The schema inferred from the topic types quantity INTEGER.
			t.Errorf("dead letter %+v: want a reason naming the column and its type", e)
		case original(t, e) != raw:
			t.Errorf("dead letter at partition %d offset %d holds %q, want the original %q", e.Partition, e.Offset, original(t, e), raw)
		}
	}

	if rows := len(readLines(t, out)); rows != wantRows {
		t.Errorf("%d rows written, want %d", rows, wantRows)
	}
	tot := sum.Total
	if tot.In != int64(len(msgs)) || tot.DeadLettered != int64(len(bad)) || sum.DeadLetters != int64(len(bad)) ||
		sum.SourceDeadLettered["trades"] != int64(len(bad)) {
		t.Errorf("in %d, dead-lettered %d (summary %d, by source %v); want %d, %d and %d by the source",
			tot.In, tot.DeadLettered, sum.DeadLetters, sum.SourceDeadLettered, len(msgs), len(bad), len(bad))
	}
	if tot.Accepted != int64(wantRows) || tot.Filtered != int64(len(msgs)-len(bad)-wantRows) || sum.RowsWritten != int64(wantRows) {
		t.Errorf("accepted %d, filtered %d, rows written %d; want %d, %d, %d",
			tot.Accepted, tot.Filtered, sum.RowsWritten, wantRows, len(msgs)-len(bad)-wantRows, wantRows)
	}
	if sum.DLQPath != dlqPath {
		t.Errorf("summary names DLQ %q, want %q", sum.DLQPath, dlqPath)
	}
}

// original returns a dead letter's original bytes.
func original(t *testing.T, e connector.DeadLetterJSON) string {
	t.Helper()
	b, err := e.Bytes()
	if err != nil {
		t.Fatalf("dead letter raw %q: %v", e.Raw, err)
	}
	return string(b)
}

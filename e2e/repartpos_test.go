package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/runner"
	"github.com/sluicesql/sluice/sql"
)

// perSymbolPositions is perSymbolWindow reading the records' places in
// their source, with a WHERE that fails (a division by zero) for every
// trade whose quantity is a multiple of 50; %s are the source's
// properties, the sink's path and the dead-letter queue's properties.
const perSymbolPositions = `CREATE STREAM per_symbol AS
SELECT symbol, _WINDOW_START AS w, COUNT(*) AS n, MIN(_OFFSET) AS lo, MAX(_OFFSET) AS hi,
       MAX(_PARTITION) AS p, SUM(_PARTITION * 1000000 + _OFFSET) AS pos
FROM trades
WHERE 100 / (quantity %% 50) >= 0
GROUP BY symbol
WINDOW TUMBLING(trade_time, INTERVAL '100' MILLISECOND)
EMIT FINAL
WITH (%s, 'per_symbol.type'='file_sink', 'per_symbol.path'='%s', %s, 'commit.interval'='50ms')`

// TestRepartitionedSourcePositions: _PARTITION and _OFFSET in a statement
// repartitioned across two processes are the records' places in the
// source, as in one process: the windows are one process's. A record that
// fails to evaluate in stage 2 is dead-lettered at its place in the
// source too (the place Kafka's partitioner gave it when it was produced),
// with its place in the repartition topic beside it and its row as
// stage 1 decoded it, in a dead-letter file and in a dead-letter topic
// (one process writes each), whose messages' key and headers say the same.
func TestRepartitionedSourcePositions(t *testing.T) {
	t.Parallel()
	brokers := startCluster(t, "trades", "dead")
	trades := genTrades(t, 4000, 40)
	msgs := keyBy(trades, byTrader)
	produce(t, brokers, "trades", msgs)
	// where each trade is in the source, and those that fail
	type place struct {
		p int32
		o int64
	}
	next := map[int32]int64{}
	failing := map[place]trade{}
	for i, m := range msgs {
		p := kafka.Partition(m.Key, kafkaPartitions)
		if trades[i].quantity%50 == 0 {
			failing[place{p, next[p]}] = trades[i]
		}
		next[p]++
	}
	if len(failing) == 0 {
		t.Fatal("no trade fails: the test checks no dead letter")
	}
	dir := t.TempDir()

	// one process, not in a group: not repartitioned
	out, dead := filepath.Join(dir, "one.jsonl"), filepath.Join(dir, "one.dlq.jsonl")
	j, _ := runToEnd(t, fmt.Sprintf(perSymbolPositions, kafkaTrades(brokers), out, "'dlq.path'='"+dead+"'"))
	if j.Plan.Repartition != nil {
		t.Fatal("the single process is repartitioned")
	}
	want := windowRows(t, out)

	ctx, cancel := testContext(t)
	defer cancel()
	src := kafkaTrades(brokers, "group.id", "pos", "session.timeout.ms", "6000")
	outs := []string{filepath.Join(dir, "p0.jsonl"), filepath.Join(dir, "p1.jsonl")}
	deadFile := filepath.Join(dir, "p0.dlq.jsonl")
	procs := []*stage{
		startStage(t, ctx, fmt.Sprintf(perSymbolPositions, src, outs[0], "'dlq.path'='"+deadFile+"'")),
		startStage(t, ctx, fmt.Sprintf(perSymbolPositions, src, outs[1], "'dlq.topic'='dead'")),
	}
	for i, p := range procs {
		p.wait(t, ctx, fmt.Sprint("process ", i))
	}
	sameLines(t, "windows of two processes", windowRows(t, outs...), want)

	// the dead letters: one process's, each at the failing trade's place
	// in the source; those of stage 2 name the place in the topic too
	check := func(what string, lines []string, repartitioned bool) {
		t.Helper()
		got := map[place]bool{}
		for _, line := range lines {
			var d connector.DeadLetterJSON
			if err := json.Unmarshal([]byte(line), &d); err != nil {
				t.Fatalf("%s: dead letter %s: %v", what, line, err)
			}
			at := place{d.Partition, d.Offset}
			tr, ok := failing[at]
			switch {
			case !ok:
				t.Errorf("%s: dead letter at %d/%d, where no trade fails: %s", what, d.Partition, d.Offset, line)
				continue
			case d.Source != "trades" || !strings.Contains(d.Reason, "division by zero"):
				t.Errorf("%s: dead letter %s: want source trades, reason division by zero", what, line)
			case !repartitioned && (d.Repartition != nil || d.Raw != string(tr.line)):
				t.Errorf("%s: dead letter %s: want the source's bytes %s, no repartition place", what, line, tr.line)
			case repartitioned && (d.Repartition == nil || d.Repartition.Topic != "pos-per_symbol-repartition"):
				t.Errorf("%s: dead letter %s: want its place in pos-per_symbol-repartition", what, line)
			case repartitioned && !rowOf(t, d.Raw, tr):
				t.Errorf("%s: dead letter %s: want the row of %s", what, line, tr.line)
			}
			got[at] = true
		}
		if len(got) != len(failing) {
			t.Errorf("%s: dead letters at %d places, want the %d failing trades'", what, len(got), len(failing))
		}
	}
	check("one process", deadLines(t, dead), false)
	lines := deadLines(t, deadFile)
	t.Logf("stage 2 dead-lettered %d records to its file and the rest to its topic", len(lines))
	for _, m := range readTopic(t, brokers, "dead") {
		lines = append(lines, string(m.Value))
		var d connector.DeadLetterJSON
		if err := json.Unmarshal(m.Value, &d); err != nil || d.Repartition == nil {
			t.Fatalf("dead-letter message %s: %v", m.Value, err)
		}
		hdrs := map[string]string{}
		for _, h := range m.Headers {
			hdrs[h.Key] = string(h.Value)
		}
		want := map[string]string{kafka.HeaderDLQSource: "trades", kafka.HeaderDLQPartition: fmt.Sprint(d.Partition), kafka.HeaderDLQOffset: fmt.Sprint(d.Offset),
			kafka.HeaderDLQReason: d.Reason, kafka.HeaderDLQRepartition: fmt.Sprintf("%s/%d/%d", d.Repartition.Topic, d.Repartition.Partition, d.Repartition.Offset)}
		if key := fmt.Sprintf("trades/%d/%d", d.Partition, d.Offset); string(m.Key) != key || fmt.Sprint(hdrs) != fmt.Sprint(want) {
			t.Errorf("dead-letter message %s: key %q, headers %v; want key %q, headers %v", m.Value, m.Key, hdrs, key, want)
		}
	}
	check("two processes", lines, true)
}

// deadLines returns the lines of a dead-letter file (none when there is
// no file: a process dead-lettered nothing).
func deadLines(t *testing.T, path string) []string {
	t.Helper()
	if _, err := os.Stat(path); os.IsNotExist(err) {
		return nil
	}
	return readLines(t, path)
}

// rowOf reports whether the JSON row raw holds tr's trader, symbol and
// quantity.
func rowOf(t *testing.T, raw string, tr trade) bool {
	t.Helper()
	var r struct {
		Trader   json.Number `json:"trader_id"`
		Symbol   string      `json:"symbol"`
		Quantity int64       `json:"quantity"`
	}
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		t.Errorf("raw %s: %v", raw, err)
		return false
	}
	return r.Trader.String() == tr.trader && r.Symbol == tr.symbol && r.Quantity == tr.quantity
}

// TestRepartitionedTableJoinSourcePositions: _PARTITION and _OFFSET after a
// stream-table join repartitioned across two processes are the stream
// records' places in their source, as in one process.
func TestRepartitionedTableJoinSourcePositions(t *testing.T) {
	t.Parallel()
	sc := tradersWindows(t)
	sc.stmt = strings.Replace(sc.stmt, "MAX(r.name) AS name", "MAX(r.name) AS name, MIN(_OFFSET) AS lo, MAX(_OFFSET) AS hi, SUM(_PARTITION * 1000000 + _OFFSET) AS pos", 1)
	brokers := sc.start(t)
	want := sc.oneProcess(t, brokers)
	ctx, cancel := testContext(t)
	defer cancel()
	dir := t.TempDir()
	var procs []*stage
	var outs []string
	for i := range 2 {
		outs = append(outs, filepath.Join(dir, fmt.Sprintf("p%d.jsonl", i)))
		procs = append(procs, startStage(t, ctx, sc.text(brokers, fmt.Sprintf("'out.type'='file_sink', 'out.path'='%s'", outs[i]), "group.id", "g", "session.timeout.ms", "6000")))
	}
	var lines []string
	for i, p := range procs {
		p.wait(t, ctx, fmt.Sprint("process ", i))
		lines = append(lines, deadLines(t, outs[i])...)
	}
	sameLines(t, "rows of two processes", sc.rows(t, lines), want)
}

// TestRepartitionedJoinSourcePositionRefused: _PARTITION and _OFFSET in a
// stream-stream join repartitioned across processes are refused before
// anything is read, at the column, naming the way out.
func TestRepartitionedJoinSourcePositionRefused(t *testing.T) {
	t.Parallel()
	brokers := startCluster(t, "orders", "payments")
	text := fmt.Sprintf(`SELECT o.order_id, _OFFSET AS o FROM orders o JOIN payments p ON o.order_id = p.order_id WITHIN INTERVAL '1' SECOND
WITH ('orders.type'='kafka_source', 'orders.bootstrap.servers'='%[1]s', 'orders.group.id'='g',
      'payments.type'='kafka_source', 'payments.bootstrap.servers'='%[1]s', 'event.time.field'='ts',
      'orders.columns'='order_id BIGINT, ts BIGINT', 'payments.columns'='order_id BIGINT, ts BIGINT')`, brokers)
	stmts, err := sql.Parse("e2e.sql", text)
	if err != nil {
		t.Fatal(err)
	}
	_, err = runner.Prepare(context.Background(), stmts[0], runner.Options{})
	if err == nil || !strings.Contains(err.Error(), "_OFFSET") || !strings.Contains(err.Error(), "1:20") || !strings.Contains(err.Error(), "'repartition'='false'") {
		t.Errorf("err = %v, want _OFFSET refused at 1:20, naming 'repartition'='false'", err)
	}
}

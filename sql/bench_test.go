package sql

import (
	"strings"
	"testing"
)

// benchStatement is a statement of about 2 KB using most of the dialect.
var benchStatement = func() string {
	var b strings.Builder
	b.WriteString("-- @partitioning_strategy: hash\n-- @num_partitions: 8\n")
	b.WriteString("CREATE STREAM trade_stats AS\nSELECT t.trader_id PRIMARY KEY, t.symbol, COUNT(*) AS trade_count, COUNT(DISTINCT t.venue) AS venues,\n")
	b.WriteString("  AVG(t.price) AS avg_price, SUM(t.quantity) AS total_quantity, SUM(t.price * t.quantity) AS total_value,\n")
	b.WriteString("  MIN(t.price) AS low, MAX(t.price) AS high, STDDEV(t.price) AS vol, _window_start AS window_start,\n")
	b.WriteString("  CASE WHEN SUM(t.quantity) > 10000 THEN 'large' WHEN SUM(t.quantity) > 1000 THEN 'medium' ELSE 'small' END AS size_band,\n")
	b.WriteString("  CAST(AVG(t.price) AS DECIMAL(18, 4)) AS avg_exact, 'desk ' || t.desk AS desk_label,\n")
	b.WriteString("  FIRST_VALUE(t.price) AS open_price, LAST_VALUE(t.price) AS close_price, MEDIAN(t.quantity) AS median_qty,\n")
	b.WriteString("  (MAX(t.price) - MIN(t.price)) / NULLIF(AVG(t.price), 0) * 100 AS range_pct, 1e-3 * SUM(t.fee) AS fees_k\n")
	b.WriteString("FROM trades t\nJOIN traders tr ON t.trader_id = tr.id AND tr.active = TRUE WITHIN INTERVAL '5' MINUTES\n")
	b.WriteString("WHERE t.price > 0 AND t.quantity BETWEEN 1 AND 1000000 AND t.symbol NOT IN ('TEST1', 'TEST2', 'TEST3')\n")
	b.WriteString("  AND t.venue LIKE 'X%' AND t.cancelled IS NULL AND (t.side = 'B' OR t.side = 'S') AND NOT t.internal\n")
	b.WriteString("  AND t.trade_time >= TIMESTAMP '2024-01-15 00:00:00' AND t.notional * 1.05 < 12500000.50 -- sanity bound\n")
	b.WriteString("GROUP BY t.trader_id, t.symbol, t.desk\nHAVING COUNT(*) > 10 AND SUM(t.quantity) > 100\n")
	b.WriteString("WINDOW TUMBLING(trade_time, INTERVAL '1' MINUTE)\nEMIT CHANGES\n")
	b.WriteString("WITH ('trades.type' = 'kafka_source', 'trades.topic.name' = 'trades', 'trades.bootstrap.servers' = 'localhost:9092',\n")
	b.WriteString("  'trades.group.id' = 'sluice-stats', 'trades.auto.offset.reset' = 'earliest', 'trades.format' = 'json',\n")
	b.WriteString("  'traders.type' = 'kafka_source', 'traders.topic.name' = 'traders', 'traders.format' = 'json',\n")
	b.WriteString("  'trade_stats.type' = 'kafka_sink', 'trade_stats.topic.name' = 'trade_stats', 'trade_stats.format' = 'json',\n")
	b.WriteString("  'event.time.field' = 'trade_time', 'watermark.max_out_of_orderness' = '5s', 'late.data.strategy' = 'dead_letter',\n")
	b.WriteString("  'window.allowed_lateness' = '10s', 'partitioning_strategy' = 'always_hash', 'comment' = 'it''s a benchmark statement')")
	return b.String()
}()

func TestBenchStatement(t *testing.T) {
	if n := len(benchStatement); n < 1900 || n > 2300 {
		t.Errorf("benchmark statement is %d bytes, want about 2 KB", n)
	}
	stmts, err := Parse("bench.sql", benchStatement)
	if err != nil || len(stmts) != 1 {
		t.Fatalf("Parse: %v", err)
	}
	checkRoundTrip(t, stmts[0])
}

// BenchmarkParse parses a 2 KB statement; rec/s is statements per second.
func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchStatement)))
	for b.Loop() {
		if _, err := Parse("bench.sql", benchStatement); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rec/s")
}

// BenchmarkPrint renders the same statement as canonical SQL.
func BenchmarkPrint(b *testing.B) {
	stmts, err := Parse("bench.sql", benchStatement)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = stmts[0].String()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rec/s")
}

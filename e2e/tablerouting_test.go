package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/plan"
	"github.com/sluicesql/sluice/runner"
)

// regionWindows is a stream enriched by a table and aggregated by a column
// of the table: trades (8 partitions, keyed by symbol) joined on trader_id
// with a traders table (3 partitions, followed) that gives each of 400
// traders a region and a desk, counted per region in windows of 100ms.
// Some traders changed region before the run (the latest row counts) and
// some are missing (an inner join drops their trades). The routing key reads the table, so
// stage 1 joins and writes the joined rows to the repartition topic.
func regionWindows(t *testing.T) joinScenario { return regionWindowsN(t, 8000) }

// regionWindowsN is regionWindows over n trades.
func regionWindowsN(t testing.TB, n int64) joinScenario {
	trades := genTrades(t, n, 400)
	var traders []kafka.Message
	for i := range 360 { // traders 360 to 399 are unknown
		traders = append(traders, kafka.Message{Key: fmt.Appendf(nil, "%d", i), Value: fmt.Appendf(nil, `{"trader_id":%d,"region":"r%d","desk":%d}`, i, i%7, i%97)})
	}
	for i := 0; i < 360; i += 5 {
		traders = append(traders, kafka.Message{Key: fmt.Appendf(nil, "%d", i), Value: fmt.Appendf(nil, `{"trader_id":%d,"region":"moved %d","desk":%d}`, i, i%3, i%97)})
	}
	return joinScenario{
		kafkaInput: kafkaInput{from: "trades", sized: map[string]int32{"trades": 8, "traders": 3},
			data: map[string][]kafka.Message{"trades": keyBy(trades, bySymbol), "traders": traders}},
		stmt: `CREATE STREAM out AS
SELECT r.region, _WINDOW_START AS w, COUNT(*) AS n, SUM(t.quantity) AS qty
FROM trades t JOIN traders r ON t.trader_id = r.trader_id
GROUP BY r.region
WINDOW TUMBLING(trade_time, INTERVAL '100' MILLISECOND)
EMIT FINAL
WITH ('trades.type'='kafka_source', 'trades.bootstrap.servers'='%[1]s'%[2]s,
      'traders.type'='kafka_source', 'traders.bootstrap.servers'='%[1]s', 'traders.primary.key'='trader_id',
      'commit.interval'='50ms', %[3]s)`,
		key: []string{"region", "w"},
	}
}

// regionShape is regionWindows with its SELECT and the clauses after the
// join replaced, its output rows identified by key.
func regionShape(t *testing.T, join, sel, tail string, key ...string) joinScenario {
	sc := regionWindows(t)
	sc.stmt = strings.NewReplacer(
		"SELECT r.region, _WINDOW_START AS w, COUNT(*) AS n, SUM(t.quantity) AS qty", sel,
		"FROM trades t JOIN", "FROM trades t "+join,
		"GROUP BY r.region\nWINDOW TUMBLING(trade_time, INTERVAL '100' MILLISECOND)\nEMIT FINAL", tail).Replace(sc.stmt)
	sc.key = key
	return sc
}

// TestTableColumnRoutedAcrossProcesses runs a stream-table join aggregated
// by a column of the table in processes of one consumer group: the
// windowed count per region in three processes, one of them killed
// mid-run (as by kill -9) and restarted while a fourth joins, and in
// three processes the same count after a LEFT JOIN (the trades of unknown
// traders under a NULL region, routed by the NULL key) and the distinct
// (region, desk) pairs of the table. Stage 1 of every process looks each
// trade up in the traders table it read whole and writes the joined row
// to the repartition topic by the key; stage 2 runs the query after the
// join without looking the table up. The group writes exactly the rows
// one process writes.
func TestTableColumnRoutedAcrossProcesses(t *testing.T) {
	t.Parallel()
	t.Run("windows/kill-and-join", func(t *testing.T) {
		t.Parallel()
		regionWindows(t).acrossProcesses(t, true)
	})
	shapes := map[string]func(*testing.T) joinScenario{
		"left-windows": func(t *testing.T) joinScenario {
			return regionShape(t, "LEFT JOIN", "SELECT r.region, _WINDOW_START AS w, COUNT(*) AS n, SUM(t.quantity) AS qty",
				"GROUP BY r.region WINDOW TUMBLING(trade_time, INTERVAL '100' MILLISECOND) EMIT FINAL", "region", "w")
		},
		"distinct": func(t *testing.T) joinScenario {
			return regionShape(t, "JOIN", "SELECT DISTINCT r.region, r.desk", "")
		},
	}
	for name, shape := range shapes {
		t.Run(name+"/three", func(t *testing.T) {
			t.Parallel()
			shape(t).acrossProcesses(t, false)
		})
	}
}

// TestTableColumnRoutingPlan: a GROUP BY on a table's column over a stream
// read in a group is repartitioned with the table joined in stage 1, and
// EXPLAIN says so; with 'repartition'='false' it runs in one process per
// group.
func TestTableColumnRoutingPlan(t *testing.T) {
	t.Parallel()
	sc := regionWindows(t)
	brokers := sc.start(t)
	j := prepare(t, context.Background(), sc.text(brokers, "'out.type'='stdout'", "group.id", "g"), runner.Options{UntilEnd: true})
	defer j.Discard()
	rp := j.Plan.Repartition
	if rp == nil || rp.Topic != "g-out-repartition" || strings.Join(rp.JoinedTables, ",") != "traders" || strings.Join(rp.Key, ",") != "r.region" {
		t.Fatalf("repartition %+v, want through g-out-repartition by r.region, traders joined in stage 1", rp)
	}
	var b strings.Builder
	if err := plan.Explain(&b, []*plan.Plan{j.Plan}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"stage 1:      reads trades as a member of group g, and table traders whole",
		"looks each record up in traders as it reads it and writes the joined row",
		"to the partition of its r.region (murmur2)",
		"runs the query after the join over the joined rows",
		"it never looks traders up",
		"routed joined in stage 1 as trades is read",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("EXPLAIN lacks %q:\n%s", want, b.String())
		}
	}
	off := prepare(t, context.Background(), sc.text(brokers, "'out.type'='stdout', 'repartition'='false'", "group.id", "g2"), runner.Options{UntilEnd: true})
	defer off.Discard()
	if off.Plan.Repartition != nil {
		t.Fatalf("'repartition'='false' repartitioned: %+v", off.Plan.Repartition)
	}
}

// BenchmarkTableColumnRouted measures regionWindows over 100,000 trades,
// read from Kafka to the end of the topic: counted per region in one
// process without a group ("one-process": one stage, the followed table
// joined on one worker), per trader through the repartition topic, which
// stage 2 joins with the table ("joined-in-stage-2/1"), and per region
// through the topic with the table joined in stage 1 and the joined rows
// written to it, in one and two processes ("joined-in-stage-1/1", "/2").
// The ratio of "joined-in-stage-1/1" to "joined-in-stage-2/1" is the cost
// of carrying the table's columns through the topic. Run it with
//
//	go test ./e2e -run '^$' -bench TableColumnRouted -benchtime 3x
func BenchmarkTableColumnRouted(b *testing.B) {
	sc := regionWindowsN(b, 100000)
	brokers, _ := sc.filled(b)
	records := len(sc.data["trades"])
	by := func(key string) string {
		return strings.NewReplacer("SELECT r.region,", "SELECT "+key+",", "GROUP BY r.region", "GROUP BY "+key).Replace(sc.stmt)
	}
	benchHops(b, brokers, records, sc.kafkaInput, by, []hopRun{{"one-process", "r.region", 1, false}, {"joined-in-stage-2/1", "t.trader_id", 1, true}, {"joined-in-stage-1/1", "r.region", 1, true}, {"joined-in-stage-1/2", "r.region", 2, true}})
}

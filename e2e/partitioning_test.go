package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/partition"
	"github.com/sluicesql/sluice/plan"
)

// perTrader is the grouped query of the partitioning tests; %s is the
// source's WITH properties and %s the sink's path.
const perTrader = `CREATE STREAM per_trader AS
SELECT trader_id, COUNT(*) AS n, SUM(quantity) AS qty, SUM(price) AS total,
       MIN(price) AS lo, MAX(price) AS hi
FROM trades
GROUP BY trader_id
EMIT FINAL
WITH (%s, 'per_trader.type'='file_sink', 'per_trader.path'='%s')`

// kafkaTrades returns the WITH properties of a Kafka trades source.
func kafkaTrades(brokers string, extra ...string) string {
	props := []string{"'trades.type'='kafka_source'", fmt.Sprintf("'trades.bootstrap.servers'='%s'", brokers)}
	for i := 0; i+1 < len(extra); i += 2 {
		props = append(props, fmt.Sprintf("'trades.%s'='%s'", extra[i], extra[i+1]))
	}
	return strings.Join(props, ", ")
}

// TestPartitioningFromKafka runs GROUP BY trader_id over one set of trades
// produced to Kafka in different ways and checks the strategy the planner
// chooses, whether whole source partitions were routed (aligned) or records
// re-hashed, and that the result equals the same trades read from a file.
func TestPartitioningFromKafka(t *testing.T) {
	t.Parallel()
	trades := genTrades(t, 4000, 60)
	dir := t.TempDir()
	file := writeTrades(t, dir, trades)
	wantPath := filepath.Join(dir, "want.jsonl")
	j, _ := runToEnd(t, fmt.Sprintf(perTrader, fmt.Sprintf("'trades.type'='file_source', 'trades.path'='%s'", file), wantPath))
	if got := j.Plan.Strategy.Name(); got != partition.AlwaysHash {
		t.Errorf("file source: strategy %s, want %s (a file has no partition key)", got, partition.AlwaysHash)
	}
	want := readLines(t, wantPath)
	if len(want) != 60 {
		t.Fatalf("file source: %d groups, want 60", len(want))
	}

	cases := []struct {
		name     string
		key      func(trade) string // message key; nil: unkeyed
		props    []string           // extra source properties
		strategy string
		aligned  bool   // whole source partitions routed, none re-hashed
		origin   string // Facts.Origin of the source's partition key
		note     string // in Facts.Note: why a declared key was dropped
	}{
		{name: "keyed_declared", key: byTrader, props: []string{"partition.key", "trader_id"},
			strategy: partition.SmartRepartition, aligned: true, origin: "declared"},
		{name: "keyed_observed", key: byTrader,
			strategy: partition.SmartRepartition, aligned: true, origin: "observed"},
		{name: "unkeyed", strategy: partition.AlwaysHash},
		{name: "unkeyed_declared", props: []string{"partition.key", "trader_id"},
			strategy: partition.AlwaysHash, note: "contradicted"},
		{name: "false_claim", key: bySymbol, props: []string{"partition.key", "trader_id"},
			strategy: partition.AlwaysHash, note: "contradicted"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			brokers := startCluster(t, "trades")
			produce(t, brokers, "trades", keyBy(trades, tc.key))
			out := filepath.Join(t.TempDir(), "out.jsonl")
			j, sum := runToEnd(t, fmt.Sprintf(perTrader, kafkaTrades(brokers, tc.props...), out))

			facts := j.Plan.Inputs[0].Facts
			if facts.Partitions != kafkaPartitions {
				t.Errorf("facts: %d partitions, want %d", facts.Partitions, kafkaPartitions)
			}
			if facts.Origin != tc.origin {
				t.Errorf("facts: origin %q, want %q (facts %+v)", facts.Origin, tc.origin, facts)
			}
			if !strings.Contains(facts.Note, tc.note) || (tc.note == "") != (facts.Note == "") {
				t.Errorf("facts: note %q, want one containing %q", facts.Note, tc.note)
			}
			var explain strings.Builder
			if err := plan.Explain(&explain, []*plan.Plan{j.Plan}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(explain.String(), tc.strategy) || (tc.note != "" && !strings.Contains(explain.String(), tc.note)) {
				t.Errorf("EXPLAIN does not name strategy %s and note %q:\n%s", tc.strategy, tc.note, explain.String())
			}
			if got := j.Plan.Strategy.Name(); got != tc.strategy || sum.Strategy != tc.strategy {
				t.Errorf("strategy: plan %s, summary %s, want %s (%s)", got, sum.Strategy, tc.strategy, j.Plan.Reason)
			}
			if s, ok := j.Plan.Strategy.(*partition.SmartStrategy); ok {
				aligned, rehashed := s.Stats()
				if tc.aligned && (aligned != int64(len(trades)) || rehashed != 0) {
					t.Errorf("smart_repartition routed %d aligned, %d re-hashed; want all %d aligned", aligned, rehashed, len(trades))
				}
				if !tc.aligned && aligned != 0 {
					t.Errorf("smart_repartition routed %d records by source partition although the key is not trusted", aligned)
				}
			}
			if sum.Total.In != int64(len(trades)) {
				t.Errorf("records in %d, want %d", sum.Total.In, len(trades))
			}
			sameLines(t, "result vs the file source's", readLines(t, out), want)
		})
	}
}

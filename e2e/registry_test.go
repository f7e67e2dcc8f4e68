package e2e

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/sr/srfake"
)

// TestRegistryFormats runs a grouped query from JSON trades into a Kafka
// sink in each Schema Registry format (values and keys), reads that topic
// back in the same format with another statement, and checks that it reads
// what the query wrote to a file: the round trip through the registry
// changes no value. 'kafka.schema.registry.url' is set for the whole
// statement, so the JSON source ignores it.
func TestRegistryFormats(t *testing.T) {
	t.Parallel()
	trades := genTrades(t, 2000, 20)
	query := "SELECT trader_id, COUNT(*) AS n, SUM(quantity) AS qty, MAX(price) AS hi, CAST(MAX(price) AS DECIMAL(10,2)) AS hi2, " +
		"MAX(trade_time) AS last FROM trades GROUP BY trader_id"
	for _, format := range []string{"avro", "json_sr", "protobuf"} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			brokers := startCluster(t, "trades", "out")
			produce(t, brokers, "trades", keyBy(trades, byTrader))
			reg := srfake.New()
			t.Cleanup(reg.Close)
			dir := t.TempDir()
			want := filepath.Join(dir, "want.jsonl")
			with := kafkaTrades(brokers) + fmt.Sprintf(", 'kafka.schema.registry.url'='%s'", reg.URL())
			runToEnd(t, fmt.Sprintf("CREATE STREAM o AS %s EMIT FINAL WITH (%s, 'o.type'='file_sink', 'o.path'='%s')", query, with, want))
			runToEnd(t, fmt.Sprintf("CREATE STREAM out AS %s EMIT FINAL WITH (%s, 'out.type'='kafka_sink', 'out.bootstrap.servers'='%s', 'out.format'='%s', 'out.key.format'='%[4]s')",
				query, with, brokers, format))
			got := filepath.Join(dir, "got.jsonl")
			runToEnd(t, fmt.Sprintf("CREATE STREAM back AS SELECT * FROM out WITH ('out.type'='kafka_source', 'out.bootstrap.servers'='%s', 'out.format'='%s', 'out.key.format'='%[2]s', 'out.schema.registry.url'='%s', 'back.type'='file_sink', 'back.path'='%s')",
				brokers, format, reg.URL(), got))
			sameLines(t, format+" round trip", readLines(t, got), readLines(t, want))
		})
	}
}

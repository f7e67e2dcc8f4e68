package runner

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluicesql/sluice/sql"
)

// TestExactlyOnceRefused: 'processing.guarantee'='exactly_once' is refused,
// before anything runs, for what cannot take part in a Kafka transaction or
// be rebuilt after a restart.
func TestExactlyOnceRefused(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "trades", "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b := c.ListenAddrs()[0]
	src := "'trades.type'='kafka_source', 'trades.bootstrap.servers'='" + b + "', 'trades.group.id'='g'"
	sink := "'out.type'='kafka_sink', 'out.bootstrap.servers'='" + b + "'"
	eos := "'processing.guarantee'='exactly_once'"
	cases := []struct{ sql, want string }{
		{"CREATE STREAM out AS SELECT trader_id FROM trades WITH (" + src + ", 'out.type'='file_sink', 'out.path'='" + t.TempDir() + "/o.jsonl', " + eos + ")",
			"the sink is file_sink, which cannot take part in a Kafka transaction"},
		{"SELECT trader_id FROM trades WITH (" + src + ", " + eos + ")", "the sink is stdout"},
		{"CREATE STREAM out AS SELECT trader_id FROM t WITH ('t.type'='generator', 't.generator'='trades', " + sink + ", " + eos + ")",
			`the source "t" is not a Kafka topic`},
		{"CREATE STREAM out AS SELECT trader_id, COUNT(*) AS n FROM trades GROUP BY trader_id WITH (" + src + ", " + sink + ", " + eos + ")",
			"a GROUP BY without a window keeps its groups in memory"},
		{"CREATE STREAM out AS SELECT trader_id FROM trades WITH (" + src + ", " + sink + ", 'processing.guarantee'='exactly-once')",
			`invalid value "exactly-once" (valid values: at_least_once, exactly_once, exactly_once_v2)`},
		{"CREATE STREAM out AS SELECT trader_id FROM trades WITH ('trades.type'='kafka_source', 'trades.bootstrap.servers'='" + b + "', " + sink + ", 'processing.guarantee'='exactly_once_v2')",
			"exactly-once needs 'trades.group.id'"},
	}
	for _, c := range cases {
		stmts, err := sql.Parse("eos.sql", c.sql)
		if err != nil {
			t.Fatal(err)
		}
		j, err := Prepare(context.Background(), stmts[0], Options{Stdout: io.Discard})
		var ce *ConfigError
		if err == nil || !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s:\n got %v\nwant a config error with %q", c.sql, err, c.want)
		}
		if j != nil {
			t.Errorf("%s: prepared a job", c.sql)
		}
	}
}

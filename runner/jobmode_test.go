package runner

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/sql"
)

// TestBatchJobMode: `-- @job_mode: batch` reads a Kafka topic to the end of
// what it holds at start and finishes (as --until-end does), and refuses,
// before running, a source that cannot end.
func TestBatchJobMode(t *testing.T) {
	b := kafkaCluster(t, "trades")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var msgs []kafka.Message
	for range 7 {
		msgs = append(msgs, kafka.Message{Value: []byte(`{"symbol":"A"}`)})
	}
	if err := kafka.Produce(ctx, []string{b}, "trades", msgs...); err != nil {
		t.Fatal(err)
	}
	src := "'trades.type'='kafka_source', 'trades.bootstrap.servers'='" + b + "'"
	stmts, err := sql.Parse("batch.sql", "-- @job_mode: batch\nSELECT symbol, COUNT(*) AS n FROM trades GROUP BY symbol EMIT FINAL WITH ("+src+")")
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	j, err := Prepare(ctx, stmts[0], Options{Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Run(ctx); err != nil || out.String() != `{"symbol":"A","n":7}`+"\n" {
		t.Fatalf("batch run: %v, output %q", err, out.String())
	}

	never := "SELECT symbol FROM trades WITH (" + src + ", 'trades.stop.at'='never')"
	for _, c := range []struct{ sql, want string }{
		{"-- @job_mode: batch\n" + never,
			fmt.Sprintf("batch.sql:2:%d: ", strings.Index(never, "'never'")+1) + "-- @job_mode: batch reads every source to its end, but 'trades.stop.at'='never' reads trades forever"},
		{"-- @job_mode: BATCH\nSELECT trader_id FROM g WITH ('g.type'='generator', 'g.generator'='trades')",
			"batch.sql:2:31: -- @job_mode: batch reads every source to its end, but the generator g is unbounded"},
		{"-- @job_mode: offline\nSELECT symbol FROM trades WITH (" + src + ")",
			`batch.sql:1:15: annotation @job_mode must be streaming or batch, found "offline"`},
	} {
		stmts, err := sql.Parse("batch.sql", c.sql)
		if err == nil {
			_, err = Check(ctx, stmts[0], Options{Stdout: io.Discard, NoInfer: true})
			err = sql.Locate(err, "batch.sql", c.sql)
		}
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s:\ngot  %v\nwant %s", c.sql, err, c.want)
		}
	}
}

package runner

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/plan"
	"github.com/sluicesql/sluice/sql"
)

// TestRepartitionPartitionsOnAnAlignedStatement: 'repartition.partitions'
// on a statement its source's key splits over processes changes nothing,
// and is refused at the option, saying why; once the group has the
// statement's repartition topic of an earlier run, the statement stays
// repartitioned and the option (the topic's count) is taken.
func TestRepartitionPartitionsOnAnAlignedStatement(t *testing.T) {
	b := kafkaCluster(t, "trades")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const text = `SELECT k, COUNT(*) AS n FROM trades GROUP BY k
WITH ('trades.type'='kafka_source', 'trades.bootstrap.servers'='%s', 'trades.group.id'='g',
  'trades.partition.key'='k', 'repartition.partitions'='4')`
	stmts, err := sql.Parse("q.sql", strings.Replace(text, "%s", b, 1))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Prepare(ctx, stmts[0], Options{Stdout: io.Discard})
	if err == nil || !strings.Contains(err.Error(), "3:31: WITH 'repartition.partitions' is set, but the statement is not repartitioned: source trades is partitioned by k") {
		t.Fatalf("aligned statement with 'repartition.partitions': %v", err)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(b))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 4, -1, nil, "g-trades-repartition"); err != nil {
		t.Fatal(err)
	}
	j, err := Prepare(ctx, stmts[0], Options{Stdout: io.Discard})
	if err != nil {
		t.Fatalf("with the group's repartition topic: %v", err)
	}
	defer j.Discard()
	if r := j.Plan.Repartition; r == nil || r.Partitions != 4 {
		t.Errorf("with the group's repartition topic: repartition %+v, want the topic with 4 partitions", r)
	}
}

// TestExplainKnowsTheSourcePartitions: EXPLAIN of a statement over a Kafka
// topic it reads a sample of gives the topic's partition count on the
// sources line and the repartition topic's as a number (the larger of the
// source's and 32), not the rule.
func TestExplainKnowsTheSourcePartitions(t *testing.T) {
	b := kafkaCluster(t, "trades")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "trades", Key: []byte("t1"), Value: []byte(`{"trader":"t1","symbol":"A"}`)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	stmts, err := sql.Parse("q.sql", "SELECT symbol, COUNT(*) AS n FROM trades GROUP BY symbol WITH ('trades.type'='kafka_source', 'trades.bootstrap.servers'='"+b+"', 'trades.group.id'='g')")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Check(ctx, stmts[0], Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := plan.Explain(&out, []*plan.Plan{c.Plan}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"trades (kafka_source; partition key unknown; 2 partitions)", "topic g-trades-repartition (32 partitions, created if missing)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("EXPLAIN lacks %q:\n%s", want, out.String())
		}
	}
}

package runner

import (
	"context"
	"fmt"
	"io"
	"log/slog"
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
// source's and 32), not the rule, also when the schema it inferred is
// taken again from the Schemas that remember it (sluice explain checks the
// file, then plans it).
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
	// twice with one Schemas, as sluice explain checks the file and then
	// plans it: the second check takes the schema the first inferred
	schemas := NewSchemas()
	for _, check := range []string{"first", "again"} {
		c, err := Check(ctx, stmts[0], Options{Schemas: schemas})
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		if err := plan.Explain(&out, []*plan.Plan{c.Plan}); err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"trades (kafka_source; partition key unknown; 2 partitions)", "topic g-trades-repartition (32 partitions, created if missing)"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%s check: EXPLAIN lacks %q:\n%s", check, want, out.String())
			}
		}
	}
}

// TestHeldForGoodWarning: preparing a repartitioned statement whose stage
// 2 holds its commits at each partition's first record for good (a GROUP
// BY without a window, a row window, SESSION windows after an outer join)
// logs one warning that says why, names the topic and says what it means;
// a windowed GROUP BY, whose commits move on as its windows fire, and a
// SESSION window without an outer join log none.
func TestHeldForGoodWarning(t *testing.T) {
	b := kafkaCluster(t, "trades", "payments")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(ctx,
		&kgo.Record{Topic: "trades", Key: []byte("t1"), Value: []byte(`{"trader":"t1","symbol":"A","price":3,"ts":1700000000000}`)},
		&kgo.Record{Topic: "payments", Key: []byte("p1"), Value: []byte(`{"pay_id":1,"symbol":"A","ts":1700000000001}`)},
	).FirstErr(); err != nil {
		t.Fatal(err)
	}
	prev := slog.Default()
	defer slog.SetDefault(prev)
	const with = ` WITH ('trades.type'='kafka_source', 'trades.bootstrap.servers'='%[1]s', 'trades.group.id'='%[2]s', 'event.time.field'='ts'%[3]s)`
	const payments = `, 'payments.type'='kafka_source', 'payments.bootstrap.servers'='%s'`
	const warning = "holds its commits on the repartition topic at each partition's first record for good"
	for _, c := range []struct {
		name, query, why string
	}{
		{"groups", `SELECT symbol, COUNT(*) AS n FROM trades GROUP BY symbol`, "its aggregate without a window keeps its groups until the input ends"},
		{"row_window", `SELECT symbol, LAG(price) OVER (PARTITION BY symbol ORDER BY ts) AS prev FROM trades`, "its row window (OVER) carries every earlier row of its key"},
		{"outer_sessions", `SELECT t.symbol, _WINDOW_START AS w, COUNT(*) AS n, COUNT(p.pay_id) AS paid
FROM trades t LEFT JOIN payments p ON t.symbol = p.symbol WITHIN INTERVAL '1' SECOND
GROUP BY t.symbol WINDOW SESSION(INTERVAL '400' MILLISECOND) EMIT FINAL`, "the rows of its outer join that matched hold it"},
		{"tumbling", `SELECT symbol, COUNT(*) AS n FROM trades GROUP BY symbol WINDOW TUMBLING(INTERVAL '1' SECOND) EMIT FINAL`, ""},
		{"inner_sessions", `SELECT t.symbol, _WINDOW_START AS w, COUNT(*) AS n
FROM trades t JOIN payments p ON t.symbol = p.symbol WITHIN INTERVAL '1' SECOND
GROUP BY t.symbol WINDOW SESSION(INTERVAL '400' MILLISECOND) EMIT FINAL`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			joins := ""
			if strings.Contains(c.query, "JOIN") {
				joins = fmt.Sprintf(payments, b)
			}
			stmts, err := sql.Parse("q.sql", fmt.Sprintf(c.query+with, b, "g-"+c.name, joins))
			if err != nil {
				t.Fatal(err)
			}
			var logs strings.Builder
			slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
			j, err := Prepare(ctx, stmts[0], Options{Stdout: io.Discard})
			slog.SetDefault(prev)
			if err != nil {
				t.Fatal(err)
			}
			defer j.Discard()
			if j.Plan.Repartition == nil {
				t.Fatal("the statement is not repartitioned")
			}
			got := logs.String()
			switch n := strings.Count(got, warning); {
			case c.why == "" && n > 0:
				t.Errorf("warned that the commits are held for good:\n%s", got)
			case c.why == "":
			case n != 1:
				t.Errorf("%d warnings that the commits are held for good, want 1:\n%s", n, got)
			default:
				for _, want := range []string{"level=WARN", c.why, "the topic is never purged", "replays every partition from its start", "topic=g-" + c.name + "-"} {
					if !strings.Contains(got, want) {
						t.Errorf("the warning lacks %q:\n%s", want, got)
					}
				}
			}
		})
	}
}

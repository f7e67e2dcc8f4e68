package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/sql"
)

// TestExactlyOnceRefused: 'processing.guarantee'='exactly_once' is refused,
// before anything runs, for what cannot take part in a Kafka transaction or
// be rebuilt after a restart.
func TestExactlyOnceRefused(t *testing.T) {
	b := kafkaCluster(t, "trades", "out")
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
			`invalid value "exactly-once"; did you mean "exactly_once"? (valid values: at_least_once, exactly_once, exactly_once_v2)`},
		{"CREATE STREAM out AS SELECT trader_id FROM trades WITH ('trades.type'='kafka_source', 'trades.bootstrap.servers'='" + b + "', " + sink + ", 'processing.guarantee'='exactly_once_v2')",
			`the Kafka source "trades" needs 'trades.group.id'`},
		{"CREATE STREAM out AS SELECT trader_id FROM trades WITH (" + src + ", 'out.type'='kafka_sink', 'out.bootstrap.servers'='127.0.0.1:1', " + eos + ")",
			"the source reads [" + b + "] but the sink writes [127.0.0.1:1]: one transaction spans one cluster"},
		{"CREATE STREAM out AS SELECT trader_id FROM trades WITH (" + src + ", " + sink + ", 'dlq.topic'='dead', 'dlq.bootstrap.servers'='127.0.0.1:1', " + eos + ")",
			"the dead-letter topic is on [127.0.0.1:1], not the source's cluster [" + b + "]"},
		{"CREATE STREAM Out AS SELECT trader_id FROM trades WITH (" + src + ", " + sink + ", 'dlq.topic'='dead', 'dlq.bootstrap.servers'='127.0.0.1:1', " + eos + ")",
			"the dead-letter topic is on [127.0.0.1:1]"}, // the sink named in another case
	}
	for _, c := range cases {
		stmts, err := sql.Parse("eos.sql", c.sql)
		if err != nil {
			t.Fatal(err)
		}
		// EXPLAIN (Check) refuses what run (Prepare) refuses.
		_, err = Check(context.Background(), stmts[0], Options{Stdout: io.Discard})
		var se *sql.Error
		if err == nil || !errors.As(err, &se) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Check %s:\n got %v\nwant a positioned error with %q", c.sql, err, c.want)
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

// TestExactlyOnceDeadLetters: under exactly-once a Kafka → Kafka filter's
// output and dead letters reach their topics in the job's transactions,
// visible to read_committed readers, and the offsets are committed.
func TestExactlyOnceDeadLetters(t *testing.T) {
	b := kafkaCluster(t, "trades")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var msgs []kafka.Message
	for i := range 10 {
		msgs = append(msgs, kafka.Message{Value: []byte(fmt.Sprintf(`{"trader_id":"T%d","quantity":%d}`, i, i*100))})
	}
	msgs = append(msgs, kafka.Message{Value: []byte("not json")})
	if err := kafka.Produce(ctx, []string{b}, "trades", msgs...); err != nil {
		t.Fatal(err)
	}
	stmt := "CREATE STREAM out AS SELECT trader_id FROM trades WHERE quantity >= 500 WITH (" +
		"'trades.type'='kafka_source', 'trades.group.id'='g', 'trades.stop.at'='end', 'out.type'='kafka_sink', " +
		"'kafka.bootstrap.servers'='" + b + "', 'dlq.topic'='dead', 'processing.guarantee'='exactly_once')"
	if sum := runStatement(t, ctx, stmt, io.Discard); sum.DeadLetters != 1 {
		t.Errorf("%d dead letters, want 1", sum.DeadLetters)
	}
	count := func(topic string) int {
		var out strings.Builder
		runStatement(t, ctx, "SELECT * FROM "+topic+" WITH ('"+topic+".type'='kafka_source', '"+topic+
			".bootstrap.servers'='"+b+"', '"+topic+".stop.at'='end', '"+topic+".format'='string')", &out)
		return strings.Count(out.String(), "\n")
	}
	if n := count("out"); n != 5 {
		t.Errorf("out holds %d committed rows, want 5", n)
	}
	if n := count("dead"); n != 1 {
		t.Errorf("dead holds %d committed dead letters, want 1", n)
	}
}

// TestGuaranteeChecked: Check (what explain runs) refuses what Prepare
// refuses, positioned at the 'processing.guarantee' entry, and a join is
// refused exactly-once instead of running at-least-once.
func TestGuaranteeChecked(t *testing.T) {
	file := writeData(t, "t.jsonl", `{"k":1,"v":2}`)
	src := "'t.type'='file_source', 't.path'='" + file + "'"
	table := "'r.type'='file_source', 'r.path'='" + file + "', 'r.primary.key'='k'"
	cases := []struct{ sql, want string }{
		{"SELECT k FROM t WITH (" + src + ", 'processing.guarantee'='exactly_onc')", `invalid value "exactly_onc"`},
		{"SELECT k FROM t WITH (" + src + ", 'processing.guarantee'='exactly_once')", `the source "t" is not a Kafka topic`},
		{"SELECT t.k FROM t JOIN r ON t.k = r.k WITH (" + src + ", " + table + ", 'processing.guarantee'='exactly_once')", "not available for a join yet"},
		{"SELECT t.k FROM t JOIN r ON t.k = r.k WITH (" + src + ", " + table + ", 'processing.guarantee'='sometimes')", `invalid value "sometimes"`},
		{"SELECT t.k FROM t JOIN r ON t.k = r.k WITH (" + src + ", " + table + ", 'processing.guarantee'='at_least_once')", ""},
	}
	for _, c := range cases {
		stmts, err := sql.Parse("eos.sql", c.sql)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Check(context.Background(), stmts[0], Options{Stdout: io.Discard})
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: %v", c.sql, err)
			}
			continue
		}
		var se *sql.Error
		if err == nil || !errors.As(err, &se) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s:\n got %v\nwant a positioned error with %q", c.sql, err, c.want)
			continue
		}
		if at := strings.Index(c.sql, "'processing.guarantee'=") + len("'processing.guarantee'=") + 1; se.Pos.Col != at {
			t.Errorf("%s: error at column %d, want %d (the value)", c.sql, se.Pos.Col, at)
		}
	}
}

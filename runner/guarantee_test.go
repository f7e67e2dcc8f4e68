package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/plan"
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
	if n := len(committed(t, ctx, b, "out")); n != 5 {
		t.Errorf("out holds %d committed rows, want 5", n)
	}
	if n := len(committed(t, ctx, b, "dead")); n != 1 {
		t.Errorf("dead holds %d committed dead letters, want 1", n)
	}
}

// committed returns the values of the messages of topic on the brokers b
// that a read_committed reader sees (a Kafka source's default).
func committed(t *testing.T, ctx context.Context, b, topic string) []string {
	t.Helper()
	var out strings.Builder
	runStatement(t, ctx, "SELECT * FROM "+topic+" WITH ('"+topic+".type'='kafka_source', '"+topic+
		".bootstrap.servers'='"+b+"', '"+topic+".stop.at'='end', '"+topic+".format'='string')", &out)
	var values []string
	for _, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		var m struct{ Value string }
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%s: %q: %v", topic, line, err)
		}
		values = append(values, m.Value)
	}
	return values
}

// TestExactlyOnceJoinDeadLetters: a stream-table LEFT JOIN run exactly
// once writes every stream record's joined row in its transactions,
// visible to read_committed readers, the dead letter of a trade that
// fails to decode in them too, and the dead letter of a table row that
// fails to decode outside them (the table is read whole on every start).
func TestExactlyOnceJoinDeadLetters(t *testing.T) {
	b := kafkaCluster(t, "trades", "traders")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var trades []kafka.Message
	for i := range 6 {
		trades = append(trades, kafka.Message{Key: fmt.Appendf(nil, "%d", i%3), Value: fmt.Appendf(nil, `{"trader_id":%d,"quantity":%d}`, i%3, i*100)})
	}
	trades = append(trades, kafka.Message{Key: []byte("0"), Value: []byte("not json")})
	traders := []kafka.Message{{Key: []byte("0"), Value: []byte(`{"trader_id":0,"region":"eu"}`)},
		{Key: []byte("1"), Value: []byte(`{"trader_id":1,"region":"us"}`)}, {Key: []byte("2"), Value: []byte("not json")}}
	if err := kafka.Produce(ctx, []string{b}, "trades", trades...); err != nil {
		t.Fatal(err)
	}
	if err := kafka.Produce(ctx, []string{b}, "traders", traders...); err != nil {
		t.Fatal(err)
	}
	stmt := "CREATE STREAM out AS SELECT t.trader_id, t.quantity, r.region FROM trades t LEFT JOIN traders r ON t.trader_id = r.trader_id WITH (" +
		"'trades.type'='kafka_source', 'trades.group.id'='g', 'trades.stop.at'='end', 'traders.type'='kafka_source', 'traders.primary.key'='trader_id', " +
		"'out.type'='kafka_sink', 'kafka.bootstrap.servers'='" + b + "', 'dlq.topic'='dead', 'processing.guarantee'='exactly_once')"
	if sum := runStatement(t, ctx, stmt, io.Discard); sum.DeadLetters != 1 {
		t.Errorf("%d dead letters of the stream, want 1", sum.DeadLetters)
	}
	rows := committed(t, ctx, b, "out")
	slices.Sort(rows)
	want := []string{`{"trader_id":0,"quantity":0,"region":"eu"}`, `{"trader_id":0,"quantity":300,"region":"eu"}`,
		`{"trader_id":1,"quantity":100,"region":"us"}`, `{"trader_id":1,"quantity":400,"region":"us"}`,
		`{"trader_id":2,"quantity":200,"region":null}`, `{"trader_id":2,"quantity":500,"region":null}`}
	if !slices.Equal(rows, want) {
		t.Errorf("out holds, read committed:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	dead := committed(t, ctx, b, "dead")
	var sources []string
	for _, d := range dead {
		var l connector.DeadLetterJSON
		if err := json.Unmarshal([]byte(d), &l); err != nil {
			t.Fatalf("dead letter %q: %v", d, err)
		}
		sources = append(sources, l.Source)
	}
	slices.Sort(sources)
	if !slices.Equal(sources, []string{"traders", "trades"}) {
		t.Errorf("dead letters of %v, want one of traders and one of trades:\n%s", sources, strings.Join(dead, "\n"))
	}
}

// TestGuaranteeChecked: Check (what explain runs) refuses what Prepare
// refuses, positioned at the 'processing.guarantee' entry, and a join is
// checked as a statement over its stream.
func TestGuaranteeChecked(t *testing.T) {
	file := writeData(t, "t.jsonl", `{"k":1,"v":2}`)
	src := "'t.type'='file_source', 't.path'='" + file + "'"
	table := "'r.type'='file_source', 'r.path'='" + file + "', 'r.primary.key'='k'"
	cases := []struct{ sql, want string }{
		{"SELECT k FROM t WITH (" + src + ", 'processing.guarantee'='exactly_onc')", `invalid value "exactly_onc"`},
		{"SELECT k FROM t WITH (" + src + ", 'processing.guarantee'='exactly_once')", `the source "t" is not a Kafka topic`},
		{"SELECT t.k FROM t JOIN r ON t.k = r.k WITH (" + src + ", " + table + ", 'processing.guarantee'='exactly_once')", `the source "t" is not a Kafka topic`},
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

// TestExactlyOnceJoins: exactly-once runs a stream-table join (inner,
// LEFT, a temporal join, a windowed GROUP BY after the join, split over a
// group or repartitioned by the stream's column), and refuses, before
// anything runs and positioned at the WITH entry, what it cannot make
// exact: a stream-stream join, a temporal join whose old versions the
// watermark drops repartitioned (stage 2 keeps its tables across
// rebalances), a key that reads the table (stage 1 joins it, outside any
// transaction), and state a restart cannot rebuild.
func TestExactlyOnceJoins(t *testing.T) {
	b := kafkaCluster(t, "trades", "traders", "payments", "out")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := kafka.Produce(ctx, []string{b}, "trades",
		kafka.Message{Key: []byte("1"), Value: []byte(`{"trader_id":1,"quantity":5,"ts":1700000000000}`)}); err != nil {
		t.Fatal(err)
	}
	if err := kafka.Produce(ctx, []string{b}, "traders",
		kafka.Message{Key: []byte("1"), Value: []byte(`{"trader_id":1,"region":"eu","since":1690000000000}`)}); err != nil {
		t.Fatal(err)
	}
	if err := kafka.Produce(ctx, []string{b}, "payments",
		kafka.Message{Key: []byte("1"), Value: []byte(`{"trader_id":1,"paid":3,"ts":1700000000000}`)}); err != nil {
		t.Fatal(err)
	}
	// with is the WITH clause over trades and traders (payments instead
	// with a stream-stream join, and extra entries)
	with := func(extra string) string {
		other := "'traders.type'='kafka_source', 'traders.primary.key'='trader_id'"
		if strings.Contains(extra, "payments") {
			other, extra = extra, ""
		}
		return " WITH ('trades.type'='kafka_source', 'trades.group.id'='g', " + other + ", 'out.type'='kafka_sink', 'kafka.bootstrap.servers'='" + b + "', " +
			"'event.time.field'='ts', 'processing.guarantee'='exactly_once'" + extra + ")"
	}
	join := "CREATE STREAM out AS SELECT t.trader_id, t.quantity FROM trades t "
	windows := "CREATE STREAM out AS SELECT t.trader_id, _WINDOW_START AS w, COUNT(*) AS n, SUM(t.quantity) AS q FROM trades t JOIN traders r ON t.trader_id = r.trader_id "
	cases := []struct{ name, sql, want string }{
		{"inner", join + "JOIN traders r ON t.trader_id = r.trader_id" + with(""), ""},
		{"left", join + "LEFT JOIN traders r ON t.trader_id = r.trader_id" + with(""), ""},
		{"temporal kept", join + "JOIN traders FOR SYSTEM_TIME AS OF t.quantity AS r ON t.trader_id = r.trader_id" + with(", 'traders.event.time.field'='since'"), ""},
		{"windows", windows + "GROUP BY t.trader_id WINDOW TUMBLING(ts, INTERVAL '1' SECOND) EMIT FINAL" + with(""), ""},
		{"temporal pruned windows", strings.Replace(windows, "JOIN traders r", "JOIN traders FOR SYSTEM_TIME AS OF t.ts AS r", 1) +
			"GROUP BY t.trader_id WINDOW TUMBLING(ts, INTERVAL '1' SECOND) EMIT FINAL" + with(", 'traders.event.time.field'='since', 'trades.partition.key'='trader_id'"), ""},
		{"windows repartitioned", strings.Replace(windows, "t.trader_id, _WINDOW_START", "t.quantity, _WINDOW_START", 1) +
			"GROUP BY t.quantity WINDOW TUMBLING(ts, INTERVAL '1' SECOND) EMIT FINAL" + with(""), ""},
		{"table key in one process", "CREATE STREAM out AS SELECT r.region, _WINDOW_START AS w, COUNT(*) AS n FROM trades t JOIN traders r ON t.trader_id = r.trader_id " +
			"GROUP BY r.region WINDOW TUMBLING(ts, INTERVAL '1' SECOND) EMIT FINAL" + with(", 'repartition'='false'"), ""},
		{"stream-stream", join + "JOIN payments p ON t.trader_id = p.trader_id WITHIN INTERVAL '1' SECOND" + with("'payments.type'='kafka_source'"),
			"not available for a stream-stream join (JOIN payments): after a restart or a rebalance it rebuilds the rows each side waits with"},
		{"temporal pruned", join + "JOIN traders FOR SYSTEM_TIME AS OF t.ts AS r ON t.trader_id = r.trader_id" + with(", 'traders.event.time.field'='since'"), ""},
		// not repartitioned: a temporal join AS OF the event time runs in
		// one process per group (plan.prunedTemporal)
		{"temporal pruned keyed otherwise", strings.Replace(strings.Replace(windows, "JOIN traders r", "JOIN traders FOR SYSTEM_TIME AS OF t.ts AS r", 1), "t.trader_id, _WINDOW_START", "t.quantity, _WINDOW_START", 1) +
			"GROUP BY t.quantity WINDOW TUMBLING(ts, INTERVAL '1' SECOND) EMIT FINAL" + with(", 'traders.event.time.field'='since'"), ""},
		{"table key", "CREATE STREAM out AS SELECT r.region, _WINDOW_START AS w, COUNT(*) AS n FROM trades t JOIN traders r ON t.trader_id = r.trader_id " +
			"GROUP BY r.region WINDOW TUMBLING(ts, INTERVAL '1' SECOND) EMIT FINAL" + with(""),
			"not available when the repartition key reads a table (r.region, joined with traders in stage 1): stage 1 is not transactional"},
		{"groups", "CREATE STREAM out AS SELECT t.trader_id, COUNT(*) AS n FROM trades t JOIN traders r ON t.trader_id = r.trader_id GROUP BY t.trader_id" + with(""),
			"a GROUP BY without a window keeps its groups in memory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stmts, err := sql.Parse("eos.sql", c.sql)
			if err != nil {
				t.Fatal(err)
			}
			chk, err := Check(ctx, stmts[0], Options{Stdout: io.Discard})
			j, perr := Prepare(ctx, stmts[0], Options{Stdout: io.Discard})
			if j != nil {
				defer j.Discard()
			}
			if c.want == "" {
				if err != nil || perr != nil {
					t.Fatalf("Check: %v; Prepare: %v", err, perr)
				}
				// split over the group as trades is keyed (by trader_id),
				// or repartitioned with stage 2 joining
				switch repartitioned := strings.Contains(c.name, "repartitioned"); {
				case repartitioned && (j.stages == nil || !j.stages.two.Transactional):
					t.Errorf("not repartitioned with stage 2 in transactions (stages %v)", j.stages != nil)
				case !repartitioned && (j.stages != nil || !j.config.Transactional):
					t.Errorf("not run in one stage in transactions (stages %v)", j.stages != nil)
				case repartitioned:
					var b strings.Builder
					if err := plan.Explain(&b, []*plan.Plan{chk.Plan}); err != nil {
						t.Fatal(err)
					}
					if want := "exactly-once: its output, dead letters and topic offsets commit in one Kafka transaction per commit interval, which a rebalance or a crash aborts (the partitions replay from the last commit); " +
						"table traders: looked up, not part of the transaction (a replayed record is joined again with the rows read by then)"; !strings.Contains(b.String(), want) {
						t.Errorf("EXPLAIN lacks %q:\n%s", want, b.String())
					}
				}
				return
			}
			var se *sql.Error
			if err == nil || !errors.As(err, &se) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Check:\n got %v\nwant a positioned error with %q", err, c.want)
			} else if at := strings.Index(c.sql, "'processing.guarantee'=") + len("'processing.guarantee'=") + 1; se.Pos.Col != at {
				t.Errorf("Check: error at column %d, want %d (the value)", se.Pos.Col, at)
			}
			var ce *ConfigError
			if perr == nil || !errors.As(perr, &ce) || !strings.Contains(perr.Error(), c.want) {
				t.Errorf("Prepare:\n got %v\nwant a config error with %q", perr, c.want)
			}
		})
	}
}

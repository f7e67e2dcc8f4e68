package runner

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/internal/kafkatest"
	"github.com/sluicesql/sluice/job"
	"github.com/sluicesql/sluice/sql"
)

// kafkaCluster starts an in-process one-broker Kafka with 2-partition
// topics, closed when the test ends, and returns its address.
func kafkaCluster(t *testing.T, topics ...string) string {
	t.Helper()
	c := kafkatest.Cluster(t, kfake.NumBrokers(1), kfake.SeedTopics(2, topics...))
	return c.ListenAddrs()[0]
}

// runStatement prepares and runs the one statement of text, its rows to
// out, and returns its summary.
func runStatement(t *testing.T, ctx context.Context, text string, out io.Writer) *job.Summary {
	t.Helper()
	stmts, err := sql.Parse("q.sql", text)
	if err != nil {
		t.Fatal(err)
	}
	j, err := Prepare(ctx, stmts[0], Options{Stdout: out})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := j.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// TestWindowedKafkaKeys: the results of a windowed aggregate written to
// Kafka are keyed by the GROUP BY columns and the window, so an upserting
// consumer (a compacted topic, a table) keeps every window of a key, not
// only the latest; a key without a window stays the GROUP BY columns' text.
func TestWindowedKafkaKeys(t *testing.T) {
	b := kafkaCluster(t)
	in := filepath.Join(t.TempDir(), "in.jsonl")
	data := `{"symbol":"A","ts":"2024-01-01T00:00:10Z"}
{"symbol":"A","ts":"2024-01-01T00:00:20Z"}
{"symbol":"B","ts":"2024-01-01T00:00:30Z"}
{"symbol":"A","ts":"2024-01-01T00:01:10Z"}
`
	if err := os.WriteFile(in, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	src := "'t.type'='file_source', 't.path'='" + in + "', 'kafka.bootstrap.servers'='" + b + "'"
	cases := []struct {
		sql  string
		keys []string
	}{
		{"CREATE STREAM w AS SELECT symbol, COUNT(*) AS n FROM t GROUP BY symbol WINDOW TUMBLING(ts, 1m) EMIT FINAL WITH (" + src + ", 'w.type'='kafka_sink')",
			[]string{
				`{"symbol":"A","window_start":"2024-01-01T00:00:00.000Z","window_end":"2024-01-01T00:01:00.000Z"}`,
				`{"symbol":"A","window_start":"2024-01-01T00:01:00.000Z","window_end":"2024-01-01T00:02:00.000Z"}`,
				`{"symbol":"B","window_start":"2024-01-01T00:00:00.000Z","window_end":"2024-01-01T00:01:00.000Z"}`,
			}},
		{"CREATE STREAM s AS SELECT COUNT(*) AS n FROM t WINDOW SESSION(ts, 30s) EMIT FINAL WITH (" + src + ", 's.type'='kafka_sink')",
			[]string{
				`{"window_start":"2024-01-01T00:00:10.000Z","window_end":"2024-01-01T00:01:00.000Z"}`,
				`{"window_start":"2024-01-01T00:01:10.000Z","window_end":"2024-01-01T00:01:40.000Z"}`,
			}},
		{"CREATE STREAM g AS SELECT symbol, COUNT(*) AS n FROM t GROUP BY symbol EMIT FINAL WITH (" + src + ", 'g.type'='kafka_sink')",
			[]string{"A", "B"}},
	}
	for _, c := range cases {
		runStatement(t, ctx, c.sql, io.Discard)
		topic := strings.Fields(c.sql)[2]
		cl, err := kgo.NewClient(kgo.SeedBrokers(b), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for len(keys) < len(c.keys) && ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
				keys = append(keys, string(r.Key))
				if c.keys[0][0] == '{' && !json.Valid(r.Key) {
					t.Errorf("%s: key %s is not JSON", topic, r.Key)
				}
			})
		}
		cl.Close()
		slices.Sort(keys)
		if !slices.Equal(keys, c.keys) {
			t.Errorf("%s: keys\n %s\nwant\n %s", c.sql, strings.Join(keys, "\n "), strings.Join(c.keys, "\n "))
		}
	}
	// Keyed by its window alone, a windowed aggregate with no GROUP BY
	// may have a registry key format.
	stmts, err := sql.Parse("q.sql", "CREATE STREAM o AS SELECT COUNT(*) AS n FROM t WINDOW TUMBLING(ts, 1m) WITH ("+src+
		", 'o.type'='kafka_sink', 'o.key.format'='avro', 'o.schema.registry.url'='http://127.0.0.1:1')")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Check(ctx, stmts[0], Options{Stdout: io.Discard}); err != nil {
		t.Errorf("a window as the only key: %v", err)
	}
}

// TestSelectStarOfAMissingTopic: SELECT * over a topic whose schema could
// not be inferred says why (the topic does not exist), not only that no
// columns are known.
func TestSelectStarOfAMissingTopic(t *testing.T) {
	brokers := kafkaCluster(t)
	stmts, err := sql.Parse("q.sql", "SELECT * FROM nosuch WITH ('nosuch.type'='kafka_source', 'nosuch.bootstrap.servers'='"+brokers+"')")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Check(context.Background(), stmts[0], Options{})
	if err == nil || !strings.Contains(err.Error(), "the schema of nosuch is unknown") || !strings.Contains(err.Error(), "UNKNOWN_TOPIC_OR_PARTITION") {
		t.Fatalf("got %v, want the reason the schema is unknown", err)
	}
}

// TestKafkaSchemas reads Kafka topics through the schema layer: a DDL table
// with a column list and a primary key, and a stream whose schema is
// inferred from its messages (nested objects, arrays, epoch milliseconds in
// the window's time column) with SELECT *, nested access and a window.
func TestKafkaSchemas(t *testing.T) {
	b := kafkaCluster(t, "events", "users")
	cl, err := kgo.NewClient(kgo.SeedBrokers(b), kgo.DefaultProduceTopic("events"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for _, v := range []string{
		`{"id":1,"user":{"id":7,"name":"ann"},"tags":["a","b"],"ts":1705312805000,"amount":1.5}`,
		`{"id":2,"user":{"id":8},"tags":[],"ts":1705312866000,"amount":2}`,
		`{"id":3,"user":{"id":7,"name":"ann"},"tags":["c"],"ts":1705312867000,"amount":null}`,
	} {
		recs = append(recs, &kgo.Record{Key: []byte("k"), Value: []byte(v)})
	}
	for _, v := range []string{`{"uid":7,"region":"eu"}`, `{"uid":8,"region":"us"}`} {
		recs = append(recs, &kgo.Record{Topic: "users", Key: []byte(v[7:8]), Value: []byte(v)})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	conn := "'bootstrap.servers'='" + b + "'"
	src := `CREATE STREAM events WITH ('type'='kafka_source', 'topic.name'='events', 'group.id'='g', ` + conn + `);
		CREATE TABLE users (uid BIGINT, region STRING, PRIMARY KEY (uid)) WITH ('type'='kafka_source', 'topic.name'='users', ` + conn + `);
		SELECT * EXCEPT (ts) FROM events;
		SELECT e.id, user.name, tags[1] AS tag, region FROM events e JOIN users u ON e.user.id = u.uid;
		SELECT COUNT(*) AS n, SUM(amount) AS total, _WINDOW_START AS ws FROM events WINDOW TUMBLING(ts, 1m) EMIT FINAL;`
	stmts, cat := parseApp(t, src)
	var rows []string
	var schemas []string
	for k, s := range stmts[2:] {
		var out strings.Builder
		// Each statement in its own group (a group's commits would start the next after them).
		set := map[string]string{"events.group.id": "g" + strconv.Itoa(k)}
		j, err := Prepare(ctx, s, Options{Stdout: &out, Catalog: cat, UntilEnd: true, Partitions: 2, Set: set})
		if err != nil {
			t.Fatal(err)
		}
		schemas = append(schemas, j.Schema.Describe()+": "+j.Schema.Columns.String())
		if _, err := j.Run(ctx); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, strings.Split(strings.TrimSpace(out.String()), "\n")...)
	}
	slices.Sort(rows)
	want := []string{
		`{"id":1,"name":"ann","tag":"a","region":"eu"}`,
		`{"id":1,"user":{"id":7,"name":"ann"},"tags":["a","b"],"amount":1.5}`,
		`{"id":2,"name":null,"tag":null,"region":"us"}`,
		`{"id":2,"user":{"id":8},"tags":[],"amount":2}`,
		`{"id":3,"name":"ann","tag":"c","region":"eu"}`,
		`{"id":3,"user":{"id":7,"name":"ann"},"tags":["c"],"amount":null}`,
		`{"n":1,"total":1.5,"ws":"2024-01-15T10:00:00.000Z"}`,
		`{"n":2,"total":2,"ws":"2024-01-15T10:01:00.000Z"}`,
	}
	slices.Sort(want)
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	if w := "inferred from 3 records: id INTEGER, user ROW<id INTEGER, name STRING>, tags ARRAY<STRING>, ts BIGINT, amount DECIMAL(2,1)"; schemas[0] != w {
		t.Errorf("schema %s, want %s", schemas[0], w)
	}
	if w := "inferred from 3 records: id INTEGER, user ROW<id INTEGER, name STRING>, tags ARRAY<STRING>, ts TIMESTAMP, amount DECIMAL(2,1)"; schemas[2] != w {
		t.Errorf("windowed schema %s, want %s", schemas[2], w)
	}
}

// TestSelectStarOfAnEmptyTopic: SELECT * over a topic with no message says
// that there was no record to infer the columns from.
func TestSelectStarOfAnEmptyTopic(t *testing.T) {
	brokers := kafkaCluster(t, "empty")
	stmts, _ := parseApp(t, "SELECT * FROM e WITH ('e.type'='kafka_source', 'e.topic.name'='empty', 'e.bootstrap.servers'='"+brokers+"')")
	_, err := Check(context.Background(), stmts[0], Options{})
	if err == nil || !strings.Contains(err.Error(), "SELECT * needs the input columns") || !strings.Contains(err.Error(), "e has no record to infer them from") {
		t.Fatalf("got %v, want why no column is known", err)
	}
}

// TestJSONKeyColumns: with 'key.format'='json' a Kafka source reads the
// fields of each message key, a JSON object, as columns: inferred after the
// value's (SELECT *) or declared, and a key that is not a JSON object
// sends its message to the dead-letter queue with the reason.
func TestJSONKeyColumns(t *testing.T) {
	b := kafkaCluster(t, "orders")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs := []kafka.Message{
		{Key: []byte(`{"region":"eu","store":1}`), Value: []byte(`{"amount":5}`)},
		{Key: []byte(`{"region":"us","store":2}`), Value: []byte(`{"amount":7,"store":9}`)},
		{Key: []byte(`eu-3`), Value: []byte(`{"amount":9}`)},
	}
	if err := kafka.Produce(ctx, []string{b}, "orders", msgs...); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	with := func(dlq string) string {
		return " WITH ('orders.type'='kafka_source', 'orders.bootstrap.servers'='" + b + "', 'orders.key.format'='json'," +
			" 'orders.stop.at'='end', 'dlq.path'='" + filepath.Join(dir, dlq) + "'"
	}
	for _, c := range []struct {
		name, sql string
		want      []string
	}{
		{"inferred", "SELECT * FROM orders" + with("inferred.jsonl") + ")",
			[]string{`{"amount":5,"store":1,"region":"eu"}`, `{"amount":7,"store":2,"region":"us"}`}},
		{"declared", "SELECT amount, region, store FROM orders" + with("declared.jsonl") + ", 'orders.columns'='amount BIGINT, region STRING, store INTEGER')",
			[]string{`{"amount":5,"region":"eu","store":1}`, `{"amount":7,"region":"us","store":2}`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			stmts, cat := parseApp(t, c.sql)
			var out strings.Builder
			j, err := Prepare(ctx, stmts[len(stmts)-1], Options{Stdout: &out, Catalog: cat})
			if err != nil {
				t.Fatal(err)
			}
			sum, err := j.Run(ctx)
			if err != nil {
				t.Fatal(err)
			}
			rows := strings.Split(strings.TrimSpace(out.String()), "\n")
			slices.Sort(rows)
			if !slices.Equal(rows, c.want) {
				t.Errorf("rows %q, want %q", rows, c.want)
			}
			dead, err := os.ReadFile(filepath.Join(dir, c.name+".jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			if sum.Total.DeadLettered != 1 || !strings.Contains(string(dead), `"raw":"{\"amount\":9}"`) || !strings.Contains(string(dead), "key: ") {
				t.Errorf("%d dead letters: %s", sum.Total.DeadLettered, dead)
			}
		})
	}
}

// TestStreamSkipsTombstones: a Kafka message with no value is no row of a
// stream, in every value format, as in ksqlDB: it is counted as filtered
// (in = out + filtered holds) and not dead-lettered; an empty value is
// still a JSON record that fails to decode.
func TestStreamSkipsTombstones(t *testing.T) {
	b := kafkaCluster(t, "events")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs := []kafka.Message{
		{Key: []byte("a"), Value: []byte(`{"x":1}`)},
		{Key: []byte("a")},
		{Key: []byte("b"), Value: []byte{}},
	}
	if err := kafka.Produce(ctx, []string{b}, "events", msgs...); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		format, want string
		dead         int64
	}{
		{"json", `{"x":1}`, 1},
		{"string", `{"value":""}` + "\n" + `{"value":"{\"x\":1}"}`, 0},
	} {
		t.Run(c.format, func(t *testing.T) {
			dlq := filepath.Join(t.TempDir(), "dlq.jsonl")
			var out strings.Builder
			sum := runStatement(t, ctx, "SELECT * FROM events WITH ('events.type'='kafka_source', 'events.bootstrap.servers'='"+b+"',"+
				" 'events.format'='"+c.format+"', 'events.stop.at'='end', 'dlq.path'='"+dlq+"')", &out)
			rows := strings.Split(strings.TrimSpace(out.String()), "\n")
			slices.Sort(rows)
			if got := strings.Join(rows, "\n"); got != c.want {
				t.Errorf("rows %s, want %s", got, c.want)
			}
			tot := sum.Total
			if tot.In != 3 || tot.Filtered != 1 || tot.DeadLettered != c.dead || sum.SourceSkipped["events"] != 1 || tot.In != tot.Accepted+tot.Filtered+tot.DeadLettered {
				t.Errorf("in %d, accepted %d, filtered %d, dead-lettered %d, skipped %v", tot.In, tot.Accepted, tot.Filtered, tot.DeadLettered, sum.SourceSkipped)
			}
			if dead, _ := os.ReadFile(dlq); strings.Contains(string(dead), "tombstone") {
				t.Errorf("a tombstone was dead-lettered: %s", dead)
			}
		})
	}
}

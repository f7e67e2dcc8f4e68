package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connector/kafka"
)

// TestKafkaSink runs grouped queries from a keyed Kafka topic into a
// kafka_sink topic and reads it back: one message per group, its value the
// row as the file sink writes it, its key the PRIMARY KEY columns, else the
// GROUP BY columns, in the key's default partition.
func TestKafkaSink(t *testing.T) {
	t.Parallel()
	trades := genTrades(t, 3000, 30)
	cases := []struct {
		name   string
		query  string   // %s: FROM and WITH are appended
		key    []string // output columns that form the message key
		groups int
	}{
		{name: "group_by_key",
			query: "SELECT trader_id, COUNT(*) AS n, SUM(quantity) AS qty, MAX(price) AS hi FROM trades GROUP BY trader_id",
			key:   []string{"trader_id"}, groups: 30},
		{name: "primary_key",
			query: "SELECT symbol PRIMARY KEY, COUNT(*) AS n, SUM(quantity) AS qty FROM trades GROUP BY symbol",
			key:   []string{"symbol"}},
		{name: "two_group_keys",
			query: "SELECT symbol, trader_id, COUNT(*) AS n, SUM(quantity) AS qty FROM trades GROUP BY trader_id, symbol",
			key:   []string{"trader_id", "symbol"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			brokers := startCluster(t, "trades", "out")
			produce(t, brokers, "trades", keyBy(trades, byTrader))
			file := filepath.Join(t.TempDir(), "want.jsonl")
			with := kafkaTrades(brokers, "partition.key", "trader_id")
			runToEnd(t, fmt.Sprintf("CREATE STREAM out AS %s EMIT FINAL WITH (%s, 'out.type'='file_sink', 'out.path'='%s')", tc.query, with, file))
			want := map[string]int{}
			for _, l := range readLines(t, file) {
				want[l]++
			}
			runToEnd(t, fmt.Sprintf("CREATE STREAM out AS %s EMIT FINAL WITH (%s, 'out.type'='kafka_sink', 'out.bootstrap.servers'='%s')", tc.query, with, brokers))

			msgs := readTopic(t, brokers, "out")
			if len(msgs) != len(want) || (tc.groups > 0 && len(msgs) != tc.groups) {
				t.Errorf("%d messages, want %d rows (%d groups)", len(msgs), len(want), tc.groups)
			}
			var total int64
			for _, m := range msgs {
				if want[string(m.Value)] == 0 {
					t.Errorf("message value %s is not a row of the file sink's result (or a duplicate)", m.Value)
					continue
				}
				want[string(m.Value)]--
				var row map[string]json.RawMessage
				if err := json.Unmarshal(m.Value, &row); err != nil {
					t.Fatalf("message value %s: %v", m.Value, err)
				}
				var n int64
				if err := json.Unmarshal(row["n"], &n); err != nil {
					t.Fatalf("message value %s: n: %v", m.Value, err)
				}
				total += n
				if wantKey := messageKey(row, tc.key); string(m.Key) != wantKey {
					t.Errorf("message %s has key %q, want %q", m.Value, m.Key, wantKey)
				}
				if p := kafka.Partition(m.Key, kafkaPartitions); p != m.Partition {
					t.Errorf("message with key %q is in partition %d, want its default partition %d", m.Key, m.Partition, p)
				}
			}
			if total != int64(len(trades)) {
				t.Errorf("the groups count %d trades, want %d", total, len(trades))
			}
		})
	}
}

// messageKey is the key Sluice writes for the columns key of a JSON row:
// one column's text (a JSON string unquoted), else the JSON array of the values.
func messageKey(row map[string]json.RawMessage, key []string) string {
	if len(key) == 1 {
		v := row[key[0]]
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
		return string(v)
	}
	parts := make([]string, len(key))
	for i, k := range key {
		parts[i] = string(row[k])
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// readTopic reads every message topic holds now. A cluster that does not
// answer in time (a loaded machine: a kfake broker's connection timing
// out) is asked again until the test's deadline.
func readTopic(t testing.TB, brokers, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := testContext(t)
	defer cancel()
	seeds := strings.Split(brokers, ",")
	admin, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	var ends kadm.ListedOffsets
	for {
		ends, err = kadm.NewClient(admin).ListEndOffsets(ctx, topic)
		if err == nil {
			err = ends.Error()
		}
		var netErr net.Error
		if err == nil || !errors.As(err, &netErr) || ctx.Err() != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	admin.Close()
	if err != nil {
		t.Fatalf("listing the end offsets of topic %q: %v", topic, err)
	}
	left := 0
	remaining := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
			left++
		}
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for left > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading topic %q: %v", topic, ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, r)
			if end, ok := remaining[r.Partition]; ok && r.Offset+1 >= end {
				delete(remaining, r.Partition)
				left--
			}
		})
	}
	return out
}

package kafka

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/record"
)

// TestSinkRoundTrip writes keyed JSON rows and reads them back: values,
// keys and the default partition of each key.
func TestSinkRoundTrip(t *testing.T) {
	brokers := startCluster(t, "out1", "out2", "out0")
	schema := record.NewSchema("trader_id", "symbol", "total")
	const n = 300
	rows := make([]record.Record, n)
	for i := range rows {
		rows[i].Values = []record.Value{
			record.StringValue(fmt.Sprintf("T%d", i%25)),
			record.StringValue(fmt.Sprintf("SYM%d", i%3)),
			record.DecimalValue(int64(i*100+5), 2),
		}
	}
	for _, c := range []struct {
		topic    string
		keySlots []int
		key      func(r record.Record) string
	}{
		{"out1", []int{0}, func(r record.Record) string { return r.Values[0].Str() }},
		{"out2", []int{0, 1}, func(r record.Record) string {
			return fmt.Sprintf(`[%q,%q]`, r.Values[0].Str(), r.Values[1].Str())
		}},
		{"out0", nil, func(record.Record) string { return "" }},
	} {
		t.Run(c.topic, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var produced hookCount
			sink, err := NewSink("results", map[string]string{
				"results.topic.name": c.topic, "results.bootstrap.servers": strings.Join(brokers, ","),
			}, kgo.WithHooks(&produced))
			if err != nil {
				t.Fatal(err)
			}
			if err := sink.Open(ctx, schema, c.keySlots); err != nil {
				t.Fatal(err)
			}
			for i := 0; i < n; i += 100 {
				if err := sink.Write(ctx, rows[i:i+100]); err != nil {
					t.Fatal(err)
				}
			}
			if err := sink.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			// franz-go may run the hook just after the acknowledgement that
			// Flush waits for, so give it a moment.
			for deadline := time.Now().Add(5 * time.Second); produced.n.Load() == 0 && time.Now().Before(deadline); {
				time.Sleep(10 * time.Millisecond)
			}
			if produced.n.Load() == 0 {
				t.Error("the hook passed to NewSink saw no produced batch")
			}
			if err := sink.Close(); err != nil {
				t.Fatal(err)
			}
			src, err := NewSource("trades", sourceProps(brokers, "topic.name", c.topic, "stop.at", "end"))
			if err != nil {
				t.Fatal(err)
			}
			got := readAll(t, src, schema, nil)
			if len(got) != n {
				t.Fatalf("read back %d rows, want %d", len(got), n)
			}
			want := map[string]int{}
			for _, r := range rows {
				want[c.key(r)+"|"+r.Values[2].String()]++
			}
			for _, g := range got {
				if g.key != "" && Partition([]byte(g.key), testPartitions) != g.part {
					t.Errorf("key %s in partition %d, not its default partition", g.key, g.part)
				}
				if len(c.keySlots) == 1 && g.values[0].Str() != g.key {
					t.Errorf("key %q for trader %v", g.key, g.values[0])
				}
				if g.values[2].Kind() != record.Decimal {
					t.Errorf("total %v decoded as %v, want DECIMAL", g.values[2], g.values[2].Kind())
				}
				want[g.key+"|"+g.values[2].String()]--
			}
			for k, v := range want {
				if v != 0 {
					t.Errorf("row %s: %d unmatched", k, v)
				}
			}
		})
	}
}

// TestSinkTopic: a missing topic is created with the default partition
// count (the source's, set by the runner) or '<n>.partitions' and
// '<n>.replication.factor'; with '<n>.create.topic'='false' it is an error.
func TestSinkTopic(t *testing.T) {
	brokers := startCluster(t, "out")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	open := func(name string, defParts int, kv ...string) error {
		props := map[string]string{name + ".bootstrap.servers": brokers[0]}
		for i := 0; i+1 < len(kv); i += 2 {
			props[name+"."+kv[i]] = kv[i+1]
		}
		sink, err := NewSink(name, props)
		if err != nil {
			return err
		}
		sink.SetDefaultPartitions(defParts)
		if err := sink.Open(ctx, record.NewSchema("a"), nil); err != nil {
			return err
		}
		return sink.Close()
	}
	if err := open("results", 0, "create.topic", "false"); err == nil || !strings.Contains(err.Error(), `topic "results" does not exist`) {
		t.Fatalf("create.topic=false: %v", err)
	}
	if err := open("results", 5); err != nil {
		t.Fatal(err)
	}
	if err := open("explicit", 5, "partitions", "3", "replication.factor", "2"); err != nil {
		t.Fatal(err)
	}
	if err := open("out", 5, "create.topic", "false"); err != nil {
		t.Fatalf("existing topic: %v", err)
	}
	cl, err := newClient(Plain(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	topics, err := kadm.NewClient(cl).ListTopics(ctx, "results", "explicit")
	if err != nil {
		t.Fatal(err)
	}
	if d := topics["results"]; len(d.Partitions) != 5 {
		t.Errorf("results: %d partitions, want the default 5", len(d.Partitions))
	}
	if d := topics["explicit"]; len(d.Partitions) != 3 || d.Partitions.NumReplicas() != 2 {
		t.Errorf("explicit: %d partitions, %d replicas, want 3 and 2", len(d.Partitions), d.Partitions.NumReplicas())
	}
	for _, bad := range [][]string{{"partitions", "0"}, {"replication.factor", "x"}, {"create.topic", "maybe"}} {
		if err := open("bad", 0, bad...); err == nil || !strings.Contains(err.Error(), "'bad."+bad[0]+"'") {
			t.Errorf("%v: %v", bad, err)
		}
	}
	sink, err := NewSink("results", map[string]string{"results.bootstrap.servers": brokers[0]})
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Open(ctx, record.NewSchema("a"), []int{3}); err == nil {
		t.Fatal("Open accepted a key slot outside the schema")
	}
}

// TestProduceRows writes generated rows keyed by a column, as `sluice gen
// --topic` does, and checks that a declared partition key on them holds.
func TestProduceRows(t *testing.T) {
	brokers := startCluster(t, "trades")
	schema := record.NewSchema("symbol", "trader_id", "price")
	rows := make([]record.Record, 1000)
	for i := range rows {
		rows[i].Values = []record.Value{record.StringValue(fmt.Sprintf("SYM%d", i%9)), record.IntValue(int64(i % 31)), record.DecimalValue(int64(i), 1)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := ProduceRows(ctx, brokers, "trades", schema, []string{"trader_id"}, rows); err != nil {
		t.Fatal(err)
	}
	if err := ProduceRows(ctx, brokers, "trades", schema, []string{"nope"}, rows); err == nil {
		t.Fatal("ProduceRows accepted an unknown key column")
	}
	src, err := NewSource("trades", sourceProps(brokers, "stop.at", "end", "partition.key", "trader_id"))
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, src, schema, nil); len(got) != len(rows) {
		t.Fatalf("read %d rows, want %d", len(got), len(rows))
	}
	if err := src.Contradiction(); err != nil || !src.Verified() {
		t.Fatalf("integer key column not confirmed: verified=%v %v", src.Verified(), err)
	}
}

// TestCreateTopic creates a topic (twice: the second is not an error) that
// a source then sees with its partition count.
func TestCreateTopic(t *testing.T) {
	brokers := startCluster(t, "trades")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for range 2 {
		if err := CreateTopic(ctx, brokers, "created", 4, 0); err != nil {
			t.Fatal(err)
		}
	}
	f, err := ObserveFacts(ctx, "trades", sourceProps(brokers, "topic.name", "created"), nil)
	if err != nil || f.Partitions != 4 {
		t.Fatalf("facts %+v, %v; want 4 partitions", f, err)
	}
}

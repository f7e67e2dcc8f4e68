package kafka

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/record"
)

func tradeSchema() *record.Schema {
	return record.NewSchema("trader_id", "symbol", "price", "quantity", "k")
}

// TestSourceReadsAll reads keyed JSON trades to the end (stop.at=end) with
// and without a consumer group and checks every record and its metadata.
func TestSourceReadsAll(t *testing.T) {
	brokers := startCluster(t, "trades")
	const n = 800
	msgs := trades(n, 40)
	msgs[0].Headers = []record.Header{{Key: "h", Value: []byte("v")}}
	produce(t, brokers, "trades", msgs)
	byValue := make(map[string]Message, n)
	for _, m := range msgs {
		byValue[string(m.Value)] = m
	}
	for _, tc := range []struct {
		name  string
		props []string
	}{
		{"direct", []string{"stop.at", "end", "key.field", "k"}},
		{"group", []string{"stop.at", "END", "key.field", "k", "group.id", "g-reads"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, err := NewSource("trades", sourceProps(brokers, tc.props...))
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now().Add(-time.Minute).UnixMilli()
			dlq := &mem.DeadLetters{}
			recs := readAll(t, src, tradeSchema(), dlq)
			if len(recs) != n || len(dlq.All()) != 0 {
				t.Fatalf("read %d records and %d dead letters, want %d and 0", len(recs), len(dlq.All()), n)
			}
			next := map[int32]int64{}
			for _, g := range recs {
				m, ok := byValue[g.raw]
				if !ok {
					t.Fatalf("unknown raw value %q", g.raw)
				}
				if g.topic != "trades" || g.key != string(m.Key) || g.ts < start {
					t.Errorf("metadata topic=%q key=%q ts=%d", g.topic, g.key, g.ts)
				}
				if want := Partition(m.Key, testPartitions); g.part != want {
					t.Errorf("key %s in partition %d, murmur2 says %d", m.Key, g.part, want)
				}
				if g.offset != next[g.part] {
					t.Errorf("partition %d: offset %d, want %d (source order)", g.part, g.offset, next[g.part])
				}
				next[g.part] = g.offset + 1
				if g.values[0].Str() != string(m.Key) || g.values[4].Str() != string(m.Key) {
					t.Errorf("trader_id %v, key column %v, want %s", g.values[0], g.values[4], m.Key)
				}
				if !strings.Contains(string(m.Value), `"price":`+g.values[2].String()) || g.values[2].Kind() != record.Decimal {
					t.Errorf("price %v (%v) not from %s", g.values[2], g.values[2].Kind(), m.Value)
				}
				if string(m.Value) == string(msgs[0].Value) && (len(g.hdrs) != 1 || g.hdrs[0].Key != "h" || string(g.hdrs[0].Value) != "v") {
					t.Errorf("headers %v", g.hdrs)
				}
			}
		})
	}
}

// TestStopAtEndLatest ends at once when reading from the latest offsets.
func TestStopAtEndLatest(t *testing.T) {
	brokers := startCluster(t, "trades")
	produce(t, brokers, "trades", trades(50, 5))
	src, err := NewSource("trades", sourceProps(brokers, "stop.at", "end", "auto.offset.reset", "latest"))
	if err != nil {
		t.Fatal(err)
	}
	if recs := readAll(t, src, tradeSchema(), nil); len(recs) != 0 {
		t.Fatalf("read %d records from latest, want 0", len(recs))
	}
}

func TestSourceConfigErrors(t *testing.T) {
	for _, c := range []struct {
		props map[string]string
		want  string
	}{
		{map[string]string{"s.auto.offset.reset": "newest"}, `option 's.auto.offset.reset': invalid value "newest" (valid values: earliest, latest)`},
		{map[string]string{"s.format": "xml"}, `option 's.format': invalid value "xml" (valid values: json, string, avro, protobuf, json_sr)`},
		{map[string]string{"s.stop.at": "tomorrow"}, `option 's.stop.at': invalid value "tomorrow" (valid values: never, end)`},
		{map[string]string{"s.group_id": "g"}, `unknown option 's.group_id'`},
	} {
		_, err := NewSource("s", c.props)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewSource(%v) error %v, want %q", c.props, err, c.want)
		}
	}
}

func TestSourceMissingTopic(t *testing.T) {
	brokers := startCluster(t, "trades")
	src, err := NewSource("nope", map[string]string{"nope.bootstrap.servers": brokers[0]})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := src.Open(ctx, tradeSchema(), nil); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("Open of a missing topic: %v", err)
	}
}

// TestStringFormat reads each value whole into the STRING column "value",
// including values that are not JSON.
func TestStringFormat(t *testing.T) {
	brokers := startCluster(t, "trades")
	msgs := []Message{{Value: []byte("plain text")}, {Value: []byte(`{"a":1}`)}, {Value: []byte("")}}
	produce(t, brokers, "trades", msgs)
	src, err := NewSource("trades", sourceProps(brokers, "stop.at", "end", "format", "string"))
	if err != nil {
		t.Fatal(err)
	}
	dlq := &mem.DeadLetters{}
	recs := readAll(t, src, record.NewSchema("value"), dlq)
	want := map[string]bool{"plain text": true, `{"a":1}`: true, "": true}
	if len(recs) != len(msgs) || len(dlq.All()) != 0 {
		t.Fatalf("read %d records, %d dead letters", len(recs), len(dlq.All()))
	}
	for _, g := range recs {
		if v := g.values[0]; v.Kind() != record.String || !want[v.Str()] || v.Str() != g.raw {
			t.Errorf("value column %v for raw %q", v, g.raw)
		}
	}
}

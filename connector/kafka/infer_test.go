package kafka

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector"
)

// TestSourceSchema infers schemas from kfake topics: conflicts widen, NULLs
// give no type, nested objects and arrays, epoch numbers in a time column
// against ISO text, the bound on records, and an empty topic.
func TestSourceSchema(t *testing.T) {
	topics := []string{"scalars", "conflicts", "nested", "times", "empty", "many", "objects", "nulls", "bad"}
	brokers := startCluster(t, topics...)
	values := map[string][]string{
		"scalars":   {`{"id":1,"sym":"AAPL","price":185.20,"ok":true,"at":"2024-01-15T10:00:05Z"}`},
		"conflicts": {`{"n":1,"v":"x","m":null}`, `{"n":2.25,"v":5,"m":3000000000}`, `{"n":7,"v":"y"}`},
		"nested":    {`{"payload":{"user":{"id":7}},"tags":["a"]}`, `{"payload":{"user":{"id":8,"name":"b"}},"tags":[]}`},
		"times":     {`{"ts":1705312805000,"iso":"2024-01-15T10:00:05Z","n":1705312805000}`},
		"objects": {`{"items":[{"sku":"x","qty":2}],"at":"2024-01-15 10:00:05"}`,
			`{"items":[{"sku":"y","qty":2.5,"note":"n"}],"at":"2024-01-15T10:00:06.123+01:00"}`},
		"nulls": {`{"a":null,"b":1}`, `{"a":null}`, `{"b":null,"c":"x"}`},
		"bad":   {`{"q":1}`, `not json`, `[1,2]`, `{"q":2}`},
	}
	for i := 0; i < 50; i++ {
		values["many"] = append(values["many"], fmt.Sprintf(`{"i":%d}`, i))
	}
	for topic, vs := range values {
		msgs := make([]Message, len(vs))
		for i, v := range vs {
			// One partition, in order; "many" is spread over all of them.
			key := "k"
			if topic == "many" {
				key = fmt.Sprint(i)
			}
			msgs[i] = Message{Key: []byte(key), Value: []byte(v)}
		}
		produce(t, brokers, topic, msgs)
	}
	tests := []struct {
		topic   string
		limit   int
		time    []string
		want    string
		records int
	}{
		{"scalars", 100, nil, "id INTEGER, sym STRING, price DECIMAL(5,2), ok BOOLEAN, at TIMESTAMP", 1},
		{"conflicts", 100, nil, "n DECIMAL(3,2), v STRING, m BIGINT", 3},
		{"nested", 100, nil, "payload ROW<user ROW<id INTEGER, name STRING>>, tags ARRAY<STRING>", 2},
		{"times", 100, []string{"ts"}, "ts TIMESTAMP, iso TIMESTAMP, n BIGINT", 1},
		{"many", 16, nil, "i INTEGER", 16},
		{"objects", 100, nil, "items ARRAY<ROW<sku STRING, qty DECIMAL(2,1), note STRING>>, at TIMESTAMP", 2},
		{"nulls", 100, nil, "a, b INTEGER, c STRING", 3},
		{"bad", 100, nil, "q INTEGER", 2},
	}
	for _, tt := range tests {
		t.Run(tt.topic, func(t *testing.T) {
			s, err := NewSource("trades", sourceProps(brokers, "topic.name", tt.topic))
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.SourceSchema(context.Background(), connector.InferLimits{Records: tt.limit, Wait: 20 * time.Second, TimeColumns: tt.time})
			if err != nil {
				t.Fatal(err)
			}
			if got.Columns == nil || got.Columns.String() != tt.want || got.Origin != connector.SchemaInferred {
				t.Fatalf("schema %v (%s), want %s", got.Columns, got.Origin, tt.want)
			}
			if tt.topic != "many" && got.Records != tt.records || tt.topic == "many" && (got.Records < 8 || got.Records > tt.records) {
				t.Errorf("inferred from %d records, want %d", got.Records, tt.records)
			}
		})
	}
	s, err := NewSource("trades", sourceProps(brokers, "topic.name", "empty"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.SourceSchema(context.Background(), connector.InferLimits{Records: 10, Wait: time.Second}); err != nil || got.Columns != nil {
		t.Errorf("empty topic: %v, %v", got.Columns, err)
	}
	s, err = NewSource("trades", sourceProps(brokers, "topic.name", "empty", "format", "string", "key.field", "k"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.SourceSchema(context.Background(), connector.InferLimits{Records: 10}); err != nil || got.Columns.String() != "value STRING, k STRING" {
		t.Errorf("string format: %v, %v", got.Columns, err)
	}
}

// TestSourceSchemaSamplesEveryPartition checks that inference reads the
// first messages of every partition, a share of the bound each: a column
// only one partition has is found, one only in messages past the share is
// not; and that the columns come in partition order, however the fetches
// arrive.
func TestSourceSchemaSamplesEveryPartition(t *testing.T) {
	brokers := startCluster(t, "parts", "order", "one")
	var msgs []Message
	for p := 0; p < testPartitions; p++ {
		for i := 0; i < 5; i++ {
			v := fmt.Sprintf(`{"p":%d,"i":%d}`, p, i)
			switch {
			case p == testPartitions-1:
				v = fmt.Sprintf(`{"p":%d,"i":%d,"last":"x"}`, p, i)
			case i >= 2:
				v = fmt.Sprintf(`{"p":%d,"i":%d,"late":true}`, p, i)
			}
			msgs = append(msgs, Message{Value: []byte(v)})
		}
	}
	produceTo(t, brokers, "parts", msgs, func(i int) int32 { return int32(i / 5) })
	s, err := NewSource("trades", sourceProps(brokers, "topic.name", "parts"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.SourceSchema(context.Background(), connector.InferLimits{Records: 2 * testPartitions, Wait: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if got.Columns == nil || got.Columns.String() != "p INTEGER, i INTEGER, last STRING" || got.Records != 2*testPartitions {
		t.Errorf("schema %v from %d records, want p INTEGER, i INTEGER, last STRING from %d", got.Columns, got.Records, 2*testPartitions)
	}
	// One partition of eight holds messages: it gets the whole bound.
	msgs = nil
	for i := 0; i < 20; i++ {
		msgs = append(msgs, Message{Value: []byte(fmt.Sprintf(`{"i":%d}`, i))})
	}
	produceTo(t, brokers, "one", msgs, func(int) int32 { return 3 })
	s, err = NewSource("trades", sourceProps(brokers, "topic.name", "one"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.SourceSchema(context.Background(), connector.InferLimits{Records: 16, Wait: 20 * time.Second}); err != nil || got.Records != 16 {
		t.Errorf("one partition of eight: %d records, %v; want 16", got.Records, err)
	}
	// Fewer records than partitions: the first partitions', one each.
	s, err = NewSource("trades", sourceProps(brokers, "topic.name", "parts"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.SourceSchema(context.Background(), connector.InferLimits{Records: 3, Wait: 20 * time.Second}); err != nil || got.Records != 3 || got.Columns.String() != "p INTEGER, i INTEGER" {
		t.Errorf("3 records of 8 partitions: %v from %d records, %v; want p INTEGER, i INTEGER from 3", got.Columns, got.Records, err)
	}
	msgs = nil
	want := []string{"p INTEGER"}
	for p := testPartitions - 1; p >= 0; p-- {
		msgs = append(msgs, Message{Value: []byte(fmt.Sprintf(`{"p":%d,"k%d":"x"}`, p, p))})
	}
	for p := 0; p < testPartitions; p++ {
		want = append(want, fmt.Sprintf("k%d STRING", p))
	}
	produceTo(t, brokers, "order", msgs, func(i int) int32 { return int32(testPartitions - 1 - i) })
	for run := 0; run < 3; run++ {
		s, err := NewSource("trades", sourceProps(brokers, "topic.name", "order"))
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.SourceSchema(context.Background(), connector.InferLimits{Records: 100, Wait: 20 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if got.Columns == nil || got.Columns.String() != strings.Join(want, ", ") {
			t.Fatalf("run %d: schema %v, want %s", run, got.Columns, strings.Join(want, ", "))
		}
	}
}

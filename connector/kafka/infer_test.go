package kafka

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector"
)

// TestSourceSchema infers schemas from kfake topics: conflicts widen, NULLs
// give no type, nested objects and arrays, epoch numbers in a time column
// against ISO text, the bound on records, and an empty topic.
func TestSourceSchema(t *testing.T) {
	topics := []string{"scalars", "conflicts", "nested", "times", "empty", "many"}
	brokers := startCluster(t, topics...)
	values := map[string][]string{
		"scalars":   {`{"id":1,"sym":"AAPL","price":185.20,"ok":true,"at":"2024-01-15T10:00:05Z"}`},
		"conflicts": {`{"n":1,"v":"x","m":null}`, `{"n":2.25,"v":5,"m":3000000000}`, `{"n":7,"v":"y"}`},
		"nested":    {`{"payload":{"user":{"id":7}},"tags":["a"]}`, `{"payload":{"user":{"id":8,"name":"b"}},"tags":[]}`},
		"times":     {`{"ts":1705312805000,"iso":"2024-01-15T10:00:05Z","n":1705312805000}`},
	}
	for i := 0; i < 50; i++ {
		values["many"] = append(values["many"], fmt.Sprintf(`{"i":%d}`, i))
	}
	for topic, vs := range values {
		msgs := make([]Message, len(vs))
		for i, v := range vs {
			msgs[i] = Message{Key: []byte(fmt.Sprint(i)), Value: []byte(v)}
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

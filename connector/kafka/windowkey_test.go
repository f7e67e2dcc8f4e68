package kafka

import (
	"context"
	"testing"
	"time"

	"github.com/sluicesql/sluice/record"
)

// TestWindowedAvroKeys: with KeyByWindow and '<n>.key.format'='avro' the
// key record holds the key columns and the window's bounds, registered
// under '<topic>-key', so a reader gets window_start and window_end as
// columns; two windows of one key are two keys.
func TestWindowedAvroKeys(t *testing.T) {
	brokers := startCluster(t, "win")
	_, url := newFakeRegistry(t, "")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sink, err := NewSink("win", map[string]string{"win.bootstrap.servers": brokers[0], "win.format": "avro",
		"win.key.format": "avro", "win.schema.registry.url": url})
	if err != nil {
		t.Fatal(err)
	}
	sink.KeyByWindow()
	cols := record.NewSchemaOf(record.Field{Name: "symbol", Type: record.StringType}, record.Field{Name: "n", Type: record.BigintType})
	const minute = 60_000
	rows := []record.Record{
		{Values: []record.Value{record.StringValue("A"), record.IntValue(2)}, WindowStart: 0, EventTime: minute - 1, HasEventTime: true},
		{Values: []record.Value{record.StringValue("A"), record.IntValue(1)}, WindowStart: minute, EventTime: 2*minute - 1, HasEventTime: true},
	}
	if err := sink.Open(ctx, cols, []int{0}); err != nil {
		t.Fatal(err)
	}
	if err := sink.Write(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
	back, sch := openWithSchema(t, "back", map[string]string{"back.bootstrap.servers": brokers[0], "back.topic.name": "win",
		"back.format": "avro", "back.key.format": "avro", "back.schema.registry.url": url, "back.stop.at": "end"})
	if got := schemaText(sch.Columns); got != "symbol STRING, n BIGINT, window_start TIMESTAMP NOT NULL, window_end TIMESTAMP NOT NULL" {
		t.Fatalf("read back as %s", got)
	}
	got := readAll(t, back, sch.Columns, nil)
	if len(got) != 2 {
		t.Fatalf("read %d rows", len(got))
	}
	for _, g := range got {
		start, end := g.values[2].Millis(), g.values[3].Millis()
		if end-start != minute || g.values[1].Int() != 2-start/minute {
			t.Errorf("row %v: not the window of its count", g.values)
		}
	}
}

package kafka

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/record"
)

// TestSinkWritesRetractionsAsTombstones: a keyed sink writes a retracted
// row (a group HAVING no longer keeps) as its key with no value; a sink
// without a key writes it as a row.
func TestSinkWritesRetractionsAsTombstones(t *testing.T) {
	brokers := startCluster(t, "keyed", "unkeyed")
	schema := record.NewSchema("symbol", "total")
	rows := []record.Record{
		{Values: []record.Value{record.StringValue("A"), record.IntValue(50)}},
		{Values: []record.Value{record.StringValue("B"), record.IntValue(7)}},
		{Values: []record.Value{record.StringValue("A"), {}}, Retract: true},
		{Values: []record.Value{record.StringValue("B"), record.IntValue(9)}},
	}
	for _, c := range []struct {
		topic    string
		keySlots []int
		want     []string // key=value, value "<none>" for a tombstone
	}{
		{"keyed", []int{0}, []string{`A={"symbol":"A","total":50}`, `B={"symbol":"B","total":7}`, `A=<none>`, `B={"symbol":"B","total":9}`}},
		{"unkeyed", nil, []string{`={"symbol":"A","total":50}`, `={"symbol":"B","total":7}`, `={"symbol":"A","total":null}`, `={"symbol":"B","total":9}`}},
	} {
		t.Run(c.topic, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			sink, err := NewSink("out", map[string]string{"out.topic.name": c.topic, "out.bootstrap.servers": strings.Join(brokers, ",")})
			if err != nil {
				t.Fatal(err)
			}
			if err := sink.Open(ctx, schema, c.keySlots); err != nil {
				t.Fatal(err)
			}
			// one row at a time keeps the topic's order the rows' order
			for i := range rows {
				if err := sink.Write(ctx, rows[i:i+1]); err != nil {
					t.Fatal(err)
				}
				if err := sink.Flush(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if err := sink.Close(); err != nil {
				t.Fatal(err)
			}
			cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(c.topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			byKey := map[string][]string{}
			var got int
			for got < len(rows) {
				fs := cl.PollFetches(ctx)
				if err := ctx.Err(); err != nil {
					t.Fatalf("read %d messages: %v", got, err)
				}
				fs.EachRecord(func(r *kgo.Record) {
					v := string(r.Value)
					if r.Value == nil {
						v = "<none>"
					}
					byKey[string(r.Key)] = append(byKey[string(r.Key)], string(r.Key)+"="+v)
					got++
				})
			}
			if c.keySlots == nil {
				// messages without a key spread over the partitions
				slices.Sort(byKey[""])
				if want := slices.Sorted(slices.Values(c.want)); !slices.Equal(byKey[""], want) {
					t.Fatalf("messages %v, want %v", byKey[""], want)
				}
				return
			}
			// a key's messages are in one partition, in order
			for _, w := range c.want {
				k, _, _ := strings.Cut(w, "=")
				if len(byKey[k]) == 0 || byKey[k][0] != w {
					t.Fatalf("key %q: messages %v, want next %s", k, byKey[k], w)
				}
				byKey[k] = byKey[k][1:]
			}
		})
	}
}

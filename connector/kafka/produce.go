package kafka

import (
	"context"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/record"
)

// Message is one message for Produce.
type Message struct {
	Key     []byte // nil for no key
	Value   []byte
	Headers []record.Header
}

// Produce writes msgs to topic in order and waits until all are
// acknowledged. Keyed messages go to Kafka's default partition of their key
// (Partition); messages without a key are spread over the partitions.
func Produce(ctx context.Context, brokers []string, topic string, msgs ...Message) error {
	cl, err := newClient(Plain(brokers),
		kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		return err
	}
	defer cl.Close()
	recs := make([]*kgo.Record, len(msgs))
	for i, m := range msgs {
		recs[i] = &kgo.Record{Key: m.Key, Value: m.Value}
		for _, h := range m.Headers {
			recs[i].Headers = append(recs[i].Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("producing to topic %q: %w", topic, err)
	}
	return nil
}

// CreateTopic creates topic with the given number of partitions and
// replication factor (0: the cluster's default). A topic that already
// exists is not an error.
func CreateTopic(ctx context.Context, brokers []string, topic string, partitions int32, replication int16) error {
	cl, err := newClient(Plain(brokers))
	if err != nil {
		return err
	}
	defer cl.Close()
	return ensureTopic(ctx, cl, topic, TopicSpec{Create: true, Partitions: partitions, ReplicationFactor: replication})
}

// ProduceRows writes rows of schema to topic as a Sink does (JSON values,
// keyed by the columns named in key; no key when key is empty) and waits
// until all are acknowledged. For a long or unbounded stream, open a Sink
// and write batches instead.
func ProduceRows(ctx context.Context, brokers []string, topic string, schema *record.Schema, key []string, rows []record.Record) error {
	return ProduceRowsAs(ctx, brokers, topic, schema, key, rows, nil)
}

// ProduceRowsAs is ProduceRows with sink options ('format',
// 'schema.registry.url', ... without the '<n>.' prefix) added.
func ProduceRowsAs(ctx context.Context, brokers []string, topic string, schema *record.Schema, key []string, rows []record.Record, opts map[string]string) error {
	slots := make([]int, len(key))
	for i, k := range key {
		s, ok := schema.Lookup(k)
		if !ok {
			return fmt.Errorf("producing to topic %q: key column %q is not among %v", topic, k, schema.Names())
		}
		slots[i] = s
	}
	props := map[string]string{topic + ".topic.name": topic, topic + ".bootstrap.servers": strings.Join(brokers, ",")}
	for k, v := range opts {
		props[topic+"."+k] = v
	}
	sink, err := NewSink(topic, props)
	if err != nil {
		return err
	}
	if err := sink.Open(ctx, schema, slots); err != nil {
		return err
	}
	if err := sink.Write(ctx, rows); err != nil {
		sink.Abort()
		return err
	}
	if err := sink.Flush(ctx); err != nil {
		sink.Abort()
		return err
	}
	return sink.Close()
}

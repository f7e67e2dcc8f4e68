package bench

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/record"
)

// kafkaCluster is the in-process cluster of the kafka mode, started on
// first use.
type kafkaCluster struct {
	c        *kfake.Cluster
	brokers  []string
	topics   map[string]bool
	registry *srfake.Registry // the Schema Registry of the Avro topics, started on first use
}

// start starts the cluster (one broker: the benchmark measures Sluice, not
// replication) if it is not running.
func (k *kafkaCluster) start() error {
	if k.c != nil {
		return nil
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		return fmt.Errorf("kfake: %w", err)
	}
	k.c, k.brokers, k.topics = c, c.ListenAddrs(), map[string]bool{}
	return nil
}

// close stops the cluster and forgets its topics.
func (k *kafkaCluster) close() {
	if k.c != nil {
		k.c.Close()
		k.c, k.topics = nil, nil
	}
	if k.registry != nil {
		k.registry.Close()
		k.registry = nil
	}
}

// topicName returns the topic of a dataset in mode (kafka or kafka-avro),
// with its format's sink and source options.
func (k *kafkaCluster) topicName(dataset string, n int, mode string) (string, map[string]string) {
	name := fmt.Sprintf("%s-%d", dataset, n)
	if mode != ModeKafkaAvro {
		return name, nil
	}
	if k.registry == nil {
		k.registry = srfake.New()
	}
	return name + "-avro", map[string]string{"format": "avro", "schema.registry.url": k.registry.URL()}
}

// topic creates and fills the topic of a dataset once: sourceParts
// partitions holding the records in generation order, keyed by key (a
// column name, "" for no key). parts holds s's records as s splits them.
// format holds the sink options of its format (nil: JSON).
func (k *kafkaCluster) topic(name string, format map[string]string, schema *record.Schema, s *Scenario, parts [][]record.Record, key string, log io.Writer) error {
	if k.topics[name] {
		return nil
	}
	fmt.Fprintf(log, "  producing to topic %s\n", name)
	if err := k.start(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := kafka.CreateTopic(ctx, k.brokers, name, sourceParts, 0); err != nil {
		return err
	}
	var keys []string
	if key != "" {
		keys = []string{key}
	}
	if format != nil {
		// A registry format writes the types of its schema: the
		// dataset's, as its values show them.
		schema = typedSchema(schema, parts)
	}
	// produce in chunks, in generation order, so that each partition's
	// event times ascend as the generator made them
	var chunk []record.Record
	var perr error
	send := func() {
		if perr == nil && len(chunk) > 0 {
			perr = kafka.ProduceRowsAs(ctx, k.brokers, name, schema, keys, chunk, format)
		}
		chunk = chunk[:0]
	}
	inOrder(s, parts, func(r *record.Record) {
		chunk = append(chunk, record.Record{Values: r.Values})
		if len(chunk) == 200_000 {
			send()
		}
	})
	send()
	if perr != nil {
		return perr
	}
	k.topics[name] = true
	return nil
}

// sourceProps returns the WITH properties of a Kafka source reading topic,
// in format (topicName's options; nil: JSON), from the start to its end.
func (k *kafkaCluster) sourceProps(source, topic string, format map[string]string) map[string]string {
	props := map[string]string{
		source + ".type":              "kafka_source",
		source + ".topic.name":        topic,
		source + ".bootstrap.servers": strings.Join(k.brokers, ","),
		source + ".auto.offset.reset": "earliest",
		source + ".stop.at":           "end",
	}
	for opt, v := range format {
		props[source+"."+opt] = v
	}
	return props
}

// typedSchema returns schema with each column typed by the values parts
// hold in it: BOOLEAN, BIGINT, DOUBLE, STRING, TIMESTAMP, or DECIMAL with
// the largest scale seen (so that every value is written exactly).
func typedSchema(schema *record.Schema, parts [][]record.Record) *record.Schema {
	fields := schema.Fields()
	scales := make([]int, len(fields))
	for _, part := range parts {
		for _, r := range part {
			for i, v := range r.Values {
				if i >= len(fields) || v.IsNull() {
					continue
				}
				if fields[i].Type.Kind == record.TypeAny {
					fields[i].Type = record.TypeOfKind(v.Kind())
				}
				if v.Kind() == record.Decimal {
					_, s := v.Decimal()
					scales[i] = max(scales[i], int(s))
				}
			}
		}
	}
	for i := range fields {
		if fields[i].Type.Kind == record.TypeDecimal {
			fields[i].Type.Scale = max(fields[i].Type.Scale, scales[i])
		}
	}
	return record.NewSchemaOf(fields...)
}

package bench

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/record"
)

// kafkaCluster is the in-process cluster of the kafka mode, started on
// first use.
type kafkaCluster struct {
	c       *kfake.Cluster
	brokers []string
	topics  map[string]bool
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
}

// topic creates and fills the topic of a dataset once: sourceParts
// partitions holding the records in generation order, keyed by key (a
// column name, "" for no key). parts holds s's records as s splits them.
func (k *kafkaCluster) topic(name string, schema *record.Schema, s *Scenario, parts [][]record.Record, key string, log io.Writer) error {
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
	// produce in chunks, in generation order, so that each partition's
	// event times ascend as the generator made them
	var chunk []record.Record
	var perr error
	send := func() {
		if perr == nil && len(chunk) > 0 {
			perr = kafka.ProduceRows(ctx, k.brokers, name, schema, keys, chunk)
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

// sourceProps returns the WITH properties of a Kafka source reading topic
// from the start to its end.
func (k *kafkaCluster) sourceProps(source, topic string) map[string]string {
	return map[string]string{
		source + ".type":              "kafka_source",
		source + ".topic.name":        topic,
		source + ".bootstrap.servers": strings.Join(k.brokers, ","),
		source + ".auto.offset.reset": "earliest",
		source + ".stop.at":           "end",
	}
}

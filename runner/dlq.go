package runner

import (
	"context"
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/job"
)

// openDLQ opens the Kafka dead-letter topic 'dlq.topic' names, or returns
// nil when it is not set (the job then writes a dead-letter file). It
// connects with its own 'dlq.<option>' connection options
// ('dlq.bootstrap.servers', 'dlq.security.protocol', ...), else as the job's
// Kafka source, else as its Kafka sink (kafka.DeadLetterConn). A missing
// topic is created ('dlq.create.topic', default true) with 'dlq.partitions'
// (default: partitions, the source's count when known) and
// 'dlq.replication.factor'. Errors in the
// properties are *ConfigError; a topic that cannot be reached is not.
func openDLQ(ctx context.Context, props map[string]string, src connector.Source, sink connector.Sink, partitions int, opts func(client string) []kgo.Opt) (*kafka.DeadLetterQueue, error) {
	topic := strings.TrimSpace(props[job.PropDLQTopic])
	if topic == "" {
		if strings.TrimSpace(props[job.PropDLQBrokers]) != "" {
			return nil, configErr(fmt.Errorf("WITH %q is set but %q is not: name the dead-letter topic", job.PropDLQBrokers, job.PropDLQTopic))
		}
		return nil, nil
	}
	var fallback *kafka.Conn
	if ks, ok := src.(*kafka.Source); ok {
		c := ks.Conn()
		fallback = &c
	} else if ks, ok := sink.(*kafka.Sink); ok {
		c := ks.Conn()
		fallback = &c
	}
	conn, ok, err := kafka.DeadLetterConn(props, fallback)
	if err != nil {
		return nil, configErr(fmt.Errorf("WITH %q=%q: %w", job.PropDLQTopic, topic, err))
	}
	if !ok {
		return nil, configErr(fmt.Errorf("WITH %q=%q: no Kafka brokers known for the dead-letter topic: set %q "+
			"(the job has no Kafka source or sink to take them from)", job.PropDLQTopic, topic, job.PropDLQBrokers))
	}
	spec, err := kafka.DeadLetterTopicSpec(props)
	if err != nil {
		return nil, configErr(fmt.Errorf("WITH %q=%q: %w", job.PropDLQTopic, topic, err))
	}
	if spec.Partitions == 0 && partitions > 0 {
		spec.Partitions = int32(partitions)
	}
	q, err := kafka.OpenDeadLetterQueue(ctx, conn, topic, spec, opts("dlq:"+topic)...)
	if err != nil {
		return nil, fmt.Errorf("WITH %q: %w", job.PropDLQTopic, err)
	}
	return q, nil
}

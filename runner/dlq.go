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
// nil when it is not set (the job then writes a dead-letter file). Its
// brokers are 'dlq.bootstrap.servers', else those of the job's Kafka source,
// else those of its Kafka sink. Errors in the properties are *ConfigError;
// a topic that cannot be reached or does not exist is not.
func openDLQ(ctx context.Context, props map[string]string, src connector.Source, sink connector.Sink, opts func(client string) []kgo.Opt) (*kafka.DeadLetterQueue, error) {
	topic := strings.TrimSpace(props[job.PropDLQTopic])
	brokers := brokerList(props[job.PropDLQBrokers])
	if topic == "" {
		if len(brokers) > 0 {
			return nil, configErr(fmt.Errorf("WITH %q is set but %q is not: name the dead-letter topic", job.PropDLQBrokers, job.PropDLQTopic))
		}
		return nil, nil
	}
	if len(brokers) == 0 {
		if ks, ok := src.(*kafka.Source); ok {
			brokers = ks.Brokers()
		} else if ks, ok := sink.(*kafka.Sink); ok {
			brokers = ks.Brokers()
		}
	}
	if len(brokers) == 0 {
		return nil, configErr(fmt.Errorf("WITH %q=%q: no Kafka brokers known for the dead-letter topic: set %q "+
			"(the job has no Kafka source or sink to take them from)", job.PropDLQTopic, topic, job.PropDLQBrokers))
	}
	q, err := kafka.OpenDeadLetterQueue(ctx, brokers, topic, opts("dlq:"+topic)...)
	if err != nil {
		return nil, fmt.Errorf("WITH %q: %w", job.PropDLQTopic, err)
	}
	return q, nil
}

// brokerList returns the comma-separated, trimmed, non-empty items of v.
func brokerList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}

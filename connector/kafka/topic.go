package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connector/internal/props"
)

// topicOptions are the options of a topic Sluice writes (a sink's and the
// dead-letter topic's): '<n>.create.topic', '<n>.partitions',
// '<n>.replication.factor'.
var topicOptions = []string{"create.topic", "partitions", "replication.factor"}

// TopicSpec says whether and how a topic Sluice writes is created when it
// does not exist.
type TopicSpec struct {
	// Create creates a missing topic ('<n>.create.topic', default true);
	// when false a missing topic is an error.
	Create bool
	// Partitions of a created topic ('<n>.partitions'); 0 takes the
	// default given by SetDefaultPartitions (the source's count), else the
	// cluster's.
	Partitions int32
	// ReplicationFactor of a created topic ('<n>.replication.factor'); 0 is
	// the cluster's default.
	ReplicationFactor int16
}

// parseTopicSpec reads the topic options from o.
func parseTopicSpec(o *props.Options) (TopicSpec, error) {
	var s TopicSpec
	var err error
	if s.Create, err = o.Bool("create.topic", true); err != nil {
		return s, err
	}
	p, err := o.Int("partitions", 0, 1)
	if err != nil {
		return s, err
	}
	if p > 1<<20 {
		return s, o.Errorf("partitions", "invalid value %d: want at most %d", p, 1<<20)
	}
	r, err := o.Int("replication.factor", 0, 1)
	if err != nil {
		return s, err
	}
	if r > 1<<14 {
		return s, o.Errorf("replication.factor", "invalid value %d: want at most %d", r, 1<<14)
	}
	s.Partitions, s.ReplicationFactor = int32(p), int16(r)
	return s, nil
}

// DeadLetterTopicSpec reads the dead-letter topic's 'dlq.create.topic',
// 'dlq.partitions' and 'dlq.replication.factor'.
func DeadLetterTopicSpec(m map[string]string) (TopicSpec, error) {
	o, err := extractOptions("kafka dead-letter topic", DeadLetterPrefix, m, topicOptions)
	if err != nil {
		return TopicSpec{}, err
	}
	return parseTopicSpec(o)
}

// ensureTopic checks that topic exists and, if it does not and spec allows,
// creates it.
func ensureTopic(ctx context.Context, cl *kgo.Client, topic string, spec TopicSpec) error {
	adm := kadm.NewClient(cl)
	topics, err := adm.ListTopics(ctx, topic)
	if err == nil {
		err = topics.Error()
	}
	if err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
		return err
	}
	if topics.Has(topic) {
		return nil
	}
	if !spec.Create {
		return fmt.Errorf("topic %q does not exist (and create.topic is false)", topic)
	}
	partitions, replication := spec.Partitions, spec.ReplicationFactor
	if partitions == 0 {
		partitions = -1 // the cluster's num.partitions
	}
	if replication == 0 {
		replication = -1 // the cluster's default.replication.factor
	}
	resp, err := adm.CreateTopic(ctx, partitions, replication, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("creating topic %q: %w", topic, err)
	}
	if err == nil {
		slog.Info("created topic", "topic", topic, "partitions", resp.NumPartitions, "replication_factor", resp.ReplicationFactor)
	}
	return nil
}

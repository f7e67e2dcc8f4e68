package kafka

import (
	"strings"

	"github.com/sluicesql/sluice/connector/internal/props"
)

// DefaultBootstrapServers is used when '<n>.bootstrap.servers' is not set.
const DefaultBootstrapServers = "localhost:9092"

// sourceConfig is a Kafka source's configuration from its WITH properties.
type sourceConfig struct {
	name         string
	topic        string
	conn         Conn
	group        string
	reset        string // "earliest" or "latest"
	format       string // "json" or "string"
	keyField     string
	stopAtEnd    bool
	partitionKey []string
}

// Source and sink options: the keys '<name>.<option>' a Kafka source or
// sink accepts.
var (
	sourceOptions = append([]string{"type", "topic.name", "group.id", "auto.offset.reset",
		"format", "key.field", "stop.at", "partition.key", "columns", "primary.key", "infer.records"}, connOptions...)
	sinkOptions = append(append([]string{"type", "topic.name", "format"}, topicOptions...), connOptions...)
)

func parseSourceConfig(name string, m map[string]string) (sourceConfig, error) {
	m = withDefaults(name, m, connOptions)
	o, err := props.Extract("kafka source", name, m, sourceOptions...)
	if err != nil {
		return sourceConfig{}, err
	}
	c := sourceConfig{
		name:         name,
		topic:        o.String("topic.name", name),
		group:        o.String("group.id", ""),
		keyField:     o.String("key.field", ""),
		partitionKey: list(o.String("partition.key", "")),
	}
	if c.conn, err = parseConn(o); err != nil {
		return c, err
	}
	if c.reset, err = o.Enum("auto.offset.reset", "earliest", "earliest", "latest"); err != nil {
		return c, err
	}
	if c.format, err = o.Enum("format", "json", "json", "string"); err != nil {
		return c, err
	}
	stop, err := o.Enum("stop.at", "never", "never", "end")
	if err != nil {
		return c, err
	}
	c.stopAtEnd = stop == "end"
	return c, nil
}

// sinkConfig is a Kafka sink's configuration from its WITH properties.
type sinkConfig struct {
	name  string
	topic string
	conn  Conn
	spec  TopicSpec
}

func parseSinkConfig(name string, m map[string]string) (sinkConfig, error) {
	m = withDefaults(name, m, connOptions)
	o, err := props.Extract("kafka sink", name, m, sinkOptions...)
	if err != nil {
		return sinkConfig{}, err
	}
	if _, err := o.Enum("format", "json", "json"); err != nil {
		return sinkConfig{}, err
	}
	c := sinkConfig{name: name, topic: o.String("topic.name", name)}
	if c.conn, err = parseConn(o); err != nil {
		return c, err
	}
	if c.spec, err = parseTopicSpec(o); err != nil {
		return c, err
	}
	return c, nil
}

// list returns the comma-separated, trimmed, non-empty items of v.
func list(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

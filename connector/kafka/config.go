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
	brokers      []string
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
	sourceOptions = []string{"type", "topic.name", "bootstrap.servers", "group.id", "auto.offset.reset",
		"format", "key.field", "stop.at", "partition.key"}
	sinkOptions = []string{"type", "topic.name", "bootstrap.servers", "format"}
)

func parseSourceConfig(name string, m map[string]string) (sourceConfig, error) {
	o, err := props.Extract("kafka source", name, m, sourceOptions...)
	if err != nil {
		return sourceConfig{}, err
	}
	c := sourceConfig{
		name:         name,
		topic:        o.String("topic.name", name),
		brokers:      list(o.String("bootstrap.servers", DefaultBootstrapServers)),
		group:        o.String("group.id", ""),
		keyField:     o.String("key.field", ""),
		partitionKey: list(o.String("partition.key", "")),
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
	name    string
	topic   string
	brokers []string
}

func parseSinkConfig(name string, m map[string]string) (sinkConfig, error) {
	o, err := props.Extract("kafka sink", name, m, sinkOptions...)
	if err != nil {
		return sinkConfig{}, err
	}
	if _, err := o.Enum("format", "json", "json"); err != nil {
		return sinkConfig{}, err
	}
	return sinkConfig{
		name:    name,
		topic:   o.String("topic.name", name),
		brokers: list(o.String("bootstrap.servers", DefaultBootstrapServers)),
	}, nil
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

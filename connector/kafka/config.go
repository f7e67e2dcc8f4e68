package kafka

import (
	"fmt"
	"strings"
)

// DefaultBootstrapServers is used when '<n>.bootstrap.servers' is not set.
const DefaultBootstrapServers = "localhost:9092"

// props reads the WITH properties of one source or sink: '<name>.<key>',
// matched case-insensitively.
type props struct {
	name string
	m    map[string]string
}

func newProps(name string, m map[string]string) props {
	lower := make(map[string]string, len(m))
	for k, v := range m {
		lower[strings.ToLower(k)] = v
	}
	return props{name: name, m: lower}
}

// get returns the trimmed value of '<name>.<key>' and whether it is set.
func (p props) get(key string) (string, bool) {
	v, ok := p.m[strings.ToLower(p.name+"."+key)]
	return strings.TrimSpace(v), ok
}

// option returns the value of '<name>.<key>', def when unset or empty.
func (p props) option(key, def string) string {
	if v, ok := p.get(key); ok && v != "" {
		return v
	}
	return def
}

// choice returns the lower-cased value of '<name>.<key>' (def when unset),
// which must be one of valid.
func (p props) choice(key, def string, valid ...string) (string, error) {
	v := strings.ToLower(p.option(key, def))
	for _, ok := range valid {
		if v == ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("'%s.%s' is %q; valid values: %s", p.name, key, v, strings.Join(valid, ", "))
}

// list returns the comma-separated, trimmed, non-empty items of '<name>.<key>'.
func (p props) list(key string) []string {
	v, _ := p.get(key)
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

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

func parseSourceConfig(name string, m map[string]string) (sourceConfig, error) {
	p := newProps(name, m)
	c := sourceConfig{
		name:         name,
		topic:        p.option("topic.name", name),
		brokers:      p.list("bootstrap.servers"),
		group:        p.option("group.id", ""),
		keyField:     p.option("key.field", ""),
		partitionKey: p.list("partition.key"),
	}
	if len(c.brokers) == 0 {
		c.brokers = []string{DefaultBootstrapServers}
	}
	var err error
	if c.reset, err = p.choice("auto.offset.reset", "earliest", "earliest", "latest"); err != nil {
		return c, err
	}
	if c.format, err = p.choice("format", "json", "json", "string"); err != nil {
		return c, err
	}
	stop, err := p.choice("stop.at", "never", "never", "end")
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

func parseSinkConfig(name string, m map[string]string) sinkConfig {
	p := newProps(name, m)
	c := sinkConfig{name: name, topic: p.option("topic.name", name), brokers: p.list("bootstrap.servers")}
	if len(c.brokers) == 0 {
		c.brokers = []string{DefaultBootstrapServers}
	}
	return c
}

package kafka

import (
	"strings"
	"time"

	"github.com/sluicesql/sluice/connector/codec"
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
	reset        string    // "earliest" or "latest"
	format       string    // "json", "string" or "avro"
	registry     *registry // the Schema Registry of the avro format
	invalidUTF8  codec.InvalidUTF8
	keyField     string
	keyAvro      bool // '<n>.key.format'='avro': the key's fields are columns
	stopAtEnd    bool
	partitionKey []string

	readCommitted      bool          // '<n>.isolation.level' (default read_committed)
	instanceID         string        // '<n>.group.instance.id': static membership
	sessionTimeout     time.Duration // '<n>.session.timeout.ms'
	unavailableTimeout time.Duration // '<n>.unavailable.timeout'; 0 retries forever
}

// DefaultSessionTimeout is the consumer-group session timeout unless
// '<n>.session.timeout.ms' says otherwise: how long the group waits for a
// member that stopped heartbeating (a process killed with -9) before it
// moves its partitions. Kafka's default is 45s; 8s (brokers accept 6s and
// up by default) makes a restarted or replaced process resume within 10s
// of a kill (measured: about 8s), at the price of a member being dropped
// (and its partitions rebalanced) after 8s without a heartbeat: a long GC
// pause or network hiccup. Static membership resumes at once.
const DefaultSessionTimeout = 8 * time.Second

// groupOptions are the consumer-group and availability options of a
// source that a statement may also give as 'kafka.<option>' defaults.
var groupOptions = []string{"session.timeout.ms", "unavailable.timeout"}

// Source and sink options: the keys '<name>.<option>' a Kafka source or
// sink accepts.
var (
	sourceOptions = append(append([]string{"type", "topic.name", "group.id", "group.instance.id", "auto.offset.reset",
		"format", "key.format", "key.field", "stop.at", "partition.key", "columns", "primary.key", "infer.records", codec.InvalidUTF8Option, "isolation.level"}, groupOptions...), append(connOptions, registryOptions...)...)
	sinkOptions = append(append([]string{"type", "topic.name", "format", "key.format"}, topicOptions...), append(connOptions, registryOptions...)...)
)

func parseSourceConfig(name string, m map[string]string) (sourceConfig, error) {
	m = withDefaults(name, m, JobOptions())
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
	if c.format, err = o.Enum("format", "json", "json", "string", "avro"); err != nil {
		return c, err
	}
	if c.registry, err = parseRegistry(o, c.format); err != nil {
		return c, err
	}
	if c.keyAvro, err = parseKeyFormat(o, c.format); err != nil {
		return c, err
	}
	utf, err := o.Enum(codec.InvalidUTF8Option, codec.InvalidUTF8Values[0], codec.InvalidUTF8Values...)
	if err != nil {
		return c, err
	}
	if c.invalidUTF8, err = codec.ParseInvalidUTF8(utf); err != nil {
		return c, o.Errorf(codec.InvalidUTF8Option, "%v", err)
	}
	stop, err := o.Enum("stop.at", "never", "never", "end")
	if err != nil {
		return c, err
	}
	c.stopAtEnd = stop == "end"
	iso, err := o.Enum("isolation.level", "read_committed", "read_committed", "read_uncommitted")
	if err != nil {
		return c, err
	}
	c.readCommitted = iso == "read_committed"
	c.instanceID = o.String("group.instance.id", "")
	if c.instanceID != "" && c.group == "" {
		return c, o.Errorf("group.instance.id", "needs '%s' (static membership is of a consumer group)", o.Key("group.id"))
	}
	ms, err := o.Int("session.timeout.ms", DefaultSessionTimeout.Milliseconds(), 1000)
	if err != nil {
		return c, err
	}
	c.sessionTimeout = time.Duration(ms) * time.Millisecond
	if c.unavailableTimeout, err = o.Duration("unavailable.timeout", 0); err != nil {
		return c, err
	}
	return c, nil
}

// sinkConfig is a Kafka sink's configuration from its WITH properties.
type sinkConfig struct {
	name     string
	topic    string
	conn     Conn
	spec     TopicSpec
	format   string    // "json" or "avro"
	registry *registry // the Schema Registry of the avro format
	keyAvro  bool      // '<n>.key.format'='avro': keys are Avro records of the key columns
}

func parseSinkConfig(name string, m map[string]string) (sinkConfig, error) {
	m = withDefaults(name, m, append(append([]string(nil), connOptions...), registryOptions...))
	o, err := props.Extract("kafka sink", name, m, sinkOptions...)
	if err != nil {
		return sinkConfig{}, err
	}
	c := sinkConfig{name: name, topic: o.String("topic.name", name)}
	if c.format, err = o.Enum("format", "json", "json", "avro"); err != nil {
		return c, err
	}
	if c.registry, err = parseRegistry(o, c.format); err != nil {
		return c, err
	}
	if c.keyAvro, err = parseKeyFormat(o, c.format); err != nil {
		return c, err
	}
	if c.conn, err = parseConn(o); err != nil {
		return c, err
	}
	if c.spec, err = parseTopicSpec(o); err != nil {
		return c, err
	}
	return c, nil
}

// registryOptions are the Schema Registry options of the avro format, which
// a statement may also give as 'kafka.<option>' defaults.
var registryOptions = []string{"schema.registry.url", "schema.registry.basic.auth.user.info"}

// parseRegistry returns the Schema Registry client of the avro format
// (nil for other formats): '<n>.schema.registry.url' is required,
// '<n>.schema.registry.basic.auth.user.info' ("user:password") optional.
func parseRegistry(o *props.Options, format string) (*registry, error) {
	url := o.String("schema.registry.url", "")
	if format != "avro" {
		if url != "" {
			return nil, o.Errorf("schema.registry.url", "set, but the format is %s: set '%s'='avro'", format, o.Key("format"))
		}
		return nil, nil
	}
	if url == "" {
		return nil, o.Errorf("schema.registry.url", "not set: the avro format reads its schemas from a Schema Registry")
	}
	return newRegistry(url, o.String("schema.registry.basic.auth.user.info", ""))
}

// parseKeyFormat reads '<n>.key.format': "json" (the default: the key is
// the key columns' text) or "avro" (a record of the key columns in the
// wire format, subject '<topic>-key'), which needs the avro value format's
// registry.
func parseKeyFormat(o *props.Options, format string) (bool, error) {
	kf, err := o.Enum("key.format", "json", "json", "avro")
	if err != nil || kf != "avro" {
		return false, err
	}
	if format != "avro" {
		return false, o.Errorf("key.format", "avro keys need '%s'='avro' (and its schema registry)", o.Key("format"))
	}
	return true, nil
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

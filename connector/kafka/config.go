package kafka

import (
	"crypto/tls"
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
	reset        string         // "earliest" or "latest"
	format       string         // "json", "string" or a registry format
	values       registryFormat // the registry format of values, else nil
	keys         registryFormat // '<n>.key.format' in a registry format: the key's fields are columns; else nil
	jsonKey      bool           // '<n>.key.format'='json' set: the key is a JSON object whose fields are columns
	registry     *registry      // the Schema Registry of the registry formats
	invalidUTF8  codec.InvalidUTF8
	keyField     string
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
	_, ownRegistry := lookup(m, name+".schema.registry.url")
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
	if c.format, c.values, c.keys, c.registry, err = parseFormats(o, ownRegistry, "json", "string"); err != nil {
		return c, err
	}
	c.jsonKey = o.Has("key.format") && c.keys == nil
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
	format   string         // "json" or a registry format
	values   registryFormat // the registry format of values, else nil
	keys     registryFormat // '<n>.key.format' in a registry format: keys are records of the key columns; else nil
	registry *registry      // the Schema Registry of the registry formats
}

func parseSinkConfig(name string, m map[string]string) (sinkConfig, error) {
	_, ownRegistry := lookup(m, name+".schema.registry.url")
	m = withDefaults(name, m, append(append([]string(nil), connOptions...), registryOptions...))
	o, err := props.Extract("kafka sink", name, m, sinkOptions...)
	if err != nil {
		return sinkConfig{}, err
	}
	c := sinkConfig{name: name, topic: o.String("topic.name", name)}
	if c.format, c.values, c.keys, c.registry, err = parseFormats(o, ownRegistry, "json"); err != nil {
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

// registryOptions are the Schema Registry options of the registry
// formats, which a statement may also give as 'kafka.<option>' defaults.
var registryOptions = []string{"schema.registry.url", "schema.registry.basic.auth.user.info",
	"schema.registry.ssl.ca.location", "schema.registry.ssl.certificate.location", "schema.registry.ssl.key.location",
	"schema.registry.ssl.endpoint.identification.algorithm", "auto.register.schemas", "use.latest.version"}

// parseFormats reads '<n>.format' (plain, the formats without a registry,
// the first the default, or a registry format), '<n>.key.format' (json,
// the default: the key is the key columns' text; or a registry format: a
// record of the key columns, subject '<topic>-key') and the Schema
// Registry options, which the registry formats need and the others refuse
// when the endpoint sets them itself (ownRegistry; a statement's
// 'kafka.schema.registry.url' is for the endpoints in registry formats).
func parseFormats(o *props.Options, ownRegistry bool, plain ...string) (format string, values, keys registryFormat, reg *registry, err error) {
	formats := append(append([]string(nil), plain...), strings.Split(registryFormatNames, ", ")...)
	if format, err = o.Enum("format", plain[0], formats...); err != nil {
		return
	}
	values = registryFormats[format]
	kf, err := o.Enum("key.format", "json", append([]string{"json"}, strings.Split(registryFormatNames, ", ")...)...)
	if err != nil {
		return
	}
	keys = registryFormats[kf]
	url := o.String("schema.registry.url", "")
	if values == nil && keys == nil {
		if ownRegistry {
			err = o.Errorf("schema.registry.url", "set, but the format is %s: set '%s' to one of %s", format, o.Key("format"), registryFormatNames)
		}
		return
	}
	if url == "" {
		need, which := "format", format
		if values == nil {
			need, which = "key.format", kf
		}
		err = o.Errorf("schema.registry.url", "not set: '%s'='%s' reads its schemas from a Schema Registry", o.Key(need), which)
		return
	}
	var tlsCfg *tls.Config
	if strings.HasPrefix(strings.ToLower(url), "https:") {
		if tlsCfg, err = tlsConfig(o, "schema.registry."); err != nil {
			return
		}
	}
	if reg, err = newRegistry(url, o.String("schema.registry.basic.auth.user.info", ""), tlsCfg); err != nil {
		return
	}
	auto, err := o.Enum("auto.register.schemas", "true", "true", "false")
	if err != nil {
		return
	}
	reg.autoRegister = auto == "true"
	latest, err := o.Enum("use.latest.version", "false", "true", "false")
	reg.useLatest = latest == "true"
	return
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

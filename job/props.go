package job

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/plan"
	"github.com/sluicesql/sluice/sql"
)

// The WITH properties the job reads.
const (
	PropIdleTimeout    = "watermark.idle_timeout"
	PropDrainTimeout   = "drain.timeout"
	PropCommitInterval = "commit.interval"
	PropDLQPath        = "dlq.path"
	PropDLQTopic       = "dlq.topic"             // read by the runner, which builds the Kafka DLQ
	PropDLQBrokers     = "dlq.bootstrap.servers" // the DLQ topic's brokers, read by the runner
	PropMaxErrors      = "dlq.max_errors"
	PropGuarantee      = "processing.guarantee" // read by the runner, which sets up exactly-once
	PropOutOfOrderness = exec.PropOutOfOrderness
)

// PropertyKeys lists the WITH property keys the job reads besides the
// executor's (exec.PropertyKeys) and the dead-letter topic's Kafka options
// ('dlq.bootstrap.servers', ...).
var PropertyKeys = []string{PropIdleTimeout, PropDrainTimeout, PropCommitInterval, PropDLQPath, PropDLQTopic, PropMaxErrors, PropGuarantee}

// propertyError returns an error about the WITH property key: about its
// value when inValue is set.
func propertyError(key string, inValue bool, format string, args ...any) error {
	return &sql.PropertyError{Key: key, InValue: inValue, Msg: fmt.Sprintf(format, args...)}
}

// ApplyProperties sets the configuration the statement's WITH properties
// give: 'watermark.max_out_of_orderness', 'watermark.idle_timeout',
// 'commit.interval', 'drain.timeout' (durations: 5s, 500ms, 2m, 1d, or a bare number of
// seconds), 'dlq.path' and 'dlq.max_errors' (a count). Absent or empty
// properties leave the fields unchanged. 'dlq.path' together with
// 'dlq.topic' (a Kafka dead-letter topic, which the caller sets up as DLQ)
// is an error.
func (c *Config) ApplyProperties(props map[string]string) error {
	get := func(k string) (string, bool) {
		v := strings.TrimSpace(props[k])
		return v, v != ""
	}
	for _, d := range []struct {
		key string
		dst *time.Duration
	}{{PropOutOfOrderness, &c.MaxOutOfOrder}, {PropIdleTimeout, &c.IdleTimeout}, {PropCommitInterval, &c.CommitInterval},
		{PropDrainTimeout, &c.DrainTimeout}} {
		if v, ok := get(d.key); ok {
			dur, err := sql.PropertyDuration(v)
			if err != nil {
				return propertyError(d.key, true, "WITH %s: %v", sql.QuoteProperty(d.key), err)
			}
			*d.dst = dur
		}
	}
	if v, ok := get(PropDLQPath); ok {
		if _, topic := get(PropDLQTopic); topic {
			return propertyError(PropDLQTopic, false, "WITH %s and %s: give one dead-letter queue, a file or a Kafka topic, not both", sql.QuoteProperty(PropDLQPath), sql.QuoteProperty(PropDLQTopic))
		}
		c.DLQPath = v
	}
	if v, ok := get(PropMaxErrors); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return propertyError(PropMaxErrors, true, "WITH %s: want a count of records, got %q", sql.QuoteProperty(PropMaxErrors), sql.Clip(v))
		}
		c.MaxErrors, c.LimitErrors = n, true
	}
	return nil
}

// FromPlan returns the configuration of a planned statement whose query
// prog compiles (with exec.Options.ExternalWatermark set): the chosen
// strategy, its routing context with the routing key over prog's input
// schema, the partition count and batch size, and the job's WITH properties
// (see ApplyProperties). The caller adds Sources, Sinks and, if wanted, a DLQ.
func FromPlan(p *plan.Plan, prog *exec.Program, props map[string]string) (Config, error) {
	routing := p.Context()
	if err := SetRoutingKey(&routing, p.KeyExprs, prog.InputSchema()); err != nil {
		return Config{}, err
	}
	c := Config{Name: p.Name, Program: FromExec(prog), Strategy: p.Strategy, Partitions: p.Partitions,
		BatchSize: p.BatchSize, Routing: routing}
	if err := c.ApplyProperties(props); err != nil {
		return Config{}, err
	}
	return c, nil
}

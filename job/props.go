package job

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/plan"
)

// The WITH properties the job reads.
const (
	PropIdleTimeout    = "watermark.idle_timeout"
	PropCommitInterval = "commit.interval"
	PropDLQPath        = "dlq.path"
	PropDLQTopic       = "dlq.topic"             // read by the runner, which builds the Kafka DLQ
	PropDLQBrokers     = "dlq.bootstrap.servers" // the DLQ topic's brokers, read by the runner
	PropMaxErrors      = "dlq.max_errors"
	PropOutOfOrderness = exec.PropOutOfOrderness
)

// ApplyProperties sets the configuration the statement's WITH properties
// give: 'watermark.max_out_of_orderness', 'watermark.idle_timeout',
// 'commit.interval' (durations: 5s, 500ms, 2m, 1d, or a bare number of
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
	}{{PropOutOfOrderness, &c.MaxOutOfOrder}, {PropIdleTimeout, &c.IdleTimeout}, {PropCommitInterval, &c.CommitInterval}} {
		if v, ok := get(d.key); ok {
			dur, err := exec.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("WITH %q: %w", d.key, err)
			}
			*d.dst = dur
		}
	}
	if v, ok := get(PropDLQPath); ok {
		if _, topic := get(PropDLQTopic); topic {
			return fmt.Errorf("WITH %q and %q: give one dead-letter queue, a file or a Kafka topic, not both", PropDLQPath, PropDLQTopic)
		}
		c.DLQPath = v
	}
	if v, ok := get(PropMaxErrors); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("WITH %q: want a count of records, got %q", PropMaxErrors, v)
		}
		c.MaxErrors = n
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

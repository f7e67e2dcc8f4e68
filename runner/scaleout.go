package runner

import (
	"fmt"
	"strings"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/plan"
	"github.com/sluicesql/sluice/sql"
)

// checkRepartition checks the value of 'repartition', which may only be
// 'false' for now.
func checkRepartition(props map[string]string) error {
	switch v := strings.TrimSpace(props[plan.PropRepartition]); strings.ToLower(v) {
	case "", "false":
		return nil
	case "true":
		return &sql.PropertyError{Key: plan.PropRepartition, InValue: true, Msg: fmt.Sprintf("WITH '%s'='true': repartition topics are not available yet; a statement that needs records "+
			"its Kafka source spreads over partitions runs in one process per consumer group (valid: false)", plan.PropRepartition)}
	default:
		return &sql.PropertyError{Key: plan.PropRepartition, InValue: true, Msg: fmt.Sprintf("WITH '%s': invalid value %q (valid: false)", plan.PropRepartition, sql.Clip(v))}
	}
}

// guardScaleOut makes a Kafka group member whose statement cannot be split
// over processes (plan.ScaleOut) stop when the group gets a second member,
// instead of computing part of the answer. 'repartition' may only be
// 'false': repartition topics, which would let such a statement scale out,
// are not available yet.
func guardScaleOut(p *plan.Plan, props map[string]string, src connector.Source) error {
	if err := checkRepartition(props); err != nil {
		return err
	}
	ks, ok := src.(*kafka.Source)
	if !ok {
		return nil
	}
	if s := p.ScaleOut(); !s.Split {
		ks.RequireWholeTopic(s.Why)
	}
	return nil
}

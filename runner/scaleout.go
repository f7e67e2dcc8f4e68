package runner

import (
	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/plan"
)

// guardScaleOut makes a Kafka group member whose statement cannot be split
// over processes (plan.ScaleOut) and is not repartitioned through a topic
// (plan.Repartition: turned off with 'repartition'='false', or a statement
// a topic cannot split) stop when the group gets a second member, instead
// of computing part of the answer.
func guardScaleOut(p *plan.Plan, src connector.Source) {
	ks, ok := src.(*kafka.Source)
	if !ok || p.Repartition != nil {
		return
	}
	if s := p.ScaleOut(); !s.Split {
		ks.RequireWholeTopic(s.Why)
	}
}

package plan

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sluicesql/sluice/partition"
	"github.com/sluicesql/sluice/sql"
)

// choose picks the strategy: --strategy, then @partitioning_strategy, then
// WITH 'partitioning_strategy', then automatic. An explicit choice that is
// unknown or would change the result is an error naming what would work.
func (p *Plan) choose(opts Options) error {
	req := p.Requirement
	for _, name := range partition.Names {
		var inv *partition.InvalidError
		if err := partition.New(name).Validate(req); errors.As(err, &inv) {
			p.Rejected = append(p.Rejected, Rejection{Strategy: name, Why: inv.Why})
		}
	}
	name, origin, where, at := p.explicit(opts)
	if origin == "" {
		p.auto(opts.KeepOrder)
		return nil
	}
	s, err := partition.Parse(name)
	if err != nil {
		return positioned(at, fmt.Errorf("%s: %w", where, err))
	}
	if err := s.Validate(req); err != nil {
		return positioned(at, fmt.Errorf("%s: %w; valid here: %s", where, err, strings.Join(p.valid(), ", ")))
	}
	p.Strategy, p.ChoiceSource = s, origin
	if at != nil {
		where += fmt.Sprintf(" (line %d)", at.Position().Line)
	}
	p.Reason = fmt.Sprintf("%s was chosen by %s and keeps the result: %s", s.Name(), where, p.accepts(s.Name()))
	return nil
}

// PropStrategy is the WITH property choosing the strategy.
const PropStrategy = "partitioning_strategy"

// PropertyKeys lists the job-level WITH keys the planner reads; a key
// missing here is refused as unknown before it is read.
var PropertyKeys = []string{PropStrategy, PropRepartition, PropRepartitionPartitions, PropBroadcastMaxRows, PropStateTTL}

// explicit returns the explicit strategy name, its origin, a description
// of where it was written and its position in the SQL text (nil for the
// flag), or origin "" when there is none.
func (p *Plan) explicit(opts Options) (name, origin, where string, at sql.Node) {
	if opts.Strategy != "" {
		return opts.Strategy, FromFlag, "--strategy " + opts.Strategy, nil
	}
	for _, a := range p.Statement.Annotations {
		if a.Key == sql.AnnotationStrategy {
			return a.Value, FromAnnotation, fmt.Sprintf("@%s: %s", a.Key, a.Value), a.ValuePos
		}
	}
	with := func(w sql.Property) (string, string, string, sql.Node) {
		return w.Value, FromWith, fmt.Sprintf("WITH '%s'='%s'", PropStrategy, w.Value), w.ValuePos
	}
	for k, v := range opts.Properties { // the WITH with --set applied
		if !strings.EqualFold(k, PropStrategy) {
			continue
		}
		for _, w := range p.Statement.Query.With {
			if strings.EqualFold(w.Key, PropStrategy) && w.Value == v {
				return with(w)
			}
		}
		return v, FromWith, fmt.Sprintf("--set %s=%s", PropStrategy, v), nil
	}
	if opts.Properties == nil {
		for _, w := range p.Statement.Query.With {
			if strings.EqualFold(w.Key, PropStrategy) {
				return with(w)
			}
		}
	}
	return "", "", "", nil
}

// positioned returns err as a positioned error at at, or as a *FlagError
// when at is nil (a flag has no position).
func positioned(at sql.Node, err error) error {
	if at == nil || at.Position().Line == 0 {
		return &FlagError{Err: err}
	}
	return sql.Errorf(at, "%v", err)
}

// valid lists the strategies the requirement accepts.
func (p *Plan) valid() []string {
	var out []string
	for _, name := range partition.Names {
		if partition.New(name).Validate(p.Requirement) == nil {
			out = append(out, name)
		}
	}
	return out
}

// accepts says why a valid strategy keeps the result.
func (p *Plan) accepts(name string) string {
	req := p.Requirement
	switch {
	case name == partition.FanIn:
		return "one partition sees every record"
	case req.Kind == partition.Any:
		return "the statement keeps no state across records that routing could split"
	case name == partition.StickyPartition:
		return "the source is partitioned by " + strings.Join(req.SourceKey, ", ") + ", so every key stays in one source partition"
	default:
		return "equal values of " + strings.Join(req.Keys, ", ") + " always reach the same partition"
	}
}

// auto follows the decision tree: Hash -> smart_repartition when the
// source's partition key is a known subset of the keys, else always_hash;
// Single -> fan_in; Any -> sticky_partition when order matters or the
// source is partitioned, else round_robin (sticky_partition too when
// keepOrder: the output is read in order by another statement).
func (p *Plan) auto(keepOrder bool) {
	req := p.Requirement
	p.ChoiceSource = FromAuto
	src := p.Inputs[0]
	switch req.Kind {
	case partition.Hash:
		keys := strings.Join(req.Keys, ", ")
		switch {
		case req.Aligned():
			p.Strategy = partition.NewSmart()
			p.Reason = fmt.Sprintf("%s must each stay in one partition, and source %s is already partitioned by %s (%s), "+
				"so whole source partitions are routed with no re-hash", req.Why, src.Name, strings.Join(req.SourceKey, ", "), origin(src))
		default:
			p.Strategy = partition.NewHash()
			p.Reason = fmt.Sprintf("%s must each stay in one partition, so records are hashed on %s (%s)", req.Why, keys, notAligned(p))
		}
	case partition.Single:
		p.Strategy = partition.NewFanIn()
		p.Reason = fmt.Sprintf("%s must all be in one partition, so every record goes to partition 0", req.Why)
	default:
		if len(p.Inputs) > 1 {
			defer func() {
				p.Reason = strings.Replace(p.Reason, "the statement is stateless", "every joined table is broadcast and the rest of the statement is stateless", 1)
			}()
		}
		switch {
		case req.OrderMatters:
			p.Strategy = partition.NewSticky()
			p.Reason = "the statement is stateless and ORDER BY sorts its output, so each source partition stays whole and in order on one worker and the job merges the sorted outputs"
		case keepOrder:
			p.Strategy = partition.NewSticky()
			p.Reason = "the statement is stateless and another statement reads its rows in order, so each source partition stays whole and in order on one worker"
		case src.Partitioned:
			p.Strategy = partition.NewSticky()
			p.Reason = fmt.Sprintf("the statement is stateless and source %s is partitioned, so each source partition stays whole and in order on one worker", src.Name)
		default:
			p.Strategy = partition.NewRoundRobin()
			p.Reason = fmt.Sprintf("the statement is stateless and source %s is not partitioned, so whole batches rotate evenly over the workers", src.Name)
		}
	}
}

func origin(in Input) string {
	if in.Facts.Origin != "" {
		return in.Facts.Origin
	}
	return "observed"
}

// notAligned says why the source's own partitioning cannot be used.
func notAligned(p *Plan) string {
	switch {
	case len(p.Inputs) > 1:
		for i := 1; i < len(p.Inputs); i++ {
			if !p.Inputs[i].Broadcast {
				return "the joined inputs are hashed alike: " + p.coPartitionNote(&p.Inputs[i])
			}
		}
		return "the partition key of source " + p.Inputs[0].Name + " is not a subset of the keys"
	case len(p.Inputs[0].Facts.Key) == 0:
		return "the partition key of source " + p.Inputs[0].Name + " is unknown"
	default:
		return "source " + p.Inputs[0].Name + " is partitioned by " + strings.Join(p.Inputs[0].Facts.Key, ", ") +
			", not by a subset of the keys"
	}
}

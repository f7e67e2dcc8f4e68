package plan

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/sluicesql/sluice/partition"
	"github.com/sluicesql/sluice/sql"
)

// PropRepartition is the job-level WITH key that says what a statement does
// when several processes share its Kafka source through a consumer group and
// its result needs records the source spreads over partitions: repartition
// them through a topic ('true', and by default when it must), or run in one
// process per group ('false').
const PropRepartition = "repartition"

// PropRepartitionPartitions is the job-level WITH key giving the partition
// count of a repartition topic Sluice creates.
const PropRepartitionPartitions = "repartition.partitions"

// MinRepartitionPartitions is the least partition count of a repartition
// topic created without 'repartition.partitions': the key groups that can
// move between processes, so enough to rescale to that many.
const MinRepartitionPartitions = 32

// Repartition is a statement that runs in two stages in every process of
// its consumer group, joined by a repartition topic (as in Kafka Streams):
// stage 1 reads the source as a group member and writes each record to the
// topic partition of its routing key; stage 2 reads the topic in the same
// group, so every key is in one process, and runs the statement.
type Repartition struct {
	// Topic is the repartition topic: <group.id>-<statement>-repartition.
	Topic string `json:"topic"`
	// Group is the consumer group both stages are members of.
	Group string `json:"group"`
	// Partitions is 'repartition.partitions', or 0 for the default:
	// max(source partitions, MinRepartitionPartitions).
	Partitions int `json:"partitions,omitempty"`
	// Key names the routing keys the topic is partitioned by.
	Key []string `json:"key"`
}

// TopicPartitions returns the partition count to create the topic with for
// a source of sourcePartitions partitions.
func (r *Repartition) TopicPartitions(sourcePartitions int) int {
	if r.Partitions > 0 {
		return r.Partitions
	}
	return max(sourcePartitions, MinRepartitionPartitions)
}

// ScaleOut says whether several processes may share the statement's FROM
// source through one Kafka consumer group, each reading some of its
// partitions, and still give the one-process answer.
type ScaleOut struct {
	// Split is set when the result is the same however the source's
	// partitions are spread over processes.
	Split bool `json:"split"`
	// Why says why, in one sentence.
	Why string `json:"why"`
	// Repartition is set when the statement runs in two stages joined by
	// a repartition topic, so that it splits although its source does not.
	Repartition *Repartition `json:"repartition,omitempty"`
	// Unsplittable says why a statement that does not split is not
	// repartitioned either ("" when it is, or when it splits).
	Unsplittable string `json:"unsplittable,omitempty"`
}

// ScaleOut reports whether the statement's result survives splitting its
// FROM source's partitions over processes: stateless work does, and so does
// state keyed by a superset of the source's verified partition key (every
// record of a key is in one partition, so in one process). Everything else
// (a key the source is not partitioned by, a global aggregate, ORDER BY,
// LIMIT, a join of inputs that are not broadcast) would be computed in
// parts, one per process. A broadcast table is read whole by every process.
func (p *Plan) ScaleOut() ScaleOut {
	s := p.scaleOut()
	s.Repartition = p.Repartition
	if !s.Split {
		s.Unsplittable = p.unsplittable
	}
	return s
}

// scaleOut is ScaleOut without the repartition decision.
func (p *Plan) scaleOut() ScaleOut {
	src := p.Inputs[0].Name
	req := p.Requirement
	shared := 0 // the inputs not broadcast whole to every worker
	for _, in := range p.Inputs {
		if !in.Broadcast {
			shared++
		}
	}
	switch {
	case p.exchanges():
		return ScaleOut{Why: "its stream-stream joins re-route the rows between the workers of one process on another key (an exchange), which the processes of a group do not do between them"}
	case shared > 1:
		return ScaleOut{Why: "a join needs equal keys of all its inputs in one process, and Sluice cannot check how the processes of a group share them"}
	case p.Analysis.HasLimit:
		return ScaleOut{Why: "LIMIT counts the rows of the whole result, so each process would apply it to its own part"}
	case req.OrderMatters:
		return ScaleOut{Why: "ORDER BY sorts the whole result, so each process would sort only its own part"}
	case req.Kind == partition.Single:
		return ScaleOut{Why: fmt.Sprintf("%s must all be in one process, so each process would compute a partial result", req.Why)}
	case req.Kind == partition.Hash && !req.Aligned():
		return ScaleOut{Why: fmt.Sprintf("%s must each be in one process, and source %s is not partitioned by a subset of %s, so each process would see part of a key",
			req.Why, src, strings.Join(req.Keys, ", "))}
	case req.Kind == partition.Hash:
		return ScaleOut{Split: true, Why: fmt.Sprintf("source %s is partitioned by %s, so every record of a key is in one partition and so in one process",
			src, strings.Join(req.SourceKey, ", "))}
	}
	return ScaleOut{Split: true, Why: "the statement is stateless, so any process may take any partition"}
}

// Repartitionable reports whether a repartition topic can give every
// process whole keys: one input, keyed state, no order or LIMIT over the
// whole result.
func (p *Plan) Repartitionable() bool {
	return len(p.Inputs) == 1 && p.Requirement.Kind == partition.Hash && !p.Analysis.HasLimit && !p.Requirement.OrderMatters
}

// planRepartition decides whether the statement runs in two stages joined
// by a repartition topic: with 'repartition'='true', or by default when
// its result needs it (ScaleOut does not split) and its Kafka source is
// read in a consumer group. 'false' keeps one process per group.
func (p *Plan) planRepartition(opts Options) error {
	sel := p.Statement.Query
	in := p.Inputs[0]
	raw := strings.TrimSpace(property(sel, opts, PropRepartition))
	mode := strings.ToLower(raw)
	switch mode {
	case "", "true", "false":
	default:
		return &sql.PropertyError{Key: PropRepartition, InValue: true, Msg: fmt.Sprintf("WITH '%s': invalid value %q (valid: true, false)", PropRepartition, sql.Clip(raw))}
	}
	parts := 0
	if v := strings.TrimSpace(property(sel, opts, PropRepartitionPartitions)); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1<<20 {
			return &sql.PropertyError{Key: PropRepartitionPartitions, InValue: true,
				Msg: fmt.Sprintf("WITH '%s': invalid value %q (valid: a partition count from 1 to %d)", PropRepartitionPartitions, sql.Clip(v), 1<<20)}
		}
		parts = n
	}
	group := strings.TrimSpace(property(sel, opts, in.Name+".group.id"))
	kafka := strings.EqualFold(in.Type, "kafka_source")
	split := p.scaleOut()
	switch {
	case mode == "false":
		p.unsplittable = "'repartition'='false'"
		return nil
	case mode == "true" && !kafka:
		return &sql.PropertyError{Key: PropRepartition, InValue: true, Msg: fmt.Sprintf("WITH '%s'='true': source %s is not a kafka_source; only a Kafka source read in a consumer group is repartitioned", PropRepartition, in.Name)}
	case mode == "true" && group == "":
		return &sql.PropertyError{Key: PropRepartition, InValue: true, Msg: fmt.Sprintf("WITH '%s'='true' needs '%s.group.id': the repartition topic is read by the processes of a consumer group", PropRepartition, in.Name)}
	case mode == "true" && !p.Repartitionable():
		why := split.Why
		if split.Split {
			why = "the statement keeps no state by key, so there is no key to repartition by"
		}
		return &sql.PropertyError{Key: PropRepartition, InValue: true, Msg: fmt.Sprintf("WITH '%s'='true': a repartition topic cannot split this statement: %s", PropRepartition, why)}
	case mode == "" && (split.Split || !kafka || group == ""):
		return nil
	case mode == "" && !p.Repartitionable():
		p.unsplittable = "a repartition topic cannot split it"
		return nil
	case mode == "" && strings.EqualFold(strings.TrimSpace(property(sel, opts, "processing.guarantee")), "exactly_once"):
		// repartition topics are at-least-once: exactly-once keeps one process
		p.unsplittable = "'processing.guarantee'='exactly_once': repartition topics are at-least-once"
		return nil
	}
	p.Repartition = &Repartition{Topic: RepartitionTopic(group, p.Name), Group: group, Partitions: parts, Key: append([]string(nil), p.Requirement.Keys...)}
	return nil
}

// RepartitionTopic returns the name of the repartition topic of statement
// name in group: <group>-<name>-repartition, with characters a topic name
// cannot hold replaced by '_'.
func RepartitionTopic(group, name string) string {
	t := []byte(group + "-" + name + "-repartition")
	for i, c := range t {
		ok := c == '.' || c == '_' || c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		if !ok {
			t[i] = '_'
		}
	}
	return string(t)
}

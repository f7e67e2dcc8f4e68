package plan

import (
	"fmt"
	"strings"

	"github.com/sluicesql/sluice/partition"
)

// PropRepartition is the job-level WITH key that says what a statement does
// when several processes share its Kafka source through a consumer group and
// its result needs records the source spreads over partitions.
const PropRepartition = "repartition"

// ScaleOut says whether several processes may share the statement's FROM
// source through one Kafka consumer group, each reading some of its
// partitions, and still give the one-process answer.
type ScaleOut struct {
	// Split is set when the result is the same however the source's
	// partitions are spread over processes.
	Split bool `json:"split"`
	// Why says why, in one sentence.
	Why string `json:"why"`
}

// ScaleOut reports whether the statement's result survives splitting its
// FROM source's partitions over processes: stateless work does, and so does
// state keyed by a superset of the source's verified partition key (every
// record of a key is in one partition, so in one process). Everything else
// (a key the source is not partitioned by, a global aggregate, ORDER BY,
// LIMIT, a join of inputs that are not broadcast) would be computed in
// parts, one per process. A broadcast table is read whole by every process.
func (p *Plan) ScaleOut() ScaleOut {
	src := p.Inputs[0].Name
	req := p.Requirement
	shared := 0 // the inputs not broadcast whole to every worker
	for _, in := range p.Inputs {
		if !in.Broadcast {
			shared++
		}
	}
	switch {
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

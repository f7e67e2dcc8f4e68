package runner

import (
	"fmt"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/partition"
	"github.com/sluicesql/sluice/plan"
)

// guardScaleOut makes a Kafka group member whose statement cannot be split
// over processes (plan.ScaleOut) and is not repartitioned through a topic
// (plan.Repartition: turned off with 'repartition'='false', or a statement
// a topic cannot split) stop when the group gets a second member, instead
// of computing part of the answer; one that could not resume from its
// committed offsets (ScaleOut.Restart) commits none.
func guardScaleOut(p *plan.Plan, src connector.Source) {
	ks, ok := src.(*kafka.Source)
	if !ok || p.Repartition != nil {
		return
	}
	s := p.ScaleOut()
	if !s.Split {
		why := s.Why
		if s.Unsplittable != "" {
			// as EXPLAIN's scale-out line: why no topic splits it either
			why += " (" + s.Unsplittable + ")"
		}
		ks.RequireWholeTopic(why, scaleOutRemedy(p, s, ks))
	}
	if s.Restart != "" {
		ks.CommitNothing()
	}
}

// replayAligned makes a Kafka group member whose statement splits as it is
// over the processes (no repartition topic: its keys are the topic's
// partition key) replay a partition it gets in a rebalance as stage 2 of a
// repartitioned statement does, and returns the source the job reads. The
// state EMIT CHANGES updates holds the commit (exec.Program.HoldChanges),
// so the replay from the committed offset rebuilds it whole instead of
// counting again from zero, and the records before the partition's end at
// the assignment count as written by the member before
// (kafka.Source.MarkRereads), so the rows they leave (a HAVING that turned
// false, a session merged, a Top-N row pushed out) are retracted. Each
// commit stores the job's watermark and read offsets with the offsets
// (kafka.Source.Checkpointing), and the member given the partition next
// fences its replay with them: it skips the records whose windows had
// fired (their rows are out), judges the records after them late by that
// watermark too (a window that fired is not opened again with part of its
// records), and writes nothing of the sessions it rebuilds that had fired
// (exec.Program.SetReplayFences).
func replayAligned(p *plan.Plan, prog replayable, src connector.Source) connector.Source {
	ks, ok := src.(*kafka.Source)
	if !ok || p.Repartition != nil || ks.Group() == "" || !p.ScaleOut().Split {
		return src
	}
	prog.HoldChanges()
	prog.SetReplayFences(ks.FenceWatermark)
	ks.MarkRereads()
	return ks.Checkpointing()
}

// replayable is a program a replay after a rebalance can rebuild the state
// of (*exec.Program, *join.Program).
type replayable interface {
	HoldChanges()
	SetReplayFences(fence func(partition int32) (int64, bool))
}

// holdOtherStreams makes the other streams of a stream-stream join run in
// one process per consumer group (srcs[0], its FROM stream, is the group's
// member; the others are read whole) wait until the FROM stream's member
// holds its whole topic. Read before, they would move the watermark alone:
// an outer join would write their rows with NULLs for want of the FROM
// stream's, in the first member before its assignment and in a second
// one, which stops at its first assignment, before it stops.
func holdOtherStreams(p *plan.Plan, srcs []connector.Source) {
	from, ok := srcs[0].(*kafka.Source)
	if !ok || p.Repartition != nil || from.Group() == "" {
		return
	}
	for i, in := range p.Inputs {
		if ks, ok := srcs[i].(*kafka.Source); ok && i > 0 && in.Role != plan.RoleTable {
			ks.HoldUntil(from.Whole())
		}
	}
}

// scaleOutRemedy says what, besides running one process, would let the
// statement p share its group: repartitioning, when only
// 'repartition'='false' keeps it from it, and for keyed state over one
// stream, a topic partitioned by the key.
func scaleOutRemedy(p *plan.Plan, s plan.ScaleOut, ks *kafka.Source) string {
	var remedy string
	if s.Unsplittable == "'repartition'='false'" && p.Repartitionable() {
		remedy = fmt.Sprintf("drop '%s'='false', so that the processes repartition the records by the statement's key through a topic", plan.PropRepartition)
	}
	streams := 0
	for _, in := range p.Inputs {
		if in.Role != plan.RoleTable {
			streams++
		}
	}
	if p.Requirement.Kind == partition.Hash && streams == 1 && !p.Analysis.HasLimit && !p.Requirement.OrderMatters {
		if remedy != "" {
			remedy += "; or "
		}
		remedy += fmt.Sprintf("partition topic %q by the statement's key and declare it with '%s.partition.key'", ks.Topic(), ks.Name())
	}
	return remedy
}

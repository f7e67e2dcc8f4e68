package runner

import (
	"context"
	"fmt"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/job"
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
//
// With restart (at least once) the member runs its job once per
// assignment, as stage 2 does (restarting), and gen is the source of its
// generations; nil otherwise. A job that kept running across a rebalance
// would judge the records of a partition it gained, replayed from the
// last commit of the member before, by the watermark its own partitions
// had taken it to (never back): late, or in windows that had fired.
// Exactly once, the job reads the source in transactions instead
// (exactlyOnce), and the state its replay rebuilds is that of a restart.
func replayAligned(p *plan.Plan, prog replayable, src connector.Source, restart bool) (run connector.Source, gen *generations) {
	ks, ok := src.(*kafka.Source)
	if !ok || p.Repartition != nil || ks.Group() == "" || !p.ScaleOut().Split {
		return src, nil
	}
	prog.HoldChanges()
	prog.SetReplayFences(ks)
	ks.MarkRereads()
	if !restart {
		return ks.Checkpointing(), nil
	}
	gen = &generations{src: alignedTopic{Source: ks, cp: ks.Checkpointing().(connector.Checkpointer)}, whole: true}
	ks.RestartOnRebalance(gen.revoked)
	if ks.Bounded() {
		// a bounded run's member stays in the group until the group
		// committed every partition to its end: the partitions of a
		// member that stopped (killed) come to those left once its
		// session times out, and a process that ended before would
		// leave them unread
		ks.KeepOpen()
	}
	return gen, gen
}

// restartsAtLeastOnce reports whether an aligned member of a statement
// with props runs its job once per assignment (replayAligned): at least
// once, not exactly once.
func restartsAtLeastOnce(props map[string]string) bool {
	g, _ := guarantee(props)
	return g != ExactlyOnce
}

// alignedTopic is an aligned member's topic as its generations read it
// (groupTopic): its commits store the job's checkpoint (cp, its
// Checkpointing).
type alignedTopic struct {
	*kafka.Source
	cp connector.Checkpointer
}

// CommitCheckpoint commits offsets with cp for the partitions the member
// holds or hands over. A generation's commits need no assignment of their
// own: the handover waits for the generation's job to stop (its last
// commit made), and the topic is never purged, so a commit of a job that
// outlived it is a checkpoint of rows that job wrote.
func (a alignedTopic) CommitCheckpoint(ctx context.Context, _ int64, offsets map[int32]int64, cp connector.Checkpoint) error {
	return a.cp.CommitCheckpoint(ctx, offsets, cp)
}

// restarting runs an aligned member's job once per group assignment
// (replayAligned): each rebalance stops it (committing what it finished)
// and the next assignment starts it again with empty state, every
// partition replayed from its committed offset with its fence, as stage 2
// of a repartitioned statement runs (runGenerations). The source, the
// sinks and the dead-letter file outlive the generations.
type restarting struct {
	gen     *generations
	src     *kafka.Source
	sinks   []*keptSink
	fileDLQ *job.FileDLQ
}

// restartPerAssignment makes the job cfg, which reads gen (over src), run
// once per assignment; call it once cfg's sinks and dead-letter queue are
// set.
func restartPerAssignment(cfg *job.Config, gen *generations, src *kafka.Source) *restarting {
	r := &restarting{gen: gen, src: src}
	r.sinks, r.fileDLQ = keepAcrossGenerations(cfg)
	return r
}

// run runs cfg's generations until the member's bounded partitions ended
// (and no more came) or ctx is cancelled, then leaves the group and ends
// the sinks and the dead-letter file.
func (r *restarting) run(ctx context.Context, cfg job.Config) (*job.Summary, error) {
	sum, err := runGenerations(ctx, cfg, r.gen, nil)
	inErr := r.src.Close()
	return finishRun(sum, err, closeKept(r.sinks, r.fileDLQ, err != nil), inErr)
}

// replayable is a program a replay after a rebalance can rebuild the state
// of (*exec.Program, *join.Program).
type replayable interface {
	HoldChanges()
	SetReplayFences(fence exec.Fences)
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

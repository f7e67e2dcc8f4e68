package kafka

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connector"
)

// fence is the checkpoint a partition resumed from: a record before offset
// to whose windows had all fired under watermark wm had its effect already.
// A zero to is no fence. An aligned member's has the Start of its
// committed offset too, when the commit stored one (started).
type fence struct {
	to, wm  int64
	start   connector.Start
	started bool
}

// join returns the fence to commit with a checkpoint that read up to read
// under watermark wm, for a partition that resumed from f: f joined with
// it. The run that wrote f wrote every window that fired under its
// watermark, and each such window had every record it counts before f's
// read offset (the partition's watermark passed the window only after
// them), so whoever resumes skips the records before the later read
// offset whose windows fired under the higher watermark. Committing the
// new checkpoint alone would let a replay count a window again from only
// its records after the commit, when this run had not yet read as far or
// seen as high a watermark as the one before it.
func (f fence) join(read, wm int64) (int64, int64) {
	if f.to <= 0 {
		return read, wm
	}
	return max(read, f.to), max(wm, f.wm)
}

// Checkpointing returns an aligned consumer-group member (MarkRereads) as a
// connector.Checkpointer that commits at least once, without a
// transaction: each commit stores the job's watermark and read offsets
// with the offsets (in the format of an exactly-once source's), so that
// the member the group gives a partition next knows which of the records
// it reads again had their effect (Fence) and which were late. Restored
// reports nothing: the checkpoints reach the job partition by partition,
// through their readers, as the group assigns them.
func (s *Source) Checkpointing() connector.Source { return checkpointing{s} }

// checkpointing is a Source whose commits store the job's checkpoint.
type checkpointing struct{ *Source }

// CommitCheckpoint commits offsets, for the partitions this member owns or
// hands over, with cp joined with the fence each resumed from, and each
// partition's Start (connector.Checkpoint.Starts).
func (c checkpointing) CommitCheckpoint(ctx context.Context, offsets map[int32]int64, cp connector.Checkpoint) error {
	s := c.Source
	return s.commitOwned(ctx, offsets, func(commit map[int32]kgo.EpochOffset) map[int32]string {
		meta := make(map[int32]string, len(commit))
		for p, o := range commit {
			read, ok := cp.Read[p]
			if !ok {
				read = o.Offset
			}
			read, wm := s.fences[p].join(read, cp.Watermark)
			// the job's Start is of the offset it asked to commit
			st, started := cp.Starts[p]
			started = started && o.Offset == offsets[p]
			meta[p] = checkpointMeta(connector.Fence{Read: read, Watermark: wm, Start: st, HasStart: started})
		}
		return meta
	})
}

// Restored returns no checkpoint: each partition's reaches the job through
// its reader (connector.Fenced).
func (c checkpointing) Restored() (connector.Checkpoint, bool) { return connector.Checkpoint{}, false }

var (
	_ connector.Checkpointer = checkpointing{}
	_ connector.Fenced       = (*partReader)(nil)
)

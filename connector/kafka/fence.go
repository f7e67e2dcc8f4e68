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

// public returns f as the job sees it (connector.Fenced).
func (f fence) public() connector.Fence {
	return connector.Fence{Read: f.to, Watermark: f.wm, Start: f.start, HasStart: f.started}
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
// partition's Start (connector.Checkpoint.Starts). A partition whose
// replay is behind its fence (connector.Fence.Join) commits nothing.
func (c checkpointing) CommitCheckpoint(ctx context.Context, offsets map[int32]int64, cp connector.Checkpoint) error {
	s := c.Source
	return s.commitOwned(ctx, offsets, func(commit map[int32]kgo.EpochOffset) map[int32]string {
		meta := make(map[int32]string, len(commit))
		var behind []int32
		for p, o := range commit {
			read, ok := cp.Read[p]
			if !ok {
				read = o.Offset
			}
			read, wm, ok := s.fences[p].public().Join(read, cp.Watermark)
			if !ok {
				delete(commit, p)
				behind = append(behind, p)
				continue
			}
			// the job's Start is of the offset it asked to commit
			st, started := cp.Starts[p]
			started = started && o.Offset == offsets[p]
			meta[p] = checkpointMeta(connector.Fence{Read: read, Watermark: wm, Start: st, HasStart: started})
		}
		s.leftBehindLocked(behind)
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

package partition

import (
	"strings"
	"sync/atomic"

	"github.com/sluicesql/sluice/record"
)

// StickyStrategy is sticky_partition: a whole batch goes to its source
// partition mod N. File sources number their splits as source partitions,
// so a large file spreads over the workers instead of landing on worker 0.
type StickyStrategy struct{}

// NewSticky returns a sticky_partition strategy.
func NewSticky() *StickyStrategy { return &StickyStrategy{} }

// Name returns "sticky_partition".
func (*StickyStrategy) Name() string { return StickyPartition }

// Version returns 1.
func (*StickyStrategy) Version() int { return 1 }

// Route returns b.Partition mod N (a negative, unknown partition maps into
// [0, N) too); each source partition stays on one worker, in order.
func (*StickyStrategy) Route(b *record.Batch, ctx *Context, _ []int) int {
	return Mod(b.Partition, ctx.Partitions)
}

// Validate accepts Any, and Hash when the source is partitioned by a subset
// of the keys (Requirement.Aligned); it refuses Single.
func (*StickyStrategy) Validate(req Requirement) error {
	switch {
	case req.Kind == Single:
		return splits(StickyPartition, req)
	case req.Kind == Hash && !req.Aligned():
		err := splits(StickyPartition, req)
		if len(req.SourceKey) == 0 {
			err.Why += " (the source's partition key is unknown)"
		} else {
			err.Why += " (the source is partitioned by " + strings.Join(req.SourceKey, ", ") +
				", not by a subset of " + strings.Join(req.Keys, ", ") + ")"
		}
		return err
	}
	return nil
}

// RoundRobinStrategy is round_robin: whole batches rotate over the
// partitions (an atomic counter), so work spreads evenly batch by batch and
// routing costs nothing per record. Records of one key or source partition
// scatter, so it suits stateless work only.
type RoundRobinStrategy struct {
	next atomic.Uint64
}

// NewRoundRobin returns a round_robin strategy starting at partition 0.
func NewRoundRobin() *RoundRobinStrategy { return &RoundRobinStrategy{} }

// Name returns "round_robin".
func (*RoundRobinStrategy) Name() string { return RoundRobin }

// Version returns 1.
func (*RoundRobinStrategy) Version() int { return 1 }

// Route sends the whole batch to the next partition in turn.
func (s *RoundRobinStrategy) Route(_ *record.Batch, ctx *Context, _ []int) int {
	if ctx.Partitions <= 1 {
		return 0
	}
	return int((s.next.Add(1) - 1) % uint64(ctx.Partitions))
}

// Validate accepts Any only.
func (*RoundRobinStrategy) Validate(req Requirement) error {
	if req.Kind != Any {
		return splits(RoundRobin, req)
	}
	return nil
}

// FanInStrategy is fan_in: every record goes to partition 0.
type FanInStrategy struct{}

// NewFanIn returns a fan_in strategy.
func NewFanIn() *FanInStrategy { return &FanInStrategy{} }

// Name returns "fan_in".
func (*FanInStrategy) Name() string { return FanIn }

// Version returns 1.
func (*FanInStrategy) Version() int { return 1 }

// Route sends the whole batch to partition 0.
func (*FanInStrategy) Route(*record.Batch, *Context, []int) int { return 0 }

// Validate accepts every requirement: one partition sees everything in order.
func (*FanInStrategy) Validate(Requirement) error { return nil }

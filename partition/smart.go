package partition

import (
	"sync/atomic"

	"github.com/sluicesql/sluice/record"
)

// SmartStrategy is smart_repartition: when the source is already partitioned
// by a subset of the routing keys (Context.Aligned), every record of one key
// shares a source partition, so the whole batch goes to the worker of its
// source partition with no per-record hashing; otherwise it hashes exactly
// as always_hash does.
type SmartStrategy struct {
	hash     HashStrategy
	aligned  atomic.Int64
	rehashed atomic.Int64
}

// NewSmart returns a new smart_repartition strategy with zeroed counters.
func NewSmart() *SmartStrategy { return &SmartStrategy{} }

// Name returns "smart_repartition".
func (*SmartStrategy) Name() string { return SmartRepartition }

// Version returns 2, the version of its always_hash fallback.
func (*SmartStrategy) Version() int { return 2 }

// Route sends an aligned batch whole to source partition mod N (consecutive
// source partitions land on consecutive workers, so per-worker counts differ
// by at most one); an unaligned batch is hashed record by record.
func (s *SmartStrategy) Route(b *record.Batch, ctx *Context, dst []int) int {
	n := int64(len(b.Records))
	if ctx.Aligned() {
		s.aligned.Add(n)
		return Mod(b.Partition, ctx.Partitions)
	}
	s.rehashed.Add(n)
	return s.hash.Route(b, ctx, dst)
}

// Validate accepts what always_hash accepts: both paths keep equal keys together.
func (s *SmartStrategy) Validate(req Requirement) error {
	if req.Kind == Single {
		return splits(SmartRepartition, req)
	}
	return nil
}

// Stats returns how many records were routed by their source partition
// (aligned) and how many were hashed (rehashed) since the strategy was made.
func (s *SmartStrategy) Stats() (aligned, rehashed int64) {
	return s.aligned.Load(), s.rehashed.Load()
}

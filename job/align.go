package job

import (
	"math"
	"time"
)

// minAlignDrift is the least event-time lead a source partition may have
// over the slowest one before its reader waits (alignDrift).
const minAlignDrift = time.Second

// rowHolder is implemented by programs that hold input rows until the
// watermark passes them (exec.Program.HoldsRows).
type rowHolder interface{ HoldsRows() bool }

// aligns reports whether readers keep their source partitions aligned in
// event time: only for programs that hold rows until the watermark, whose
// state otherwise grows with how far the fastest reader runs ahead of the
// slowest (the watermark is the minimum over partitions).
func (r *run) aligns() bool {
	h, ok := r.prog.(rowHolder)
	return ok && h.HoldsRows() && len(r.cfg.Sources) > 0
}

// alignDrift is how far in event time a partition may run ahead of the
// slowest active one: the allowed out-of-orderness, at least minAlignDrift.
func (r *run) alignDrift() int64 {
	return max(r.cfg.MaxOutOfOrder, minAlignDrift).Milliseconds()
}

// align waits, before sp's reader reads on, while sp is more than
// alignDrift ahead in event time of the slowest partition that is active
// (not ended, not idle), has handed over data and has more to read (not
// caught up), as Flink's watermark alignment does. It changes only when records are read, never which are
// late: lateness is judged against each partition's own watermark. The
// slowest partition never waits, so reading always progresses.
func (r *run) align(sp *sourcePartition) {
	drift := r.alignDrift()
	for wait := 50 * time.Microsecond; r.ctx.Err() == nil; wait = min(2*wait, 5*time.Millisecond) {
		sp.mu.Lock()
		own := sp.maxEvent
		sp.mu.Unlock()
		low, ok := lowestActiveEvent(r.sourcePartitions(), time.Now(), r.cfg.IdleTimeout)
		if own == noWatermark || !ok || own-low <= drift {
			return
		}
		time.Sleep(wait)
	}
}

// setCaughtUp records whether the partition's last read, of n records
// when a batch holds size, left its reader with nothing waiting.
func (sp *sourcePartition) setCaughtUp(n, size int) {
	up := n < size
	sp.mu.Lock()
	sp.caughtUp = up
	sp.mu.Unlock()
}

// lowestActiveEvent returns the lowest highest-event-time over partitions
// that have handed over data, are neither ended nor idle (as watermarkOf
// decides activity) and are not caught up (their last read filled a batch:
// waiting for a partition whose reader has nothing more to read now, a
// sparse live input, would only delay the others), and whether there is
// one.
func lowestActiveEvent(sps []*sourcePartition, now time.Time, idle time.Duration) (int64, bool) {
	low, ok := int64(math.MaxInt64), false
	for _, sp := range sps {
		sp.mu.Lock()
		if !sp.inactiveLocked(now, idle) && !sp.caughtUp && sp.maxEvent != noWatermark {
			low, ok = min(low, sp.maxEvent), true
		}
		sp.mu.Unlock()
	}
	return low, ok
}

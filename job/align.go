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
// (not ended, not idle) and has handed over data, as Flink's watermark
// alignment does. It changes only when records are read, never which are
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

// lowestActiveEvent returns the lowest highest-event-time over partitions
// that have handed over data and are neither ended nor idle (as
// watermarkOf decides activity), and whether there is one.
func lowestActiveEvent(sps []*sourcePartition, now time.Time, idle time.Duration) (int64, bool) {
	low, ok := int64(math.MaxInt64), false
	for _, sp := range sps {
		sp.mu.Lock()
		if !sp.inactiveLocked(now, idle) && sp.maxEvent != noWatermark {
			low, ok = min(low, sp.maxEvent), true
		}
		sp.mu.Unlock()
	}
	return low, ok
}

package job

import (
	"math"
	"slices"

	"github.com/sluicesql/sluice/connector"
)

// Resumer is implemented by programs that drop state the watermark has
// passed which a record read again after a restart or a rebalance may
// still need (a temporal join's older table versions, *join.Program).
// ResumeAt gives them the lowest watermark at which the job's source
// partitions would resume from what it committed (their connector.Start):
// a record a replay reads from there that was on time has an event time
// at or above it, and meets what it met the first time.
type Resumer interface {
	ResumeAt(wm int64)
}

// startWatermark returns the watermark of a partition that resumes at st:
// its highest event time before the committed offset less the allowed
// out-of-orderness.
func (r *run) startWatermark(st connector.Start) int64 {
	if st.MaxEvent == noWatermark {
		return noWatermark
	}
	return st.MaxEvent - r.cfg.MaxOutOfOrder.Milliseconds()
}

// resumeRestored tells a Resumer program the lowest watermark at which
// the partitions of the restored checkpoints resume, before the job's
// watermark starts at theirs (seedWatermark).
func (r *run) resumeRestored() {
	res, ok := r.prog.(Resumer)
	if !ok {
		return
	}
	var wms []int64
	for _, c := range r.restored {
		for _, st := range c.Starts {
			wms = append(wms, r.startWatermark(st))
		}
	}
	if len(wms) > 0 {
		r.resumeMu.Lock()
		defer r.resumeMu.Unlock()
		res.ResumeAt(slices.Min(wms))
	}
}

// resumeFrom notes that each of the source partitions sps would resume
// at the matching Start of starts (the checkpoint it resumed from, or its
// last commit) and tells a Resumer program the lowest such watermark of
// the job's partitions.
func (r *run) resumeFrom(sps []*sourcePartition, starts []connector.Start) {
	res, ok := r.prog.(Resumer)
	if !ok || len(sps) == 0 {
		return
	}
	r.resumeMu.Lock()
	defer r.resumeMu.Unlock()
	for i, sp := range sps {
		wm := r.startWatermark(starts[i])
		sp.mu.Lock()
		if sp.resumes && sp.next < sp.fenceTo {
			// behind its fence, a Kafka commit leaves the partition at
			// the checkpoint it resumed from (connector.Fence.Join)
			wm = min(wm, sp.resumeWM)
		}
		sp.resumeWM, sp.resumes = wm, true
		sp.mu.Unlock()
	}
	low := int64(math.MaxInt64)
	for _, sp := range r.sourcePartitions() {
		sp.mu.Lock()
		if sp.resumes {
			low = min(low, sp.resumeWM)
		}
		sp.mu.Unlock()
	}
	res.ResumeAt(low)
}

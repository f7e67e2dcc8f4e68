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
// at the matching watermark of wms (of the checkpoint it resumed from, or
// of its last commit) and tells a Resumer program the lowest such
// watermark of the job's partitions.
func (r *run) resumeFrom(sps []*sourcePartition, wms []int64) {
	res, ok := r.prog.(Resumer)
	if !ok || len(sps) == 0 {
		return
	}
	r.resumeMu.Lock()
	defer r.resumeMu.Unlock()
	for i, sp := range sps {
		wm := wms[i]
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

// resumeCommitted tells a Resumer program where the partitions of a
// commit would resume: at its Start's watermark, or, for a partition
// whose reader follows the watermarks upstream (its records carry their
// writers'), at the lowest watermark its records from the committed
// offset on carried (lowSince).
func (r *run) resumeCommitted(commit map[int32]commitPoint) {
	if _, ok := r.prog.(Resumer); !ok {
		return
	}
	var sps []*sourcePartition
	var wms []int64
	for _, c := range commit {
		switch {
		case c.started:
			sps, wms = append(sps, c.sp), append(wms, r.startWatermark(c.start))
		case c.sp.follows.Load():
			c.sp.mu.Lock()
			wm, ok := c.sp.lowSince(c.at)
			c.sp.mu.Unlock()
			if ok {
				sps, wms = append(sps, c.sp), append(wms, wm)
			}
		}
	}
	r.resumeFrom(sps, wms)
}

// lowMark says that the records of a partition from offset on carried no
// watermark below wm, up to the next lowMark's offset.
type lowMark struct{ offset, wm int64 }

// maxLows bounds a partition's lows: past it, every other one is merged
// into the one before it (which is lower: the lows rise).
const maxLows = 1024

// addLowLocked notes that the partition's records from offset on (a batch)
// carried no watermark below wm. The lows rise from the first: the ones
// at or above a later batch's are merged into it, from the first of them.
func (sp *sourcePartition) addLowLocked(m lowMark) {
	for len(sp.lows) > 0 && sp.lows[len(sp.lows)-1].wm >= m.wm {
		m.offset = sp.lows[len(sp.lows)-1].offset
		sp.lows = sp.lows[:len(sp.lows)-1]
	}
	sp.lows = append(sp.lows, m)
	if len(sp.lows) > maxLows {
		kept := sp.lows[:0]
		for i, l := range sp.lows {
			if i%2 == 0 {
				kept = append(kept, l)
			}
		}
		sp.lows = kept
	}
}

// lowSince returns the lowest watermark the partition's records from
// offset on carried (false when it noted none), and drops the lows of the
// records before it.
func (sp *sourcePartition) lowSince(offset int64) (int64, bool) {
	for len(sp.lows) > 1 && sp.lows[1].offset <= offset {
		sp.lows = sp.lows[1:]
	}
	if len(sp.lows) == 0 {
		return 0, false
	}
	return sp.lows[0].wm, true
}

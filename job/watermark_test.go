package job

import (
	"testing"
	"time"
)

// TestWatermarkFollowsUpstream pins that a partition whose reader follows
// the watermarks upstream (a repartition topic's) is never idle in the
// job, however long it goes without records: it holds the job's watermark
// at its own, which its upstream reports move and whose source partitions
// are idle or not there. Another unbounded partition without records for
// longer than the idle timeout holds nothing back.
func TestWatermarkFollowsUpstream(t *testing.T) {
	now := time.Now()
	quiet, busy := newSourcePartition(0, "s", 0, now.Add(-time.Hour)), newSourcePartition(0, "s", 1, now)
	quiet.maxEvent, busy.maxEvent = 1000, 5000
	sps := []*sourcePartition{quiet, busy}
	if got := watermarkOf(sps, now, time.Minute, 0); got != 5000 {
		t.Errorf("with the quiet partition idle: watermark %d, want 5000", got)
	}
	quiet.follows.Store(true)
	if got := watermarkOf(sps, now, time.Minute, 0); got != 1000 {
		t.Errorf("with the quiet partition following its upstream: watermark %d, want its 1000", got)
	}
}

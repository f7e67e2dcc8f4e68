package job

import (
	"testing"
	"time"
)

// TestLowestActiveEvent: alignment waits only for partitions that hold the
// watermark back (active) and have handed over data.
func TestLowestActiveEvent(t *testing.T) {
	now := time.Now()
	sp := func(maxEvent int64, ended, bounded bool, lastData time.Time) *sourcePartition {
		p := newSourcePartition(0, "s", 0, lastData)
		p.maxEvent, p.ended, p.bounded = maxEvent, ended, bounded
		return p
	}
	tests := []struct {
		name string
		sps  []*sourcePartition
		low  int64
		ok   bool
	}{
		{"slowest active", []*sourcePartition{sp(100, false, true, now), sp(40, false, true, now), sp(70, false, true, now)}, 40, true},
		{"ended ignored", []*sourcePartition{sp(100, false, true, now), sp(40, true, true, now)}, 100, true},
		{"no data ignored", []*sourcePartition{sp(100, false, true, now), sp(noWatermark, false, true, now)}, 100, true},
		{"idle unbounded ignored", []*sourcePartition{sp(100, false, false, now), sp(40, false, false, now.Add(-time.Hour))}, 100, true},
		{"none", []*sourcePartition{sp(40, true, true, now)}, 0, false},
	}
	for _, tt := range tests {
		low, ok := lowestActiveEvent(tt.sps, now, time.Minute)
		if ok != tt.ok || (ok && low != tt.low) {
			t.Errorf("%s: lowestActiveEvent = %d, %v; want %d, %v", tt.name, low, ok, tt.low, tt.ok)
		}
	}
}

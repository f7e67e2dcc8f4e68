package job

import (
	"testing"
	"time"
)

// TestLowestActiveEvent: alignment waits only for partitions that hold the
// watermark back (active), have handed over data and have more to read
// (not caught up: a sparse live input would otherwise hold the others
// back until it turns idle).
func TestLowestActiveEvent(t *testing.T) {
	now := time.Now()
	caughtUp := func(p *sourcePartition) *sourcePartition {
		p.setCaughtUp(3, 1024)
		return p
	}
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
		{"caught up ignored", []*sourcePartition{sp(100, false, false, now), caughtUp(sp(40, false, false, now))}, 100, true},
	}
	for _, tt := range tests {
		low, ok := lowestActiveEvent(tt.sps, now, time.Minute)
		if ok != tt.ok || (ok && low != tt.low) {
			t.Errorf("%s: lowestActiveEvent = %d, %v; want %d, %v", tt.name, low, ok, tt.low, tt.ok)
		}
	}
}

// TestPublishesBatchesHandedOver: while a destination still buffers
// records, an ingester publishes the progress of the batches whose records
// every destination handed over, and all of it once nothing is buffered.
func TestPublishesBatchesHandedOver(t *testing.T) {
	sp := newSourcePartition(0, "s", 0, time.Now())
	in := &ingester{sp: sp, next: make([]handover, 2), maxEvent: 400, offset: 40}
	in.pending = []progress{{seq: 1, maxEvent: 100, offset: 10}, {seq: 2, maxEvent: 200, offset: 20}, {seq: 3, maxEvent: 300, offset: 30}, {seq: 4, maxEvent: 400, offset: 40}}
	in.next[0] = handover{n: 5, since: 3} // batches 3 and 4 partly buffered
	in.held = 1
	in.publishIfFlushed(false)
	if sp.maxEvent != 200 || sp.next != 20 {
		t.Errorf("published %d, %d; want batch 2's 200, 20", sp.maxEvent, sp.next)
	}
	if len(in.pending) != 2 || in.pending[0].seq != 3 {
		t.Errorf("pending %v, want batches 3 and 4", in.pending)
	}
	in.next[1] = handover{n: 1, since: 2} // an older buffer: nothing more is out
	in.held = 2
	in.publishIfFlushed(false)
	if sp.maxEvent != 200 {
		t.Errorf("published %d while batch 2 is buffered", sp.maxEvent)
	}
	in.next[0], in.next[1], in.held = handover{}, handover{}, 0
	in.publishIfFlushed(true)
	if sp.maxEvent != 400 || sp.next != 40 || !sp.ended || len(in.pending) != 0 {
		t.Errorf("after the last hand-over: %d, %d, ended %v, pending %v", sp.maxEvent, sp.next, sp.ended, in.pending)
	}
}

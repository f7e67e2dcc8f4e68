package kafka

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func doneRecord(offset int64, ps ...partProgress) *kgo.Record {
	return &kgo.Record{Offset: offset, Headers: []kgo.RecordHeader{{Key: controlHeader, Value: appendDone(nil, ps)}}}
}

// TestUpstreamEndsAtThisRunsEnd pins that a bounded run's repartition
// partition ends where this process's run of the source ends: a done
// marker, or the last reports, of an earlier run of the group (which said
// every source partition ended, at that run's end) neither end the
// partition nor let the watermark pass a source partition this run still
// reads, and a done marker of this run ends it at once.
func TestUpstreamEndsAtThisRunsEnd(t *testing.T) {
	ends := func() map[int32]int64 { return map[int32]int64{0: 30, 1: 10} }
	earlier := []partProgress{
		{partition: 0, watermark: 100, committed: 20, flags: progressEnded},
		{partition: 1, watermark: 200, committed: 10, flags: progressEnded},
	}
	u := newUpstream(2, true)
	u.sourceEnds = ends
	if keep, err := u.admit(doneRecord(0, earlier...)); keep || err != nil {
		t.Fatalf("done marker: keep %v, err %v", keep, err)
	}
	if u.ended() {
		t.Error("an earlier run's done marker ended the partition")
	}
	if wm, ok := u.watermark(); !ok || wm != 100 {
		t.Errorf("watermark = %d, %v; want 100: source partition 0 is still read in this run", wm, ok)
	}
	u.admit(progressRecord(1, partProgress{partition: 0, watermark: 150, committed: 30, flags: progressEnded}))
	if !u.ended() {
		t.Error("not ended once every source partition was committed to this run's end")
	}

	again := newUpstream(2, true)
	again.sourceEnds = ends
	again.admit(doneRecord(0, u.progress()...))
	if !again.ended() {
		t.Error("this run's done marker did not end the partition")
	}

	if ps, done, err := parseControl([]byte{controlDone}, nil); !done || err != nil || len(ps) != 0 {
		t.Errorf("an earlier version's done marker: %v, %v, %v", ps, done, err)
	}
}

// TestShuffleIdleAfterRebalance pins the idle rule of an unbounded run's
// progress reports: a source partition is idle once IdleTimeout passed
// without a record since this member got it, so one the group gives back
// after a rebalance is not reported idle at once (which would let stage 2's
// watermark pass the records this member is about to send again).
func TestShuffleIdleAfterRebalance(t *testing.T) {
	s := NewShuffle(nil, ShuffleConfig{IdleTimeout: time.Second})
	t0 := time.UnixMilli(1_700_000_000_000)
	idle := func(at time.Duration, owned ...int32) bool {
		ps := s.progressLocked([]ownedParts{{parts: owned}}, t0.Add(at))
		return len(ps) == 1 && ps[0].flags&progressIdle != 0
	}
	if idle(0, 0) {
		t.Error("idle as soon as assigned")
	}
	if !idle(1500*time.Millisecond, 0) {
		t.Error("not idle after IdleTimeout without records")
	}
	s.progressLocked([]ownedParts{{}}, t0.Add(2*time.Second)) // taken away
	if idle(3*time.Second, 0) {
		t.Error("idle at once when the group gave the partition back")
	}
	if !idle(4500*time.Millisecond, 0) {
		t.Error("not idle after IdleTimeout since it was given back")
	}
}

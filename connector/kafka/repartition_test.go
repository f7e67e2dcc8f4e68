package kafka

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRepartitionHeaders round-trips the origin and control headers and
// refuses corrupt ones.
func TestRepartitionHeaders(t *testing.T) {
	for _, shift := range []int64{0, -86_400_000, 1} {
		o, err := parseOrigin(appendOrigin(nil, 7, 123456, noWatermark, shift))
		if want := (origin{partition: 7, offset: 123456, watermark: noWatermark, shift: shift}); err != nil || o != want {
			t.Errorf("origin = %+v, %v; want %+v", o, err, want)
		}
	}
	in := []partProgress{{partition: 0, watermark: -5, committed: -1}, {partition: 3, watermark: 1700000000000, committed: 42, flags: progressEnded}}
	out, done, err := parseControl(appendProgress(nil, in), nil)
	if err != nil || done || len(out) != 2 || out[0] != in[0] || out[1] != in[1] {
		t.Errorf("progress = %+v, %v, %v", out, done, err)
	}
	if _, done, err := parseControl([]byte{controlDone}, nil); !done || err != nil {
		t.Errorf("done marker: %v, %v", done, err)
	}
	for _, bad := range [][]byte{nil, {'x'}, {controlProgress, 5}, {controlProgress, 1, 2}} {
		if _, _, err := parseControl(bad, nil); err == nil {
			t.Errorf("parseControl(%v) accepted", bad)
		}
	}
	if _, err := parseOrigin([]byte{1}); err == nil {
		t.Error("parseOrigin accepted a truncated header")
	}
	if _, err := parseOrigin(append(appendOrigin(nil, 1, 2, 3, 4), 0)); err == nil {
		t.Error("parseOrigin accepted a header with a byte too many")
	}
}

func dataRecord(offset int64, p int32, srcOffset, wm int64) *kgo.Record {
	return &kgo.Record{Offset: offset, Headers: []kgo.RecordHeader{{Key: originHeader, Value: appendOrigin(nil, p, srcOffset, wm, 0)}}}
}

func progressRecord(offset int64, ps ...partProgress) *kgo.Record {
	return &kgo.Record{Offset: offset, Headers: []kgo.RecordHeader{{Key: controlHeader, Value: appendProgress(nil, ps)}}}
}

// TestUpstream pins a repartition partition's view of its source: its
// watermark is the minimum over the source partitions once every one was
// reported, records sent again are dropped, commits stop before records
// stage 1 may send again, and a bounded source ends the partition when
// every source partition ended.
func TestUpstream(t *testing.T) {
	u := newUpstream(2, true)
	if keep, err := u.admit(dataRecord(0, 0, 10, 100)); !keep || err != nil || u.carried != 100 {
		t.Fatalf("first record: keep %v, err %v, carried %d", keep, err, u.carried)
	}
	if keep, _ := u.admit(dataRecord(1, 0, 10, 100)); keep {
		t.Error("a record sent again was kept")
	}
	u.admit(dataRecord(2, 1, 5, 50))
	u.publish(3)
	if got := u.safe.Load(); got != 0 {
		t.Errorf("safe = %d before any commit upstream, want 0", got)
	}
	if _, ok := u.watermark(); ok {
		t.Error("a watermark before every source partition was reported")
	}
	u.admit(progressRecord(3, partProgress{partition: 0, watermark: 200, committed: 11}))
	u.admit(progressRecord(4, partProgress{partition: 1, watermark: 70, committed: 3}))
	u.publish(5)
	if wm, ok := u.watermark(); !ok || wm != 70 {
		t.Errorf("watermark = %d, %v; want 70", wm, ok)
	}
	if got := u.safe.Load(); got != 2 {
		t.Errorf("safe = %d, want 2 (source partition 1 offset 5 is not committed upstream)", got)
	}
	if u.ended() {
		t.Error("ended before any source partition ended")
	}
	u.admit(progressRecord(5, partProgress{partition: 0, watermark: 200, committed: 20, flags: progressEnded}))
	u.admit(progressRecord(6, partProgress{partition: 1, watermark: 90, committed: 9, flags: progressEnded}))
	if !u.ended() {
		t.Error("not ended after every source partition ended")
	}
	if wm, _ := u.watermark(); wm != 200 {
		t.Errorf("watermark with every source partition ended = %d, want the highest, 200", wm)
	}
	if _, err := u.admit(&kgo.Record{}); err == nil {
		t.Error("a record without repartition headers was accepted")
	}
	if _, err := u.admit(dataRecord(7, 9, 1, 1)); err == nil {
		t.Error("a record from a source partition the source does not have was accepted")
	}
}

// TestFenceCarriedForward pins that a checkpoint keeps the fence its
// partition resumed from: a generation that has not yet read as far, or
// seen as high a watermark, as the one before it must not let the next
// replay count again the windows that one wrote.
func TestFenceCarriedForward(t *testing.T) {
	u := newUpstream(1, false)
	if read, wm := u.fence(40, 500); read != 40 || wm != 500 {
		t.Errorf("no fence: %d, %d; want the checkpoint's 40, 500", read, wm)
	}
	u.fenceTo, u.fenceWM = 100, 900
	for _, c := range []struct{ read, wm, wantRead, wantWM int64 }{
		{40, 500, 100, 900},
		{150, 500, 150, 900},
		{40, 1200, 100, 1200},
		{150, 1200, 150, 1200},
		{40, noWatermark, 100, 900},
	} {
		if read, wm := u.fence(c.read, c.wm); read != c.wantRead || wm != c.wantWM {
			t.Errorf("fence(%d, %d) = %d, %d; want %d, %d", c.read, c.wm, read, wm, c.wantRead, c.wantWM)
		}
	}
}

// TestUpstreamDropsCommittedCopies pins that a record whose source offset
// is before the one reported committed upstream is a copy (its original
// preceded the report), even when this reader never saw the original.
func TestUpstreamDropsCommittedCopies(t *testing.T) {
	u := newUpstream(1, false)
	u.admit(progressRecord(0, partProgress{partition: 0, watermark: 100, committed: 50}))
	if keep, _ := u.admit(dataRecord(1, 0, 40, 90)); keep {
		t.Error("a copy of a record committed upstream was kept")
	}
	if keep, _ := u.admit(dataRecord(2, 0, 50, 100)); !keep {
		t.Error("the first record not committed upstream was dropped")
	}
}

// TestRepartitionOrigin: a repartition topic's source names the source,
// and its partition, of each partition number stage 1 gives its records:
// the source it was made from, or the join's streams numbered one after
// the other.
func TestRepartitionOrigin(t *testing.T) {
	var srcs []*Source
	for name, n := range map[string]int{"orders": 8, "payments": 5} {
		s, err := NewSource(name, map[string]string{name + ".bootstrap.servers": "localhost:9092", name + ".group.id": "g"})
		if err != nil {
			t.Fatal(err)
		}
		s.partitions = n
		srcs = append(srcs, s)
	}
	if srcs[0].Name() != "orders" {
		srcs[0], srcs[1] = srcs[1], srcs[0]
	}
	in := srcs[0].RepartitionSource("g-s-repartition", nil, 8, nil, nil)
	if name, p := in.Origin(7); name != "orders" || p != 7 {
		t.Errorf("one stream: Origin(7) = %s %d, want orders 7", name, p)
	}
	in = srcs[0].RepartitionSource("g-s-repartition", nil, 13, nil, nil)
	in.ReadsFrom(srcs)
	for _, tt := range []struct {
		n    int32
		name string
		p    int32
	}{{0, "orders", 0}, {7, "orders", 7}, {8, "payments", 0}, {12, "payments", 4}} {
		if name, p := in.Origin(tt.n); name != tt.name || p != tt.p {
			t.Errorf("Origin(%d) = %s %d, want %s %d", tt.n, name, p, tt.name, tt.p)
		}
	}
}

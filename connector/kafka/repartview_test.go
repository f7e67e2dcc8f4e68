package kafka

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCheckpointView round-trips a checkpoint's view of the source
// partitions through a commit's metadata, reads the metadata written
// before views existed, and leaves out a view too long for a commit.
func TestCheckpointView(t *testing.T) {
	v := &view{at: 1234, parts: []partProgress{
		{partition: 0, watermark: 1_700_000_000_500, committed: 99, flags: progressIdle},
		{partition: 3, watermark: noWatermark, committed: -1},
		{partition: 7, watermark: 1_699_999_999_000, committed: 0, flags: progressEnded},
	}}
	for _, base := range []int64{1_700_000_000_000, noWatermark} {
		enc := encodeView(v, base)
		meta := stagePrefix + strconv.FormatInt(base, 10) + ":77:" + enc
		read, wm, got, ok := parseStageCheckpoint(meta)
		if !ok || read != 77 || wm != base || got == nil || got.at != v.at || !slices.Equal(got.parts, v.parts) {
			t.Errorf("base %d: %q read back as %d, %d, %+v, %v", base, meta, read, wm, got, ok)
		}
		if len(meta) > 100 {
			t.Errorf("metadata of 3 source partitions is %d bytes: %q", len(meta), meta)
		}
	}
	if read, wm, got, ok := parseStageCheckpoint(stagePrefix + "500:40"); !ok || read != 40 || wm != 500 || got != nil {
		t.Errorf("metadata without a view: %d, %d, %+v, %v", read, wm, got, ok)
	}
	if read, _, got, ok := parseStageCheckpoint(stagePrefix + "500:40:!!"); !ok || read != 40 || got != nil {
		t.Errorf("a corrupt view: %d, %+v, %v; want the fence without it", read, got, ok)
	}
	for _, bad := range []string{"", "sluice-stage2:", "sluice-stage2:1", "sluice-stage2:x:1", "sluice-done:4"} {
		if _, _, _, ok := parseStageCheckpoint(bad); ok {
			t.Errorf("parseStageCheckpoint(%q) accepted", bad)
		}
	}
	big := &view{}
	for p := range int32(1000) {
		big.parts = append(big.parts, partProgress{partition: p, watermark: int64(p) << 40, committed: 1 << 40})
	}
	if enc := encodeView(big, 0); enc != "" {
		t.Errorf("a view of %d bytes was kept", len(enc))
	}
}

// TestResumedUpstreamSeesTheRunBefore replays a repartition partition, as
// a member that gains it after a kill does, from a committed offset with
// the view of the source partitions that the run before recorded with the
// commit: the source partitions report in two halves with a pause between
// (all idle), and some rarely, so the replay does not read every source
// partition's report after its committed offset before its first records.
// From its first record the replay has the watermark the run before had
// at the same offset (with a view kept exactly; one that misses a report
// gives no more than the run before had: no window fires early), and the
// same idle source partitions, so that a record of one of them is judged
// as it was.
func TestResumedUpstreamSeesTheRunBefore(t *testing.T) {
	const sources = 4
	exact, stale := 0, 0
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 7))
		var recs []*kgo.Record
		wm := make([]int64, sources)
		committed := make([]int64, sources)
		srcOff := make([]int64, sources)
		for i := range wm {
			wm[i], committed[i] = noWatermark, -1
		}
		n := 200 + rng.IntN(1300)
		for i := range n {
			off := int64(len(recs))
			pause := i >= n/3 && i < n/2
			s := rng.IntN(sources)
			switch {
			case pause || rng.IntN(4) == 0:
				// a member's report of some source partitions
				var ps []partProgress
				for p := range sources {
					if p == 3 && rng.IntN(8) > 0 || rng.IntN(3) == 0 {
						continue // partition 3 reports rarely
					}
					var flags byte
					if pause || rng.IntN(5) == 0 {
						flags = progressIdle
					}
					committed[p] = max(committed[p], srcOff[p]-int64(rng.IntN(3)))
					ps = append(ps, partProgress{partition: int32(p), watermark: wm[p], committed: committed[p], flags: flags})
				}
				recs = append(recs, progressRecord(off, ps...))
			default:
				wm[s] = max(wm[s], int64(i*10+rng.IntN(50)))
				recs = append(recs, dataRecord(off, int32(s), srcOff[s], wm[s]))
				srcOff[s]++
			}
		}
		// the run before reads up to its checkpoint, commits at from
		// (behind it: a window still open, or records stage 1 may send
		// again), and reads on; its watermark before each record
		before := newUpstream(sources, false)
		wmBefore := make([]int64, len(recs)+1)
		keptBefore := make([]bool, len(recs))
		cut := n/2 + rng.IntN(n/2)
		from := n/4 + rng.IntN(cut-n/4)
		var v *view
		for i, kr := range recs {
			w, ok := before.watermark()
			if !ok {
				w = noWatermark
			}
			wmBefore[i] = w
			keptBefore[i], _ = before.admit(kr)
			if i+1 == cut {
				v = before.viewAt(int64(from))
			}
		}
		if v == nil {
			continue // no report before the commit
		}
		fenceWM := wmBefore[cut]
		_, _, got, ok := parseStageCheckpoint(stagePrefix + strconv.FormatInt(fenceWM, 10) + ":" + strconv.Itoa(cut) + ":" + encodeView(v, fenceWM))
		if !ok || got == nil {
			t.Fatalf("seed %d: the view did not survive the metadata", seed)
		}
		isExact := v.until < 0 || int64(from) <= v.until
		if isExact {
			exact++
		} else {
			stale++
		}
		replay := newUpstream(sources, false)
		replay.resumeFrom(got)
		for i := from; i < len(recs); i++ {
			w, ok := replay.watermark()
			if !ok {
				w = noWatermark
			}
			if want := wmBefore[i]; w > want || isExact && w != want {
				t.Fatalf("seed %d: offset %d: the replay's watermark %d, the run before's %d (view at %d, exact %v)", seed, i, w, want, got.at, isExact)
			}
			if keep, _ := replay.admit(recs[i]); keep != keptBefore[i] {
				t.Fatalf("seed %d: offset %d: the replay kept it %v, the run before %v", seed, i, keep, keptBefore[i])
			}
		}
	}
	if exact == 0 || stale == 0 {
		t.Errorf("%d exact views, %d with a gap: the test checks little", exact, stale)
	}
}

// TestKeptViewsStayBounded: past maxViews views a reader drops the second
// oldest, keeping the oldest (the one before the last commit) with a gap
// after it, and the view after the dropped one takes over the records it
// was the first to confirm, so that no commit whose view comes before
// them passes them.
func TestKeptViewsStayBounded(t *testing.T) {
	u := newUpstream(1, false)
	u.parts[0].known = true
	for i := range maxViews + 1 {
		u.high = int64(i) // every view differs from the last
		switch i {
		case 1:
			u.pending = 50
		case 2:
			u.pending = 70
		}
		u.keepView(int64(10 * i))
	}
	if len(u.views) != maxViews {
		t.Fatalf("%d views kept, want %d", len(u.views), maxViews)
	}
	if first := u.views[0]; first.at != 0 || first.until != 9 {
		t.Errorf("the oldest view is at %d until %d, want the first (at 0, until 9: a gap after it)", first.at, first.until)
	}
	if second := u.views[1]; second.at != 20 || second.confirmsFrom != 50 {
		t.Errorf("the view after the oldest is at %d confirming from %d, want the third (at 20) confirming from 50, what the dropped one confirmed", second.at, second.confirmsFrom)
	}
	if last := u.views[maxViews-1]; last.at != 10*maxViews || last.until != -1 {
		t.Errorf("the last view is at %d until %d, want the newest (at %d, until -1)", last.at, last.until, 10*maxViews)
	}
	if v := u.viewAt(15); v == nil || v.at != 0 || v.until != 9 {
		t.Errorf("a commit at 15 records %+v, want the oldest view, with its gap", v)
	}
}

package kafka

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestHeldCommitKeepsBoundedState reads a million records through a
// repartition partition whose checkpoint never passes its first records
// (a GROUP BY without a window under EMIT CHANGES, or a long window, holds
// its commit), with stage 1 confirming everything it sent every 1000
// records: what the reader keeps to place its commits (views, spans not
// yet confirmed, spans confirmed since the commit) stays bounded by the
// views it keeps, not by the records read, and the commits still stop
// where the rule says.
func TestHeldCommitKeepsBoundedState(t *testing.T) {
	const records, every = 1_000_000, 1000
	u := newUpstream(2, false)
	var sent [2]int64
	off := int64(0)
	report := func() {
		u.admit(progressRecord(off,
			partProgress{partition: 0, watermark: off, committed: sent[0]},
			partProgress{partition: 1, watermark: off, committed: sent[1]}))
		off++
	}
	report()
	const held = 5 // the checkpoint's read offset, held for good
	lastReport, prevReport := int64(0), int64(0)
	most := 0
	for i := range records {
		p := int32(i % 2)
		u.admit(dataRecord(off, p, sent[p], off))
		sent[p]++
		off++
		if (i+1)%every != 0 {
			continue
		}
		prevReport, lastReport = lastReport, off
		report()
		u.publish(off)
		if (i+1)%(10*every) != 0 {
			continue
		}
		o := u.commitOffset(held)
		if o != 1 {
			t.Fatalf("after %d records: commitOffset(%d) = %d, want 1 (the first record, confirmed after the commit's view)", i+1, held, o)
		}
		u.viewAt(o)
		u.viewMu.Lock()
		kept := len(u.views) + len(u.parts[0].spans) + len(u.parts[1].spans)
		u.viewMu.Unlock()
		most = max(most, kept)
	}
	if most > maxViews+2*(every/runLen+2) {
		t.Errorf("the reader kept %d views and spans to place a held commit over %d records, want at most %d", most, records, maxViews+2*(every/runLen+2))
	}
	// the hold ends: a checkpoint up to the last report stops at the
	// records it confirms, one past it passes everything
	if got := u.commitOffset(lastReport); got != prevReport+1 {
		t.Errorf("commitOffset(%d) = %d, want %d: the last report confirms the records after the one before it", lastReport, got, prevReport+1)
	}
	if got := u.commitOffset(off); got != off {
		t.Errorf("commitOffset(%d) = %d, want %d: every record is confirmed", off, got, off)
	}
}

// TestCommitOffsetFollowsTheSpanRule compares commitOffset with the rule
// it implements, checked span by span: a commit at off stops at the first
// record of every span stage 1 confirmed (reported committed upstream)
// that the view before off does not confirm (has its source partition
// committed no further than the span), until the view before it confirms
// every span before it. Random partitions with members dying and sending
// again, commits at every distance, and long runs between commits (more
// reports than the views kept).
func TestCommitOffsetFollowsTheSpanRule(t *testing.T) {
	const sources = 3
	type confirmed struct {
		part              int32
		first, lastSource int64
	}
	confirms := func(v *view, c confirmed) bool {
		for _, p := range v.parts {
			if p.partition == c.part {
				return p.committed > c.lastSource
			}
		}
		return false
	}
	rule := func(u *upstream, cs []confirmed, off int64) int64 {
		if safe := u.safe.Load(); safe >= 0 {
			off = min(off, safe)
		}
		for {
			var v *view
			for _, w := range u.views {
				if w.at <= off {
					v = w
				}
			}
			next := off
			for _, c := range cs {
				if c.first < next && (v == nil || !confirms(v, c)) {
					next = c.first
				}
			}
			if next == off {
				return off
			}
			off = next
		}
	}
	lowered, views := 0, 0
	for seed := range uint64(100) {
		rng := rand.New(rand.NewPCG(seed, 7))
		every := []int{3, 10, 50, 400, 2000}[seed%5]
		recs, _ := resendingRecords(rng, sources, 1000+rng.IntN(3000))
		u := newUpstream(sources, false)
		var cs []confirmed
		read := int64(0)
		for i, kr := range recs {
			before := make([][]span, sources)
			for p := range sources {
				before[p] = slices.Clone(u.parts[p].spans)
			}
			u.admit(kr)
			for p := range sources { // a report confirms spans from the front
				for _, sp := range before[p][:max(len(before[p])-len(u.parts[p].spans), 0)] {
					cs = append(cs, confirmed{int32(p), sp.first, sp.lastSource})
				}
			}
			u.publish(int64(i + 1))
			if rng.IntN(every) > 0 {
				continue
			}
			read += rng.Int64N(int64(i+1) - read + 1)
			want := rule(u, cs, read)
			got := u.commitOffset(read)
			if got != want {
				t.Fatalf("seed %d: commitOffset(%d) = %d, the span rule says %d", seed, read, got, want)
			}
			if got < read {
				lowered++
			}
			views = max(views, len(u.views))
			u.viewAt(got)
			k := 0
			for _, c := range cs { // passed: the commit's view confirms them
				if c.first >= got {
					cs[k] = c
					k++
				}
			}
			cs = cs[:k]
		}
	}
	if lowered == 0 || views < maxViews {
		t.Errorf("%d commits held back, at most %d views: the test checks little", lowered, views)
	}
}

package job

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestLowSinceIsTheLowestCarriedAfterACommit: a partition whose records
// carry their writers' watermarks (stage 2 reads a repartition topic)
// notes the lowest of each batch, and a commit at an offset finds the
// lowest watermark a record of a batch reaching past it carried: what a
// replay from there reads again, so the temporal tables keep the versions
// it meets (Resumer). The watermarks rise with dips (several writers
// interleave); past maxLows batches between two commits the lows thin,
// staying at or below the lowest.
func TestLowSinceIsTheLowestCarriedAfterACommit(t *testing.T) {
	for _, batchesPerCommit := range []int{5, 3 * maxLows} {
		rng := rand.New(rand.NewPCG(9, uint64(batchesPerCommit)))
		sp := newSourcePartition(0, "rp", 0, time.Now())
		type batch struct{ offset, end, low int64 }
		var batches []batch
		offset, wm := int64(0), int64(0)
		committed := int64(0)
		for range 40 {
			for range batchesPerCommit {
				n := 1 + rng.Int64N(50)
				wm += rng.Int64N(100)
				low := wm - rng.Int64N(300) // a writer behind the others
				batches = append(batches, batch{offset, offset + n, low})
				sp.addLowLocked(lowMark{offset, low})
				offset += n
			}
			if len(sp.lows) > maxLows {
				t.Fatalf("%d lows kept, more than %d", len(sp.lows), maxLows)
			}
			committed += rng.Int64N(offset - committed + 1)
			want := int64(1 << 62)
			for _, b := range batches {
				if b.end > committed {
					want = min(want, b.low)
				}
			}
			got, ok := sp.lowSince(committed)
			switch {
			case want == 1<<62:
				// nothing read after the commit: the last batch's low
				// stands, below what the replay will read
			case !ok:
				t.Fatalf("commit at %d: no low", committed)
			case got > want:
				t.Fatalf("commit at %d: low %d, but a record after it carried %d", committed, got, want)
			case batchesPerCommit <= maxLows && got != want:
				t.Fatalf("commit at %d: low %d, want %d", committed, got, want)
			}
		}
	}
}

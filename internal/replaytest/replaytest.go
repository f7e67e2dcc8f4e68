// Package replaytest holds the harness shared by the tests that stop a
// stage-2 job at random points and replay a repartition topic's partition
// from what it committed: a generated partition (disordered times and the
// watermark before each record), the loop that reads it in batches, the
// checkpoint a generation commits, and the set comparisons of the rows
// the runs write.
package replaytest

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/record"
)

// Times returns the times of n records of a partition, about in order
// and disordered within ooo milliseconds, and wms, wms[i] being the
// partition's watermark before record i (the highest time before it less
// ooo) and wms[n] the one after the last. No record is late unless late:
// then about one in 40 after the first 100 is, by up to 300 ms.
func Times(rng *rand.Rand, n int, ooo int64, late bool) (ts, wms []int64) {
	ts, wms = make([]int64, n), make([]int64, n+1)
	now := int64(0)
	for i := range ts {
		now += rng.Int64N(25)
		ts[i] = now
	}
	for i := range ts {
		if j := min(n-1, i+rng.IntN(6)); ts[j]-ts[i] <= ooo {
			ts[i], ts[j] = ts[j], ts[i]
		}
	}
	high := int64(math.MinInt64)
	for i := range ts {
		wms[i] = high
		if late && i > 100 && rng.IntN(40) == 0 {
			ts[i] = high - 1 - rng.Int64N(300)
			continue
		}
		ts[i] = max(ts[i], high)
		high = max(high, ts[i]-ooo)
	}
	wms[n] = high
	return ts, wms
}

// Pipeline is a stage-2 pipeline writing to outputs of type O (exec's and
// join's both write to an exec.Output).
type Pipeline[O any] interface {
	Process(recs []record.Record, out O)
	Advance(wm int64, out O)
}

// Reader reads a partition into a pipeline as stage 2 reads a repartition
// topic's partition.
type Reader struct {
	Rec     func(i int) record.Record // record i as stage 2 reads it
	WMs     []int64                   // the watermark before record i (see Times)
	Batch   func() int                // the size of the next batch
	Advance func() bool               // whether the watermark moves after this batch
}

// Run reads records [from, to) into pl in batches, moving the watermark
// after a batch when it rose and r.Advance says; skip (nil: none) drops a
// record a replay skips, and may mark it. It returns the last watermark
// it moved to.
func Run[O any](r Reader, pl Pipeline[O], out O, from, to int, skip func(*record.Record) bool) int64 {
	wm := int64(math.MinInt64)
	for i := from; i < to; {
		var batch []record.Record
		for end := min(to, i+r.Batch()); i < end; i++ {
			if rec := r.Rec(i); skip == nil || !skip(&rec) {
				batch = append(batch, rec)
			}
		}
		pl.Process(batch, out)
		if w := r.WMs[i]; w > wm && r.Advance() {
			wm = w
			pl.Advance(wm, out)
		}
	}
	return wm
}

// Checkpoint is what a generation commits: the offset to resume from (the
// smallest held) and its fence (the offset it read to and its watermark),
// joined with the checkpoint it resumed from.
type Checkpoint struct {
	From         int
	FenceTo      int64
	FenceWM      int64
	ReadToTheEnd bool
}

// Start is the checkpoint of a partition never committed.
var Start = Checkpoint{FenceWM: math.MinInt64}

// Fence is the replay fence of a job resuming from cp, as the pipelines'
// SetReplayFences takes it.
func (cp Checkpoint) Fence(int32) (int64, bool) {
	return cp.FenceWM, cp.FenceWM != math.MinInt64
}

// Holder is a pipeline that tells the oldest offset it holds.
type Holder interface {
	Held(fn func(topic string, partition int32, minOffset int64))
}

// Commit returns the checkpoint a generation that resumed from cp commits
// after reading to offset to, its watermark at wm: the oldest offset pl
// holds (to if none), and the fence joined with cp's, as a Kafka commit
// joins them (connector.Fence.Join). A generation behind cp's fence
// commits nothing: Commit returns cp.
func (cp Checkpoint) Commit(pl Holder, to int, wm int64) Checkpoint {
	fenceTo, fenceWM, ok := connector.Fence{Read: cp.FenceTo, Watermark: cp.FenceWM}.Join(int64(to), wm)
	if !ok {
		return cp
	}
	held := int64(to)
	pl.Held(func(_ string, _ int32, off int64) { held = min(held, off) })
	return Checkpoint{From: max(cp.From, int(held)), FenceTo: fenceTo, FenceWM: fenceWM}
}

// Distinct returns the rows sorted, each once.
func Distinct(rows []string) []string {
	out := slices.Clone(rows)
	slices.Sort(out)
	return slices.Compact(out)
}

// Minus returns the rows of a (sorted) that are not in b (sorted).
func Minus(a, b []string) []string {
	var out []string
	for _, r := range a {
		if _, ok := slices.BinarySearch(b, r); !ok {
			out = append(out, r)
		}
	}
	return out
}

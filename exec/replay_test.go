package exec

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sluicesql/sluice/record"
)

// TestRepartitionReplayWritesTheOneRunRows runs windowed GROUP BYs with
// EMIT FINAL over one partition of a repartition topic as one run and as
// generations, as stage 2 runs them: each generation stops at a random
// point and commits what a job commits (the smallest offset held, the read
// offset and the watermark, joined with the fence it resumed from); the
// next replays from that offset with a fresh state, the records before the
// fence going through Program.Replayed as the topic's reader sends them.
// The windows the generations write together are exactly the one run's:
// none missing, none again with part of its rows (a SLIDING window's
// record replayed for its open windows must not reopen the ones that
// fired).
func TestRepartitionReplayWritesTheOneRunRows(t *testing.T) {
	const ooo = 200
	for _, window := range []string{
		"TUMBLING(INTERVAL '100' MILLISECONDS)",
		"SLIDING(INTERVAL '300' MILLISECONDS, INTERVAL '100' MILLISECONDS)",
		"SLIDING(INTERVAL '250' MILLISECONDS, INTERVAL '50' MILLISECONDS)",
	} {
		t.Run(window, func(t *testing.T) {
			prog := compileSQL(t, "SELECT k, _WINDOW_START AS ws, COUNT(*) AS n, SUM(v) AS s FROM rp GROUP BY k WINDOW "+window+" EMIT FINAL",
				Options{ExternalWatermark: true}, "k", "v")
			rng := rand.New(rand.NewPCG(11, uint64(len(window))))
			// the partition: a few keys, disordered within ooo; wms[i] is
			// the watermark before record i, the one it carries (none late)
			const n = 3000
			ts, vs := make([]int64, n), make([]int64, n)
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
			wms := make([]int64, n+1)
			high := int64(math.MinInt64)
			for i := range ts {
				ts[i] = max(ts[i], high)
				wms[i], vs[i] = high, int64(i)
				high = max(high, ts[i]-ooo)
			}
			wms[n] = high
			rec := func(i int) record.Record {
				return record.Record{Values: []record.Value{record.IntValue(int64(i % 7)), record.IntValue(vs[i])},
					Timestamp: ts[i], Watermark: wms[i], Topic: "rp", Offset: int64(i)}
			}
			// run reads records [from, to) in random batches, moving the
			// watermark as the partition's reports would; skip drops a
			// replayed record
			run := func(pl *Pipeline, out *collector, from, to int, skip func(*record.Record) bool) int64 {
				wm := int64(math.MinInt64)
				for i := from; i < to; {
					var batch []record.Record
					for end := min(to, i+1+rng.IntN(40)); i < end; i++ {
						if r := rec(i); skip == nil || !skip(&r) {
							batch = append(batch, r)
						}
					}
					pl.Process(batch, out)
					if w := wms[i]; w > wm && rng.IntN(3) > 0 {
						wm = w
						pl.Advance(wm, out)
					}
				}
				return wm
			}
			one := &collector{}
			pl := prog.NewPipeline()
			run(pl, one, 0, n, nil)
			pl.Finish(one)
			want := sortedSet(one.texts())
			for round := range 20 {
				var all []string
				from, fenceTo, fenceWM := 0, int64(0), int64(math.MinInt64)
				for gen := 0; ; gen++ {
					out := &collector{}
					fto, fwm := fenceTo, fenceWM
					pl := prog.NewPipeline()
					to := from + rng.IntN(n/3)
					if gen == 4 || to >= n {
						to = n
					}
					wm := run(pl, out, from, to, func(r *record.Record) bool {
						return r.Offset < fto && prog.Replayed(r, fwm)
					})
					if to == n {
						pl.Finish(out)
					}
					if len(out.dead) > 0 {
						t.Fatalf("round %d: a replay dead-lettered %v", round, out.dead[0])
					}
					all = append(all, out.texts()...)
					if to == n {
						break
					}
					held := int64(to)
					pl.Held(func(_ string, _ int32, off int64) { held = min(held, off) })
					from = max(from, int(held))
					fenceTo, fenceWM = max(int64(to), fenceTo), max(wm, fenceWM)
				}
				if got := sortedSet(all); !slices.Equal(got, want) {
					t.Fatalf("round %d: %d distinct rows, one run %d: extra %v, missing %v", round, len(got), len(want), setMinus(got, want), setMinus(want, got))
				}
			}
		})
	}
}

// sortedSet returns the rows sorted, each once.
func sortedSet(rows []string) []string {
	out := slices.Clone(rows)
	slices.Sort(out)
	return slices.Compact(out)
}

// setMinus returns the rows of a (sorted) that are not in b (sorted).
func setMinus(a, b []string) []string {
	var out []string
	for _, r := range a {
		if _, ok := slices.BinarySearch(b, r); !ok {
			out = append(out, r)
		}
	}
	return out
}

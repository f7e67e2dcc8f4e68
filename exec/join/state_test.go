package join

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sluicesql/sluice/record"
)

// TestIntervalStateMatchesNestedLoop feeds a FULL interval join two
// streams of several source partitions each, disordered within the
// allowed lateness, interleaved batch by batch with the watermark a job
// would send, and compares its rows with a nested loop's; it checks the
// offsets it reports held on the way and that it keeps nothing at the end.
// A few keys make long runs of rows per key, many keys make most keys
// empty and dropped.
func TestIntervalStateMatchesNestedLoop(t *testing.T) {
	const lo, hi, ooo = -300, 700, 400
	prog := compileAB(t, "SELECT a.v, b.w FROM a FULL JOIN b ON a.k = b.k AND b.ts BETWEEN a.ts - INTERVAL '300' MILLISECONDS AND a.ts + INTERVAL '700' MILLISECONDS")
	sides := prog.Sides()
	type row struct {
		s, part int
		k, ts   int64
		v       int64
		off     int64
	}
	for _, keys := range []int{3, 30_000} {
		t.Run(fmt.Sprintf("keys=%d", keys), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(keys), 1))
			const parts, each = 3, 4000
			var in [2][parts][]row
			var all []row
			for s := range 2 {
				for p := range parts {
					ts := int64(0)
					for i := range each {
						ts += rng.Int64N(40)
						r := row{s: s, part: p, k: rng.Int64N(int64(keys)), ts: ts, v: int64(len(all)), off: int64(i)}
						in[s][p] = append(in[s][p], r)
						all = append(all, r)
					}
					rs := in[s][p]
					for i := range rs { // disorder: swap with a row a few on, within ooo
						if j := min(len(rs)-1, i+rng.IntN(4)); rs[j].ts-rs[i].ts <= ooo {
							rs[i], rs[j] = rs[j], rs[i]
						}
					}
				}
			}
			var want []string
			matched := map[int64]bool{}
			byKey := map[int64][]row{}
			for _, b := range all {
				if b.s == 1 {
					byKey[b.k] = append(byKey[b.k], b)
				}
			}
			for _, a := range all {
				for _, b := range byKey[a.k] {
					if a.s == 0 && b.ts-a.ts >= lo && b.ts-a.ts <= hi {
						want = append(want, fmt.Sprintf("%d,%d", a.v, b.v))
						matched[a.v], matched[b.v] = true, true
					}
				}
			}
			for _, r := range all {
				if !matched[r.v] {
					if r.s == 0 {
						want = append(want, fmt.Sprintf("%d,NULL", r.v))
					} else {
						want = append(want, fmt.Sprintf("NULL,%d", r.v))
					}
				}
			}
			pl := prog.NewPipeline()
			out := &rows{}
			var pos [2][parts]int
			var maxEvent [2][parts]int64
			wm := int64(math.MinInt64)
			for done := 0; done < len(all); {
				s, p := rng.IntN(2), rng.IntN(parts)
				n := min(1+rng.IntN(60), len(in[s][p])-pos[s][p])
				if n == 0 {
					continue
				}
				batch := make([]record.Record, n)
				for i := range batch {
					r := in[s][p][pos[s][p]+i]
					vals := make([]record.Value, sides[s].Width)
					vals[sides[s].Offset] = record.IntValue(r.k)
					vals[sides[s].Offset+1] = record.IntValue(r.ts)
					vals[sides[s].Offset+2] = record.IntValue(r.v)
					vals[sides[s].Slot] = record.IntValue(int64(s))
					batch[i] = record.Record{Values: vals, Timestamp: r.ts, Partition: int32(p), Offset: r.off, Topic: "ab"[s : s+1]}
					maxEvent[s][p] = max(maxEvent[s][p], r.ts)
				}
				pos[s][p] += n
				done += n
				pl.Process(batch, out)
				// the watermark: the lowest over partitions not ended
				low := int64(math.MaxInt64)
				for s := range 2 {
					for p := range parts {
						if pos[s][p] < len(in[s][p]) {
							low = min(low, maxEvent[s][p]-ooo)
						}
					}
				}
				if low != math.MaxInt64 && low > wm && rng.IntN(3) == 0 {
					wm = low
					pl.Advance(wm, out)
					checkHeld(t, pl, func(fn func(topic string, p int32, off int64)) {
						// a row is held until the watermark passes its done time
						for s := range 2 {
							for p := range parts {
								m := int64(-1)
								for _, r := range in[s][p][:pos[s][p]] {
									done := r.ts + hi
									if s == 1 {
										done = r.ts - lo
									}
									if done >= wm && (m < 0 || r.off < m) {
										m = r.off
									}
								}
								if m >= 0 {
									fn("ab"[s:s+1], int32(p), m)
								}
							}
						}
					})
				}
			}
			pl.Finish(out)
			if len(out.dead) > 0 {
				t.Fatalf("dead letters: %v", out.dead)
			}
			slices.Sort(out.out)
			slices.Sort(want)
			if !slices.Equal(out.out, want) {
				t.Fatalf("%d rows, the nested loop %d\n got %.400v\nwant %.400v", len(out.out), len(want), out.out, want)
			}
			if n := pl.StateRows(); n != 0 {
				t.Errorf("%d rows kept after the end", n)
			}
		})
	}
}

// checkHeld compares the offsets a pipeline reports held with want's.
func checkHeld(t *testing.T, pl *Pipeline, want func(fn func(topic string, p int32, off int64))) {
	t.Helper()
	collect := func(held func(fn func(topic string, p int32, off int64))) []string {
		var out []string
		held(func(topic string, p int32, off int64) { out = append(out, fmt.Sprintf("%s/%d@%d", topic, p, off)) })
		slices.Sort(out)
		return out
	}
	if got, w := collect(pl.Held), collect(want); !slices.Equal(got, w) {
		t.Fatalf("held %v, want %v", got, w)
	}
}

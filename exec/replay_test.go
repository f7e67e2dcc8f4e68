package exec

import (
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
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
	for _, window := range []string{
		"TUMBLING(INTERVAL '100' MILLISECONDS)",
		"SLIDING(INTERVAL '300' MILLISECONDS, INTERVAL '100' MILLISECONDS)",
		"SLIDING(INTERVAL '250' MILLISECONDS, INTERVAL '50' MILLISECONDS)",
	} {
		t.Run(window, func(t *testing.T) {
			prog := compileSQL(t, "SELECT k, _WINDOW_START AS ws, COUNT(*) AS n, SUM(v) AS s FROM rp GROUP BY k WINDOW "+window+" EMIT FINAL",
				Options{ExternalWatermark: true}, "k", "v")
			p := newReplayPartition(uint64(len(window)), false)
			want := sortedSet(p.oneRun(prog).rows)
			for round := range 20 {
				if got := sortedSet(p.generations(prog).rows); !slices.Equal(got, want) {
					t.Fatalf("round %d: %d distinct rows, one run %d: extra %v, missing %v", round, len(got), len(want), setMinus(got, want), setMinus(want, got))
				}
			}
		})
	}
}

// replayPartition is a repartition topic's partition: a few keys,
// disordered within ooo, each record carrying the watermark before it
// (none is late, unless late: then about one in 40 is, by up to 300 ms).
type replayPartition struct {
	rng     *rand.Rand
	ts, wms []int64
}

func newReplayPartition(seed uint64, late bool) *replayPartition {
	const n, ooo = 3000, 200
	p := &replayPartition{rng: rand.New(rand.NewPCG(11, seed)), ts: make([]int64, n), wms: make([]int64, n+1)}
	now := int64(0)
	for i := range p.ts {
		now += p.rng.Int64N(25)
		p.ts[i] = now
	}
	for i := range p.ts {
		if j := min(n-1, i+p.rng.IntN(6)); p.ts[j]-p.ts[i] <= ooo {
			p.ts[i], p.ts[j] = p.ts[j], p.ts[i]
		}
	}
	high := int64(math.MinInt64)
	for i := range p.ts {
		p.wms[i] = high
		if late && i > 100 && p.rng.IntN(40) == 0 {
			p.ts[i] = high - 1 - p.rng.Int64N(300)
			continue
		}
		p.ts[i] = max(p.ts[i], high)
		high = max(high, p.ts[i]-ooo)
	}
	p.wms[n] = high
	return p
}

func (p *replayPartition) rec(i int) record.Record {
	return record.Record{Values: []record.Value{record.IntValue(int64(i % 7)), record.IntValue(int64(i))},
		Timestamp: p.ts[i], Watermark: p.wms[i], Topic: "rp", Offset: int64(i)}
}

// run reads records [from, to) in random batches, moving the watermark as
// the partition's reports would; skip drops a replayed record.
func (p *replayPartition) run(pl *Pipeline, out *collector, from, to int, skip func(*record.Record) bool) int64 {
	wm := int64(math.MinInt64)
	for i := from; i < to; {
		var batch []record.Record
		for end := min(to, i+1+p.rng.IntN(40)); i < end; i++ {
			if r := p.rec(i); skip == nil || !skip(&r) {
				batch = append(batch, r)
			}
		}
		pl.Process(batch, out)
		if w := p.wms[i]; w > wm && p.rng.IntN(3) > 0 {
			wm = w
			pl.Advance(wm, out)
		}
	}
	return wm
}

// replayed is what a run writes: its rows in order and the offsets of
// the records it dead-letters.
type replayed struct {
	rows []string
	dead []int64
}

// oneRun returns what prog writes over the whole partition in one run.
func (p *replayPartition) oneRun(prog *Program) replayed {
	out := &collector{}
	pl := prog.NewPipeline()
	p.run(pl, out, 0, len(p.ts), nil)
	pl.Finish(out)
	return replayed{rows: out.texts(), dead: deadOffsets(out)}
}

// deadOffsets returns the offsets of the records out dead-lettered.
func deadOffsets(out *collector) []int64 {
	var offs []int64
	for _, r := range out.deadRec {
		offs = append(offs, r.Offset)
	}
	return offs
}

// generations returns what prog writes over the partition read by
// generations, in order. A record read again before the fence that
// Replayed keeps is marked Replay, as the topic's reader marks it.
func (p *replayPartition) generations(prog *Program) replayed {
	n := len(p.ts)
	var all replayed
	from, fenceTo, fenceWM := 0, int64(0), int64(math.MinInt64)
	for gen := 0; ; gen++ {
		out := &collector{}
		fto, fwm := fenceTo, fenceWM
		pl := prog.NewPipeline()
		to := from + p.rng.IntN(n/3)
		if gen == 4 || to >= n {
			to = n
		}
		wm := p.run(pl, out, from, to, func(r *record.Record) bool {
			if r.Offset >= fto {
				return false
			}
			r.Replay = true
			return prog.Replayed(r, fwm)
		})
		if to == n {
			pl.Finish(out)
		}
		all.rows = append(all.rows, out.texts()...)
		all.dead = append(all.dead, deadOffsets(out)...)
		if to == n {
			return all
		}
		held := int64(to)
		pl.Held(func(_ string, _ int32, off int64) { held = min(held, off) })
		from = max(from, int(held))
		fenceTo, fenceWM = max(int64(to), fenceTo), max(wm, fenceWM)
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

// TestRepartitionReplayUpdatesEndAtTheOneRunRows runs GROUP BYs with EMIT
// CHANGES over a repartition topic's partition as one run and as
// generations, as TestRepartitionReplayWritesTheOneRunRows does, with
// HoldChanges as stage 2 sets it: a replay may write updates again, but
// the last update of each group (and window) is the one run's, never one
// counted from the records after a commit only.
func TestRepartitionReplayUpdatesEndAtTheOneRunRows(t *testing.T) {
	for _, q := range []string{
		"SELECT k, COUNT(*) AS n, SUM(v) AS s FROM rp GROUP BY k EMIT CHANGES",
		"SELECT k, _WINDOW_START AS ws, COUNT(*) AS n, SUM(v) AS s FROM rp GROUP BY k WINDOW TUMBLING(INTERVAL '100' MILLISECONDS) EMIT CHANGES",
		"SELECT k, _WINDOW_START AS ws, COUNT(*) AS n, SUM(v) AS s FROM rp GROUP BY k WINDOW SLIDING(INTERVAL '300' MILLISECONDS, INTERVAL '100' MILLISECONDS) EMIT CHANGES",
	} {
		t.Run(q, func(t *testing.T) {
			prog := compileSQL(t, q, Options{ExternalWatermark: true}, "k", "v")
			prog.HoldChanges()
			windowed := strings.Contains(q, "WINDOW ")
			// last returns the last row of each group: a session's key is
			// its start and key, as it grows at its end
			last := func(rows []string) []string {
				m := map[string]string{}
				for _, r := range rows {
					f := strings.Split(r, "|")
					k := f[0]
					if windowed {
						k += "|" + f[1]
					}
					m[k] = r
				}
				return sortedSet(slices.Collect(maps.Values(m)))
			}
			p := newReplayPartition(uint64(len(q)), false)
			want := last(p.oneRun(prog).rows)
			for round := range 10 {
				if got := last(p.generations(prog).rows); !slices.Equal(got, want) {
					t.Fatalf("round %d: last updates differ from the one run's: extra %v, missing %v", round, setMinus(got, want), setMinus(want, got))
				}
			}
		})
	}
}

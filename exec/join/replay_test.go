package join

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// TestOuterReplayWritesTheOneRunRows runs outer interval joins, and
// windows after inner ones, over one partition holding the rows of both
// inputs (a repartition topic's), as one run and as generations that each
// stop at a random point and commit what a job commits (the smallest
// offset held, the read offset and the watermark); the next generation
// replays from that offset with a fresh state, skipping and settling the
// rows stage 2 says, with the checkpoints joined as the repartition topic
// joins them. The rows the generations write together are exactly the one
// run's: none missing, no row with NULLs for a row that matched, no window
// with part of its rows.
func TestOuterReplayWritesTheOneRunRows(t *testing.T) {
	const ooo = 200
	const windows = "SELECT a.k, _WINDOW_START AS ws, COUNT(*) AS n, SUM(b.w) AS s FROM a "
	for _, tt := range []struct{ sel, join, bound, after string }{
		{"", "LEFT JOIN", "WITHIN INTERVAL '500' MILLISECONDS", ""},
		{"", "RIGHT JOIN", "AND b.ts BETWEEN a.ts - INTERVAL '300' MILLISECONDS AND a.ts + INTERVAL '700' MILLISECONDS", ""},
		{"", "FULL JOIN", "AND b.ts BETWEEN a.ts - INTERVAL '300' MILLISECONDS AND a.ts + INTERVAL '700' MILLISECONDS", ""},
		{"", "FULL JOIN", "AND b.ts BETWEEN a.ts + INTERVAL '100' MILLISECONDS AND a.ts + INTERVAL '600' MILLISECONDS", ""},
		{"", "FULL JOIN", "AND a.ts BETWEEN b.ts + INTERVAL '100' MILLISECONDS AND b.ts + INTERVAL '600' MILLISECONDS", ""},
		// windows after an inner join: each written whole, or not again
		{windows, "JOIN", "WITHIN INTERVAL '500' MILLISECONDS", " GROUP BY a.k WINDOW TUMBLING(INTERVAL '100' MILLISECONDS) EMIT FINAL"},
		{windows, "JOIN", "AND b.ts BETWEEN a.ts - INTERVAL '300' MILLISECONDS AND a.ts + INTERVAL '700' MILLISECONDS", " GROUP BY a.k WINDOW SLIDING(INTERVAL '300' MILLISECONDS, INTERVAL '100' MILLISECONDS) EMIT FINAL"},
		// and after outer joins, with their rows with NULLs
		{windows, "LEFT JOIN", "WITHIN INTERVAL '500' MILLISECONDS", " GROUP BY a.k WINDOW TUMBLING(INTERVAL '100' MILLISECONDS) EMIT FINAL"},
		{"SELECT b.k, _WINDOW_START AS ws, COUNT(*) AS n, COUNT(a.v) AS matched FROM a ", "FULL JOIN", "AND b.ts BETWEEN a.ts - INTERVAL '300' MILLISECONDS AND a.ts + INTERVAL '700' MILLISECONDS",
			" GROUP BY b.k WINDOW SLIDING(INTERVAL '300' MILLISECONDS, INTERVAL '100' MILLISECONDS) EMIT FINAL"},
	} {
		if tt.sel == "" {
			tt.sel = "SELECT a.v, b.w FROM a "
		}
		t.Run(tt.join+" "+tt.bound+tt.after, func(t *testing.T) {
			stmts, err := sql.Parse("q", tt.sel+tt.join+" b ON a.k = b.k "+tt.bound+tt.after)
			if err != nil {
				t.Fatal(err)
			}
			prog, err := Compile(stmts[0].Select(), Options{Inputs: []Input{
				{Name: "a", Schema: record.NewSchema("k", "ts", "v")}, {Name: "b", Schema: record.NewSchema("k", "ts", "w")}}})
			if err != nil {
				t.Fatal(err)
			}
			sides := prog.Sides()
			rng := rand.New(rand.NewPCG(7, uint64(len(tt.bound))))
			// the partition: both inputs interleaved about in time order,
			// disordered within ooo, a few keys so that rows meet often
			const n = 3000
			type row struct{ s, k, ts, v int64 }
			data := make([]row, n)
			ts := int64(0)
			for i := range data {
				ts += rng.Int64N(25)
				data[i] = row{s: rng.Int64N(2), k: rng.Int64N(12), ts: ts, v: int64(i)}
			}
			for i := range data {
				if j := min(n-1, i+rng.IntN(6)); data[j].ts-data[i].ts <= ooo {
					data[i], data[j] = data[j], data[i]
				}
			}
			// wms[i] is the watermark before row i: the highest time before it
			// less ooo, which no row is behind (none is late)
			wms := make([]int64, n+1)
			high := int64(math.MinInt64)
			for i := range data {
				data[i].ts = max(data[i].ts, high)
				wms[i] = high
				high = max(high, data[i].ts-ooo)
			}
			wms[n] = high
			rec := func(i int) record.Record {
				r := data[i]
				vals := make([]record.Value, sides[r.s].Width)
				vals[sides[r.s].Offset] = record.IntValue(r.k)
				vals[sides[r.s].Offset+1] = record.IntValue(r.ts)
				vals[sides[r.s].Offset+2] = record.IntValue(r.v)
				vals[sides[r.s].Slot] = record.IntValue(r.s)
				return record.Record{Values: vals, Timestamp: r.ts, Topic: "rp", Offset: int64(i)}
			}
			// run reads rows [from, to) into pl in random batches, moving the
			// watermark as the partition's reports would; fence says what a
			// replayed row does (nil: nothing is replayed)
			run := func(pl *Pipeline, out *rows, from, to int, fence func(*record.Record) bool) int64 {
				wm := int64(math.MinInt64)
				for i := from; i < to; {
					var batch []record.Record
					for end := min(to, i+1+rng.IntN(40)); i < end; i++ {
						r := rec(i)
						if fence != nil && fence(&r) {
							continue
						}
						batch = append(batch, r)
					}
					pl.Process(batch, out)
					if w := wms[i]; w > wm && rng.IntN(3) > 0 {
						wm = w
						pl.Advance(wm, out)
					}
				}
				return wm
			}
			one := &rows{}
			pl := prog.NewPipeline()
			run(pl, one, 0, n, nil)
			pl.Finish(one)
			want := distinct(one.out)
			if tt.after == "" && !slices.ContainsFunc(want, func(s string) bool { return len(s) > 4 && (s[:4] == "NULL" || s[len(s)-4:] == "NULL") }) {
				t.Fatal("no row with NULLs: the test checks little")
			}
			// what a replayed record before the fence does, as stage 2 decides
			// it (runner's repartitionJoin)
			replayed := func(r *record.Record, wm int64) bool {
				if prog.Outer() && tt.after == "" {
					return prog.Replayed(r, wm)
				}
				et, ok := prog.EventTime(r)
				return ok && wm > math.MinInt64+prog.Lag() && prog.Program.Fired(et+prog.Reach(), wm-prog.Lag())
			}
			for round := range 20 {
				var all []string
				from, fenceTo, fenceWM := 0, int64(0), int64(math.MinInt64)
				for gen := 0; ; gen++ {
					out := &rows{}
					fto, fwm := fenceTo, fenceWM
					prog.SetReplayFences(func(int32) (int64, bool) { return fwm, fwm != math.MinInt64 })
					pl := prog.NewPipeline()
					to, end := from+rng.IntN(n/3), gen == 4
					if end || to >= n {
						to = n
					}
					wm := run(pl, out, from, to, func(r *record.Record) bool {
						return r.Offset < fto && replayed(r, fwm)
					})
					if to == n {
						pl.Finish(out)
						all = append(all, out.out...)
						break
					}
					// the commit: the smallest offset held, and the fence
					// joined with the one this generation resumed from
					all = append(all, out.out...)
					held := int64(to)
					pl.Held(func(_ string, _ int32, off int64) { held = min(held, off) })
					from = max(from, int(held))
					fenceTo, fenceWM = max(int64(to), fenceTo), max(wm, fenceWM)
				}
				if got := distinct(all); !slices.Equal(got, want) {
					t.Fatalf("round %d: %d distinct rows, one run %d: extra %v, missing %v", round, len(got), len(want), minus(got, want), minus(want, got))
				}
			}
		})
	}
}

// distinct returns the rows sorted, each once.
func distinct(rows []string) []string {
	out := slices.Clone(rows)
	slices.Sort(out)
	return slices.Compact(out)
}

// minus returns the rows of a (sorted) that are not in b (sorted).
func minus(a, b []string) []string {
	var out []string
	for _, r := range a {
		if _, ok := slices.BinarySearch(b, r); !ok {
			out = append(out, r)
		}
	}
	return out
}

package join

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/internal/replaytest"
	"github.com/sluicesql/sluice/record"
)

// exchangeReader keeps the joined rows stage 2 writes to an exchange
// topic as stage 3 reads them: a row is a copy when its identity (the
// offset of the record that made it and its sub-position, one past its
// Sub) is not after the last one kept of its partition, or when
// the record that made it is before the offset stage 2 committed.
type exchangeReader struct {
	kept      []string
	dropped   int
	last      [2]int64
	committed int64
	// limit, when not negative, is how many more rows reach the topic
	// (a process killed with the rest of its output unwritten)
	limit int
}

func (x *exchangeReader) Emit(recs []record.Record) {
	for _, r := range recs {
		if x.limit == 0 {
			return
		}
		x.limit--
		id := [2]int64{r.Offset, r.Sub + 1}
		if r.Offset < x.committed || slices.Compare(id[:], x.last[:]) <= 0 {
			x.dropped++
			continue
		}
		x.last = id
		var vals []string
		for _, v := range r.Values {
			vals = append(vals, v.String())
		}
		x.kept = append(x.kept, fmt.Sprintf("%d/%d@%d:%s", id[0], id[1], r.EventTime, strings.Join(vals, ",")))
	}
}

func (x *exchangeReader) DeadLetter(*record.Record, error) {}

// writeRowsInput is newReplayInput with its join writing its rows (stage
// 2 before an exchange topic), each record carrying its partition's
// watermark.
func writeRowsInput(t *testing.T, stmt string, n int, keys int64, rng *rand.Rand) (*replayInput, replaytest.Reader) {
	t.Helper()
	in := newReplayInput(t, stmt, n, keys, rng)
	if err := in.prog.WriteRows(); err != nil {
		t.Fatal(err)
	}
	r := replaytest.Reader{Rec: func(i int) record.Record {
		rec := in.rec(i)
		rec.Watermark = in.wms[i]
		return rec
	}, WMs: in.wms}
	return in, r
}

// writeGeneration runs a stage-2 generation that resumes from the offset
// from and reads to offset to, then commits (its output written whole)
// and reads on to offset past, where it is killed with only limit of the
// rows it made since the commit written (all of them when limit < 0). It
// returns the offset it committed, or n once it read the whole input and
// finished.
func writeGeneration(in *replayInput, r replaytest.Reader, x *exchangeReader, from, to, past, limit int, batch func() int, advance func() bool) int {
	pl := in.prog.NewPipeline()
	r.Batch, r.Advance = batch, advance
	x.committed, x.limit = int64(from), -1
	replaytest.Run[exec.Output](r, pl, x, from, to, nil)
	n := len(in.data)
	if to == n {
		pl.Finish(x)
		return n
	}
	held := int64(to)
	pl.Held(func(_ string, _ int32, off int64) { held = min(held, off) })
	x.limit = limit
	replaytest.Run[exec.Output](r, pl, x, to, past, nil)
	return int(held)
}

// writeRowsCases are outer joins with both sides' bounds.
var writeRowsCases = []struct{ join, bound string }{
	{"LEFT JOIN", "WITHIN INTERVAL '500' MILLISECONDS"},
	{"RIGHT JOIN", "AND b.ts BETWEEN a.ts - INTERVAL '300' MILLISECONDS AND a.ts + INTERVAL '700' MILLISECONDS"},
	{"FULL JOIN", "AND b.ts BETWEEN a.ts - INTERVAL '300' MILLISECONDS AND a.ts + INTERVAL '700' MILLISECONDS"},
	{"FULL JOIN", "AND b.ts BETWEEN a.ts + INTERVAL '100' MILLISECONDS AND a.ts + INTERVAL '600' MILLISECONDS"},
	{"FULL JOIN", "AND a.ts BETWEEN b.ts + INTERVAL '100' MILLISECONDS AND b.ts + INTERVAL '600' MILLISECONDS"},
}

// TestWrittenOuterRowsReplay runs outer interval joins that write their
// rows (stage 2 before an exchange topic) over one partition holding both
// inputs, as one run and as generations that each commit where a job
// commits (the smallest offset held), read on, and are killed with part
// of what they wrote since; the next replays from the commit with a fresh
// state. Read as stage 3 reads them (dropping a row whose identity is not
// after the last kept), the generations write exactly the one run's rows
// with NULLs and pairs, with the same identities, in the same order.
func TestWrittenOuterRowsReplay(t *testing.T) {
	for _, tt := range writeRowsCases {
		t.Run(tt.join+" "+tt.bound, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, uint64(len(tt.bound))))
			const n = 3000
			in, r := writeRowsInput(t, "SELECT a.v, b.w FROM a "+tt.join+" b ON a.k = b.k "+tt.bound, n, 12, rng)
			one, always := func() int { return 1 }, func() bool { return true }
			want := &exchangeReader{}
			if writeGeneration(in, r, want, 0, n, n, -1, one, always); !slices.ContainsFunc(want.kept, func(s string) bool { return strings.Contains(s, "NULL") }) {
				t.Fatal("no row with NULLs: the test checks little")
			}
			if want.dropped > 0 {
				t.Fatalf("one run: a reader drops %d of its rows as copies: their identities do not rise", want.dropped)
			}
			for round := range 12 {
				got := &exchangeReader{}
				for from, gen := 0, 0; from < n; gen++ {
					to := min(n, from+rng.IntN(n/3))
					if gen == 6 {
						to = n
					}
					past := min(n, to+rng.IntN(200))
					from = writeGeneration(in, r, got, from, to, past, rng.IntN(60), func() int { return 1 + rng.IntN(40) }, func() bool { return rng.IntN(3) > 0 })
				}
				if !slices.Equal(got.kept, want.kept) {
					t.Fatalf("round %d: %d rows kept, one run %d; first difference at %d", round, len(got.kept), len(want.kept), firstDiff(got.kept, want.kept))
				}
			}
		})
	}
}

// TestWrittenOuterRowsReplayAtEveryPoint commits after every row of a
// small input with few keys and kills the generation at once: among those
// points are all where a row of an outer side that matched an earlier one
// is after the commit point and its match before it (a replay reading it
// alone would write it with NULLs). Each time the two generations write
// exactly the one run's rows.
func TestWrittenOuterRowsReplayAtEveryPoint(t *testing.T) {
	for _, tt := range writeRowsCases {
		t.Run(tt.join+" "+tt.bound, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(13, uint64(len(tt.bound))))
			const n = 150
			in, r := writeRowsInput(t, "SELECT a.v, b.w FROM a "+tt.join+" b ON a.k = b.k "+tt.bound, n, 3, rng)
			one, always := func() int { return 1 }, func() bool { return true }
			want := &exchangeReader{}
			if writeGeneration(in, r, want, 0, n, n, -1, one, always); want.dropped > 0 {
				t.Fatalf("one run: a reader drops %d of its rows as copies: their identities do not rise", want.dropped)
			}
			for kill := range n {
				got := &exchangeReader{}
				from := writeGeneration(in, r, got, 0, kill, kill, 0, one, always)
				writeGeneration(in, r, got, from, n, n, -1, one, always)
				if !slices.Equal(got.kept, want.kept) {
					t.Fatalf("stopped after %d rows, resumed from %d: %d rows kept, one run %d; first difference at %d", kill, from, len(got.kept), len(want.kept), firstDiff(got.kept, want.kept))
				}
			}
		})
	}
}

// firstDiff returns the index of the first row where a and b differ.
func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if cmp.Compare(a[i], b[i]) != 0 {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestWrittenOuterRowMatchedBeforeTheCommit: an outer row dropped as
// matched holds the commit at the row it matched while a row between them
// is still buffered. Offsets: 0 a payment of key 1 (the match), 1 an
// order of key 2 that stays unmatched and buffered longest, 2 an order
// of key 1 that matches 0, 3 an order whose watermark drops 0 and 2, 4 the
// last, whose watermark writes 3 with NULLs before the end writes 1 and 4
// so. A commit after 3 at 1 would make the replay read order 2 without
// its match and write it with NULLs at record 3, which one run never
// writes; the rows the end writes follow the last record's, whatever
// their offsets.
func TestWrittenOuterRowMatchedBeforeTheCommit(t *testing.T) {
	prog := compileAB(t, "SELECT a.v, b.w FROM a LEFT JOIN b ON a.k = b.k WITHIN INTERVAL '500' MILLISECONDS")
	if err := prog.WriteRows(); err != nil {
		t.Fatal(err)
	}
	in := &replayInput{prog: prog, data: []replayRow{{s: 1, k: 1, ts: 0, v: 10}, {s: 0, k: 2, ts: 300, v: 11}, {s: 0, k: 1, ts: 100, v: 12}, {s: 0, k: 3, ts: 200, v: 13}, {s: 0, k: 4, ts: 1000, v: 14}},
		wms: []int64{math.MinInt64, 0, 100, 700, 750, 800}}
	r := replaytest.Reader{Rec: func(i int) record.Record {
		rec := in.rec(i)
		rec.Watermark = in.wms[i]
		return rec
	}, WMs: in.wms}
	one, always := func() int { return 1 }, func() bool { return true }
	want := &exchangeReader{}
	if writeGeneration(in, r, want, 0, 5, 5, -1, one, always); want.dropped > 0 || len(want.kept) != 4 {
		t.Fatalf("one run: a reader keeps %d rows and drops %d as copies, want 4 and none:\n%s", len(want.kept), want.dropped, strings.Join(want.kept, "\n"))
	}
	// after record 3, orders 1 and 3 may still be written with NULLs:
	// the watermark stage 2 reports stays at the earlier time, 3's
	pl := prog.NewPipeline()
	replaytest.Run[exec.Output](replaytest.Reader{Rec: r.Rec, WMs: r.WMs, Batch: one, Advance: always}, pl, &exchangeReader{limit: -1}, 0, 4, nil)
	var pending []int64
	pl.Pending(func(_ string, _ int32, et int64) { pending = append(pending, et) })
	if !slices.Equal(pending, []int64{200}) {
		t.Errorf("pending event times %v after record 3, want [200] (order 3's)", pending)
	}
	got := &exchangeReader{}
	from := writeGeneration(in, r, got, 0, 4, 4, 0, one, always)
	writeGeneration(in, r, got, from, 5, 5, -1, one, always)
	if !slices.Equal(got.kept, want.kept) {
		t.Errorf("resumed from %d: rows kept\n%s\none run's\n%s", from, strings.Join(got.kept, "\n"), strings.Join(want.kept, "\n"))
	}
}

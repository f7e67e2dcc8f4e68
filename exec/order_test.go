package exec

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// TestStatelessOrderByLimitIsGlobal: a query without aggregation sorts its
// whole bounded input, across every Process call, and LIMIT keeps the top
// rows of that order, not the first rows to arrive.
func TestStatelessOrderByLimitIsGlobal(t *testing.T) {
	for _, tt := range []struct {
		query string
		n     int
		desc  bool
	}{
		{"SELECT id, v FROM t WHERE v >= 0 ORDER BY v DESC, id LIMIT 5", 5, true},
		{"SELECT id, v FROM t ORDER BY v, id LIMIT 3", 3, false},
		{"SELECT id, v FROM t ORDER BY v, id", 5000, false},
	} {
		stmts, err := sql.Parse("q.sql", tt.query)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Compile(stmts[0].Select(), Options{Schema: record.NewSchema("id", "v")})
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		var all [][2]int64
		pl, out := p.NewPipeline(), &collector{}
		for batch := 0; batch < 50; batch++ {
			var rs [][]any
			for i := 0; i < 100; i++ {
				id, v := int64(batch*100+i), rng.Int64N(1000)
				all = append(all, [2]int64{id, v})
				rs = append(rs, []any{id, v})
			}
			pl.Process(recs(rs...), out)
		}
		if len(out.rows) != 0 {
			t.Fatalf("%s: %d rows emitted before the end of input", tt.query, len(out.rows))
		}
		pl.Finish(out)
		slices.SortFunc(all, func(a, b [2]int64) int {
			if a[1] != b[1] {
				if tt.desc {
					return int(b[1] - a[1])
				}
				return int(a[1] - b[1])
			}
			return int(a[0] - b[0])
		})
		var want []string
		for _, r := range all[:tt.n] {
			want = append(want, strconv.FormatInt(r[0], 10)+"|"+strconv.FormatInt(r[1], 10))
		}
		if got := out.texts(); !slices.Equal(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", tt.query, strings.Join(got[:min(len(got), 8)], " "), strings.Join(want[:min(len(want), 8)], " "))
		}
		if s := pl.Stats(); s.In != 5000 || s.In != s.Accepted+s.Filtered+s.Limited+s.DeadLettered+s.LateDropped {
			t.Errorf("%s: stats %+v do not balance", tt.query, s)
		}
	}
}

// TestSortedRowsHoldTheirOffsets: a query that sorts its whole input keeps
// rows until Finish, so Held reports the smallest offset among the rows it
// still keeps (rows that LIMIT pruned are done), per source partition.
func TestSortedRowsHoldTheirOffsets(t *testing.T) {
	stmts, err := sql.Parse("q.sql", "SELECT symbol, qty FROM t ORDER BY qty DESC LIMIT 2")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(stmts[0].Select(), Options{Schema: record.NewSchema("symbol", "price", "qty", "ts")})
	if err != nil {
		t.Fatal(err)
	}
	data := recs(
		[]any{"A", dec("1.0"), 9, 0}, // offset 0: kept
		[]any{"B", dec("1.0"), 1, 0}, // offset 1: pruned
		[]any{"C", dec("1.0"), 2, 0}, // offset 2: pruned
		[]any{"D", dec("1.0"), 7, 0}, // offset 3: kept
	)
	pl := p.NewPipeline()
	var out collector
	held := func() map[int32]int64 {
		h := map[int32]int64{}
		pl.Held(func(_ string, partition int32, off int64) { h[partition] = off })
		return h
	}
	pl.Process(data[1:], &out)
	// offset 2 is the smallest kept; offset 1 may still be there until the
	// rows are pruned
	if h := held(); len(h) != 1 || h[0] < 1 || h[0] > 2 {
		t.Fatalf("after offsets 1-3: held %v, want partition 0 at 1 or 2", h)
	}
	pl.Process(data[:1], &out)
	if h := held(); h[0] != 0 {
		t.Fatalf("after offset 0: held %v, want partition 0 at 0", h)
	}
	pl.Finish(&out)
	if h := held(); len(h) != 0 || len(out.rows) != 2 {
		t.Fatalf("after Finish: held %v and %d rows, want nothing held and 2 rows", h, len(out.rows))
	}
}

// An ORDER BY naming no output column is an error at that column, listing
// the output columns, with one position (it was printed twice).
func TestOrderByUnknownColumn(t *testing.T) {
	stmts, err := sql.Parse("q.sql", "SELECT k, COUNT(*) AS n FROM t GROUP BY k ORDER BY UPPER(v)")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Compile(stmts[0].Select(), Options{Schema: record.NewSchema("k", "v")})
	want := `1:58: ORDER BY must refer to output columns (k, n): unknown column "v"; v is an input column: add it to the select list to order by it`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

// A HAVING name that is no column at all is an unknown column (with a
// hint), not one "that must appear in GROUP BY".
func TestHavingUnknownColumn(t *testing.T) {
	stmts, err := sql.Parse("q.sql", "SELECT k, COUNT(*) AS cnt FROM t GROUP BY k HAVING cnnt > 1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Compile(stmts[0].Select(), Options{Schema: record.NewSchema("k", "v")})
	want := `1:52: unknown column "cnnt"; did you mean "cnt"?`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

// An ORDER BY ... LIMIT of an aggregate keeps the same rows on every run
// only when its rows are sorted once (EMIT FINAL without a window) or its
// emissions come in the ORDER BY's order (windows, ORDER BY led by their
// bound): otherwise it is refused before running.
func TestLimitOfSortedEmissions(t *testing.T) {
	refused := []struct{ src, want string }{
		{"SELECT k, COUNT(*) AS n FROM t GROUP BY k ORDER BY n DESC LIMIT 3",
			"1:59: ORDER BY ... LIMIT 3 under EMIT CHANGES keeps the first 3 rows written, and each emission sorts only the groups that changed since the one before, " +
				"so which rows those are depends on how the input was batched: use EMIT FINAL (the rows sorted once, at the end of the input)"},
		{"SELECT k, _WINDOW_START AS ws, COUNT(*) AS n FROM t GROUP BY k WINDOW TUMBLING(ts, 1m) ORDER BY n DESC LIMIT 2",
			"ORDER BY ... LIMIT 2 over windows sorts the rows of the windows that each step of the watermark closes, and keeps the first 2 written, " +
				"so which rows those are depends on how far the watermark moved at each step: lead the ORDER BY with _WINDOW_START or _WINDOW_END, ascending"},
		{"SELECT k, _WINDOW_START AS ws, COUNT(*) AS n FROM t GROUP BY k WINDOW TUMBLING(ts, 1m) ORDER BY ws DESC LIMIT 2", "lead the ORDER BY with _WINDOW_START or _WINDOW_END, ascending"},
		{"SELECT k, _WINDOW_START AS ws, COUNT(*) AS n FROM t GROUP BY k WINDOW SESSION(ts, 1m) ORDER BY ws LIMIT 2", "lead the ORDER BY with _WINDOW_END, ascending"},
		{"SELECT k, _WINDOW_START AS ws, COUNT(*) AS n FROM t GROUP BY k WINDOW TUMBLING(ts, 1m) ORDER BY ws LIMIT 2 EMIT CHANGES",
			"use EMIT FINAL (the rows sorted once, each window's when it closes, with ORDER BY _WINDOW_START or _WINDOW_END first)"},
	}
	for _, tt := range refused {
		_, err := compileSQLErr(tt.src, Options{}, "k", "v", "ts")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s:\ngot  %v\nwant %q", tt.src, err, tt.want)
		}
	}
	for _, src := range []string{
		"SELECT k, COUNT(*) AS n FROM t GROUP BY k ORDER BY n DESC LIMIT 3 EMIT FINAL",
		"SELECT k, _WINDOW_START AS ws, COUNT(*) AS n FROM t GROUP BY k WINDOW TUMBLING(ts, 1m) ORDER BY ws, n DESC LIMIT 2",
		"SELECT k, _WINDOW_END, COUNT(*) AS n FROM t GROUP BY k WINDOW SESSION(ts, 1m) ORDER BY 2, n DESC LIMIT 2",
		"SELECT k, COUNT(*) AS n FROM t GROUP BY k LIMIT 3",
		"SELECT k, COUNT(*) AS n FROM t GROUP BY k ORDER BY n DESC",
		"SELECT k, v FROM t ORDER BY v DESC LIMIT 3",
	} {
		if _, err := compileSQLErr(src, Options{}, "k", "v", "ts"); err != nil {
			t.Errorf("%s: %v", src, err)
		}
	}
}

package exec

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// compileSQL parses and compiles one statement over the given columns.
func compileSQL(t *testing.T, src string, opts Options, cols ...string) *Program {
	t.Helper()
	p, err := compileSQLErr(src, opts, cols...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func compileSQLErr(src string, opts Options, cols ...string) (*Program, error) {
	stmts, err := sql.Parse("q.sql", src)
	if err != nil {
		return nil, err
	}
	opts.Schema = record.NewSchema(cols...)
	return Compile(stmts[0].Select(), opts)
}

// runEach runs recs one record per Process call, then Finish.
func runEach(p *Program, data []record.Record) *collector {
	pl := p.NewPipeline()
	var c collector
	for i := range data {
		pl.Process(data[i:i+1], &c)
	}
	pl.Finish(&c)
	return &c
}

// symbolPrices are (symbol, price, ts, v) rows out of event-time order.
func symbolPrices() []record.Record {
	data := recs(
		[]any{"A", 5, 3000, 1},
		[]any{"B", 7, 1000, 2},
		[]any{"A", 9, 1000, 3},
		[]any{"A", 1, 2000, 4},
		[]any{"B", 3, 4000, 5},
		[]any{"A", 9, 5000, 6},
		[]any{"B", 8, 6000, 7},
	)
	for i := range data {
		data[i].Timestamp = data[i].Values[2].Int()
	}
	return data
}

func TestOrderedRowWindowFollowsEventTime(t *testing.T) {
	src := `SELECT symbol, v, LAG(v) OVER (PARTITION BY symbol ORDER BY ts) AS prev,
	   ROW_NUMBER() OVER (PARTITION BY symbol ORDER BY ts) AS n,
	   SUM(v) OVER (PARTITION BY symbol ORDER BY ts) AS s FROM t`
	p := compileSQL(t, src, Options{Properties: map[string]string{"watermark.max_out_of_orderness": "5s"}}, "symbol", "price", "ts", "v")
	c := runEach(p, symbolPrices())
	got := c.texts()
	slices.Sort(got)
	want := []string{
		"A|1|4|3|8", "A|3|NULL|1|3", "A|4|3|2|7", "A|6|1|4|14",
		"B|2|NULL|1|2", "B|5|2|2|7", "B|7|5|3|14",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
	checkStats(t, runEachStats(p, symbolPrices()))
}

func runEachStats(p *Program, data []record.Record) Stats {
	pl := p.NewPipeline()
	var c collector
	for i := range data {
		pl.Process(data[i:i+1], &c)
	}
	pl.Finish(&c)
	return pl.Stats()
}

// An external watermark releases the held rows in event-time order; a row
// behind what has run is late.
func TestOrderedRowWindowWatermark(t *testing.T) {
	src := `SELECT v, LAG(v) OVER (ORDER BY ts) AS prev FROM t`
	p := compileSQL(t, src, Options{ExternalWatermark: true}, "ts", "v")
	pl := p.NewPipeline()
	var c collector
	pl.Process(recs([]any{2000, 1}, []any{1000, 2}, []any{3000, 3}), &c)
	if len(c.rows) != 0 {
		t.Fatalf("rows before the watermark: %v", c.texts())
	}
	var held []int64
	pl.Held(func(_ string, _ int32, off int64) { held = append(held, off) })
	if !slices.Equal(held, []int64{0}) {
		t.Errorf("held offsets %v, want [0]", held)
	}
	pl.Advance(2000, &c)
	if got := strings.Join(c.texts(), ";"); got != "2|NULL;1|2" {
		t.Errorf("after watermark 2000: %s", got)
	}
	pl.Process(recs([]any{1500, 4}), &c) // behind the run rows: late
	if len(c.dead) != 1 || !strings.Contains(c.dead[0].Error(), "late record") {
		t.Errorf("late row: dead %v", c.dead)
	}
	pl.Finish(&c)
	if got := strings.Join(c.texts(), ";"); got != "2|NULL;1|2;3|1" {
		t.Errorf("after Finish: %s", got)
	}
	checkStats(t, pl.Stats())
}

// LIMIT counts the rows a row window emits, in event-time order, not the
// rows it holds.
func TestOrderedRowWindowLimit(t *testing.T) {
	p := compileSQL(t, `SELECT v, LAG(v) OVER (ORDER BY ts) AS prev FROM t LIMIT 2`,
		Options{Properties: map[string]string{"watermark.max_out_of_orderness": "5s"}}, "symbol", "price", "ts", "v")
	c := runEach(p, symbolPrices())
	if got := strings.Join(c.texts(), ";"); got != "2|NULL;3|2" {
		t.Errorf("got %s, want 2|NULL;3|2", got)
	}
}

func TestQualifyFiltersRowWindow(t *testing.T) {
	src := `SELECT symbol, v, LAG(v) OVER (PARTITION BY symbol ORDER BY ts) AS prev FROM t QUALIFY prev IS NULL`
	p := compileSQL(t, src, Options{Properties: map[string]string{"watermark.max_out_of_orderness": "5s"}}, "symbol", "price", "ts", "v")
	got := runEach(p, symbolPrices()).texts()
	slices.Sort(got)
	if want := []string{"A|3|NULL", "B|2|NULL"}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestTopNRowNumberChanges(t *testing.T) {
	for _, src := range []string{
		`SELECT symbol, price, v, ROW_NUMBER() OVER (PARTITION BY symbol ORDER BY price DESC) AS rn FROM t QUALIFY rn <= 2`,
		`SELECT * FROM (SELECT symbol, price, v, ROW_NUMBER() OVER (PARTITION BY symbol ORDER BY price DESC) AS rn FROM t) WHERE rn <= 2`,
		`SELECT * FROM (SELECT symbol, price, v, ROW_NUMBER() OVER (PARTITION BY symbol ORDER BY price DESC) AS rn FROM t) x WHERE 2 >= x.rn EMIT CHANGES`,
	} {
		p := compileSQL(t, src, Options{}, "symbol", "price", "ts", "v")
		if got := p.KeySlots(); !slices.Equal(got, []int{0, 3}) {
			t.Errorf("key slots %v, want [0 3] (symbol, rn)", got)
		}
		c := runEach(p, symbolPrices())
		want := []string{
			"A|5|1|1",
			"B|7|2|1",
			"A|9|3|1", "A|5|1|2", // 9 takes rank 1, 5 moves to 2
			// price 1 ranks 3rd: nothing changes
			"B|3|5|2",
			"A|9|6|2",            // ties keep arrival order: the second 9 ranks 2nd
			"B|8|7|1", "B|7|2|2", // 3 leaves the top 2, overwritten by 7
		}
		if got := c.texts(); !slices.Equal(got, want) {
			t.Errorf("%s:\ngot  %v\nwant %v", src, got, want)
		}
	}
}

// Deduplication: rn = 1 keeps one row per key, keyed by the PARTITION BY
// columns alone, so the rank need not be selected.
func TestTopNDeduplication(t *testing.T) {
	p := compileSQL(t, `SELECT symbol, v FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY symbol ORDER BY ts DESC) AS rn FROM t) WHERE rn = 1`,
		Options{}, "symbol", "price", "ts", "v")
	if got := p.KeySlots(); !slices.Equal(got, []int{0}) {
		t.Errorf("key slots %v, want [0]", got)
	}
	c := runEach(p, symbolPrices())
	last := map[string]string{}
	for _, r := range c.texts() {
		last[r[:1]] = r
	}
	if last["A"] != "A|6" || last["B"] != "B|7" {
		t.Errorf("latest rows %v, want A|6 and B|7 (all: %v)", last, c.texts())
	}
	if _, err := compileSQLErr(`SELECT symbol, v FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY symbol ORDER BY ts DESC) AS rn FROM t) WHERE rn <= 2`,
		Options{}, "symbol", "price", "ts", "v"); err == nil || !strings.Contains(err.Error(), "select the rank") {
		t.Errorf("got %v, want a refusal naming the rank", err)
	}
}

func TestTopNRankFinal(t *testing.T) {
	data := recs([]any{1}, []any{2}, []any{3}, []any{4}, []any{3}, []any{4})
	tests := []struct{ src, want string }{
		{`SELECT v, RANK() OVER (ORDER BY v DESC) AS r FROM t QUALIFY r <= 3`, "4|1;4|1;3|3;3|3"},
		{`SELECT v, DENSE_RANK() OVER (ORDER BY v DESC) AS r FROM t QUALIFY r <= 2`, "4|1;4|1;3|2;3|2"},
		{`SELECT v, ROW_NUMBER() OVER (ORDER BY v) AS r FROM t QUALIFY r BETWEEN 2 AND 3 EMIT FINAL`, "2|2;3|3"},
		{`SELECT v, RANK() OVER (ORDER BY v) AS r FROM t QUALIFY r = 1`, "1|1"},
		{`SELECT v FROM t QUALIFY RANK() OVER (ORDER BY v DESC) < 2`, "4;4"},
	}
	for _, tt := range tests {
		p := compileSQL(t, tt.src, Options{}, "v")
		if got := strings.Join(runEach(p, data).texts(), ";"); got != tt.want {
			t.Errorf("%s:\ngot  %s\nwant %s", tt.src, got, tt.want)
		}
	}
}

// State is bounded by N per key: a million rows of one key keep N.
func TestTopNStateBounded(t *testing.T) {
	p := compileSQL(t, `SELECT v, ROW_NUMBER() OVER (ORDER BY v DESC) AS rn FROM t QUALIFY rn <= 3`, Options{}, "v")
	pl := p.NewPipeline()
	var c collector
	batch := make([]record.Record, 1000)
	for i := 0; i < 100; i++ {
		for j := range batch {
			batch[j] = record.Record{Values: []record.Value{record.IntValue(int64(i*1000 + j))}}
		}
		pl.Process(batch, &c)
	}
	if n := len(pl.top.wins[0].lists[0].rows); n != 3 {
		t.Errorf("kept %d rows, want 3", n)
	}
	checkStats(t, pl.Stats())
}

func TestRowWindowOrderRefused(t *testing.T) {
	tests := []struct{ src, want string }{
		{`SELECT v, RANK() OVER (ORDER BY v DESC) AS r FROM t`, "1:33: RANK() OVER (ORDER BY v DESC): ORDER BY v DESC would need every later row"},
		{`SELECT LAG(v) OVER (PARTITION BY k ORDER BY v + 1) FROM t`, "ORDER BY v + 1 is not the event-time column"},
		{`SELECT LAG(v) OVER (ORDER BY ts, v) FROM t`, "ORDER BY takes one key"},
		{`SELECT v FROM t QUALIFY v > 1`, "QUALIFY filters on the results of window functions"},
		{`SELECT k, COUNT(*) AS n FROM t GROUP BY k QUALIFY n > 1`, "filter groups with HAVING"},
		{`SELECT v, ROW_NUMBER() OVER (ORDER BY v) AS r FROM t QUALIFY r <= 2 AND v > 1`, "must be only the bound on its rank"},
		{`SELECT v, LAG(v) OVER (ORDER BY ts) AS l, ROW_NUMBER() OVER (ORDER BY v) AS r FROM t QUALIFY r <= 2`, "a Top-N query can compute only its rank function"},
		{`SELECT v, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v) AS r FROM t QUALIFY r <= 2`, "select k"},
		{`SELECT v, ROW_NUMBER() OVER (ORDER BY v) AS r FROM t QUALIFY r <= 0`, "selects no rank"},
	}
	for _, tt := range tests {
		_, err := compileSQLErr(tt.src, Options{}, "k", "v", "ts")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s:\ngot  %v\nwant %q", tt.src, err, tt.want)
		}
	}
	for _, src := range []string{`SELECT LAG(v) OVER (ORDER BY ts) FROM t`,
		`SELECT v, ROW_NUMBER() OVER (ORDER BY v) AS rn FROM t WINDOW TUMBLING(ts, 1m) QUALIFY rn <= 1`} {
		_, err := compileSQLErr(src, Options{Properties: map[string]string{"late.data.strategy": "update"}}, "v", "ts")
		if err == nil || !strings.Contains(err.Error(), "'update' is not supported") {
			t.Errorf("%s with the update strategy: %v", src, err)
		}
	}
	_, err := compileSQLErr(`SELECT LAG(v) OVER (ORDER BY v) FROM t`, Options{Properties: map[string]string{"event.time.field": "ts"}}, "v", "ts")
	if want := "ORDER BY v is not the event-time column ts"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want %q", err, want)
	}
}

func TestDerivedTables(t *testing.T) {
	data := symbolPrices()
	tests := []struct{ src, want string }{
		{`SELECT p2 FROM (SELECT price * 2 AS p2, symbol FROM t WHERE v > 1) WHERE symbol = 'A'`, "18;2;18"},
		{`SELECT s.symbol, s.v AS value FROM (SELECT * FROM t) AS s WHERE s.price > 7`, "A|3;A|6;B|7"},
		{`SELECT n FROM (SELECT symbol, COUNT(*) AS n FROM t GROUP BY symbol EMIT FINAL) WHERE n > 3`, "4"},
		{`SELECT * FROM (SELECT * FROM (SELECT v, price FROM t) WHERE price < 5) WHERE v > 1`, "4|1;5|3"},
	}
	for _, tt := range tests {
		p := compileSQL(t, tt.src, Options{}, "symbol", "price", "ts", "v")
		if got := strings.Join(runEach(p, data).texts(), ";"); got != tt.want {
			t.Errorf("%s:\ngot  %s\nwant %s", tt.src, got, tt.want)
		}
	}
}

func TestTopNOverWindowedAggregate(t *testing.T) {
	// (symbol, ts): per 10s window, counts A=3 B=2 C=1; then A=1 B=1 C=2.
	data := recs(
		[]any{"A", 1000}, []any{"B", 2000}, []any{"A", 3000}, []any{"C", 4000}, []any{"B", 5000}, []any{"A", 6000},
		[]any{"A", 11000}, []any{"C", 12000}, []any{"B", 13000}, []any{"C", 14000},
	)
	for i := range data {
		data[i].Timestamp = data[i].Values[1].Int()
	}
	tests := []struct{ src, want string }{
		{`SELECT * FROM (
		    SELECT symbol, _WINDOW_START AS ws, COUNT(*) AS n,
		           ROW_NUMBER() OVER (PARTITION BY _WINDOW_START ORDER BY COUNT(*) DESC) AS rn
		    FROM t GROUP BY symbol WINDOW TUMBLING(10s)) WHERE rn <= 2`,
			"A|1970-01-01T00:00:00.000Z|3|1;B|1970-01-01T00:00:00.000Z|2|2;C|1970-01-01T00:00:10.000Z|2|1;A|1970-01-01T00:00:10.000Z|1|2"},
		{`SELECT * FROM (
		    SELECT ws, symbol, n, RANK() OVER (PARTITION BY ws ORDER BY n DESC) AS r
		    FROM (SELECT symbol, _WINDOW_START AS ws, COUNT(*) AS n FROM t GROUP BY symbol WINDOW TUMBLING(10s)))
		  WHERE r <= 2`,
			"1970-01-01T00:00:00.000Z|A|3|1;1970-01-01T00:00:00.000Z|B|2|2;1970-01-01T00:00:10.000Z|C|2|1;" +
				"1970-01-01T00:00:10.000Z|A|1|2;1970-01-01T00:00:10.000Z|B|1|2"},
		{`SELECT symbol, COUNT(*) AS n FROM t GROUP BY symbol QUALIFY DENSE_RANK() OVER (ORDER BY n) = 1 EMIT FINAL`, "B|3;C|3"},
	}
	for _, tt := range tests {
		p := compileSQL(t, tt.src, Options{}, "symbol", "ts")
		if got := strings.Join(runEach(p, data).texts(), ";"); got != tt.want {
			t.Errorf("%s:\ngot  %s\nwant %s", tt.src, got, tt.want)
		}
	}
	for _, bad := range []struct{ src, want string }{
		{`SELECT symbol, COUNT(*) AS n, ROW_NUMBER() OVER (ORDER BY COUNT(*)) AS rn FROM t GROUP BY symbol QUALIFY rn <= 1`, "needs EMIT FINAL"},
		{`SELECT symbol, COUNT(*) AS n, LAG(symbol) OVER (ORDER BY ts) FROM t GROUP BY symbol EMIT FINAL`, "supported only as a Top-N"},
		{`SELECT symbol, ROW_NUMBER() OVER (ORDER BY ts) AS rn FROM t GROUP BY symbol QUALIFY rn <= 1 EMIT FINAL`, `column "ts" must appear in GROUP BY`},
	} {
		if _, err := compileSQLErr(bad.src, Options{}, "symbol", "ts"); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s:\ngot  %v\nwant %q", bad.src, err, bad.want)
		}
	}
}

// A Top-N of rows within a tumbling window emits each window's top rows
// when the watermark closes it; state is per open window.
func TestTopNWithinTumblingWindow(t *testing.T) {
	src := `SELECT symbol, v, _WINDOW_START AS ws, ROW_NUMBER() OVER (PARTITION BY symbol ORDER BY price DESC) AS rn
	        FROM t WINDOW TUMBLING(ts, 3s) QUALIFY rn <= 1`
	p := compileSQL(t, src, Options{ExternalWatermark: true}, "symbol", "price", "ts", "v")
	pl := p.NewPipeline()
	var c collector
	pl.Process(symbolPrices()[:4], &c) // A@3000, B@1000, A@1000, A@2000
	if len(c.rows) != 0 {
		t.Fatalf("rows before the window closed: %v", c.texts())
	}
	pl.Advance(3000, &c) // closes [0s, 3s)
	first := c.texts()
	slices.Sort(first)
	if want := []string{"A|3|1970-01-01T00:00:00.000Z|1", "B|2|1970-01-01T00:00:00.000Z|1"}; !slices.Equal(first, want) {
		t.Errorf("first window: got %v, want %v", first, want)
	}
	pl.Process(symbolPrices()[4:], &c)
	pl.Process(recs([]any{"A", 100, 2500, 8}), &c) // its window has closed: late
	if len(c.dead) != 1 {
		t.Errorf("late row: %d dead letters", len(c.dead))
	}
	pl.Finish(&c)
	later := c.texts()[2:]
	slices.Sort(later)
	want := []string{"A|6|1970-01-01T00:00:03.000Z|1", "B|5|1970-01-01T00:00:03.000Z|1", "B|7|1970-01-01T00:00:06.000Z|1"}
	if !slices.Equal(later, want) {
		t.Errorf("later windows: got %v, want %v", later, want)
	}
	checkStats(t, pl.Stats())
}

// bruteRank ranks rows (k, v, id) per k by v as RANK or DENSE_RANK
// would, and returns "k|v|id|rank" for the ranks within [lo, hi], sorted.
func bruteRank(rows [][3]int64, dense, desc bool, lo, hi int64) []string {
	byKey := map[int64][][3]int64{}
	for _, r := range rows {
		byKey[r[0]] = append(byKey[r[0]], r)
	}
	var out []string
	for _, rs := range byKey {
		slices.SortFunc(rs, func(a, b [3]int64) int {
			if desc {
				return int(b[1] - a[1])
			}
			return int(a[1] - b[1])
		})
		var rank int64
		for i, r := range rs {
			switch {
			case i == 0:
				rank = 1
			case r[1] != rs[i-1][1] && dense:
				rank++
			case r[1] != rs[i-1][1]:
				rank = int64(i) + 1
			}
			if rank >= lo && rank <= hi {
				out = append(out, fmt.Sprintf("%d|%d|%d|%d", r[0], r[1], r[2], rank))
			}
		}
	}
	slices.Sort(out)
	return out
}

// RANK and DENSE_RANK under EMIT CHANGES: applying the updates by their key
// (every column but the rank; a NULL rank retracts) gives, after every
// call, the top rows a brute-force ranking of the input so far gives, on
// random input full of ties, read from three source partitions in random
// interleavings and batches.
func TestTopNRankChangesMatchBruteForce(t *testing.T) {
	queries := []struct {
		src         string
		dense, desc bool
		lo, hi      int64
	}{
		{`SELECT k, v, id, RANK() OVER (PARTITION BY k ORDER BY v DESC) AS r FROM t QUALIFY r <= 3 EMIT CHANGES`, false, true, 1, 3},
		{`SELECT k, v, id, DENSE_RANK() OVER (PARTITION BY k ORDER BY v) AS r FROM t QUALIFY r <= 2 EMIT CHANGES`, true, false, 1, 2},
		{`SELECT * FROM (SELECT k, v, id, RANK() OVER (PARTITION BY k ORDER BY v) AS r FROM t) WHERE r BETWEEN 2 AND 4 EMIT CHANGES`, false, false, 2, 4},
		{`SELECT k, v, id, DENSE_RANK() OVER (PARTITION BY k ORDER BY v DESC) AS r FROM t QUALIFY r = 1 EMIT CHANGES`, true, true, 1, 1},
		{`SELECT id, r, v, k FROM (SELECT k, v, id, RANK() OVER (PARTITION BY k ORDER BY v DESC) AS r FROM t) WHERE r < 2 EMIT CHANGES`, false, true, 1, 1},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, q := range queries {
		p := compileSQL(t, q.src, Options{}, "k", "v", "id")
		out := p.OutputSchema()
		slot := func(name string) int { i, _ := out.Lookup(name); return i }
		ks, vs, ids, rs := slot("k"), slot("v"), slot("id"), slot("r")
		if want := []int{ks, vs, ids}; !sameSet(p.KeySlots(), want) {
			t.Errorf("%s: key slots %v, want %v", q.src, p.KeySlots(), want)
		}
		for round := range 20 {
			pl := p.NewPipeline()
			var c collector
			state := map[string]string{}
			var seen [][3]int64
			offsets := [3]int64{}
			for id := int64(0); id < 300; {
				n := 1 + rng.IntN(20)
				batch := make([]record.Record, 0, n)
				for ; n > 0 && id < 300; n-- {
					row := [3]int64{rng.Int64N(3), rng.Int64N(6 + int64(round%3)*10), id}
					part := rng.IntN(3)
					batch = append(batch, record.Record{Values: []record.Value{record.IntValue(row[0]), record.IntValue(row[1]), record.IntValue(row[2])},
						Topic: "t", Partition: int32(part), Offset: offsets[part]})
					offsets[part]++
					seen = append(seen, row)
					id++
				}
				c.rows = c.rows[:0]
				pl.Process(batch, &c)
				for _, r := range c.rows {
					key := fmt.Sprintf("%v|%v|%v", r[ks], r[vs], r[ids])
					if r[rs].IsNull() {
						if _, ok := state[key]; !ok {
							t.Fatalf("%s: retraction of %s, which is not shown", q.src, key)
						}
						delete(state, key)
						continue
					}
					state[key] = key + "|" + r[rs].String()
				}
				got := slices.Sorted(maps.Values(state))
				if want := bruteRank(seen, q.dense, q.desc, q.lo, q.hi); !slices.Equal(got, want) {
					t.Fatalf("%s, round %d, after %d rows:\ngot  %v\nwant %v", q.src, round, len(seen), got, want)
				}
			}
			checkStats(t, pl.Stats())
		}
	}
	// the ORDER BY must be selected: rows equal in every selected column must be peers
	_, err := compileSQLErr(`SELECT k, id, RANK() OVER (PARTITION BY k ORDER BY v) AS r FROM t QUALIFY r <= 2 EMIT CHANGES`, Options{}, "k", "v", "id")
	if err == nil || !strings.Contains(err.Error(), "select v, the ORDER BY of the rank") {
		t.Errorf("got %v, want a refusal naming v", err)
	}
}

func sameSet(a, b []int) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

// ROW_NUMBER ranks tied rows by source position, not by arrival: the same
// rows read from several source partitions in any interleaving give the
// same top rows.
func TestTopNTiesDoNotDependOnArrival(t *testing.T) {
	p := compileSQL(t, `SELECT k, v, id, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn FROM t QUALIFY rn <= 2 EMIT FINAL`,
		Options{}, "k", "v", "id")
	var parts [3][]record.Record
	for id := range 60 {
		part := id % 3
		parts[part] = append(parts[part], record.Record{Values: []record.Value{record.IntValue(int64(id % 2)), record.IntValue(int64(id % 4 / 2)), record.IntValue(int64(id))},
			Topic: "t", Partition: int32(part), Offset: int64(len(parts[part]))})
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var want []string
	for round := range 30 {
		var data []record.Record
		next := [3]int{}
		for len(data) < 60 {
			part := rng.IntN(3)
			if next[part] < len(parts[part]) {
				data = append(data, parts[part][next[part]])
				next[part]++
			}
		}
		got := runEach(p, data).texts()
		slices.Sort(got) // keys come out in any order: the result is a multiset
		if round == 0 {
			want = got
			continue
		}
		if !slices.Equal(got, want) {
			t.Fatalf("interleaving %d: got %v, want %v", round, got, want)
		}
	}
}

// A Top-N over grouped rows may order by a select-list alias, in QUALIFY
// form and over a subquery (both were refused: the alias was taken for an
// input column).
func TestGroupTopNOrdersByAlias(t *testing.T) {
	data := recs([]any{"a", 1}, []any{"a", 2}, []any{"b", 3}, []any{"c", 4}, []any{"c", 5}, []any{"c", 6})
	for _, src := range []string{
		`SELECT k, COUNT(*) AS n, ROW_NUMBER() OVER (ORDER BY n DESC) AS rn FROM t GROUP BY k QUALIFY rn <= 2 EMIT FINAL`,
		`SELECT * FROM (SELECT k, COUNT(*) AS n, ROW_NUMBER() OVER (ORDER BY n DESC) AS rn FROM t GROUP BY k EMIT FINAL) WHERE rn <= 2`,
	} {
		p := compileSQL(t, src, Options{}, "k", "v")
		got := runEach(p, data).texts()
		slices.Sort(got)
		if want := []string{"a|2|2", "c|3|1"}; !slices.Equal(got, want) {
			t.Errorf("%s:\ngot  %v\nwant %v", src, got, want)
		}
	}
}

// A row window ordered by a column makes it the event time when the query
// names none, so the column must hold a time, as a WINDOW's time column
// must: ordering by an inferred STRING of no times (or a BOOLEAN) is an
// error before the first record, not every record dead-lettered.
func TestRowWindowOrderedByNoTime(t *testing.T) {
	schema := record.NewSchemaOf(
		record.Field{Name: "symbol", Type: record.StringType, Inferred: true},
		record.Field{Name: "ok", Type: record.BooleanType},
		record.Field{Name: "v", Type: record.IntegerType},
		record.Field{Name: "ts", Type: record.TimestampType},
	)
	tests := []struct{ src, want string }{
		{`SELECT v, LAG(v) OVER (PARTITION BY v ORDER BY symbol) AS prev FROM t`,
			`1:48: event time column "symbol" holds no time: it is STRING, and none of its values in the sample its type was inferred from is ISO-8601 text or epoch milliseconds; the TIMESTAMP columns are ts`},
		{`SELECT v, ROW_NUMBER() OVER (ORDER BY ok) AS rn FROM t`,
			`1:39: event time column "ok" is BOOLEAN, which holds no time`},
	}
	for _, tt := range tests {
		stmts, err := sql.Parse("q.sql", tt.src)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Compile(stmts[0].Select(), Options{Schema: schema})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s:\ngot  %v\nwant %q", tt.src, err, tt.want)
		}
	}
	stmts, err := sql.Parse("q.sql", `SELECT v, LAG(v) OVER (ORDER BY ts) AS prev FROM t`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Compile(stmts[0].Select(), Options{Schema: schema}); err != nil {
		t.Errorf("ORDER BY a TIMESTAMP column: %v", err)
	}
}

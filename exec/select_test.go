package exec

import (
	"strings"
	"testing"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// TestAddSelectionsEqualsProcess: running selections of shared batches with
// Add and one Flush emits exactly what one Process over copies of the
// selected records emits, for every kind of query.
func TestAddSelectionsEqualsProcess(t *testing.T) {
	var a, b []record.Record
	for i := range 40 {
		r := recs([]any{[]string{"AAPL", "MSFT", "IBM"}[i%3], dec("10.5"), i % 7, i * 1000})[0]
		r.Offset, r.Timestamp = int64(i), int64(i*1000)
		if i%2 == 0 {
			a = append(a, r)
		} else {
			b = append(b, r)
		}
	}
	selA := []int32{1, 4, 5, 9, 12, 19}
	selB := []int32{0, 2, 3, 8, 15}
	var copies []record.Record
	for _, i := range selA {
		copies = append(copies, a[i])
	}
	for _, i := range selB {
		copies = append(copies, b[i])
	}
	for _, q := range []string{
		"SELECT symbol, COUNT(*) AS c, SUM(qty) AS s FROM t GROUP BY symbol EMIT CHANGES",
		"SELECT symbol, COUNT(*) AS c FROM t GROUP BY symbol WINDOW TUMBLING(ts, INTERVAL '5' SECOND) EMIT FINAL",
		"SELECT symbol, qty FROM t WHERE qty > 2",
		"SELECT symbol, qty FROM t ORDER BY qty DESC LIMIT 3",
		"SELECT DISTINCT symbol FROM t",
	} {
		stmts, err := sql.Parse("q.sql", q)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Compile(stmts[0].Select(), Options{Schema: record.NewSchema("symbol", "price", "qty", "ts")})
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		var want, got collector
		one := p.NewPipeline()
		one.Process(copies, &want)
		one.Finish(&want)
		sel := p.NewPipeline()
		sel.Add(a, selA, &got)
		sel.Add(b, selB, &got)
		sel.Flush(&got)
		sel.Finish(&got)
		if w, g := strings.Join(want.texts(), ";"), strings.Join(got.texts(), ";"); w != g || want.emits != got.emits {
			t.Errorf("%s:\nProcess %s (%d emits)\nAdd     %s (%d emits)", q, w, want.emits, g, got.emits)
		}
		if len(want.rows) == 0 {
			t.Errorf("%s: no rows: the test compares nothing", q)
		}
		if one.Stats() != sel.Stats() {
			t.Errorf("%s: stats %+v, want %+v", q, sel.Stats(), one.Stats())
		}
	}
}

// A mistake inside a subquery in FROM is reported where it is, before the
// outer query's use of the subquery's columns (as PostgreSQL does), and a
// column only the subquery names is resolved too.
func TestDerivedTableNamesInside(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{"SELECT symbol FROM (SELECT symbl, price FROM t)", `1:28: unknown column "symbl"; did you mean "symbol"?`},
		{"SELECT price FROM (SELECT symbl, price FROM t)", `1:27: unknown column "symbl"; did you mean "symbol"?`},
		{"SELECT n FROM (SELECT symbol, SUM(quantty) AS n FROM t GROUP BY symbol)", `1:35: unknown column "quantty"; did you mean "quantity"?`},
		{"SELECT n FROM (SELECT ROW_NUMBER() OVER (PARTITION BY symbl ORDER BY price) AS n FROM t) WHERE n <= 2", `1:55: unknown column "symbl"; did you mean "symbol"?`},
		{"SELECT x FROM (SELECT * FROM (SELECT symbol AS x, prce FROM t))", `1:51: unknown column "prce"; did you mean "price"?`},
		{"SELECT symbl FROM (SELECT symbol, price FROM t) AS s", `1:8: unknown column "symbl"; did you mean "symbol"? (the subquery in FROM has the columns symbol, price)`},
	} {
		stmts, err := sql.Parse("q.sql", c.src)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Compile(stmts[0].Select(), Options{Schema: record.NewSchema("symbol", "price", "quantity")})
		if err == nil || err.Error() != c.want {
			t.Errorf("%s:\ngot  %v\nwant %s", c.src, err, c.want)
		}
	}
}

// A select-list alias read in WHERE is an unknown column, with a hint
// saying why and what to write.
func TestWhereReadsAnAlias(t *testing.T) {
	stmts, err := sql.Parse("q.sql", "SELECT symbol AS s, price * quantity AS notional FROM t WHERE notional > 1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Compile(stmts[0].Select(), Options{Schema: record.NewSchema("symbol", "price", "quantity")})
	want := `1:63: unknown column "notional"; notional is an alias in the select list, which WHERE cannot read (it filters the input rows): write price * quantity`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

package exec

import (
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/record"
	ast "github.com/sluicesql/sluice/sql"

	_ "modernc.org/sqlite"
)

// TestDifferentialSQLite runs GROUP BY and tumbling-window queries over
// random data through the pipeline and through SQLite and compares the
// results row by row. Numbers compare within 1e-6 relative: SQLite computes
// in floating point, Sluice's AVG of exact numbers is a DECIMAL rounded to
// six places.
func TestDifferentialSQLite(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE t (g TEXT, h INTEGER, x INTEGER, d REAL, ts INTEGER)`); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 11))
	const n = 5000
	rows := make([][]any, n)
	for i := range rows {
		var x, d any
		if rng.IntN(10) > 0 {
			x = rng.IntN(101) - 50
		}
		cents := rng.Int64N(200001) - 100000
		if rng.IntN(10) > 0 {
			d = dec(record.DecimalValue(cents, 2).String())
		}
		rows[i] = []any{fmt.Sprintf("k%d", rng.IntN(10)), rng.IntN(4), x, d, rng.Int64N(120_000)}
		var dv any
		if d != nil {
			dv = float64(cents) / 100
		}
		if _, err := db.Exec(`INSERT INTO t VALUES (?, ?, ?, ?, ?)`, rows[i][0], rows[i][1], x, dv, rows[i][4]); err != nil {
			t.Fatal(err)
		}
	}
	data := recs(rows...)
	where := bin(ast.Or, &ast.IsNull{X: id("x")}, bin(ast.Gt, id("x"), num("-40")))
	tests := []struct {
		name   string
		sel    *ast.Select
		sqlite string
	}{
		{
			"group by",
			&ast.Select{
				Items: items(id("g"), id("h"), countStarCall(), call("COUNT", id("x")), call("SUM", id("x")),
					call("MIN", id("x")), call("MAX", id("x")), call("AVG", id("x")), call("SUM", id("d")), call("AVG", id("d"))),
				Where: where, GroupBy: []ast.Expr{id("g"), id("h")}, Emit: ast.EmitFinal,
			},
			`SELECT g, h, COUNT(*), COUNT(x), SUM(x), MIN(x), MAX(x), AVG(x), SUM(d), AVG(d) FROM t WHERE x IS NULL OR x > -40 GROUP BY g, h`,
		},
		{
			"group by expression, count distinct",
			&ast.Select{
				Items:   items(bin(ast.Mod, id("h"), num("2")), &ast.Call{Name: "COUNT", Args: []ast.Expr{id("g")}, Distinct: true}, call("MAX", id("d"))),
				GroupBy: []ast.Expr{bin(ast.Mod, id("h"), num("2"))}, Emit: ast.EmitFinal,
			},
			`SELECT h % 2, COUNT(DISTINCT g), MAX(d) FROM t GROUP BY h % 2`,
		},
		{
			"tumbling",
			&ast.Select{
				Items:   items(id("g"), id("_window_start"), countStarCall(), call("SUM", id("x")), call("MAX", id("x")), call("AVG", id("d"))),
				GroupBy: []ast.Expr{id("g")}, Window: tumbling("ts", 10*time.Second),
			},
			`SELECT g, (ts / 10000) * 10000, COUNT(*), SUM(x), MAX(x), AVG(d) FROM t GROUP BY g, ts / 10000`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Compile(tt.sel, Options{Schema: record.NewSchema("g", "h", "x", "d", "ts"), ExternalWatermark: true})
			if err != nil {
				t.Fatal(err)
			}
			got := plainRows(t, p, data, 256)
			want := querySQLite(t, db, tt.sqlite)
			compareRows(t, got, want)
		})
	}
}

// plainRows runs data through p in batches of size batch, then Finish,
// and returns the output rows as plain values; a dead letter fails t.
func plainRows(t *testing.T, p *Program, data []record.Record, batch int) [][]any {
	t.Helper()
	out := runBatches(t, p, data, batch)
	got := make([][]any, len(out.rows))
	for i, r := range out.rows {
		for _, v := range r {
			got[i] = append(got[i], plain(v))
		}
	}
	return got
}

// runBatches runs data through p in batches of size batch, then Finish; a
// dead letter fails t.
func runBatches(t *testing.T, p *Program, data []record.Record, batch int) *collector {
	t.Helper()
	pl := p.NewPipeline()
	var out collector
	for i := 0; i < len(data); i += batch {
		pl.Process(data[i:min(i+batch, len(data))], &out)
	}
	pl.Finish(&out)
	if len(out.dead) > 0 {
		t.Fatalf("dead letters: %v", out.dead[0])
	}
	return &out
}

// plain converts a value to what database/sql gives for SQLite: int64,
// float64, string or nil (timestamps as epoch milliseconds).
func plain(v record.Value) any {
	switch v.Kind() {
	case record.Null:
		return nil
	case record.Int:
		return v.Int()
	case record.Timestamp:
		return v.Millis()
	case record.String:
		return v.Str()
	}
	f, err := record.ToFloat(v)
	if err != nil {
		return v.String()
	}
	return f.Float()
}

func querySQLite(t *testing.T, db *sql.DB, q string) [][]any {
	t.Helper()
	rs, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	cols, _ := rs.Columns()
	var out [][]any
	for rs.Next() {
		row := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, row)
	}
	return out
}

// compareRows compares two row sets as multisets, numbers approximately.
func compareRows(t *testing.T, got, want [][]any) {
	t.Helper()
	key := func(r []any) string {
		var parts []string
		for _, v := range r {
			switch x := v.(type) {
			case float64:
				parts = append(parts, fmt.Sprintf("%.4f", x))
			default:
				parts = append(parts, fmt.Sprint(x))
			}
		}
		return strings.Join(parts, "|")
	}
	sort.Slice(got, func(i, j int) bool { return key(got[i]) < key(got[j]) })
	sort.Slice(want, func(i, j int) bool { return key(want[i]) < key(want[j]) })
	if len(got) != len(want) {
		t.Fatalf("%d rows, SQLite %d", len(got), len(want))
	}
	for i := range got {
		for j := range got[i] {
			if !sameValue(got[i][j], want[i][j]) {
				t.Fatalf("row %d column %d: got %v (%T), SQLite %v (%T)\n got  %v\n want %v", i, j, got[i][j], got[i][j], want[i][j], want[i][j], got[i], want[i])
			}
		}
	}
}

func sameValue(a, b any) bool {
	fa, aNum := number(a)
	fb, bNum := number(b)
	if aNum && bNum {
		return math.Abs(fa-fb) <= 1e-6*math.Max(1, math.Abs(fb))
	}
	return fmt.Sprint(a) == fmt.Sprint(b)
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

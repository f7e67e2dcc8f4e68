package exec

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// aggInput has four groups: a (INTEGERs and a NULL), b (DECIMALs and a
// NULL), c (only NULL), d (FLOATs).
var aggInput = [][]any{
	{"a", 1}, {"b", dec("0.10")}, {"a", 2}, {"c", nil}, {"a", nil}, {"b", dec("0.20")},
	{"d", 1.5}, {"a", 4}, {"b", nil}, {"d", 2.5}, {"a", 2},
}

func TestAggregateSemantics(t *testing.T) {
	x := id("x")
	distinctX := &sql.Call{Name: "COUNT", Args: []sql.Expr{x}, Distinct: true}
	// want holds "KIND text" per group a, b, c, d; "~f" compares floats approximately.
	tests := []struct {
		agg  sql.Expr
		want [4]string
	}{
		{countStarCall(), [4]string{"INTEGER 5", "INTEGER 3", "INTEGER 1", "INTEGER 2"}},
		{call("COUNT", x), [4]string{"INTEGER 4", "INTEGER 2", "INTEGER 0", "INTEGER 2"}},
		{distinctX, [4]string{"INTEGER 3", "INTEGER 2", "INTEGER 0", "INTEGER 2"}},
		{call("SUM", x), [4]string{"INTEGER 9", "DECIMAL 0.30", "NULL NULL", "FLOAT 4"}},
		{call("AVG", x), [4]string{"DECIMAL 2.250000", "DECIMAL 0.150000", "NULL NULL", "FLOAT 2"}},
		{call("MIN", x), [4]string{"INTEGER 1", "DECIMAL 0.10", "NULL NULL", "FLOAT 1.5"}},
		{call("MAX", x), [4]string{"INTEGER 4", "DECIMAL 0.20", "NULL NULL", "FLOAT 2.5"}},
		{call("FIRST_VALUE", x), [4]string{"INTEGER 1", "DECIMAL 0.10", "NULL NULL", "FLOAT 1.5"}},
		{call("LAST_VALUE", x), [4]string{"INTEGER 2", "DECIMAL 0.20", "NULL NULL", "FLOAT 2.5"}},
		{call("STRING_AGG", x, str("-")), [4]string{"STRING 1-2-4-2", "STRING 0.10-0.20", "NULL NULL", "STRING 1.5-2.5"}},
		{call("MEDIAN", x), [4]string{"INTEGER 2", "DECIMAL 0.150", "NULL NULL", "FLOAT 2"}},
		{call("VAR_SAMP", x), [4]string{"~1.5833333333", "~0.005", "NULL NULL", "~0.5"}},
		{call("VARIANCE", x), [4]string{"~1.5833333333", "~0.005", "NULL NULL", "~0.5"}},
		{call("VAR_POP", x), [4]string{"~1.1875", "~0.0025", "NULL NULL", "~0.25"}},
		{call("STDDEV", x), [4]string{"~1.2583057392", "~0.0707106781", "NULL NULL", "~0.7071067812"}},
		{call("STDDEV_SAMP", x), [4]string{"~1.2583057392", "~0.0707106781", "NULL NULL", "~0.7071067812"}},
		{call("STDDEV_POP", x), [4]string{"~1.0897247359", "~0.05", "NULL NULL", "~0.5"}},
	}
	for _, tt := range tests {
		name := sql.FormatExpr(tt.agg)
		t.Run(name, func(t *testing.T) {
			sel := &sql.Select{Items: items(id("g"), tt.agg), GroupBy: []sql.Expr{id("g")}, Emit: sql.EmitFinal}
			p := compile(t, sel, nil, "g", "x")
			pl := p.NewPipeline()
			var out collector
			pl.Process(recs(aggInput...), &out)
			if len(out.rows) != 0 {
				t.Fatalf("EMIT FINAL emitted before Finish: %v", out.texts())
			}
			pl.Finish(&out)
			if len(out.rows) != 4 || len(out.dead) != 0 {
				t.Fatalf("got rows %v, dead %v", out.texts(), out.dead)
			}
			for i, row := range out.rows {
				if g := row[0].Str(); g != "abcd"[i:i+1] {
					t.Fatalf("row %d is group %s: groups must come in first-seen order", i, g)
				}
				checkValue(t, row[1], tt.want[i])
			}
			checkStats(t, pl.Stats())
		})
	}
}

func checkValue(t *testing.T, v record.Value, want string) {
	t.Helper()
	if f, ok := strings.CutPrefix(want, "~"); ok {
		w, _ := strconv.ParseFloat(f, 64)
		if v.Kind() != record.Float || math.Abs(v.Float()-w) > 1e-8 {
			t.Errorf("got %s %s, want FLOAT ≈ %s", v.Kind(), v, f)
		}
		return
	}
	if got := v.Kind().String() + " " + v.String(); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestGlobalAggregateOnEmptyInput(t *testing.T) {
	sel := &sql.Select{Items: items(countStarCall(), call("SUM", id("x"))), Emit: sql.EmitFinal}
	pl := compile(t, sel, nil, "x").NewPipeline()
	var out collector
	pl.Finish(&out)
	if got := out.texts(); len(got) != 1 || got[0] != "0|NULL" {
		t.Fatalf("got %v, want one row 0|NULL", got)
	}
}

func TestDecimalSumIsExact(t *testing.T) {
	sel := &sql.Select{Items: items(call("SUM", id("x")), call("AVG", id("x"))), Emit: sql.EmitFinal}
	pl := compile(t, sel, nil, "x").NewPipeline()
	batch := make([]record.Record, 1000)
	for i := range batch {
		batch[i] = record.Record{Values: []record.Value{dec("0.1")}}
	}
	for range 100 {
		pl.Process(batch, &collector{})
	}
	var out collector
	pl.Finish(&out)
	if got := out.texts(); len(got) != 1 || got[0] != "10000.0|0.100000" {
		t.Fatalf("got %v, want 10000.0|0.100000", got)
	}
}

func TestAggregateErrorsGoToDeadLetter(t *testing.T) {
	sel := &sql.Select{
		Items:   items(id("g"), call("SUM", bin(sql.Div, num("10"), id("x")))),
		GroupBy: []sql.Expr{id("g")}, Emit: sql.EmitFinal,
	}
	pl := compile(t, sel, nil, "g", "x").NewPipeline()
	var out collector
	pl.Process(recs([]any{"a", 2}, []any{"a", 0}, []any{"a", "text"}, []any{"a", 5}), &out)
	pl.Finish(&out)
	if got := out.texts(); len(got) != 1 || got[0] != "a|7" {
		t.Fatalf("got %v, want a|7", got)
	}
	if len(out.dead) != 2 {
		t.Fatalf("dead letters %v, want 2", out.dead)
	}
	s := pl.Stats()
	if s.DeadLettered != 2 || s.Accepted != 2 {
		t.Errorf("stats %+v", s)
	}
	checkStats(t, s)
}

func TestHavingAndExpressions(t *testing.T) {
	// SELECT g, COUNT(*) AS n, SUM(x) * 2 AS twice FROM t GROUP BY g HAVING n > 1 AND MAX(x) < 100
	sel := &sql.Select{
		Items:   []sql.SelectItem{item(id("g"), ""), item(countStarCall(), "n"), item(bin(sql.Mul, call("SUM", id("x")), num("2")), "twice")},
		GroupBy: []sql.Expr{id("g")},
		Having:  bin(sql.And, bin(sql.Gt, id("n"), num("1")), bin(sql.Lt, call("MAX", id("x")), num("100"))),
		Emit:    sql.EmitFinal,
	}
	p := compile(t, sel, nil, "g", "x")
	if got := p.OutputSchema().Names(); strings.Join(got, ",") != "g,n,twice" {
		t.Errorf("output columns %v", got)
	}
	if ks := p.KeySlots(); len(ks) != 1 || ks[0] != 0 {
		t.Errorf("key slots %v, want [0]", ks)
	}
	pl := p.NewPipeline()
	var out collector
	pl.Process(recs([]any{"a", 1}, []any{"b", 5}, []any{"a", 2}, []any{"c", 200}, []any{"c", 1}), &out)
	pl.Finish(&out)
	if got := strings.Join(out.texts(), " "); got != "a|2|6" {
		t.Fatalf("got %s, want a|2|6", got)
	}
}

func TestGroupByExpression(t *testing.T) {
	// SELECT x % 2, COUNT(*) FROM t GROUP BY x % 2
	key := bin(sql.Mod, id("x"), num("2"))
	sel := &sql.Select{Items: items(bin(sql.Mod, id("x"), num("2")), countStarCall()), GroupBy: []sql.Expr{key}, Emit: sql.EmitFinal}
	pl := compile(t, sel, nil, "x").NewPipeline()
	var out collector
	pl.Process(recs([]any{1}, []any{2}, []any{3}, []any{5}), &out)
	pl.Finish(&out)
	if got := strings.Join(out.texts(), " "); got != "1|3 0|1" {
		t.Fatalf("got %s", got)
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name string
		sel  *sql.Select
		want string
	}{
		{"ungrouped column", &sql.Select{Items: items(id("x"), countStarCall()), GroupBy: []sql.Expr{id("g")}}, `column "x" must appear in GROUP BY`},
		{"nested aggregate", &sql.Select{Items: items(call("SUM", call("COUNT", id("x"))))}, "cannot be nested"},
		{"window start without window", &sql.Select{Items: items(id("_window_start"), countStarCall())}, "needs a WINDOW clause"},
		{"sum distinct", &sql.Select{Items: items(&sql.Call{Name: "SUM", Args: []sql.Expr{id("x")}, Distinct: true})}, "DISTINCT is only supported in COUNT"},
		{"aggregate in where", &sql.Select{Items: items(id("x")), Where: bin(sql.Gt, call("SUM", id("x")), num("1"))}, "not allowed"},
		{"unknown column", &sql.Select{Items: items(id("nope"))}, `unknown column "nope"`},
		{"bad lateness", &sql.Select{Items: items(id("x")), With: nil}, ""},
		{"duplicate output", &sql.Select{Items: items(id("x"), id("x"))}, "duplicate output column"},
		{"over with group by", &sql.Select{Items: items(&sql.Call{Name: "LAG", Args: []sql.Expr{id("x")}, Over: &sql.Over{}}, countStarCall())}, "supported only as a Top-N"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.sel, Options{Schema: record.NewSchema("g", "x")})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
	if _, err := Compile(&sql.Select{Items: items(id("x"))}, Options{Properties: map[string]string{PropAllowedLateness: "soon"}}); err == nil {
		t.Error("a bad duration must be an error")
	}
	if _, err := Compile(&sql.Select{Items: items(id("x"))}, Options{Properties: map[string]string{PropLateDataStrategy: "ignore"}}); err == nil {
		t.Error("an unknown late strategy must be an error")
	}
}

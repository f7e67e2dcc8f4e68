package sql

import (
	"strings"
	"testing"
)

func TestSelectHelpers(t *testing.T) {
	stmts, err := Parse("h.sql", `INSERT INTO out
SELECT k, SUM(v) AS s, LAG(v) OVER (PARTITION BY k ORDER BY ts) AS prev,
       AVG(v) OVER (ROWS WINDOW BUFFER 5 ROWS PARTITION BY UPPER(k)) AS ma
FROM src JOIN dim ON src.k = dim.k AND COALESCE(dim.x, 0) > 0
WHERE ABS(v) > 1 GROUP BY k HAVING MAX(v) > 2 ORDER BY LOWER(k)`)
	if err != nil {
		t.Fatal(err)
	}
	sel := stmts[0].Select()
	if sel == nil || sel != stmts[0].Query {
		t.Fatal("Select() does not return the statement's query")
	}
	names := func(calls []*Call) string {
		var s []string
		for _, c := range calls {
			s = append(s, c.Name)
		}
		return strings.Join(s, " ")
	}
	if got, want := names(sel.Calls(nil)), "SUM LAG AVG UPPER COALESCE ABS MAX LOWER"; got != want {
		t.Errorf("Calls(nil) = %s, want %s", got, want)
	}
	if got, want := names(sel.OverCalls()), "LAG AVG"; got != want {
		t.Errorf("OverCalls() = %s, want %s", got, want)
	}
	overs := sel.OverClauses()
	if len(overs) != 2 || overs[1].Buffer != 5 || FormatExpr(overs[1].PartitionBy[0]) != "UPPER(k)" {
		t.Errorf("OverClauses() = %s", dump(overs))
	}
	if got := len(sel.Exprs()); got != 9 {
		t.Errorf("Exprs() has %d entries, want 9 (4 items, ON, WHERE, GROUP BY, HAVING, ORDER BY)", got)
	}
}

func TestParseExprAndFormat(t *testing.T) {
	tests := []struct{ in, want string }{
		{"sum(price*quantity)", "SUM(price * quantity)"},
		{"count( * )", "COUNT(*)"},
		{"a+b*c", "a + b * c"},
		{"(a+b)*c", "(a + b) * c"},
		{"a-(b-c)", "a - (b - c)"},
		{"(a-b)-c", "a - b - c"},
		{"a AND (b OR c)", "a AND (b OR c)"},
		{"(a AND b) OR c", "a AND b OR c"},
		{"NOT (a AND b)", "NOT (a AND b)"},
		{"(NOT a) AND b", "NOT a AND b"},
		{"-(a+b)", "-(a + b)"},
		{"-(-a)", "-(-a)"},
		{"(a || b) || c", "a || b || c"},
		{"a || (b || c)", "a || (b || c)"},
		{"(a = b) IS NULL", "a = b IS NULL"},
		{"a = (b IS NULL)", "a = (b IS NULL)"},
		{"x between (a and b) and c", "x BETWEEN (a AND b) AND c"},
		{"x LIKE (a || 'x')", "x LIKE a || 'x'"},
		{"x like (a = b)", "x LIKE (a = b)"},
		{"'o''k'", "'o''k'"},
		{"\"Mixed Case\".\"my col\"", `"Mixed Case"."my col"`},
		{"`select`", `"select"`},
		{"_window_start", "_window_start"},
		{"interval '5' minutes", "INTERVAL '5' MINUTES"},
		{"cast(x as decimal( 10 , 2 ))", "CAST(x AS DECIMAL(10,2))"},
		{"case x when 1 then 'a' end", "CASE x WHEN 1 THEN 'a' END"},
		{"timestamp '2024-01-01'", "TIMESTAMP '2024-01-01'"},
		{"timestamp", "timestamp"},
		{"ROW_NUMBER() over (order by ts desc)", "ROW_NUMBER() OVER (ORDER BY ts DESC)"},
	}
	for _, tt := range tests {
		e, err := ParseExpr(tt.in)
		if err != nil {
			t.Errorf("ParseExpr(%q): %v", tt.in, err)
			continue
		}
		if got := FormatExpr(e); got != tt.want {
			t.Errorf("FormatExpr(ParseExpr(%q)) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPositions(t *testing.T) {
	stmts, err := Parse("p.sql", "-- @job_mode: batch\n\nSELECT a,\n  b + c AS d\nFROM t")
	if err != nil {
		t.Fatal(err)
	}
	s := stmts[0]
	sum := s.Query.Items[1].Expr.(*Binary)
	for _, tt := range []struct {
		name string
		got  Pos
		line int
		col  int
	}{
		{"statement", s.Pos, 3, 1},
		{"select", s.Query.Pos, 3, 1},
		{"item", s.Query.Items[1].Pos, 4, 3},
		{"binary", sum.Pos, 4, 3},
		{"right operand", sum.R.Position(), 4, 7},
		{"from", s.Query.From.Pos, 5, 6},
	} {
		if tt.got.Line != tt.line || tt.got.Col != tt.col {
			t.Errorf("%s at %d:%d, want %d:%d", tt.name, tt.got.Line, tt.got.Col, tt.line, tt.col)
		}
	}
	if off := sum.R.Position().Offset; "-- @job_mode: batch\n\nSELECT a,\n  b + c AS d\nFROM t"[off] != 'c' {
		t.Errorf("offset %d does not point at c", off)
	}
}

func TestEmptyInput(t *testing.T) {
	for _, src := range []string{"", "  ", "-- just a comment\n", ";;", "/* x */"} {
		stmts, err := Parse("e.sql", src)
		if err != nil || len(stmts) != 0 {
			t.Errorf("Parse(%q) = %d statements, %v; want none, nil", src, len(stmts), err)
		}
	}
}

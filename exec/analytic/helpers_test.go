package analytic

import (
	"testing"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// Value constructors for test tables.
var null = record.Value{}

func in(n int64) record.Value   { return record.IntValue(n) }
func fl(f float64) record.Value { return record.FloatValue(f) }
func st(s string) record.Value  { return record.StringValue(s) }

func dec(t testing.TB, s string) record.Value {
	t.Helper()
	v, err := record.ParseNumber(s)
	if err != nil || v.Kind() != record.Decimal {
		t.Fatalf("ParseNumber(%q) = %v (%v), want a DECIMAL", s, v, err)
	}
	return v
}

// parseCalls parses each source text as one OVER call.
func parseCalls(t testing.TB, srcs []string) []*sql.Call {
	t.Helper()
	calls := make([]*sql.Call, len(srcs))
	for i, src := range srcs {
		e, err := sql.ParseExpr(src)
		if err != nil {
			t.Fatalf("ParseExpr(%q): %v", src, err)
		}
		c, ok := e.(*sql.Call)
		if !ok {
			t.Fatalf("ParseExpr(%q) = %T, want a call", src, e)
		}
		calls[i] = c
	}
	return calls
}

// compile compiles calls over an input schema of cols.
func compile(t testing.TB, cols []string, srcs []string) *Stage {
	t.Helper()
	s, err := Compile(parseCalls(t, srcs), &expr.Scope{Schema: record.NewSchema(cols...)})
	if err != nil {
		t.Fatalf("Compile(%q): %v", srcs, err)
	}
	return s
}

// same reports whether two values have the same kind and display text.
func same(a, b record.Value) bool {
	return a.Kind() == b.Kind() && a.String() == b.String()
}

func show(v record.Value) string { return v.Kind().String() + " " + v.String() }

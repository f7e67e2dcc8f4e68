package sql

import (
	"strings"
	"testing"
)

// TestTimeSyntax covers EXTRACT(field FROM ts), CURRENT_TIMESTAMP and short
// durations in expressions: what each parses to and how it prints.
func TestTimeSyntax(t *testing.T) {
	tests := []struct{ src, printed string }{
		{"EXTRACT(YEAR FROM ts)", "EXTRACT(YEAR FROM ts)"},
		{"extract(hour from t.ts + 1)", "EXTRACT(hour FROM t.ts + 1)"},
		{"EXTRACT('dow' FROM ts)", "EXTRACT('dow', ts)"},
		{"EXTRACT(YEAR, ts)", "EXTRACT(YEAR FROM ts)"},
		{"CURRENT_TIMESTAMP", "CURRENT_TIMESTAMP"},
		{"current_timestamp - ts > 10s", "CURRENT_TIMESTAMP - ts > INTERVAL '10' SECOND"},
		{"NOW()", "NOW()"},
		{"TUMBLE_START(ts, 10s)", "TUMBLE_START(ts, INTERVAL '10' SECOND)"},
		{"TUMBLE_END(ts, 1.5m)", "TUMBLE_END(ts, INTERVAL '1.5' MINUTE)"},
		{"ts + 500ms", "ts + INTERVAL '500' MILLISECOND"},
		{`"current_timestamp"`, `"current_timestamp"`},
	}
	for _, tt := range tests {
		e, err := ParseExpr(tt.src)
		if err != nil {
			t.Errorf("ParseExpr(%q): %v", tt.src, err)
			continue
		}
		if got := FormatExpr(e); got != tt.printed {
			t.Errorf("ParseExpr(%q) prints %q, want %q", tt.src, got, tt.printed)
		}
		again, err := ParseExpr(FormatExpr(e))
		if err != nil || !equalAST(e, again) {
			t.Errorf("%q does not round-trip: %v", tt.src, err)
		}
	}
	e, _ := ParseExpr("2h")
	if l, ok := e.(*Literal); !ok || l.Kind != IntervalLit {
		t.Fatalf("2h parses to %s", dump(e))
	} else if d, err := l.Duration(); err != nil || d.Hours() != 2 {
		t.Errorf("2h is %v, %v", d, err)
	}
}

// TestQualifiedWindowColumn: the window's time column may be qualified by
// the FROM source's name or alias; another qualifier is refused.
func TestQualifiedWindowColumn(t *testing.T) {
	for _, src := range []string{
		"SELECT COUNT(*) FROM trades t WINDOW TUMBLING(t.ts, 1m)",
		"SELECT COUNT(*) FROM trades t WINDOW SLIDING(T.ts, 1m, 30s)",
		"SELECT COUNT(*) FROM trades WINDOW SESSION(trades.ts, 1m)",
	} {
		stmts, err := Parse("q.sql", src)
		if err != nil {
			t.Errorf("%s: %v", src, err)
			continue
		}
		if w := stmts[0].Query.Window; w.TimeColumn != "ts" || w.TimeColumnPos.Col != strings.Index(src, ".ts")+2 {
			t.Errorf("%s: time column %q at %d", src, w.TimeColumn, w.TimeColumnPos.Col)
		}
	}
	if _, err := Parse("q.sql", "SELECT COUNT(*) FROM trades t WINDOW TUMBLING(u.ts, 1m)"); err == nil {
		t.Error("another qualifier is accepted")
	}
}

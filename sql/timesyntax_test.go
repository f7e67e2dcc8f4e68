package sql

import "testing"

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

package sql

import (
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics (an internal error would show up
// as an "internal parser error") and that whatever parses round-trips:
// print -> parse gives the same AST and printing again gives the same text.
func FuzzParse(f *testing.F) {
	for _, src := range corpus(f) {
		f.Add(src)
		for _, stmt := range strings.Split(src, ";") {
			f.Add(stmt)
		}
	}
	f.Fuzz(func(t *testing.T, src string) {
		stmts, err := Parse("fuzz.sql", src)
		if err != nil {
			if strings.Contains(err.Error(), "internal parser error") {
				t.Fatalf("panic while parsing %q: %v", src, err)
			}
			return
		}
		for _, s := range stmts {
			checkRoundTrip(t, s)
		}
	})
}

// FuzzParseExpr does the same for single expressions.
func FuzzParseExpr(f *testing.F) {
	for _, s := range []string{"a + b * -c", "NOT a = b AND c IS NOT NULL", "x NOT BETWEEN 1 AND 2", "CASE WHEN a THEN 'x' END",
		"COUNT(DISTINCT x) OVER (PARTITION BY a ORDER BY b DESC ROWS 3 PRECEDING)", "INTERVAL '1' MINUTE", "a || 'b''c' LIKE '%'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := ParseExpr(src)
		if err != nil {
			if strings.Contains(err.Error(), "internal parser error") {
				t.Fatalf("panic while parsing %q: %v", src, err)
			}
			return
		}
		printed := FormatExpr(e)
		again, err := ParseExpr(printed)
		if err != nil {
			t.Fatalf("printed %q (from %q) does not parse: %v", printed, src, err)
		}
		if !equalAST(e, again) {
			t.Fatalf("round trip changed %q: printed %q\nbefore %s\nafter  %s", src, printed, dump(e), dump(again))
		}
		if p2 := FormatExpr(again); p2 != printed {
			t.Fatalf("printing not stable: %q then %q", printed, p2)
		}
	})
}

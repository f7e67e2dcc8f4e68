package analytic

import (
	"strings"
	"testing"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// TestCompileErrors checks that bad calls are positioned compile errors.
func TestCompileErrors(t *testing.T) {
	cases := []struct {
		src  string
		want string // "line:col: " and a substring of the message
	}{
		{"LEAD(x) OVER (ORDER BY t)", "1:1: LEAD is not supported: a streaming row window"},
		{"SUM(DISTINCT x) OVER ()", "1:1: SUM(DISTINCT ...) is not supported over a window"},
		{"COUNT(DISTINCT x) OVER (PARTITION BY t)", "1:1: COUNT(DISTINCT ...)"},
		{"MEDIAN(x) OVER ()", "1:1: MEDIAN is not supported over a window; the analytic functions are LAG"},
		{"FOO(x) OVER ()", "1:1: FOO is not supported over a window"},
		{"ROW_NUMBER(x) OVER ()", "1:1: ROW_NUMBER takes no arguments, found 1"},
		{"SUM(*) OVER ()", "1:1: SUM(*) is not valid"},
		{"SUM(x, t) OVER ()", "1:1: SUM takes one argument, found 2"},
		{"AVG() OVER ()", "1:1: AVG takes one argument, found 0"},
		{"LAG() OVER ()", "1:1: LAG takes 1 to 3 arguments"},
		{"LAG(x, t) OVER ()", "1:8: LAG offset must be a non-negative integer constant, found t"},
		{"LAG(x, -1) OVER ()", "1:8: LAG offset must be a non-negative integer constant, found -1"},
		{"LAG(x, 99999999999) OVER ()", "1:8: LAG offset 99999999999 is out of range"},
		{"LAG(x, 1, nope) OVER ()", "1:11: unknown column"},
		{"SUM(nope) OVER ()", "1:5: "},
		{"SUM(x) OVER (PARTITION BY nope)", "1:27: "},
		{"RANK() OVER (ORDER BY nope)", "1:23: "},
		{"SUM(x) OVER (ROWS WINDOW BUFFER 2 ROWS ROWS 1 PRECEDING)", "1:40: ROWS WINDOW BUFFER and a ROWS BETWEEN frame cannot be combined"},
		{"SUM(x) OVER (ROWS 9999999999 PRECEDING)", "1:14: ROWS frame of 9999999999 PRECEDING is too large"},
		{"SUM(x) OVER (ROWS WINDOW BUFFER 9999999999 ROWS)", "1:8: ROWS WINDOW BUFFER of 9999999999 rows is too large"},
	}
	for _, tc := range cases {
		t.Run(tc.src, func(t *testing.T) {
			_, err := Compile(parseCalls(t, []string{tc.src}), &expr.Scope{Schema: record.NewSchema("x", "t")})
			if err == nil {
				t.Fatalf("Compile succeeded, want %q", tc.want)
			}
			pos, msg, _ := strings.Cut(tc.want, " ")
			if !strings.HasPrefix(err.Error(), pos+" ") || !strings.Contains(err.Error(), msg) {
				t.Fatalf("error %q, want %q at %s", err, msg, pos)
			}
		})
	}
}

// TestCompileWithoutOver checks that a plain call is rejected.
func TestCompileWithoutOver(t *testing.T) {
	c := &sql.Call{Pos: sql.Pos{Line: 2, Col: 7}, Name: "SUM", Args: []sql.Expr{&sql.Ident{Name: "x"}}}
	_, err := Compile([]*sql.Call{c}, &expr.Scope{Schema: record.NewSchema("x")})
	if err == nil || !strings.HasPrefix(err.Error(), "2:7: SUM is not an analytic call") {
		t.Fatalf("error %v, want 2:7: SUM is not an analytic call", err)
	}
}

// TestSharedPartitions checks that calls with the same PARTITION BY list
// share one partition lookup, and different lists do not.
func TestSharedPartitions(t *testing.T) {
	s := compile(t, []string{"a", "b", "x"}, []string{
		"SUM(x) OVER (PARTITION BY a, b)",
		"COUNT(*) OVER (PARTITION BY a,b ORDER BY x)",
		"COUNT(*) OVER (PARTITION BY b, a)",
		"ROW_NUMBER() OVER ()",
	})
	if len(s.groups) != 3 {
		t.Fatalf("%d partition groups, want 3", len(s.groups))
	}
	if s.calls[0].group != s.calls[1].group || s.calls[0].group == s.calls[2].group {
		t.Fatalf("groups %d %d %d, want the first two shared", s.calls[0].group, s.calls[1].group, s.calls[2].group)
	}
}

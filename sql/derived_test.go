package sql

import (
	"strings"
	"testing"
)

func TestDerivedTableMerge(t *testing.T) {
	tests := []struct{ src, want string }{
		{`SELECT b FROM (SELECT a AS b FROM t WHERE a > 1) WHERE b < 5`,
			"SELECT a AS b\nFROM t\nWHERE a > 1 AND a < 5"},
		{`SELECT s.n * 2 AS m FROM (SELECT k, COUNT(*) AS n FROM t GROUP BY k) AS s WHERE s.n > 1`,
			"SELECT COUNT(*) * 2 AS m\nFROM t\nGROUP BY k\nHAVING COUNT(*) > 1"},
		{`SELECT * FROM (SELECT k, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn FROM t) WHERE rn <= 3 WITH ('t.type' = 'x')`,
			"SELECT k, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn\nFROM t\nQUALIFY ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) <= 3\nWITH ('t.type' = 'x')"},
		{`SELECT k, v FROM t QUALIFY LAG(v) OVER (ORDER BY ts) IS NULL`,
			"SELECT k, v\nFROM t\nQUALIFY LAG(v) OVER (ORDER BY ts) IS NULL"},
		{`SELECT k, LAG(v) OVER (ORDER BY ts) AS p FROM t QUALIFY p > 1`,
			"SELECT k, LAG(v) OVER (ORDER BY ts) AS p\nFROM t\nQUALIFY LAG(v) OVER (ORDER BY ts) > 1"},
		{`SELECT x FROM (SELECT * FROM (SELECT v AS x FROM t) WHERE x > 0) ORDER BY x LIMIT 3`,
			"SELECT v AS x\nFROM t\nWHERE v > 0\nORDER BY v\nLIMIT 3"},
		{`SELECT a, ROW_NUMBER() OVER (PARTITION BY a ORDER BY n DESC) AS rn FROM (SELECT a, COUNT(*) AS n FROM t GROUP BY a)`,
			"SELECT a, ROW_NUMBER() OVER (PARTITION BY a ORDER BY COUNT(*) DESC) AS rn\nFROM t\nGROUP BY a"},
		// * EXCEPT over a subquery leaves out its named columns, and hands
		// the other names to the subquery's own star.
		{`SELECT * EXCEPT (b) FROM (SELECT a, v AS b FROM t)`, "SELECT a\nFROM t"},
		{`SELECT * EXCEPT (rn, ts) FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v) AS rn FROM t) WHERE rn = 1`,
			"SELECT * EXCEPT (ts)\nFROM t\nQUALIFY ROW_NUMBER() OVER (PARTITION BY k ORDER BY v) = 1"},
	}
	for _, tt := range tests {
		stmts, err := Parse("q.sql", tt.src)
		if err != nil {
			t.Errorf("%s: %v", tt.src, err)
			continue
		}
		if got := stmts[0].Query.String(); got != tt.want {
			t.Errorf("%s:\ngot  %q\nwant %q", tt.src, got, tt.want)
		}
		// The merged query prints as SQL that parses to the same query.
		again, err := Parse("q.sql", stmts[0].Query.String())
		if err != nil || again[0].Query.String() != tt.want {
			t.Errorf("%s: reprint does not parse back: %v", tt.src, err)
		}
	}
}

func TestDerivedTableErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{`SELECT b FROM (SELECT a FROM t)`, `1:8: unknown column "b" (the subquery in FROM has the columns a)`},
		{`SELECT a FROM (SELECT a FROM t`, "expected ')' to close the '(' at 1:15"},
		{`SELECT a FROM (a)`, "1:16: expected SELECT after '(' in FROM"},
		{`SELECT COUNT(*) FROM (SELECT a FROM t)`, "COUNT over a subquery in FROM is not supported"},
		{`SELECT a FROM (SELECT a FROM t) GROUP BY a`, "GROUP BY over a subquery in FROM is not supported"},
		{`SELECT x.a FROM (SELECT a FROM t) y`, `unknown qualifier "x"`},
		{`SELECT a FROM (SELECT a FROM t LIMIT 3) WHERE a > 1`, "LIMIT inside a subquery that the outer query filters"},
		{`SELECT b FROM (SELECT DISTINCT a, b FROM t)`, "a subquery with SELECT DISTINCT can only be selected whole"},
		{`SELECT a FROM (SELECT a FROM t EMIT FINAL) EMIT CHANGES`, "the subquery says EMIT FINAL and the outer query EMIT CHANGES"},
		{`SELECT r, LAG(r) OVER (ORDER BY r) FROM (SELECT RANK() OVER (ORDER BY a) AS r FROM t)`, "over a subquery with window functions"},
		{`SELECT * EXCEPT (c) FROM (SELECT a, b FROM t)`, `1:18: unknown column "c" (the subquery in FROM has the columns a, b)`},
		{`SELECT a FROM t QUALIFY`, "expected expression after QUALIFY"},
		{`SELECT a FROM t QUALIFY a > 1 WHERE a > 2`, "WHERE clause is out of order"},
	}
	for _, tt := range tests {
		stmts, err := Parse("q.sql", tt.src)
		if err == nil && stmts[0].Select().DerivedErr != nil {
			err = stmts[0].Select().DerivedErr // the planner reports it
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s:\ngot  %v\nwant %q", tt.src, err, tt.want)
		}
	}
}

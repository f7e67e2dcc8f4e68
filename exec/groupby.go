package exec

import (
	"strings"

	"github.com/sluicesql/sluice/sql"
)

// resolveGroupBy replaces, in sel.GroupBy, an ordinal (GROUP BY 1) by the
// select-list expression at that position and a select-list alias (GROUP BY
// s) by its expression, as PostgreSQL and DuckDB do. An input column of the
// same name wins over an alias (PostgreSQL's rule); when the input columns
// are not known, the alias wins. The statement is rewritten in place, so the
// planner sees the same keys. items are the select list with * expanded.
func (p *Program) resolveGroupBy(sel *sql.Select, items []sql.SelectItem) error {
	for i, g := range sel.GroupBy {
		switch x := g.(type) {
		case *sql.Literal:
			if x.Kind != sql.IntLit {
				continue
			}
			n, ok := ordinal(x.Text)
			if !ok || n < 1 || n > len(items) {
				return errorAt(x, "GROUP BY position %s is not in the select list (1 to %d)", x.Text, len(items))
			}
			it := items[n-1]
			if aggs := collectAggregates(it.Expr, nil); len(aggs) > 0 {
				return errorAt(x, "GROUP BY %d refers to %s, which contains the aggregate %s", n, sql.FormatExpr(it.Expr), sql.FormatExpr(aggs[0]))
			}
			sel.GroupBy[i] = it.Expr
		case *sql.Ident:
			if x.Qualifier != "" {
				continue
			}
			if _, ok := p.in.Lookup(x.Name); ok && !p.autoAdd {
				continue
			}
			for _, it := range items {
				if it.Alias == "" || !strings.EqualFold(it.Alias, x.Name) {
					continue
				}
				if id, ok := it.Expr.(*sql.Ident); ok && strings.EqualFold(id.Name, x.Name) && id.Qualifier == "" {
					break
				}
				if aggs := collectAggregates(it.Expr, nil); len(aggs) > 0 {
					return errorAt(x, "GROUP BY %s refers to the aggregate %s", x.Name, sql.FormatExpr(aggs[0]))
				}
				sel.GroupBy[i] = it.Expr
				break
			}
		}
	}
	return nil
}

// ordinal parses a GROUP BY position.
func ordinal(s string) (int, bool) {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' || n > 1<<20 {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, s != ""
}

// nestedFields rewrites, in sel, each reference `a.b...` whose a is no
// source but a column of the input as the nested field b... of column a, so
// that the rest of the planning (same-expression checks, routing keys)
// never takes a nested field for a qualified column.
func (p *Program) nestedFields(sel *sql.Select) {
	for _, e := range append(sel.Exprs(), sel.Qualify) {
		sql.Inspect(e, func(x sql.Expr) bool {
			id, ok := x.(*sql.Ident)
			if !ok || id.Qualifier == "" || isQualifier(sel, id.Qualifier) {
				return true
			}
			if _, ok := p.in.Lookup(id.Qualifier); ok || p.autoAdd {
				id.Path = append([]string{id.Name}, id.Path...)
				id.Name, id.Qualifier = id.Qualifier, ""
			}
			return true
		})
	}
}

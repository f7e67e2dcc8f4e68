package sql

// Select returns the SELECT inside the statement, whatever its kind.
func (s *Statement) Select() *Select { return s.Query }

// Exprs returns the select's top-level expressions in clause order: select
// items, JOIN conditions, WHERE, GROUP BY, HAVING, QUALIFY and ORDER BY. Nested
// expressions (including OVER clauses) are reached with Inspect.
func (sel *Select) Exprs() []Expr {
	var out []Expr
	for _, it := range sel.Items {
		if it.Expr != nil {
			out = append(out, it.Expr)
		}
	}
	for _, j := range sel.Joins {
		out = append(out, j.On)
	}
	if sel.Where != nil {
		out = append(out, sel.Where)
	}
	out = append(out, sel.GroupBy...)
	if sel.Having != nil {
		out = append(out, sel.Having)
	}
	if sel.Qualify != nil {
		out = append(out, sel.Qualify)
	}
	for _, o := range sel.OrderBy {
		out = append(out, o.Expr)
	}
	return out
}

// Calls returns every function call in the select (see Exprs) for which
// pred returns true, in source order; a nil pred selects every call.
func (sel *Select) Calls(pred func(*Call) bool) []*Call {
	var out []*Call
	for _, e := range sel.Exprs() {
		Inspect(e, func(x Expr) bool {
			if c, ok := x.(*Call); ok && (pred == nil || pred(c)) {
				out = append(out, c)
			}
			return true
		})
	}
	return out
}

// OverCalls returns the analytic calls of the select: those with an OVER clause.
func (sel *Select) OverCalls() []*Call {
	return sel.Calls(func(c *Call) bool { return c.Over != nil })
}

// OverClauses returns the OVER clauses of the select's analytic calls.
func (sel *Select) OverClauses() []*Over {
	calls := sel.OverCalls()
	out := make([]*Over, len(calls))
	for i, c := range calls {
		out[i] = c.Over
	}
	return out
}

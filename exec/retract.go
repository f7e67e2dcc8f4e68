package exec

import (
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// Retracts reports whether a result row written may be withdrawn later by
// a row that retracts it (record.Record.Retract): under EMIT CHANGES, or
// when late records update fired windows ('late.data.strategy' =
// 'update'), a group whose new row HAVING rejects, and a SESSION whose
// bounds move (a record extends it, or merges it with another: Kafka
// Streams' session store removes the old session the same way).
func (p *Program) Retracts() bool {
	a := p.agg
	return a != nil && p.groupTop == nil && (a.having != nil || a.session()) && (a.changes() || p.retention() > 0)
}

// retractsWhy says what makes a query retract rows (Retracts).
func (p *Program) retractsWhy() string {
	why := "a SESSION window, whose rows name sessions that later records extend and merge,"
	if p.agg.having != nil {
		why = "HAVING, whose rows of groups that stop meeting it are retracted,"
	}
	if p.agg.changes() {
		return why + " under EMIT CHANGES"
	}
	return why + " with 'late.data.strategy' = 'update'"
}

// checkRetracting refuses what would lose or merge the retractions of a
// query that retracts rows. LIMIT cuts each emission of rows, so it could
// cut a retraction and leave a row the result no longer has. DISTINCT
// keeps every retraction, which is exact only when each row names its
// group (every GROUP BY key, and the window, is selected): otherwise one
// group's retraction would delete a row another group still holds.
func (p *Program) checkRetracting(sel *sql.Select, items []sql.SelectItem) error {
	if !p.Retracts() {
		return nil
	}
	if p.hasLimit {
		return errorAt(sel.Limit, "LIMIT cannot apply to %s: a LIMIT cuts each emission of rows and would cut "+
			"retractions, leaving rows the result no longer has; drop LIMIT", p.retractsWhy())
	}
	if !p.distinct {
		return nil
	}
	for _, g := range sel.GroupBy {
		if !selected(items, func(e sql.Expr) bool { return sql.SameExpr(g, e) }) {
			return errorAt(g, "SELECT DISTINCT with %s needs each row to name its group: select the GROUP BY key %s "+
				"(a retraction of one group would delete the row of another that DISTINCT merged with it)", p.retractsWhy(), sql.FormatExpr(g))
		}
	}
	if p.agg.windowed() && !selected(items, isWindowBound) {
		return errorAt(sel.Window, "SELECT DISTINCT with %s needs each row to name its window: select _WINDOW_START "+
			"(a retraction of one window would delete the row of another that DISTINCT merged with it)", p.retractsWhy())
	}
	return nil
}

// selected reports whether a select item's expression satisfies is.
func selected(items []sql.SelectItem, is func(sql.Expr) bool) bool {
	for _, it := range items {
		if it.Expr != nil && is(it.Expr) {
			return true
		}
	}
	return false
}

// isWindowBound reports whether e is _WINDOW_START or _WINDOW_END.
func isWindowBound(e sql.Expr) bool {
	id, ok := e.(*sql.Ident)
	if !ok {
		return false
	}
	sys, _ := record.IsSystemColumn(id.Name)
	return sys == record.SysWindowStart || sys == record.SysWindowEnd
}

package plan

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/sluicesql/sluice/sql"
)

// Analysis is what planning reads from a statement: everything that decides
// how its records may be distributed. Expressions are canonical SQL.
type Analysis struct {
	// Kind is "SELECT", "CREATE STREAM", "CREATE TABLE" or "INSERT INTO".
	Kind string `json:"kind"`
	// Target is the created or inserted-into name; empty for a bare SELECT.
	Target string `json:"target,omitempty"`
	// Sources are the FROM source and each JOIN source, in order.
	Sources []string `json:"sources"`
	// Distinct is set for SELECT DISTINCT.
	Distinct bool `json:"distinct,omitempty"`
	// GroupBy are the GROUP BY keys (columns or expressions).
	GroupBy []string `json:"group_by,omitempty"`
	// Aggregates are the grouping aggregate calls (select list, HAVING, ORDER BY).
	Aggregates []string `json:"aggregates,omitempty"`
	// Window is the WINDOW clause's kind ("tumbling", "sliding", "session"), or "".
	Window string `json:"window,omitempty"`
	// WindowSpec describes the window: sizes and time column.
	WindowSpec string `json:"window_spec,omitempty"`
	// Over lists each analytic call with its OVER clause.
	Over []string `json:"over,omitempty"`
	// OverPartitionBy holds the PARTITION BY keys of each entry of Over ("" when none).
	OverPartitionBy []string `json:"over_partition_by,omitempty"`
	// TopN describes a Top-N (a rank function bounded by QUALIFY, or by
	// WHERE over a subquery): the rank, the ranks kept and the state.
	TopN string `json:"top_n,omitempty"`
	// RowOrder says in which order row windows (OVER) take their rows:
	// "event time (ORDER BY ts)" or "arrival"; "" without row windows or
	// for a Top-N.
	RowOrder string `json:"row_order,omitempty"`
	// Qualify is the QUALIFY filter, when it is not a Top-N bound.
	Qualify string `json:"qualify,omitempty"`
	// OrderBy are the ORDER BY keys with their direction.
	OrderBy []string `json:"order_by,omitempty"`
	// Limit is the LIMIT count when HasLimit.
	Limit    int64 `json:"limit,omitempty"`
	HasLimit bool  `json:"has_limit,omitempty"`
	// Joins describes each JOIN with its equality keys.
	Joins []JoinInfo `json:"joins,omitempty"`
	// PrimaryKey are the select items marked PRIMARY KEY.
	PrimaryKey []string `json:"primary_key,omitempty"`
	// Emit is "changes", "final" or "" (default).
	Emit string `json:"emit,omitempty"`
	// Retracts says which rows written the statement may withdraw later
	// with a retraction (exec.Program.Retracts), or "" when it never does.
	Retracts string `json:"retracts,omitempty"`
	// Stateful is set when the statement keeps state across records
	// (grouping, windows, DISTINCT, joins, analytic functions, ORDER BY, LIMIT).
	Stateful bool `json:"stateful"`
}

// JoinInfo is one JOIN of a statement.
type JoinInfo struct {
	// Kind is "INNER", "LEFT", "RIGHT" or "FULL".
	Kind string `json:"kind"`
	// Source is the joined source's name.
	Source string `json:"source"`
	// On is the join condition.
	On string `json:"on"`
	// Keys are the equality conditions between two inputs, e.g. "o.customer_id = c.id".
	Keys []string `json:"keys,omitempty"`
	// Within is the stream-stream join bound, or "".
	Within string `json:"within,omitempty"`
	// AsOf is the stream's time of an event-time temporal join, or "".
	AsOf string `json:"as_of,omitempty"`
}

var statementKinds = map[sql.StatementKind]string{
	sql.SelectStatement: "SELECT", sql.CreateStream: "CREATE STREAM",
	sql.CreateTable: "CREATE TABLE", sql.InsertInto: "INSERT INTO",
}

var joinKinds = map[sql.JoinKind]string{sql.InnerJoin: "INNER", sql.LeftJoin: "LEFT", sql.RightJoin: "RIGHT", sql.FullJoin: "FULL"}

// analyse reads the statement's clauses.
func analyse(stmt *sql.Statement, r *resolver) Analysis {
	sel := stmt.Query
	a := Analysis{Kind: statementKinds[stmt.Kind], Target: stmt.Name, Distinct: sel.Distinct}
	a.Sources = append(a.Sources, sel.From.Name)
	for _, e := range sel.GroupBy {
		a.GroupBy = append(a.GroupBy, sql.FormatExpr(e))
	}
	for _, c := range aggregateCalls(sel) {
		a.Aggregates = append(a.Aggregates, sql.FormatExpr(c))
	}
	if w := sel.Window; w != nil {
		a.Window, a.WindowSpec = windowText(w)
	}
	for _, c := range overCalls(sel) {
		a.Over = append(a.Over, sql.FormatExpr(c))
		a.OverPartitionBy = append(a.OverPartitionBy, formatList(c.Over.PartitionBy))
	}
	a.TopN, a.RowOrder, a.Qualify = rowWindows(sel)
	for _, o := range sel.OrderBy {
		s := sql.FormatExpr(o.Expr)
		if o.Desc {
			s += " DESC"
		}
		a.OrderBy = append(a.OrderBy, s)
	}
	if sel.Limit != nil {
		a.Limit, a.HasLimit = sel.Limit.Count, true
	}
	for _, j := range sel.Joins {
		a.Sources = append(a.Sources, j.Source.Name)
		info := JoinInfo{Kind: joinKinds[j.Kind], Source: j.Source.Name, On: sql.FormatExpr(j.On)}
		for _, p := range equalities(j.On, r) {
			info.Keys = append(info.Keys, sql.FormatExpr(p.l)+" = "+sql.FormatExpr(p.r))
		}
		if j.Within > 0 {
			info.Within = durationText(j.Within)
		}
		if j.AsOf != nil {
			info.AsOf = sql.FormatExpr(j.AsOf)
		}
		a.Joins = append(a.Joins, info)
	}
	for _, it := range sel.Items {
		if it.PrimaryKey && it.Expr != nil {
			a.PrimaryKey = append(a.PrimaryKey, sql.FormatExpr(it.Expr))
		}
	}
	switch sel.Emit {
	case sql.EmitChanges:
		a.Emit = "changes"
	case sql.EmitFinal:
		a.Emit = "final"
	}
	a.Stateful = a.Distinct || len(a.GroupBy) > 0 || len(a.Aggregates) > 0 || a.Window != "" ||
		len(a.Over) > 0 || len(a.OrderBy) > 0 || a.HasLimit || len(a.Joins) > 0 || len(analyticCalls(sel)) > 0
	return a
}

// retracts says which rows sel may retract (Analysis.Retracts): under
// EMIT CHANGES, or when late records update fired windows, a group's row
// that HAVING no longer keeps and a session's row whose bounds moved.
func retracts(sel *sql.Select, opts Options) string {
	session := sel.Window != nil && sel.Window.Kind == sql.Session
	if sel.Having == nil && !session {
		return ""
	}
	if _, _, _, ok := sql.TopN(sel); ok && !rowTopN(sel) {
		return "" // a Top-N over grouped rows ranks each emission
	}
	changes := sel.Emit == sql.EmitChanges || sel.Emit == sql.EmitDefault && sel.Window == nil
	noRetention := false // a zero retention ('0', '0s', '500us'): fired windows are not kept
	if retention := strings.TrimSpace(property(sel, opts, "late.data.retention")); retention != "" {
		d, err := sql.PropertyDuration(retention)
		noRetention = err == nil && d == 0
	}
	update := sel.Window != nil && !noRetention && strings.EqualFold(strings.TrimSpace(property(sel, opts, "late.data.strategy")), "update")
	var rows []string
	if sel.Having != nil {
		rows = append(rows, "a group's row when the group stops meeting HAVING")
	}
	if session {
		rows = append(rows, "a session's row when a record extends the session or merges it with another")
	}
	var when string
	switch {
	case changes:
		when = "under EMIT CHANGES"
	case update:
		when = "as late records update fired windows ('late.data.strategy'='update')"
	default:
		return ""
	}
	key := "key"
	if sel.Window != nil {
		key = "key and window"
	}
	return strings.Join(rows, ", and ") + ", " + when +
		" (a retraction: the row's " + key + " with NULL aggregates; a keyed Kafka sink writes a tombstone)"
}

// rowWindows describes a Top-N, or the order row windows take their rows
// in and the QUALIFY filter.
func rowWindows(sel *sql.Select) (topN, order, qualify string) {
	if c, lo, hi, ok := sql.TopN(sel); ok {
		ranks := fmt.Sprintf("ranks %d to %d", lo, hi)
		if lo == 1 {
			ranks = fmt.Sprintf("the top %d", hi)
		}
		per := "in all"
		if len(c.Over.PartitionBy) > 0 {
			per = "per " + formatList(c.Over.PartitionBy)
		}
		state := fmt.Sprintf("%d rows", hi)
		switch strings.ToUpper(c.Name) {
		case "RANK":
			state += " plus the rows tied with the last"
		case "DENSE_RANK":
			state = fmt.Sprintf("the rows of the %d best ORDER BY values", hi)
		}
		switch {
		case !rowTopN(sel):
			return fmt.Sprintf("%s of %s %s, ranking the grouped rows of each emission (each window as it fires)", ranks, sql.FormatExpr(c), per), "", ""
		case sel.Window != nil:
			kind, _ := windowText(sel.Window)
			return fmt.Sprintf("%s of %s %s within each %s window, emitted when it closes (state: %s per key and open window)",
				ranks, sql.FormatExpr(c), per, kind, state), "", ""
		}
		updates := ""
		rowNumber := strings.EqualFold(c.Name, "ROW_NUMBER")
		switch {
		case sel.Emit == sql.EmitChanges && !rowNumber:
			updates = "; updates keyed by every selected column but the rank, a row leaving the top rows retracted with a NULL rank"
		case (sel.Emit == sql.EmitChanges || sel.Emit == sql.EmitDefault && rowNumber) && lo == hi:
			updates = "; updates keyed by the PARTITION BY columns"
		case sel.Emit == sql.EmitChanges || sel.Emit == sql.EmitDefault && rowNumber:
			updates = "; updates keyed by the PARTITION BY columns and the rank"
		}
		return fmt.Sprintf("%s of %s %s (state: %s per key%s)", ranks, sql.FormatExpr(c), per, state, updates), "", ""
	}
	if sel.Qualify != nil {
		qualify = sql.FormatExpr(sel.Qualify)
	}
	calls := overCalls(sel)
	if len(calls) == 0 {
		return "", "", qualify
	}
	order = "arrival"
	for _, c := range calls {
		if len(c.Over.OrderBy) > 0 {
			order = "event time (ORDER BY " + sql.FormatExpr(c.Over.OrderBy[0].Expr) + "; rows wait for the watermark)"
		}
	}
	return "", order, qualify
}

// rowTopN reports whether sel is a Top-N over its input rows (within a
// window, if it has one), not over grouped rows.
func rowTopN(sel *sql.Select) bool {
	_, _, _, ok := sql.TopN(sel)
	return ok && len(sel.GroupBy) == 0 && sel.Having == nil && len(aggregateCalls(sel)) == 0
}

func windowText(w *sql.Window) (kind, spec string) {
	d := durationText
	switch w.Kind {
	case sql.Tumbling:
		kind, spec = "tumbling", "size "+d(w.Size)
	case sql.Sliding:
		kind, spec = "sliding", fmt.Sprintf("size %s, advance %s", d(w.Size), d(w.Advance))
	default:
		kind, spec = "session", "gap "+d(w.Gap)
	}
	if w.TimeColumn != "" {
		spec += ", on " + w.TimeColumn
	} else {
		spec += ", on event time"
	}
	return kind, spec
}

// durationText prints d in the largest whole unit: 1m, 30s, 250ms, 2h.
func durationText(d time.Duration) string {
	units := []struct {
		u    time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}}
	for _, u := range units {
		if d != 0 && d%u.u == 0 {
			return fmt.Sprintf("%d%s", d/u.u, u.name)
		}
	}
	return d.String()
}

// exprs returns every expression of sel in clause order, for scans.
func exprs(sel *sql.Select) []sql.Expr {
	var es []sql.Expr
	for _, it := range sel.Items {
		es = append(es, it.Expr)
	}
	es = append(es, sel.Where, sel.Having, sel.Qualify)
	es = append(es, sel.GroupBy...)
	for _, o := range sel.OrderBy {
		es = append(es, o.Expr)
	}
	return es
}

// calls returns the calls of sel that pred accepts, not descending into them.
func calls(sel *sql.Select, pred func(*sql.Call) bool) []*sql.Call {
	var out []*sql.Call
	for _, e := range exprs(sel) {
		sql.Inspect(e, func(n sql.Expr) bool {
			if c, ok := n.(*sql.Call); ok && pred(c) {
				out = append(out, c)
				return false
			}
			return true
		})
	}
	return out
}

// aggregateCalls are grouping aggregates (no OVER). A call repeated (in
// HAVING, in ORDER BY, or twice in the select list) is listed once, as the
// executor computes it once (sql.SameExpr).
func aggregateCalls(sel *sql.Select) []*sql.Call {
	var seen []*sql.Call
	return calls(sel, func(c *sql.Call) bool {
		if c.Over != nil || !isAggregate(c.Name) || slices.ContainsFunc(seen, func(s *sql.Call) bool { return sql.SameExpr(s, c) }) {
			return false
		}
		seen = append(seen, c)
		return true
	})
}

// overCalls are the calls with an OVER clause.
// A call repeated in QUALIFY (or by a merged subquery) is listed once.
func overCalls(sel *sql.Select) []*sql.Call {
	seen := map[string]bool{}
	return calls(sel, func(c *sql.Call) bool {
		if c.Over == nil || seen[sql.FormatExpr(c)] {
			return false
		}
		seen[sql.FormatExpr(c)] = true
		return true
	})
}

// analyticCalls are row-order functions used without OVER.
func analyticCalls(sel *sql.Select) []*sql.Call {
	return calls(sel, func(c *sql.Call) bool { return c.Over == nil && isAnalytic(c.Name) })
}

// pair is one equality between columns of two different inputs.
type pair struct{ l, r sql.Expr }

// equalities returns the conjuncts of on that equate expressions over two
// different inputs, with the lower-numbered input on the left.
func equalities(on sql.Expr, r *resolver) []pair {
	var out []pair
	for _, c := range sql.Conjuncts(on) {
		b, ok := c.(*sql.Binary)
		if !ok || b.Op != sql.Eq {
			continue
		}
		li, ri := r.input(b.L), r.input(b.R)
		if li < 0 || ri < 0 || li == ri {
			continue
		}
		if li < ri {
			out = append(out, pair{b.L, b.R})
		} else {
			out = append(out, pair{b.R, b.L})
		}
	}
	return out
}

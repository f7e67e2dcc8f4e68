// Package exec is Sluice's per-partition executor: filter, projection,
// DISTINCT, GROUP BY aggregation, event-time windows with watermarks, row
// windows (OVER) and the two emit modes. Compile turns a SELECT into a
// Program; each partition worker runs its own Pipeline of it.
package exec

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// Program is a compiled query. It is immutable and shared by the pipelines
// of all partition workers (its compiled expressions are pure functions).
type Program struct {
	in, out  *record.Schema
	keySlots []int
	keyTypes []record.Type // of the keySlots' columns (Program.keyColumns)
	autoAdd  bool          // input columns are discovered from the query
	external bool          // the watermark moves only through Advance
	set      settings
	time     eventTimeSpec
	where    expr.Func
	distinct bool

	// holdChanges: Held covers the groups EMIT CHANGES updates (HoldChanges)
	holdChanges bool
	// fence, when set, gives the watermark of the checkpoint a partition
	// resumed from after a rebalance (SetReplayFences)
	fence Fences

	// project computes the output row from an input row (stateless and
	// analytic queries); nil for aggregating queries.
	project []expr.Func
	// agg is the aggregation plan; nil for stateless queries.
	agg *aggPlan
	// analytic computes OVER calls into extra slots; nil without them.
	analytic *analyticPlan
	// qualify filters rows on their OVER values (QUALIFY); nil when absent.
	qualify expr.Func
	// top is the plan of a Top-N query; nil for others.
	top *topNPlan
	// groupTop is the plan of a Top-N over grouped rows; nil for others.
	groupTop *groupTopN

	order    []orderKey
	limit    int64
	hasLimit bool
}

// aggPlan is the plan of an aggregating query. A group's row (the record
// HAVING and the select list are evaluated over) holds the group key
// values, then the aggregate results, then the window start and end.
type aggPlan struct {
	keys    []expr.Func
	keyText []string // the GROUP BY expressions as written, naming keys in dead letters
	// keyTypes are the GROUP BY expressions' types: a group keeps its key
	// in their form (record.Value.KeyForm).
	keyTypes []record.Type
	specs    []aggSpec
	having   expr.Func
	project  []expr.Func
	// retract computes, with HAVING or a SESSION window, the row that
	// retracts a group's earlier row: project's functions for the columns
	// of keys and window only, NULL for a column of an aggregate.
	retract []expr.Func
	window  *windowSpec
	emit    sql.EmitMode
	// global is set for aggregates without GROUP BY and window: SQL gives
	// one row even for no input.
	global bool
}

func (a *aggPlan) rowLen() int       { return len(a.keys) + len(a.specs) + 2 }
func (a *aggPlan) startSlot() int    { return len(a.keys) + len(a.specs) }
func (a *aggPlan) changes() bool     { return a.emit == sql.EmitChanges }
func (a *aggPlan) windowed() bool    { return a.window != nil }
func (a *aggPlan) session() bool     { return a.window != nil && a.window.kind == sql.Session }
func (a *aggPlan) aggSlot(i int) int { return len(a.keys) + i }

// aggSpec is one distinct aggregate call of the query.
type aggSpec struct {
	call *sql.Call
	make func() aggregator
}

// windowSpec is an event-time window in milliseconds.
type windowSpec struct {
	kind               sql.WindowKind
	size, advance, gap int64
}

// length is the window's span: its size, or a session's gap.
func (w *windowSpec) length() int64 {
	if w.kind == sql.Session {
		return w.gap
	}
	return w.size
}

// Compile compiles sel. Errors are positioned (*expr.Error) where a node
// is at fault.
func Compile(sel *sql.Select, opts Options) (*Program, error) {
	if sel == nil {
		return nil, fmt.Errorf("compile: no query")
	}
	if len(sel.Joins) > 0 {
		return nil, errorAt(sel.Joins[0], "JOIN is not supported by the executor")
	}
	set, err := parseSettings(opts.Properties)
	if err != nil {
		return nil, err
	}
	p := &Program{set: set, distinct: sel.Distinct, external: opts.ExternalWatermark}
	p.autoAdd = opts.Schema == nil
	p.in = record.NewSchema()
	if opts.Schema != nil {
		p.in = record.NewSchemaOf(opts.Schema.Fields()...)
	}
	in := &expr.Scope{Schema: p.in, AutoAdd: p.autoAdd, Qualifiers: qualifiers(sel)}
	if err := checkDerived(sel, in); err != nil {
		return nil, err
	}
	if err := checkSelectList(sel, in); err != nil {
		return nil, err
	}
	p.nestedFields(sel)
	if err := p.compileEventTime(sel); err != nil {
		return nil, err
	}
	if sel.Where != nil {
		var t record.Type
		if p.where, t, err = expr.CompileTyped(sel.Where, in); err != nil {
			return nil, whereAlias(err, sel, in)
		}
		if t.Kind != record.TypeAny && t.Kind != record.TypeBoolean {
			return nil, errorAt(sel.Where, "argument of WHERE must be BOOLEAN, not %s %s", t, sql.FormatExpr(sel.Where))
		}
	}
	items, err := p.expandStars(sel)
	if err != nil {
		return nil, err
	}
	if p.out, err = outputSchema(items); err != nil {
		return nil, err
	}
	if err := p.resolveGroupBy(sel, items); err != nil {
		return nil, err
	}
	switch {
	case isTopN(sel) && !groups(sel, items):
		err = p.compileTopN(sel, items, in)
	case isAggregating(sel, items):
		err = p.compileAggregate(sel, items, in)
	default:
		err = p.compileStateless(sel, items, in)
	}
	if err != nil {
		return nil, err
	}
	p.markNotNull(sel, items)
	if err := p.compileOrder(sel, items); err != nil {
		return nil, err
	}
	if sel.Limit != nil {
		if sel.Limit.Count < 0 {
			return nil, errorAt(sel.Limit, "LIMIT must not be negative")
		}
		p.limit, p.hasLimit = sel.Limit.Count, true
	}
	if err := p.checkRetracting(sel, items); err != nil {
		return nil, err
	}
	if err := p.checkLimitOrder(sel, items); err != nil {
		return nil, err
	}
	p.keySlots = keySlots(sel, items)
	if p.top != nil && p.keySlots == nil {
		p.keySlots = p.top.keySlots
	}
	for _, s := range p.keySlots {
		t := p.out.Field(s).Type
		if p.top != nil {
			t = p.top.types[s]
		}
		p.keyTypes = append(p.keyTypes, t)
	}
	return p, nil
}

// checkDerived resolves the column references of sel's subquery in FROM
// (and of the subqueries inside it) against the input, innermost first,
// then reports the outer query's error over the subquery's columns: a
// mistake is reported where it is, as PostgreSQL does, and a column the
// outer query does not read is checked too. GROUP BY, HAVING and the rest
// of the subquery stay in the merged query and are checked with it.
func checkDerived(sel *sql.Select, in *expr.Scope) error {
	d := sel.Derived
	if d == nil {
		return nil
	}
	if err := checkDerived(d, in); err != nil {
		return err
	}
	if !in.AutoAdd { // with no known input, every name is taken as a column
		exprs := []sql.Expr{}
		for _, it := range d.Items {
			exprs = append(exprs, it.Expr)
		}
		// a grouping subquery's OVER clauses rank its group rows and may name
		// its aliases: they are checked with the merged query
		overs := !isAggregating(d, d.Items)
		for _, e := range append(exprs, d.Where) {
			if err := checkColumns(e, in, overs); err != nil {
				return err
			}
		}
	}
	if sel.DerivedErr != nil {
		return sel.DerivedErr
	}
	return nil
}

// checkSelectList resolves the input columns the select list names before
// the rest of the query is compiled, so that of several unknown names the
// first one written is reported (SELECT symbl ... WHERE quantty > 5 reports
// symbl), as PostgreSQL does. The OVER clauses of a grouping query may name
// its aliases, and are checked with the rest.
func checkSelectList(sel *sql.Select, in *expr.Scope) error {
	if in.AutoAdd || sel.Derived != nil {
		return nil
	}
	for _, it := range sel.Items {
		if it.Star || it.Expr == nil {
			continue
		}
		if err := checkColumns(it.Expr, in, false); err != nil {
			return err
		}
	}
	return nil
}

// checkColumns resolves the column references in e against in, those in
// OVER clauses only when overs is set. System columns (some valid only in
// some clauses) and EXTRACT's field name are no column references.
func checkColumns(e sql.Expr, in *expr.Scope, overs bool) error {
	var err error
	sql.Inspect(e, func(x sql.Expr) bool {
		switch x := x.(type) {
		case *sql.Ident:
			if _, sys := record.IsSystemColumn(x.Name); !sys && err == nil {
				_, err = expr.Compile(x, in)
			}
		case *sql.Call:
			switch {
			case (x.Name == "EXTRACT" || x.Name == "DATE_PART") && len(x.Args) == 2:
				if err == nil {
					err = checkColumns(x.Args[1], in, overs)
				}
				return false
			case x.Over != nil && !overs:
				for _, a := range x.Args {
					if err == nil {
						err = checkColumns(a, in, overs)
					}
				}
				return false
			}
		}
		return err == nil
	})
	return err
}

// whereAlias returns err, the error compiling WHERE, with a hint when it
// is about a name that is no input column but a select-list alias: WHERE
// filters input rows, before the select list is computed (as in
// PostgreSQL), so it must repeat the expression.
func whereAlias(err error, sel *sql.Select, in *expr.Scope) error {
	var se *sql.Error
	if !errors.As(err, &se) || in.AutoAdd {
		return err
	}
	var hint string
	sql.Inspect(sel.Where, func(x sql.Expr) bool {
		id, ok := x.(*sql.Ident)
		if !ok || id.Qualifier != "" || id.Pos != se.Pos || hint != "" {
			return hint == ""
		}
		if _, known := in.Schema.Lookup(id.Name); known {
			return false
		}
		for _, it := range sel.Items {
			if !it.Star && it.Alias != "" && strings.EqualFold(it.Alias, id.Name) {
				hint = fmt.Sprintf("; %s is an alias in the select list, which WHERE cannot read (it filters the input rows): write %s",
					id.Name, sql.FormatExpr(it.Expr))
			}
		}
		return false
	})
	if hint == "" {
		return err
	}
	return &sql.Error{Pos: se.Pos, Msg: se.Msg + hint}
}

// isAggregating reports whether the query groups: GROUP BY, a WINDOW or an
// aggregate call in the select list or HAVING.
func isAggregating(sel *sql.Select, items []sql.SelectItem) bool {
	return sel.Window != nil || groups(sel, items)
}

// collectAggregates appends the distinct aggregate calls in e to have.
func collectAggregates(e sql.Expr, have []*sql.Call) []*sql.Call {
	return collectCalls(e, have, isAggregateCall)
}

// collectCalls appends to have the distinct calls in e that is recognises
// (not looking inside a call it recognised).
func collectCalls(e sql.Expr, have []*sql.Call, is func(sql.Expr) (*sql.Call, bool)) []*sql.Call {
	sql.Inspect(e, func(n sql.Expr) bool {
		c, ok := is(n)
		if !ok {
			return true
		}
		for _, h := range have {
			if sql.SameExpr(h, c) {
				return false
			}
		}
		have = append(have, c)
		return false
	})
	return have
}

// compileEventTime resolves where event time comes from.
func (p *Program) compileEventTime(sel *sql.Select) error {
	p.time = eventTimeSpec{slot: -1, format: p.set.timeFormat}
	name := p.set.timeField
	var at sql.Node = sel
	if sel.Window != nil && sel.Window.TimeColumn != "" {
		name, at = sel.Window.TimeColumn, sel.Window.TimeColumnPos
	}
	if name == "" {
		return nil
	}
	if sys, ok := record.IsSystemColumn(name); ok {
		if sys == record.SysEventTime || sys == record.SysTimestamp {
			return nil
		}
		return errorAt(at, "%s cannot be the event time", sys)
	}
	slot, ok := p.in.Lookup(name)
	if !ok {
		if !p.autoAdd {
			if col, _, nested := strings.Cut(name, "."); nested {
				if _, ok := p.in.Lookup(col); ok {
					return eventTimeError(sel, at, fmt.Sprintf("event time column %q is a nested field of %s, not a column: make it a column first, in a statement before (CREATE STREAM s AS SELECT %[1]s AS ts, ... FROM ...)", name, col))
				}
			}
			return eventTimeError(sel, at, fmt.Sprintf("event time column %q is not an input column%s", name, expr.Hint(name, p.in.Names())))
		}
		slot = p.in.Add(name)
	}
	if msg := p.notATime(p.in.Field(slot)); msg != "" {
		return eventTimeError(sel, at, msg)
	}
	p.time.slot, p.time.name = slot, name
	return nil
}

// notATime says why no value of the column f can be an event time, or "":
// a BOOLEAN, ROW or ARRAY never is; a STRING inferred from a sample in which
// no value was a time (an inferred event-time column with ISO-8601 text or
// epoch numbers in it is a TIMESTAMP) is not one either, unless
// 'event.time.format' reads its text as epoch seconds. Every record would
// go to the dead-letter queue.
func (p *Program) notATime(f record.Field) string {
	var msg string
	switch t := f.Type; {
	case t.Kind == record.TypeBoolean || t.Nested():
		msg = fmt.Sprintf("event time column %q is %s, which holds no time", f.Name, t)
	case t.Kind == record.TypeString && f.Inferred && p.time.format != formatSeconds && p.time.format != formatISO:
		msg = fmt.Sprintf("event time column %q holds no time: it is STRING, and none of its values in the sample its type was inferred from is ISO-8601 text or epoch milliseconds", f.Name)
	default:
		return ""
	}
	var times []string
	for _, c := range p.in.Fields() {
		if c.Type.Kind == record.TypeTimestamp {
			times = append(times, c.Name)
		}
	}
	if len(times) > 0 {
		msg += "; the TIMESTAMP columns are " + strings.Join(times, ", ")
	}
	return msg
}

// eventTimeError is the error msg about the event-time column named at at,
// or by WITH 'event.time.field' when at is the statement sel.
func eventTimeError(sel *sql.Select, at sql.Node, msg string) error {
	if at == sql.Node(sel) {
		return &sql.PropertyError{Key: PropEventTimeField, InValue: true, Msg: "WITH '" + PropEventTimeField + "': " + msg}
	}
	return errorAt(at, "%s", msg)
}

// expandStars replaces `*` items by the input columns.
func (p *Program) expandStars(sel *sql.Select) ([]sql.SelectItem, error) {
	var items []sql.SelectItem
	for _, it := range sel.Items {
		if !it.Star {
			items = append(items, it)
			continue
		}
		if it.Qualifier != "" && !isQualifier(sel, it.Qualifier) {
			return nil, errorAt(it, "unknown qualifier %q in %s.*%s", it.Qualifier, it.Qualifier, expr.Hint(it.Qualifier, qualifiers(sel)))
		}
		if p.autoAdd {
			return nil, errorAt(it, "SELECT * needs the input columns, and none are known: declare them (CREATE STREAM %s (...) or '%s.columns'), or let them be inferred from the data", sel.From.Name, sel.From.Name)
		}
		names := p.in.Names()
		except := map[string]bool{}
		for _, x := range it.Except {
			if _, ok := p.in.Lookup(x.Name); !ok {
				return nil, expr.UnknownColumn(x, x.Name, names)
			}
			except[strings.ToLower(x.Name)] = true
		}
		for _, name := range names {
			if !except[strings.ToLower(name)] {
				items = append(items, sql.SelectItem{Pos: it.Pos, Expr: &sql.Ident{Pos: it.Pos, Name: name}})
			}
		}
	}
	if len(items) == 0 {
		return nil, errorAt(sel, "empty select list")
	}
	return items, nil
}

// qualifiers returns the names a column of sel's input may be qualified
// with: the FROM source's name and alias.
func qualifiers(sel *sql.Select) []string {
	q := []string{sel.From.Name}
	if sel.From.Alias != "" {
		q = append(q, sel.From.Alias)
	}
	return q
}

// isQualifier reports whether name is one of sel's qualifiers.
func isQualifier(sel *sql.Select, name string) bool {
	for _, q := range qualifiers(sel) {
		if strings.EqualFold(q, name) {
			return true
		}
	}
	return false
}

// outputSchema names the output columns: the alias, else the column name,
// else the expression's canonical text.
func outputSchema(items []sql.SelectItem) (*record.Schema, error) {
	s := record.NewSchema()
	for _, it := range items {
		name := columnName(it)
		if _, dup := s.Lookup(name); dup {
			return nil, errorAt(it, "duplicate output column %q (give it an alias)", name)
		}
		s.Add(name)
	}
	return s, nil
}

func columnName(it sql.SelectItem) string {
	if it.Alias != "" {
		return it.Alias
	}
	if id, ok := it.Expr.(*sql.Ident); ok {
		if n := len(id.Path); n > 0 {
			return id.Path[n-1] // a nested field is named by its last name, as in DuckDB
		}
		if sys, ok := record.IsSystemColumn(id.Name); ok {
			return sys
		}
		return id.Name
	}
	if ix, ok := it.Expr.(*sql.Index); ok && len(ix.Path) > 0 {
		return ix.Path[len(ix.Path)-1]
	}
	return sql.FormatExpr(it.Expr)
}

// compileStateless compiles a query with one output row per input row.
func (p *Program) compileStateless(sel *sql.Select, items []sql.SelectItem, in *expr.Scope) error {
	calls := overCalls(items, sel.Qualify)
	scope := in
	if len(calls) == 0 && sel.Qualify != nil {
		return errorAt(sel.Qualify, "QUALIFY filters on the results of window functions (OVER), and the query has none: use WHERE")
	}
	if len(calls) > 0 {
		plan, err := compileAnalytic(calls, in)
		if err != nil {
			return err
		}
		// A first pass discovers every input column the select list reads,
		// so that the analytic slots can follow the final input schema, and
		// type-checks the expressions over the OVER values (before the
		// window's ORDER BY is judged: QUALIFY rn <= 'a' is a type error).
		discover := &expr.Scope{Schema: in.Schema, AutoAdd: in.AutoAdd, Override: func(e sql.Expr) (int, bool) {
			_, ok := plan.override(e)
			return 0, ok
		}, OverrideType: plan.typeOf(in)}
		for _, e := range append(itemExprs(items), sel.Qualify) {
			if e == nil {
				continue
			}
			if _, err := expr.Compile(e, discover); err != nil {
				return err
			}
		}
		if plan.ordered, err = p.eventOrdered(calls); err != nil {
			return err
		}
		p.analytic = plan
		plan.base = p.in.Len()
		scope = &expr.Scope{Schema: in.Schema, AutoAdd: in.AutoAdd, Override: plan.override, OverrideType: plan.typeOf(in)}
		if err := p.compileQualify(sel.Qualify, scope); err != nil {
			return err
		}
	}
	p.project = make([]expr.Func, len(items))
	fields := p.out.Fields()
	for i, it := range items {
		f, t, err := expr.CompileTyped(it.Expr, scope)
		if err != nil {
			return err
		}
		p.project[i] = f
		fields[i].Type = t
	}
	p.out = record.NewSchemaOf(fields...)
	return nil
}

// keySlots returns the output slots of the message key: PRIMARY KEY
// columns, else the GROUP BY expressions found in the select list.
func keySlots(sel *sql.Select, items []sql.SelectItem) []int {
	var slots []int
	for i, it := range items {
		if it.PrimaryKey {
			slots = append(slots, i)
		}
	}
	if slots != nil {
		return slots
	}
	for _, g := range sel.GroupBy {
		for i, it := range items {
			if sql.SameExpr(g, it.Expr) {
				slots = append(slots, i)
				break
			}
		}
	}
	return slots
}

// InputSchema returns the input columns by slot; decoders fill these.
func (p *Program) InputSchema() *record.Schema { return p.in }

// OutputSchema returns the output columns by slot.
func (p *Program) OutputSchema() *record.Schema { return p.out }

// KeySlots returns the output slots forming the message key (nil: none).
func (p *Program) KeySlots() []int { return p.keySlots }

// EventTime returns r's event time per the query: the window's time
// column, else the event.time.field property, else r's event time or
// timestamp. It reports false when the column's value is not a time.
func (p *Program) EventTime(r *record.Record) (int64, bool) {
	t, err := p.time.of(r)
	return t, err == nil
}

// Windowed reports whether the query has event-time windows (a WINDOW, or
// a row window ordered by event time), whose late records a job judges by
// the watermark it stamps on each record (record.Record.Watermark).
func (p *Program) Windowed() bool { return p.agg != nil && p.agg.windowed() || p.rowOrdered() }

// WindowedRows reports whether each output row is the result of one
// window of a windowed aggregate (record.Record.WindowStart gives the
// window): a key that names the row holds the window too.
func (p *Program) WindowedRows() bool { return p.agg != nil && p.agg.windowed() }

// Sessions reports whether the query aggregates SESSION windows.
func (p *Program) Sessions() bool { return p.agg != nil && p.agg.session() }

// Limit returns the query's LIMIT, if any.
func (p *Program) Limit() (int64, bool) { return p.limit, p.hasLimit }

// Ordered reports whether the output has an ORDER BY to keep across
// partitions.
func (p *Program) Ordered() bool { return len(p.order) > 0 }

// AtEnd says which of the query's rows wait for the end of its input, and
// what else would give them, or "" when it emits as it goes: an aggregate
// under EMIT FINAL without a WINDOW emits its groups once, at the end; an
// ORDER BY over rows that are not grouped sorts the whole input; a Top-N
// under EMIT FINAL without a WINDOW ranks it. Over an input that never
// ends, such a query writes nothing. sorts says the ORDER BY is why.
func (p *Program) AtEnd() (why, instead string, sorts bool) {
	switch {
	case p.agg != nil && !p.agg.windowed() && p.agg.emit == sql.EmitFinal:
		return "EMIT FINAL without a WINDOW emits each group's row once, at the end of the input", "add a WINDOW, or EMIT CHANGES", false
	case p.sortsAll():
		return "ORDER BY over rows that are not grouped sorts the whole input and writes it at its end", "drop the ORDER BY, or sort within a WINDOW", true
	case p.top != nil && p.top.window == nil && !p.top.changes:
		return "a Top-N under EMIT FINAL without a WINDOW emits each key's top rows at the end of the input", "add a WINDOW, or EMIT CHANGES", false
	}
	return "", "", false
}

// HoldsRows reports whether the query holds input rows until the watermark
// passes them (a row window ordered by event time): a source partition
// that runs far ahead of the others in event time then fills its state.
func (p *Program) HoldsRows() bool { return p.rowOrdered() }

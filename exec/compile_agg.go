package exec

import (
	"fmt"
	"strings"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// compileAggregate compiles a grouping query: group keys and aggregate
// arguments over input rows; HAVING and the select list over group rows.
func (p *Program) compileAggregate(sel *sql.Select, items []sql.SelectItem, in *expr.Scope) error {
	a := &aggPlan{emit: sel.Emit, global: len(sel.GroupBy) == 0 && sel.Window == nil}
	p.agg = a
	if sel.Window != nil {
		w, err := compileWindow(sel.Window)
		if err != nil {
			return err
		}
		a.window = w
	}
	if a.emit == sql.EmitDefault {
		a.emit = sql.EmitChanges
		if a.window != nil {
			a.emit = sql.EmitFinal
		}
	}
	if p.distinct && a.emit == sql.EmitChanges {
		return errorAt(sel, "SELECT DISTINCT with aggregation needs EMIT FINAL")
	}
	top, err := compileGroupTopN(sel, items, a)
	if err != nil {
		return err
	}
	p.groupTop = top
	var keyTypes []record.Type
	for _, g := range sel.GroupBy {
		if c, ok := findAggregate(g); ok {
			return errorAt(c, "aggregate %s is not allowed in GROUP BY", c.Name)
		}
		f, t, err := expr.CompileTyped(g, in)
		if err != nil {
			return err
		}
		a.keys = append(a.keys, f)
		a.keyText = append(a.keyText, sql.FormatExpr(g))
		keyTypes = append(keyTypes, t)
	}
	var calls []*sql.Call
	for _, it := range items {
		calls = collectAggregates(it.Expr, calls)
	}
	calls = collectAggregates(sel.Having, calls)
	calls = collectAggregates(sel.Qualify, calls)
	for _, c := range calls {
		mk, err := aggFactory(c, in)
		if err != nil {
			return err
		}
		a.specs = append(a.specs, aggSpec{call: c, make: mk})
	}
	a.keyTypes = keyTypes
	p.keyOutputTypes(sel.GroupBy, keyTypes, items)
	p.aggOutputTypes(items, in)
	g := &groupScope{in: in, plan: a, groupBy: sel.GroupBy, keyTypes: keyTypes, items: items}
	scope := &expr.Scope{Schema: record.NewSchema(), Override: g.slot, OverrideType: g.typeOf}
	a.project = make([]expr.Func, len(items))
	for i, it := range items {
		if top != nil && i == top.rankOut {
			// set when the emission is ranked; its PARTITION BY and ORDER BY,
			// which may name aliases, are checked with the hidden columns
			a.project[i] = nullValue
			continue
		}
		if err := g.check(it.Expr); err != nil {
			return err
		}
		f, err := expr.Compile(it.Expr, scope)
		if err != nil {
			return err
		}
		a.project[i] = f
	}
	if top != nil {
		g.aliases = true
		for _, e := range top.groupTopColumns(a) {
			if err := g.check(e); err != nil {
				return err
			}
			f, err := expr.Compile(e, scope)
			if err != nil {
				return err
			}
			a.project = append(a.project, f)
		}
		g.aliases = false
	}
	if sel.Having != nil {
		g.aliases = true
		if err := g.check(sel.Having); err != nil {
			return err
		}
		f, err := expr.Compile(sel.Having, scope)
		if err != nil {
			return err
		}
		a.having = f
	}
	if a.having != nil || a.session() {
		a.retract = make([]expr.Func, len(items))
		for i, it := range items {
			a.retract[i] = a.project[i]
			if len(collectAggregates(it.Expr, nil)) > 0 {
				a.retract[i] = nullValue
			}
		}
	}
	return nil
}

func nullValue(*record.Record) (record.Value, error) { return record.Value{}, nil }

// groupScope maps the nodes a group row holds to their slots.
type groupScope struct {
	in       *expr.Scope // the input rows, for a name that is no column at all
	plan     *aggPlan
	groupBy  []sql.Expr
	keyTypes []record.Type // of groupBy
	items    []sql.SelectItem
	aliases  bool // HAVING may name select-list aliases of group row values
}

// slot is the expr.Scope Override for expressions over group rows.
func (g *groupScope) slot(e sql.Expr) (int, bool) {
	slot, _, ok := g.resolve(e)
	return slot, ok
}

// typeOf is the expr.Scope OverrideType: the type of a node slot maps, so
// that HAVING and the select list are type-checked over group rows as
// over input rows (HAVING COUNT(*) > 'x', symbol + 1 with symbol grouped).
func (g *groupScope) typeOf(e sql.Expr) record.Type {
	_, t, _ := g.resolve(e)
	return t
}

// resolve returns the slot of the group row holding e, and its type.
func (g *groupScope) resolve(e sql.Expr) (int, record.Type, bool) {
	for i, k := range g.groupBy {
		if sql.SameExpr(e, k) {
			return i, g.keyTypes[i], true
		}
	}
	if c, ok := isAggregateCall(e); ok {
		for i, s := range g.plan.specs {
			if sql.SameExpr(e, s.call) {
				return g.plan.aggSlot(i), aggType(c, g.in), true
			}
		}
	}
	id, ok := e.(*sql.Ident)
	if !ok {
		return 0, record.AnyType, false
	}
	if sys, ok := record.IsSystemColumn(id.Name); ok && g.plan.window != nil {
		switch sys {
		case record.SysWindowStart:
			return g.plan.startSlot(), record.TimestampType, true
		case record.SysWindowEnd:
			return g.plan.startSlot() + 1, record.TimestampType, true
		}
	}
	if g.aliases && id.Qualifier == "" {
		for _, it := range g.items {
			if strings.EqualFold(it.Alias, id.Name) {
				g.aliases = false
				slot, t, ok := g.resolve(it.Expr)
				g.aliases = true
				return slot, t, ok
			}
		}
	}
	return 0, record.AnyType, false
}

// aggType is the type an aggregate call's results are checked as: COUNT
// a BIGINT, MIN, MAX, FIRST_VALUE and LAST_VALUE their argument's type,
// SUM of integers a BIGINT, SUM of decimals a DECIMAL at their scale, AVG
// of integers or decimals a DECIMAL of scale at least 6 (see "Exact SUM and
// AVG"), the other numeric aggregates of numbers a DOUBLE, STRING_AGG a
// STRING; ANY when that is not known.
func aggType(c *sql.Call, in *expr.Scope) record.Type {
	name := strings.ToUpper(c.Name)
	if name == "COUNT" {
		return record.BigintType
	}
	if len(c.Args) == 0 {
		return record.AnyType
	}
	_, t, err := expr.CompileTyped(c.Args[0], in)
	if err != nil {
		return record.AnyType
	}
	switch name {
	case "MIN", "MAX", "FIRST_VALUE", "LAST_VALUE":
		return t
	case "STRING_AGG":
		return record.StringType
	case "SUM", "AVG", "STDDEV", "STDDEV_POP", "STDDEV_SAMP", "VARIANCE", "VAR_POP", "VAR_SAMP", "MEDIAN":
		exact := t.Kind == record.TypeInteger || t.Kind == record.TypeBigint || t.Kind == record.TypeDecimal
		switch {
		case name == "SUM" && (t.Kind == record.TypeInteger || t.Kind == record.TypeBigint):
			return record.BigintType
		case name == "SUM" && t.Kind == record.TypeDecimal:
			return record.DecimalType(record.MaxPrecision, t.Scale) // exact, at the column's scale
		case name == "AVG" && exact:
			return record.DecimalType(record.MaxPrecision, max(t.Scale, 6)) // SUM / COUNT by the decimal division rule
		case t.Numeric():
			return record.DoubleType
		}
	}
	return record.AnyType
}

// check rejects column references that are neither grouped nor inside an
// aggregate, with a message that says so.
func (g *groupScope) check(e sql.Expr) error {
	var err error
	sql.Inspect(e, func(n sql.Expr) bool {
		if err != nil {
			return false
		}
		if _, ok := g.slot(n); ok {
			return false
		}
		if id, ok := n.(*sql.Ident); ok {
			if sys, ok := record.IsSystemColumn(id.Name); ok && (sys == record.SysWindowStart || sys == record.SysWindowEnd) {
				err = errorAt(id, "%s needs a WINDOW clause", sys)
				return false
			}
			if names, unknown := g.unknown(id); unknown {
				err = expr.UnknownColumn(id, id.Name, names)
				return false
			}
			err = errorAt(id, "column %q must appear in GROUP BY or be used in an aggregate function", id.Name)
		}
		return true
	})
	return err
}

// unknown reports whether id names neither an input column (of a known
// schema) nor a select-list alias, with the names it could have meant.
func (g *groupScope) unknown(id *sql.Ident) ([]string, bool) {
	if g.in.AutoAdd || id.Qualifier != "" || len(id.Path) > 0 {
		return nil, false
	}
	if _, sys := record.IsSystemColumn(id.Name); sys {
		return nil, false
	}
	if _, ok := g.in.Schema.Lookup(id.Name); ok {
		return nil, false
	}
	names := g.in.Schema.Names()
	for _, it := range g.items {
		if it.Alias != "" {
			if strings.EqualFold(it.Alias, id.Name) {
				return nil, false
			}
			names = append(names, it.Alias)
		}
	}
	return names, true
}

// findAggregate returns the first aggregate call in e.
func findAggregate(e sql.Expr) (*sql.Call, bool) { return findCall(e, isAggregateCall) }

// findAnalytic returns the first analytic (OVER) call in e.
func findAnalytic(e sql.Expr) (*sql.Call, bool) { return findCall(e, isAnalyticCall) }

// findCall returns the first call in e that is recognises.
func findCall(e sql.Expr, is func(sql.Expr) (*sql.Call, bool)) (*sql.Call, bool) {
	var found *sql.Call
	sql.Inspect(e, func(n sql.Expr) bool {
		if c, ok := is(n); ok && found == nil {
			found = c
		}
		return found == nil
	})
	return found, found != nil
}

// compileWindow converts the WINDOW clause to milliseconds and validates it.
func compileWindow(w *sql.Window) (*windowSpec, error) {
	ws := &windowSpec{kind: w.Kind, size: w.Size.Milliseconds(), advance: w.Advance.Milliseconds(), gap: w.Gap.Milliseconds()}
	switch w.Kind {
	case sql.Tumbling:
		if ws.size <= 0 {
			return nil, errorAt(w, "TUMBLING window size must be at least 1ms")
		}
		ws.advance = ws.size
	case sql.Sliding:
		if ws.size <= 0 || ws.advance <= 0 {
			return nil, errorAt(w, "SLIDING window size and advance must be at least 1ms")
		}
	case sql.Session:
		if ws.gap <= 0 {
			return nil, errorAt(w, "SESSION gap must be at least 1ms")
		}
	default:
		return nil, errorAt(w, "unknown window kind %d", w.Kind)
	}
	return ws, nil
}

// aggFactory validates an aggregate call, compiles its arguments and
// returns a constructor of its per-pipeline aggregator.
func aggFactory(c *sql.Call, in *expr.Scope) (func() aggregator, error) {
	name := strings.ToUpper(c.Name)
	if c.Star {
		if name != "COUNT" {
			return nil, errorAt(c, "%s(*) is not valid; only COUNT(*) is", name)
		}
		return func() aggregator { return &countStar{} }, nil
	}
	if c.Distinct && name != "COUNT" {
		return nil, errorAt(c, "DISTINCT is only supported in COUNT(DISTINCT x), not in %s", name)
	}
	lo, hi := 1, 1
	if name == "STRING_AGG" {
		hi = 2
	}
	if len(c.Args) < lo || len(c.Args) > hi {
		want := "1 argument"
		if hi > lo {
			want = fmt.Sprintf("%d or %d arguments", lo, hi)
		}
		return nil, errorAt(c, "%s takes %s, got %d", name, want, len(c.Args))
	}
	args := make([]expr.Func, len(c.Args))
	for i, e := range c.Args {
		if inner, ok := findAggregate(e); ok {
			return nil, errorAt(inner, "aggregate %s cannot be nested inside %s", inner.Name, name)
		}
		if inner, ok := findAnalytic(e); ok {
			return nil, errorAt(inner, "window function %s cannot be used inside %s", inner.Name, name)
		}
		f, t, err := expr.CompileTyped(e, in)
		if err != nil {
			return nil, err
		}
		if i == 0 && !argTypeFits(name, t) {
			return nil, errorAt(c, "function %s(%s) does not exist: %s needs a number, and %s is %s", name, t, name, sql.FormatExpr(e), t)
		}
		args[i] = f
	}
	x := args[0]
	switch name {
	case "COUNT":
		if c.Distinct {
			return func() aggregator { return &countDistinct{arg: x} }, nil
		}
		return func() aggregator { return &countValues{arg: x} }, nil
	case "SUM", "AVG":
		return func() aggregator { return &sumAvg{arg: x, avg: name == "AVG"} }, nil
	case "MIN", "MAX":
		return func() aggregator { return &minMax{arg: x, max: name == "MAX"} }, nil
	case "STDDEV", "STDDEV_SAMP", "STDDEV_POP", "VARIANCE", "VAR_SAMP", "VAR_POP":
		pop := strings.HasSuffix(name, "_POP")
		sqrt := strings.HasPrefix(name, "STDDEV")
		return func() aggregator { return &variance{arg: x, name: name, pop: pop, sqrt: sqrt} }, nil
	case "FIRST_VALUE", "LAST_VALUE":
		return func() aggregator { return &firstLast{arg: x, last: name == "LAST_VALUE"} }, nil
	case "MEDIAN":
		return func() aggregator { return &median{arg: x} }, nil
	case "STRING_AGG":
		var sep expr.Func
		if len(args) == 2 {
			sep = args[1]
		}
		return func() aggregator { return &stringAgg{arg: x, sep: sep} }, nil
	}
	return nil, errorAt(c, "aggregate %s is not supported", name)
}

// argTypeFits reports whether the aggregate name takes an argument of type t:
// SUM, AVG and the statistics need a number (or a value of unknown type).
func argTypeFits(name string, t record.Type) bool {
	switch name {
	case "SUM", "AVG", "STDDEV", "STDDEV_SAMP", "STDDEV_POP", "VARIANCE", "VAR_SAMP", "VAR_POP", "MEDIAN":
		return t.Kind == record.TypeAny || t.Numeric()
	}
	return true
}

// aggOutputTypes gives the output columns that are an aggregate call the
// type its values always have: BIGINT for COUNT and for SUM of integers,
// DECIMAL for SUM of decimals and AVG of integers or decimals (computed
// exactly), the argument's type for MIN and MAX (others stay ANY), so that
// a statement reading the output (in one application) is type-checked.
func (p *Program) aggOutputTypes(items []sql.SelectItem, in *expr.Scope) {
	fields := p.out.Fields()
	for i, it := range items {
		c, ok := it.Expr.(*sql.Call)
		if !ok || c.Over != nil {
			continue
		}
		switch name := strings.ToUpper(c.Name); {
		case name == "COUNT":
			fields[i].Type = record.BigintType
		case (name == "MIN" || name == "MAX") && len(c.Args) == 1:
			if _, t, err := expr.CompileTyped(c.Args[0], in); err == nil {
				fields[i].Type = t
			}
		case (name == "SUM" || name == "AVG") && len(c.Args) == 1:
			// exact: BIGINT or DECIMAL (see aggType); of floats, ANY
			if t := aggType(c, in); t.Kind == record.TypeBigint || t.Kind == record.TypeDecimal {
				fields[i].Type = t
			}
		}
	}
	p.out = record.NewSchemaOf(fields...)
}

// keyOutputTypes gives the output columns that are group keys their keys'
// types (a nested key is then written as JSON), and those that are a
// window's bounds (_WINDOW_START, _WINDOW_END) TIMESTAMP.
func (p *Program) keyOutputTypes(keys []sql.Expr, types []record.Type, items []sql.SelectItem) {
	fields := p.out.Fields()
	for i, it := range items {
		for k, g := range keys {
			if sql.SameExpr(g, it.Expr) {
				fields[i].Type = types[k]
				break
			}
		}
		if id, ok := it.Expr.(*sql.Ident); ok && p.agg.window != nil {
			if sys, _ := record.IsSystemColumn(id.Name); sys == record.SysWindowStart || sys == record.SysWindowEnd {
				fields[i].Type = record.TimestampType
			}
		}
	}
	p.out = record.NewSchemaOf(fields...)
}

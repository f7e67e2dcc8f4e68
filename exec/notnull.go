package exec

import (
	"strings"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// markNotNull sets NotNull on the output columns whose values can never be
// NULL, so that a sink writing a schema (Avro, Protobuf, JSON Schema) writes
// them as non-nullable fields. It is conservative: a column is NOT NULL
// only when notNull proves it.
func (p *Program) markNotNull(sel *sql.Select, items []sql.SelectItem) {
	n := nullability{in: p.in, sel: sel, window: sel.Window != nil, grouped: p.agg != nil && !p.agg.global}
	fields := p.out.Fields()
	changed := false
	for i, it := range items {
		if i < len(fields) && n.notNull(it.Expr) {
			fields[i].NotNull, changed = true, true
		}
	}
	if changed {
		p.out = record.NewSchemaOf(fields...)
	}
}

// nullability proves expressions of one query never NULL.
type nullability struct {
	in  *record.Schema
	sel *sql.Select
	// window is set for a query with a WINDOW clause (whose bounds are
	// never NULL); grouped for one whose every group holds at least one
	// input row (GROUP BY or WINDOW: not a global aggregate, which has a
	// row for no input).
	window, grouped bool
}

// notNull reports whether e is never NULL: a non-NULL literal; a column
// declared NOT NULL (a record without a value there goes to the dead-letter
// queue), read whole; a window's bounds; IS [NOT] NULL; an operator,
// comparison, CAST, IN, BETWEEN or LIKE of operands that are never NULL
// (these fail, sending the record to the dead-letter queue, rather than
// give NULL); a CASE with an ELSE whose every result is never NULL;
// COALESCE with an argument never NULL; COUNT; SUM, AVG, MIN, MAX,
// FIRST_VALUE and LAST_VALUE of an argument never NULL in a group (which
// holds at least one row). Anything else, a function call, a nested
// field, an array element or a window function (OVER), may be NULL.
func (n nullability) notNull(e sql.Expr) bool {
	switch x := e.(type) {
	case *sql.Literal:
		return x.Kind != sql.NullLit
	case *sql.Ident:
		return n.column(x)
	case *sql.IsNull:
		return true
	case *sql.Unary:
		return n.notNull(x.X)
	case *sql.Binary:
		return n.notNull(x.L) && n.notNull(x.R)
	case *sql.Cast:
		return n.notNull(x.X)
	case *sql.Between:
		return n.notNull(x.X) && n.notNull(x.Lo) && n.notNull(x.Hi)
	case *sql.Like:
		return n.notNull(x.X) && n.notNull(x.Pattern)
	case *sql.In:
		return n.notNull(x.X) && n.all(x.List)
	case *sql.Case:
		if x.Else == nil || !n.notNull(x.Else) {
			return false
		}
		for _, w := range x.Whens {
			if !n.notNull(w.Result) {
				return false
			}
		}
		return true
	case *sql.Call:
		return n.call(x)
	}
	return false
}

// all reports whether no expression of es is ever NULL.
func (n nullability) all(es []sql.Expr) bool {
	for _, e := range es {
		if !n.notNull(e) {
			return false
		}
	}
	return true
}

// column reports whether the column read by id is never NULL: a window
// bound, or an input column declared NOT NULL read whole (a nested field
// may be missing).
func (n nullability) column(id *sql.Ident) bool {
	if len(id.Path) > 0 {
		return false
	}
	if sys, ok := record.IsSystemColumn(id.Name); ok {
		return n.window && (sys == record.SysWindowStart || sys == record.SysWindowEnd)
	}
	if id.Qualifier != "" && !isQualifier(n.sel, id.Qualifier) {
		return false
	}
	slot, ok := n.in.Lookup(id.Name)
	return ok && n.in.Field(slot).NotNull
}

// call reports whether a function call is never NULL.
func (n nullability) call(c *sql.Call) bool {
	if c.Over != nil {
		return false // a retracted Top-N row has a NULL rank; LAG has none before the first row
	}
	switch strings.ToUpper(c.Name) {
	case "COUNT":
		return true
	case "COALESCE":
		for _, a := range c.Args {
			if n.notNull(a) {
				return true
			}
		}
	case "SUM", "AVG", "MIN", "MAX", "FIRST_VALUE", "LAST_VALUE":
		return n.grouped && len(c.Args) == 1 && n.notNull(c.Args[0])
	}
	return false
}

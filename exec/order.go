package exec

import (
	"errors"
	"fmt"
	"strings"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// orderKey is one ORDER BY key over output rows: an output slot, or an
// expression over the output columns.
type orderKey struct {
	slot int
	fn   expr.Func
	desc bool
}

// compileOrder resolves ORDER BY keys against the output: a position
// (ORDER BY 2), an output column name or alias, a select-list expression,
// or an expression over output columns.
func (p *Program) compileOrder(sel *sql.Select, items []sql.SelectItem) error {
	for _, o := range sel.OrderBy {
		k := orderKey{slot: -1, desc: o.Desc}
		if lit, ok := o.Expr.(*sql.Literal); ok && lit.Kind == sql.IntLit {
			n, err := record.ParseNumber(lit.Text)
			if err != nil || n.Int() < 1 || n.Int() > int64(len(items)) {
				return errorAt(lit, "ORDER BY position %s is not in the select list (1..%d)", lit.Text, len(items))
			}
			k.slot = int(n.Int() - 1)
		}
		if id, ok := o.Expr.(*sql.Ident); ok && k.slot < 0 && id.Qualifier == "" {
			for i, it := range items {
				if strings.EqualFold(it.Alias, id.Name) {
					k.slot = i
					break
				}
			}
		}
		for i := 0; k.slot < 0 && i < len(items); i++ {
			if sql.SameExpr(o.Expr, items[i].Expr) {
				k.slot = i
			}
		}
		if k.slot < 0 {
			f, err := expr.Compile(o.Expr, &expr.Scope{Schema: p.out})
			if err != nil {
				var se *sql.Error
				if errors.As(err, &se) {
					msg := "ORDER BY must refer to output columns (" + strings.Join(p.out.Names(), ", ") + "): " + se.Msg
					sql.Inspect(o.Expr, func(x sql.Expr) bool {
						if id, ok := x.(*sql.Ident); ok && id.Pos == se.Pos {
							if _, in := p.in.Lookup(id.Name); in {
								msg += fmt.Sprintf("; %s is an input column: add it to the select list to order by it", id.Name)
							}
						}
						return true
					})
					return &sql.Error{Pos: se.Pos, Msg: msg}
				}
				return errorAt(o, "ORDER BY must refer to output columns: %v", err)
			}
			k.fn = f
		}
		p.order = append(p.order, k)
	}
	return nil
}

// checkLimitOrder refuses an ORDER BY ... LIMIT of an aggregate whose rows
// are written in several emissions, each sorted on its own, unless the
// emissions come in the order of the ORDER BY: the LIMIT keeps the first
// rows written, so which rows those are would depend on how the input was
// batched. Under EMIT CHANGES each emission holds the groups changed since
// the one before; over windows, the rows of the windows one step of the
// watermark closes, which come in the order of their end, so an ORDER BY
// led by the window's end (or start, but for sessions), ascending, keeps
// the same rows on every run. EMIT FINAL without a window sorts every
// group at the end.
func (p *Program) checkLimitOrder(sel *sql.Select, items []sql.SelectItem) error {
	if p.agg == nil || !p.hasLimit || len(p.order) == 0 {
		return nil
	}
	a := p.agg
	switch {
	case a.emit != sql.EmitFinal:
		return errorAt(sel.Limit, "ORDER BY ... LIMIT %d under EMIT CHANGES keeps the first %[1]d rows written, and each emission sorts only the groups that changed since the one before, "+
			"so which rows those are depends on how the input was batched: use EMIT FINAL (the rows sorted once, %s)", p.limit, finalOrder(a))
	case a.windowed() && !p.ordersByWindowEnd(items):
		return errorAt(sel.Limit, "ORDER BY ... LIMIT %d over windows sorts the rows of the windows that each step of the watermark closes, and keeps the first %[1]d written, "+
			"so which rows those are depends on how far the watermark moved at each step: lead the ORDER BY with %s, ascending (the windows that close first), "+
			"or keep the top rows of each window with a Top-N (QUALIFY ROW_NUMBER() OVER (PARTITION BY _WINDOW_START ORDER BY ...) <= %[1]d)", p.limit, windowEnds(a))
	}
	return nil
}

// finalOrder says when EMIT FINAL sorts a's rows.
func finalOrder(a *aggPlan) string {
	if a.windowed() {
		return "each window's when it closes, with ORDER BY " + windowEnds(a) + " first"
	}
	return "at the end of the input"
}

// windowEnds names the window bounds an ORDER BY may lead with, so that
// rows sorted by it come in the order their windows close: the end, or
// the start of a TUMBLING or SLIDING window (which is the end less the
// window's size).
func windowEnds(a *aggPlan) string {
	if a.session() {
		return "_WINDOW_END"
	}
	return "_WINDOW_START or _WINDOW_END"
}

// ordersByWindowEnd reports whether the first ORDER BY key is a window
// bound that orders windows as they close (windowEnds), ascending.
func (p *Program) ordersByWindowEnd(items []sql.SelectItem) bool {
	k := p.order[0]
	if k.desc || k.slot < 0 {
		return false
	}
	id, ok := items[k.slot].Expr.(*sql.Ident)
	if !ok {
		return false
	}
	switch sys, _ := record.IsSystemColumn(id.Name); sys {
	case record.SysWindowEnd:
		return true
	case record.SysWindowStart:
		return !p.agg.session()
	}
	return false
}

// Less orders two output rows by the query's ORDER BY (NULLs last when
// ascending, first when descending, as in PostgreSQL), and rows that tie
// on it by their columns, left to right: the order, and which rows a LIMIT
// keeps, never depend on the order rows arrived in.
func (p *Program) Less(a, b *record.Record) bool { return p.compare(a, b) < 0 }

func (p *Program) compare(a, b *record.Record) int {
	for _, k := range p.order {
		if c := compareValues(k.value(a), k.value(b), k.desc); c != 0 {
			return c
		}
	}
	for i := range min(len(a.Values), len(b.Values)) {
		if c := compareValues(a.Values[i], b.Values[i], false); c != 0 {
			return c
		}
	}
	return 0
}

// compareValues orders two values (descending when desc), values of
// kinds that do not compare by their kind.
func compareValues(va, vb record.Value, desc bool) int {
	c, err := record.Compare(va, vb)
	if err != nil {
		c = int(va.Kind()) - int(vb.Kind())
	}
	if desc {
		c = -c
	}
	return c
}

func (k *orderKey) value(r *record.Record) record.Value {
	if k.fn == nil {
		if k.slot < len(r.Values) {
			return r.Values[k.slot]
		}
		return record.Value{}
	}
	v, err := k.fn(r)
	if err != nil {
		return record.Value{}
	}
	return v
}

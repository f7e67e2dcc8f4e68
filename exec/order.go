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
			if sameExpr(o.Expr, items[i].Expr) {
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

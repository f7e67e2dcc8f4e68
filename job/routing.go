package job

import (
	"fmt"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/partition"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// SetRoutingKey compiles a query's routing key expressions (the planner's
// Requirement.KeyExprs) over the input schema and sets all three forms of
// the key in ctx: KeySlots (plain input columns
// only, else nil), KeyFuncs (one function per key, which the hash
// strategies evaluate a whole batch at a time) and Key (per record). With
// no expressions it clears them, and the whole row is the key. A key that
// fails to evaluate for a record (a missing field, a bad cast) routes as
// NULL: routing never fails a record; the pipeline reports the error, if
// any, itself.
func SetRoutingKey(ctx *partition.Context, exprs []sql.Expr, schema *record.Schema) error {
	fns, slots, err := compileRoutingKey(exprs, schema)
	if err != nil {
		return err
	}
	SetRoutingFuncs(ctx, fns)
	ctx.KeySlots = slots
	return nil
}

// SetRoutingFuncs sets the routing key of ctx to the values of fns, in
// order (Key and KeyFuncs; no KeySlots): for keys SetRoutingKey cannot
// compile, such as a join's, whose inputs each read their own columns.
func SetRoutingFuncs(ctx *partition.Context, fns []expr.Func) {
	ctx.Key, ctx.KeySlots, ctx.KeyFuncs = nil, nil, nil
	if fns != nil {
		ctx.Key = keyFunc(fns)
	}
	for _, f := range fns {
		ctx.KeyFuncs = append(ctx.KeyFuncs, f)
	}
}

// keyFunc returns the Key function evaluating fns in order, NULL for a
// value that fails to evaluate.
func keyFunc(fns []expr.Func) func(r *record.Record, buf []record.Value) []record.Value {
	return func(r *record.Record, buf []record.Value) []record.Value {
		buf = buf[:0]
		for _, f := range fns {
			v, err := f(r)
			if err != nil {
				v = record.NullValue()
			}
			buf = append(buf, v)
		}
		return buf
	}
}

// compileRoutingKey compiles each routing key expression over schema and
// returns the functions (nil for no expressions) and, when every key is a
// plain input column, the key's slots (else nil).
func compileRoutingKey(exprs []sql.Expr, schema *record.Schema) ([]expr.Func, []int, error) {
	if len(exprs) == 0 {
		return nil, nil, nil
	}
	fns := make([]expr.Func, len(exprs))
	slots := make([]int, 0, len(exprs))
	for i, e := range exprs {
		f, err := expr.Compile(e, &expr.Scope{Schema: schema})
		if err != nil {
			return nil, nil, fmt.Errorf("routing key %s: %w", sql.FormatExpr(e), err)
		}
		fns[i] = f
		if id, ok := e.(*sql.Ident); ok && slots != nil {
			if _, sys := record.IsSystemColumn(id.Name); !sys {
				if s, ok := schema.Lookup(id.Name); ok {
					slots = append(slots, s)
					continue
				}
			}
		}
		slots = nil
	}
	return fns, slots, nil
}

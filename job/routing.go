package job

import (
	"fmt"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// RoutingKey compiles a query's routing key expressions (the planner's
// Requirement.KeyExprs) over the input schema into the Key function of a
// partition.Context, and returns the key's slots when every key is a plain
// input column (Context.KeySlots), else nil. A key that fails to evaluate
// for a record (a missing field, a bad cast) routes as NULL: routing never
// fails a record; the pipeline reports the error, if any, itself.
func RoutingKey(exprs []sql.Expr, schema *record.Schema) (func(r *record.Record, buf []record.Value) []record.Value, []int, error) {
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
	key := func(r *record.Record, buf []record.Value) []record.Value {
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
	return key, slots, nil
}

package exec

import (
	"strings"

	"github.com/sluicesql/sluice/exec/analytic"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// analyticPlan computes a query's OVER calls for each input row into extra
// slots after the input columns; the select list reads them through its
// scope's Override.
type analyticPlan struct {
	calls []*sql.Call
	// base is the first extra slot: the input schema's final length.
	base int
	// newState returns a pipeline's per-partition analytic state.
	newState func() analyticState
	// ordered: an OVER call orders by event time, so rows run in
	// event-time order once the watermark passes them.
	ordered bool
}

// analyticState computes, for one input row, the value of every OVER call
// (out[i] for calls[i]), keeping the per-partition-key row windows.
type analyticState interface {
	Apply(r *record.Record, out []record.Value) error
}

// applyAnalytic returns r extended with its OVER values after the input
// columns, in a scratch record valid until the next call.
func (pl *Pipeline) applyAnalytic(r *record.Record) (*record.Record, error) {
	a := pl.p.analytic
	vals := pl.ext.Values[:0]
	vals = append(vals, r.Values[:min(len(r.Values), a.base)]...)
	for len(vals) < a.base+len(a.calls) {
		vals = append(vals, record.Value{})
	}
	pl.ext = *r
	pl.ext.Values = vals
	if err := pl.an.Apply(r, vals[a.base:a.base+len(a.calls)]); err != nil {
		return nil, err
	}
	if pl.p.holdChanges && pl.p.agg == nil {
		// every later row of its key carries it (heldRowWindow)
		pl.held.note(pl.src.index(r), r.Offset)
	}
	return &pl.ext, nil
}

// override maps an OVER call to its extra slot.
func (a *analyticPlan) override(e sql.Expr) (int, bool) {
	c, ok := isAnalyticCall(e)
	if !ok {
		return 0, false
	}
	for i, x := range a.calls {
		if x == c || sql.SameExpr(x, c) {
			return a.base + i, true
		}
	}
	return 0, false
}

// typeOf is the expr.Scope OverrideType of an OVER call's slot, so that
// the expressions around it are type-checked (QUALIFY rn <= 'a'): a rank
// is a BIGINT, LAG its argument's type, an aggregate as over a group.
func (a *analyticPlan) typeOf(in *expr.Scope) func(e sql.Expr) record.Type {
	return func(e sql.Expr) record.Type {
		c, ok := isAnalyticCall(e)
		if !ok {
			return record.AnyType
		}
		switch strings.ToUpper(c.Name) {
		case "ROW_NUMBER", "RANK", "DENSE_RANK":
			return record.BigintType
		case "LAG":
			if len(c.Args) == 0 {
				return record.AnyType
			}
			_, t, err := expr.CompileTyped(c.Args[0], in)
			if err != nil {
				return record.AnyType
			}
			return t
		}
		return aggType(c, in)
	}
}

// compileAnalytic compiles the OVER calls of a select list.
func compileAnalytic(calls []*sql.Call, in *expr.Scope) (*analyticPlan, error) {
	stage, err := analytic.Compile(calls, in)
	if err != nil {
		return nil, err
	}
	return &analyticPlan{calls: calls, newState: func() analyticState { return stage.NewState() }}, nil
}

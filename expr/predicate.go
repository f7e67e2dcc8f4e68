package expr

import (
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

func (c *compiler) isNull(x *sql.IsNull) (node, error) {
	in, err := c.compile(x.X)
	if err != nil {
		return node{}, err
	}
	f, not := in.fn, x.Not
	return node{constant: in.constant, fn: func(r *record.Record) (record.Value, error) {
		v, err := f(r)
		if err != nil {
			return v, err
		}
		return record.BoolValue(v.IsNull() != not), nil
	}}, nil
}

// in compiles X [NOT] IN (list): TRUE on a match, else NULL if X or any
// list element is NULL, else FALSE; NOT negates (NULL stays NULL).
func (c *compiler) in(x *sql.In) (node, error) {
	xn, err := c.compile(x.X)
	if err != nil {
		return node{}, err
	}
	list, constant, err := c.compileAll(x.List)
	if err != nil {
		return node{}, err
	}
	c.coerceText(list, x.List, x.X)
	f, not := xn.fn, x.Not
	return node{constant: constant && xn.constant, fn: func(r *record.Record) (record.Value, error) {
		v, err := f(r)
		if err != nil || v.IsNull() {
			return null, err
		}
		sawNull := false
		for _, e := range list {
			w, err := e(r)
			if err != nil {
				return null, err
			}
			if w.IsNull() {
				sawNull = true
				continue
			}
			eq, err := record.Equal(v, w)
			if err != nil {
				return null, err
			}
			if eq {
				return record.BoolValue(!not), nil
			}
		}
		if sawNull {
			return null, nil
		}
		return record.BoolValue(not), nil
	}}, nil
}

// between compiles X [NOT] BETWEEN Lo AND Hi as X >= Lo AND X <= Hi with
// three-valued logic.
func (c *compiler) between(x *sql.Between) (node, error) {
	fns, constant, err := c.compileAll([]sql.Expr{x.X, x.Lo, x.Hi})
	if err != nil {
		return node{}, err
	}
	c.coerceText(fns[1:], []sql.Expr{x.Lo, x.Hi}, x.X)
	ge := compareOp(sql.GtEq, fns[0], fns[1])
	le := compareOp(sql.LtEq, fns[0], fns[2])
	f := andOp(ge, le)
	if !x.Not {
		return node{constant: constant, fn: f}, nil
	}
	return node{constant: constant, fn: func(r *record.Record) (record.Value, error) {
		v, err := f(r)
		if err != nil || v.IsNull() {
			return v, err
		}
		return record.BoolValue(!v.Bool()), nil
	}}, nil
}

// caseExpr compiles simple and searched CASE. A simple CASE arm matches
// when the operand equals its value (NULL never matches); without a match
// and without ELSE the result is NULL.
func (c *compiler) caseExpr(x *sql.Case) (node, error) {
	constant := true
	var operand Func
	if x.Operand != nil {
		n, err := c.compile(x.Operand)
		if err != nil {
			return node{}, err
		}
		operand, constant = n.fn, n.constant
	}
	conds := make([]Func, len(x.Whens))
	results := make([]Func, len(x.Whens))
	for i, w := range x.Whens {
		cn, err := c.compile(w.Cond)
		if err != nil {
			return node{}, err
		}
		rn, err := c.compile(w.Result)
		if err != nil {
			return node{}, err
		}
		conds[i], results[i] = cn.fn, rn.fn
		constant = constant && cn.constant && rn.constant
	}
	elseFn := Func(func(*record.Record) (record.Value, error) { return null, nil })
	if x.Else != nil {
		n, err := c.compile(x.Else)
		if err != nil {
			return node{}, err
		}
		elseFn, constant = n.fn, constant && n.constant
	}
	return node{constant: constant, fn: func(r *record.Record) (record.Value, error) {
		var op record.Value
		if operand != nil {
			v, err := operand(r)
			if err != nil {
				return v, err
			}
			op = v
		}
		for i, cond := range conds {
			w, err := cond(r)
			if err != nil {
				return w, err
			}
			match := false
			switch {
			case operand != nil:
				if !op.IsNull() && !w.IsNull() {
					if match, err = record.Equal(op, w); err != nil {
						return null, err
					}
				}
			default:
				b, _, err := truth(w, "CASE WHEN")
				if err != nil {
					return null, err
				}
				match = b
			}
			if match {
				return results[i](r)
			}
		}
		return elseFn(r)
	}}, nil
}

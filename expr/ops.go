package expr

import (
	"fmt"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

var null = record.Value{}

func (c *compiler) unary(x *sql.Unary) (node, error) {
	in, err := c.compile(x.X)
	if err != nil {
		return node{}, err
	}
	f := in.fn
	if x.Op == sql.Neg {
		return node{constant: in.constant, fn: func(r *record.Record) (record.Value, error) {
			v, err := f(r)
			if err != nil {
				return v, err
			}
			return record.Neg(v)
		}}, nil
	}
	return node{constant: in.constant, fn: func(r *record.Record) (record.Value, error) {
		v, err := f(r)
		if err != nil {
			return v, err
		}
		b, isNull, err := truth(v, "NOT")
		if err != nil || isNull {
			return null, err
		}
		return record.BoolValue(!b), nil
	}}, nil
}

// truth reads a BOOLEAN operand of op; NULL is reported as isNull.
func truth(v record.Value, op string) (b, isNull bool, err error) {
	switch v.Kind() {
	case record.Bool:
		return v.Bool(), false, nil
	case record.Null:
		return false, true, nil
	}
	return false, false, fmt.Errorf("argument of %s must be BOOLEAN, not %s", op, v.Kind())
}

var arithOps = map[sql.BinaryOp]record.Op{
	sql.Add: record.OpAdd, sql.Sub: record.OpSub, sql.Mul: record.OpMul,
	sql.Div: record.OpDiv, sql.Mod: record.OpMod,
}

func (c *compiler) binary(x *sql.Binary) (node, error) {
	l, err := c.compile(x.L)
	if err != nil {
		return node{}, err
	}
	rn, err := c.compile(x.R)
	if err != nil {
		return node{}, err
	}
	constant := l.constant && rn.constant
	lf, rf := l.fn, rn.fn
	if op, ok := arithOps[x.Op]; ok {
		return node{constant: constant, fn: func(r *record.Record) (record.Value, error) {
			a, err := lf(r)
			if err != nil {
				return a, err
			}
			b, err := rf(r)
			if err != nil {
				return b, err
			}
			return record.Arith(op, a, b)
		}}, nil
	}
	switch x.Op {
	case sql.Concat:
		return node{constant: constant, fn: concatOp(lf, rf)}, nil
	case sql.And:
		return node{constant: constant, fn: andOp(lf, rf)}, nil
	case sql.Or:
		return node{constant: constant, fn: orOp(lf, rf)}, nil
	case sql.Eq, sql.NotEq, sql.Lt, sql.LtEq, sql.Gt, sql.GtEq:
		fns := []Func{lf, rf}
		c.coerceText(fns[1:], []sql.Expr{x.R}, x.L)
		c.coerceText(fns[:1], []sql.Expr{x.L}, x.R)
		return node{constant: constant, fn: compareOp(x.Op, fns[0], fns[1])}, nil
	}
	return node{}, errorf(x, "unsupported operator %d", x.Op)
}

// holds reports whether a comparison result c satisfies op.
func holds(op sql.BinaryOp, c int) bool {
	switch op {
	case sql.Eq:
		return c == 0
	case sql.NotEq:
		return c != 0
	case sql.Lt:
		return c < 0
	case sql.LtEq:
		return c <= 0
	case sql.Gt:
		return c > 0
	}
	return c >= 0
}

// compareOp compiles a comparison: NULL when either side is NULL.
func compareOp(op sql.BinaryOp, lf, rf Func) Func {
	return func(r *record.Record) (record.Value, error) {
		a, err := lf(r)
		if err != nil {
			return a, err
		}
		b, err := rf(r)
		if err != nil {
			return b, err
		}
		if a.IsNull() || b.IsNull() {
			return null, nil
		}
		c, err := record.Compare(a, b)
		if err != nil {
			return null, err
		}
		return record.BoolValue(holds(op, c)), nil
	}
}

// andOp is three-valued AND: FALSE if either side is FALSE, else NULL if
// either is NULL. The right side is not evaluated when the left is FALSE.
func andOp(lf, rf Func) Func { return logicOp(lf, rf, false, "AND") }

// orOp is three-valued OR: TRUE if either side is TRUE, else NULL if either
// is NULL. The right side is not evaluated when the left is TRUE.
func orOp(lf, rf Func) Func { return logicOp(lf, rf, true, "OR") }

// logicOp is three-valued AND (decisive false) or OR (decisive true): the
// decisive value on either side wins, else NULL on either side gives NULL,
// else the other value. The right side is not evaluated when the left is
// decisive.
func logicOp(lf, rf Func, decisive bool, name string) Func {
	return func(r *record.Record) (record.Value, error) {
		a, err := lf(r)
		if err != nil {
			return a, err
		}
		av, an, err := truth(a, name)
		if err != nil {
			return null, err
		}
		if !an && av == decisive {
			return a, nil
		}
		b, err := rf(r)
		if err != nil {
			return b, err
		}
		bv, bn, err := truth(b, name)
		switch {
		case err != nil:
			return null, err
		case !bn && bv == decisive:
			return b, nil
		case an || bn:
			return null, nil
		}
		return b, nil
	}
}

// concatOp is ||: NULL if either side is NULL, else the display texts joined.
func concatOp(lf, rf Func) Func {
	return func(r *record.Record) (record.Value, error) {
		a, err := lf(r)
		if err != nil {
			return a, err
		}
		b, err := rf(r)
		if err != nil {
			return b, err
		}
		if a.IsNull() || b.IsNull() {
			return null, nil
		}
		return record.StringValue(text(a) + text(b)), nil
	}
}

// text returns a non-NULL value's display text (a STRING's own text).
func text(v record.Value) string {
	if v.Kind() == record.String {
		return v.Str()
	}
	return v.String()
}

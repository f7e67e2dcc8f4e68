package expr

import (
	"fmt"
	"strings"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// Type checking happens while compiling: every node gets the type of its
// values (ANY when it cannot be known, e.g. a column declared without a
// type), and an operator whose operands' types can never work together is
// a positioned error naming the types, before any record is read. The rules
// are those evaluation applies to each record (record.Arith,
// record.Compare), so a query that type-checks never fails for a type
// reason its plan could have seen.

// typeOf returns the type of x, whose operands have been compiled (their
// types are in c.types), or an error when the operands' types do not fit x.
func (c *compiler) typeOf(x sql.Expr) (record.Type, error) {
	switch x := x.(type) {
	case *sql.Ident:
		return c.identType(x), nil
	case *sql.Literal:
		return literalType(x), nil
	case *sql.Unary:
		t := c.types[x.X]
		if x.Op == sql.Neg {
			if known(t) && !t.Numeric() {
				return record.AnyType, errorf(x, "operator does not exist: -%s (unary minus needs a number)", t)
			}
			return t, nil
		}
		if known(t) && t.Kind != record.TypeBoolean {
			return record.AnyType, errorf(x, "argument of NOT must be BOOLEAN, not %s", t)
		}
		return record.BooleanType, nil
	case *sql.Binary:
		return c.binaryType(x)
	case *sql.IsNull:
		return record.BooleanType, nil
	case *sql.In:
		for _, e := range x.List {
			if err := c.comparable(x, x.X, e, "IN"); err != nil {
				return record.AnyType, err
			}
		}
		return record.BooleanType, nil
	case *sql.Between:
		if err := c.comparable(x, x.X, x.Lo, "BETWEEN"); err != nil {
			return record.AnyType, err
		}
		if err := c.comparable(x, x.X, x.Hi, "BETWEEN"); err != nil {
			return record.AnyType, err
		}
		return record.BooleanType, nil
	case *sql.Like:
		if t := c.types[x.X]; known(t) && t.Kind != record.TypeString {
			return record.AnyType, errorf(x, "LIKE needs a STRING, not %s %s", t, sql.FormatExpr(x.X))
		}
		if t := c.types[x.Pattern]; known(t) && t.Kind != record.TypeString {
			return record.AnyType, errorf(x.Pattern, "the pattern of LIKE must be a STRING, not %s %s", t, sql.FormatExpr(x.Pattern))
		}
		return record.BooleanType, nil
	case *sql.Cast:
		return castType(x.Type), nil
	case *sql.Case:
		return c.caseType(x)
	case *sql.Call:
		return c.callType(x)
	case *sql.Index:
		return c.elemType(x)
	}
	return record.AnyType, nil
}

// known reports whether t says something about its values.
func known(t record.Type) bool { return t.Kind != record.TypeAny }

// identType returns a column's type.
func (c *compiler) identType(x *sql.Ident) record.Type {
	if sys, ok := record.IsSystemColumn(x.Name); ok {
		switch sys {
		case record.SysOffset, record.SysPartition:
			return record.BigintType
		}
		return record.TimestampType
	}
	name, path := c.columnPath(x)
	if s := c.scope.Schema; s != nil && name != "" {
		if slot, ok := s.Lookup(name); ok {
			t, err := fieldType(x, name, s.Type(slot), path)
			if err != nil {
				return record.AnyType
			}
			return t
		}
	}
	return record.AnyType
}

func literalType(x *sql.Literal) record.Type {
	switch x.Kind {
	case sql.BoolLit:
		return record.BooleanType
	case sql.IntLit, sql.IntervalLit:
		return record.BigintType
	case sql.DecimalLit:
		if v, err := literal(x); err == nil {
			u, s := v.Decimal()
			return record.DecimalType(max(record.Digits(u), int(s)+1), int(s))
		}
	case sql.FloatLit:
		return record.DoubleType
	case sql.StringLit:
		return record.StringType
	case sql.TimestampLit:
		return record.TimestampType
	}
	return record.AnyType
}

// binaryType checks an infix operation and returns its type.
func (c *compiler) binaryType(x *sql.Binary) (record.Type, error) {
	l, r := c.types[x.L], c.types[x.R]
	switch x.Op {
	case sql.Add, sql.Sub, sql.Mul, sql.Div, sql.Mod:
		t, ok := arithType(x.Op, l, r)
		if !ok {
			hint := ""
			if x.Op == sql.Add && (l.Kind == record.TypeString || r.Kind == record.TypeString) && known(l) && known(r) && !l.Numeric() && !r.Numeric() {
				hint = "; strings are joined with ||"
			}
			return record.AnyType, errorf(x, "operator does not exist: %s %s %s (%s %s %s)%s", l, x.Op, r,
				sql.FormatExpr(x.L), x.Op, sql.FormatExpr(x.R), hint)
		}
		return t, nil
	case sql.And, sql.Or:
		for _, side := range []sql.Expr{x.L, x.R} {
			if t := c.types[side]; known(t) && t.Kind != record.TypeBoolean {
				return record.AnyType, errorf(side, "argument of %s must be BOOLEAN, not %s %s", x.Op, t, sql.FormatExpr(side))
			}
		}
		return record.BooleanType, nil
	case sql.Concat:
		return record.StringType, nil
	}
	if err := c.comparable(x, x.L, x.R, x.Op.String()); err != nil {
		return record.AnyType, err
	}
	return record.BooleanType, nil
}

// arithType returns the type of l op r, or false when no values of those
// types can be combined by op.
func arithType(op sql.BinaryOp, l, r record.Type) (record.Type, bool) {
	switch {
	case !known(l) || !known(r):
		if l.Kind == record.TypeTimestamp || r.Kind == record.TypeTimestamp {
			return record.AnyType, op == sql.Add || op == sql.Sub
		}
		other := l
		if !known(l) {
			other = r
		}
		return record.AnyType, !known(other) || other.Numeric()
	case l.Numeric() && r.Numeric():
		switch {
		case l.Kind == record.TypeDouble || r.Kind == record.TypeDouble:
			return record.DoubleType, true
		case l.Kind == record.TypeDecimal || r.Kind == record.TypeDecimal:
			return record.DecimalType(record.MaxPrecision, decimalScale(op, l.Scale, r.Scale)), true
		}
		return record.BigintType, true
	case l.Kind == record.TypeTimestamp && r.Kind == record.TypeTimestamp:
		return record.BigintType, op == sql.Sub
	case l.Kind == record.TypeTimestamp && isInteger(r), isInteger(l) && r.Kind == record.TypeTimestamp:
		return record.TimestampType, op == sql.Add || op == sql.Sub && l.Kind == record.TypeTimestamp
	}
	return record.AnyType, false
}

// decimalScale is the scale of a DECIMAL a op b over operands of scales sa
// and sb (an INTEGER's is 0), the scale record.Arith gives its values: the
// sum of the scales for *, max(sa, sb, record.DivisionScale) for /, the
// larger scale otherwise, at most record.MaxScale (a product of more
// fraction digits drops its trailing zeros or overflows).
func decimalScale(op sql.BinaryOp, sa, sb int) int {
	switch op {
	case sql.Mul:
		return min(sa+sb, record.MaxScale)
	case sql.Div:
		return min(max(sa, sb, record.DivisionScale), record.MaxScale)
	}
	return max(sa, sb)
}

func isInteger(t record.Type) bool {
	return t.Kind == record.TypeInteger || t.Kind == record.TypeBigint
}

// comparable checks that values of a and b can be compared (at x, by op).
func (c *compiler) comparable(x sql.Node, a, b sql.Expr, op string) error {
	l, r := c.types[a], c.types[b]
	if !known(l) || !known(r) || comparableTypes(l, r) || c.numbers[a] || c.numbers[b] {
		return nil
	}
	// A timestamp compares with text holding a time: check a literal now.
	if lit, ok := b.(*sql.Literal); ok && l.Kind == record.TypeTimestamp && r.Kind == record.TypeString {
		if _, err := record.ToTimestamp(record.StringValue(lit.Text)); err == nil {
			return nil
		}
		return errorf(lit, "invalid input for TIMESTAMP: '%s' (compared with %s)", lit.Text, sql.FormatExpr(a))
	}
	if lit, ok := a.(*sql.Literal); ok && r.Kind == record.TypeTimestamp && l.Kind == record.TypeString {
		if _, err := record.ToTimestamp(record.StringValue(lit.Text)); err == nil {
			return nil
		}
		return errorf(lit, "invalid input for TIMESTAMP: '%s' (compared with %s)", lit.Text, sql.FormatExpr(b))
	}
	if l.Kind == record.TypeTimestamp && r.Kind == record.TypeString || l.Kind == record.TypeString && r.Kind == record.TypeTimestamp {
		return nil // checked on each record
	}
	msg := fmt.Sprintf("cannot compare %s with %s: %s %s %s", l, r, sql.FormatExpr(a), op, sql.FormatExpr(b))
	for _, e := range []sql.Expr{a, b} {
		if lit, ok := e.(*sql.Literal); ok && lit.Kind == sql.StringLit && (l.Numeric() || r.Numeric()) {
			msg += fmt.Sprintf(" ('%s' is not a number)", sql.Clip(lit.Text))
		}
	}
	return errorf(x, "%s", msg)
}

// coerceText compiles each string literal of es that is compared with
// the number other as the number it spells, as PostgreSQL and DuckDB read
// quantity = '100' as quantity = 100 (an untyped literal takes the other
// side's type): fns[i] is es[i]'s compiled Func. A literal that is no
// number stays text, and comparing it is refused (price = 'abc').
func (c *compiler) coerceText(fns []Func, es []sql.Expr, other sql.Expr) {
	if !c.types[other].Numeric() {
		return
	}
	for i, e := range es {
		lit, ok := e.(*sql.Literal)
		if !ok || lit.Kind != sql.StringLit {
			continue
		}
		if v, err := record.ParseNumber(strings.TrimSpace(lit.Text)); err == nil {
			fns[i] = constNode(v).fn
			if c.numbers == nil {
				c.numbers = map[sql.Expr]bool{}
			}
			c.numbers[e] = true
		}
	}
}

// comparableTypes reports whether every value of l compares with every
// value of r.
func comparableTypes(l, r record.Type) bool {
	switch {
	case l.Numeric() && r.Numeric():
		return true
	case l.Nested() || r.Nested():
		return l.Kind == r.Kind || l.Kind == record.TypeString || r.Kind == record.TypeString
	}
	return l.Kind == r.Kind
}

// castType returns the type a CAST converts to.
func castType(typ string) record.Type {
	name, args, err := splitType(typ)
	if err != nil {
		return record.AnyType
	}
	k, ok := record.LookupType(name)
	if !ok {
		return record.AnyType
	}
	if k == record.TypeDecimal {
		p, s := record.MaxPrecision, 0
		if len(args) > 0 {
			p = args[0]
		}
		if len(args) > 1 {
			s = args[1]
		}
		return record.DecimalType(p, s)
	}
	return record.Type{Kind: k}
}

// callType returns the result type of a scalar function call, or an error
// for an argument whose type the function does not take: a math function
// given no number, a string function given no STRING (as in PostgreSQL,
// UPPER(price) does not exist; CONCAT and || take any type), a SUBSTRING
// position that is no integer, COALESCE arguments of no common type.
func (c *compiler) callType(x *sql.Call) (record.Type, error) {
	name := strings.ToUpper(x.Name)
	switch name {
	case "UPPER", "LOWER", "LENGTH", "CHAR_LENGTH", "TRIM", "BTRIM", "LTRIM", "RTRIM", "REPLACE", "SUBSTRING", "SUBSTR":
		for i, a := range x.Args {
			t := c.types[a]
			if !known(t) {
				continue
			}
			if (name == "SUBSTRING" || name == "SUBSTR") && i > 0 {
				if !isInteger(t) {
					what := [...]string{"", "start", "length"}[i]
					return record.AnyType, errorf(a, "function %s(%s) does not exist: the %s of %s must be an integer, and %s is %s",
						name, c.argTypes(x.Args), what, name, sql.FormatExpr(a), t)
				}
				continue
			}
			if t.Kind != record.TypeString {
				return record.AnyType, errorf(a, "function %s(%s) does not exist: %s needs a STRING, and %s is %s (CAST it to STRING)",
					name, c.argTypes(x.Args), name, sql.FormatExpr(a), t)
			}
		}
		return resultType(name), nil
	case "COALESCE":
		return c.commonType("COALESCE", x.Args)
	case "NULLIF":
		if len(x.Args) == 2 {
			if err := c.comparable(x, x.Args[0], x.Args[1], "="); err != nil {
				return record.AnyType, err
			}
			return c.types[x.Args[0]], nil
		}
		return record.AnyType, nil
	case "ABS", "FLOOR", "CEIL", "CEILING", "ROUND":
		if len(x.Args) == 0 {
			return record.AnyType, nil
		}
		t := c.types[x.Args[0]]
		if known(t) && !t.Numeric() {
			return record.AnyType, errorf(x, "function %s(%s) does not exist: %s needs a number, and %s is %s", name, t, name, sql.FormatExpr(x.Args[0]), t)
		}
		if len(x.Args) > 1 {
			if p := c.types[x.Args[1]]; known(p) && !isInteger(p) {
				return record.AnyType, errorf(x.Args[1], "ROUND places must be an integer, not %s", p)
			}
		}
		return t, nil
	}
	return resultType(name), nil
}

// argTypes lists the types of args for an error message.
func (c *compiler) argTypes(args []sql.Expr) string {
	names := make([]string, len(args))
	for i, a := range args {
		names[i] = c.types[a].String()
	}
	return strings.Join(names, ", ")
}

// caseType checks a CASE: a searched CASE's conditions are BOOLEAN, a
// simple CASE's values compare with its operand, and the results (THEN and
// ELSE) have a common type, which is the CASE's type.
func (c *compiler) caseType(x *sql.Case) (record.Type, error) {
	results := make([]sql.Expr, 0, len(x.Whens)+1)
	for _, w := range x.Whens {
		if x.Operand != nil {
			if err := c.comparable(w.Cond, x.Operand, w.Cond, "="); err != nil {
				return record.AnyType, err
			}
		} else if t := c.types[w.Cond]; known(t) && t.Kind != record.TypeBoolean {
			return record.AnyType, errorf(w.Cond, "argument of CASE/WHEN must be BOOLEAN, not %s %s", t, sql.FormatExpr(w.Cond))
		}
		results = append(results, w.Result)
	}
	if x.Else != nil {
		results = append(results, x.Else)
	}
	return c.commonType("CASE", results)
}

// commonType returns the type of what, whose values come from one of es:
// the types of es must match (all numbers, or all of one kind), else it is
// an error as in PostgreSQL ("CASE types BIGINT and STRING cannot be
// matched"). The type is the one every e has; ANY when they differ (INTEGER
// and DECIMAL: the values keep their own kind) or one is not known. NULL
// fits any type.
func (c *compiler) commonType(what string, es []sql.Expr) (record.Type, error) {
	var first sql.Expr
	common := record.AnyType
	same := true
	for _, e := range es {
		if lit, ok := e.(*sql.Literal); ok && lit.Kind == sql.NullLit {
			continue
		}
		t := c.types[e]
		if !known(t) {
			same = false
			continue
		}
		if first == nil {
			first, common = e, t
			continue
		}
		if !(t.Numeric() && common.Numeric()) && t.Kind != common.Kind {
			hint := ""
			if lit, ok := e.(*sql.Literal); ok && lit.Kind == sql.StringLit && common.Kind == record.TypeTimestamp {
				hint = fmt.Sprintf(": write the time as TIMESTAMP %s", sql.FormatExpr(lit))
			}
			return record.AnyType, errorf(e, "%s types %s and %s cannot be matched (%s and %s)%s", what, common, t,
				sql.FormatExpr(first), sql.FormatExpr(e), hint)
		}
		same = same && t.String() == common.String()
	}
	if !same {
		return record.AnyType, nil
	}
	return common, nil
}

// resultType returns the result type of the scalar function name.
func resultType(name string) record.Type {
	switch name {
	case "UPPER", "LOWER", "TRIM", "BTRIM", "LTRIM", "RTRIM", "SUBSTRING", "SUBSTR", "REPLACE", "CONCAT":
		return record.StringType
	case "LENGTH", "CHAR_LENGTH", "YEAR", "QUARTER", "MONTH", "DAY", "HOUR", "MINUTE", "SECOND", "MILLISECOND":
		return record.BigintType
	case "TUMBLE_START", "TUMBLE_END":
		return record.TimestampType
	}
	return record.AnyType
}

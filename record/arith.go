package record

import (
	"fmt"
	"math"
)

// Op is an arithmetic operator.
type Op uint8

// The arithmetic operators.
const (
	OpAdd Op = iota
	OpSub
	OpMul
	OpDiv
	OpMod
)

var opNames = [...]string{"+", "-", "*", "/", "%"}

// String returns the operator's SQL symbol.
func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return "?"
}

// Add returns a + b. See Arith for the typing rules.
func Add(a, b Value) (Value, error) { return Arith(OpAdd, a, b) }

// Mul returns a * b. See Arith for the typing rules.
func Mul(a, b Value) (Value, error) { return Arith(OpMul, a, b) }

// Div returns a / b. See Arith for the typing rules.
func Div(a, b Value) (Value, error) { return Arith(OpDiv, a, b) }

// Arith applies op to a and b with PostgreSQL-like typing:
//
//   - NULL with anything is NULL;
//   - INTEGER op INTEGER is INTEGER (division truncates toward zero, the
//     remainder takes the dividend's sign); overflow is an error;
//   - INTEGER or DECIMAL op DECIMAL is an exact DECIMAL (+ - % at the larger
//     scale, * at the sum of the scales, / at max(scales, DivisionScale)
//     rounded half away from zero); overflow is an error, never rounding;
//   - anything numeric op FLOAT is FLOAT; an infinite result from finite
//     operands is an overflow error;
//   - TIMESTAMP ± INTEGER milliseconds is a TIMESTAMP, INTEGER + TIMESTAMP is
//     a TIMESTAMP, and TIMESTAMP - TIMESTAMP is INTEGER milliseconds;
//   - division or modulo by zero is an error; other kinds are an error.
func Arith(op Op, a, b Value) (Value, error) {
	if a.kind == Null || b.kind == Null {
		return Value{}, nil
	}
	switch {
	case a.kind == Int && b.kind == Int:
		return intArith(op, a.num, b.num)
	case a.kind == Float && b.isNumeric() || b.kind == Float && a.isNumeric():
		return floatArith(op, a.toFloat(), b.toFloat())
	case a.isExact() && b.isExact():
		return decimalArith(op, a, b)
	case a.kind == Timestamp || b.kind == Timestamp:
		if v, ok, err := timeArith(op, a, b); ok {
			return v, err
		}
	}
	return Value{}, fmt.Errorf("operator %s does not apply to %s and %s", op, a.kind, b.kind)
}

// Neg returns -a for a numeric a (NULL stays NULL).
func Neg(a Value) (Value, error) {
	switch a.kind {
	case Null:
		return a, nil
	case Int:
		if a.num == math.MinInt64 {
			return Value{}, fmt.Errorf("-(%d): %w", a.num, ErrIntegerOverflow)
		}
		return IntValue(-a.num), nil
	case Decimal:
		if a.num == math.MinInt64 {
			return Value{}, fmt.Errorf("-(%s): %w", a, ErrDecimalOverflow)
		}
		return DecimalValue(-a.num, a.scale), nil
	case Float:
		return FloatValue(-a.Float()), nil
	}
	return Value{}, fmt.Errorf("unary - does not apply to %s", a.kind)
}

// isNumeric reports whether v is INTEGER, DECIMAL or FLOAT.
func (v Value) isNumeric() bool { return v.kind == Int || v.kind == Decimal || v.kind == Float }

// isExact reports whether v is INTEGER or DECIMAL.
func (v Value) isExact() bool { return v.kind == Int || v.kind == Decimal }

// toFloat converts a numeric value to float64.
func (v Value) toFloat() float64 {
	switch v.kind {
	case Int:
		return float64(v.num)
	case Decimal:
		return decimalToFloat(v.num, v.scale)
	case Float:
		return v.Float()
	}
	return math.NaN()
}

// decimalToFloat converts unscaled × 10^-scale to the nearest float64.
func decimalToFloat(n int64, scale uint8) float64 {
	if scale <= MaxScale && n < 1<<53 && n > -(1<<53) {
		// Both operands are exact floats, so the quotient is correctly rounded.
		return float64(n) / float64(pow10[scale])
	}
	return float64(n) / math.Pow10(int(scale))
}

func intArith(op Op, a, b int64) (Value, error) {
	var c int64
	ok := true
	switch op {
	case OpAdd:
		c, ok = addInt64(a, b)
	case OpSub:
		c, ok = subInt64(a, b)
	case OpMul:
		c, ok = mulInt64(a, b)
	case OpDiv, OpMod:
		if b == 0 {
			return Value{}, ErrDivisionByZero
		}
		switch {
		case b == -1 && op == OpMod:
			c = 0
		case b == -1:
			c, ok = subInt64(0, a)
		case op == OpDiv:
			c = a / b
		default:
			c = a % b
		}
	}
	if !ok {
		return Value{}, fmt.Errorf("%d %s %d: %w", a, op, b, ErrIntegerOverflow)
	}
	return IntValue(c), nil
}

func floatArith(op Op, a, b float64) (Value, error) {
	var c float64
	switch op {
	case OpAdd:
		c = a + b
	case OpSub:
		c = a - b
	case OpMul:
		c = a * b
	case OpDiv, OpMod:
		if b == 0 {
			return Value{}, ErrDivisionByZero
		}
		if op == OpDiv {
			c = a / b
		} else {
			c = math.Mod(a, b)
		}
	}
	if math.IsInf(c, 0) && !math.IsInf(a, 0) && !math.IsInf(b, 0) {
		return Value{}, fmt.Errorf("%g %s %g: float out of range", a, op, b)
	}
	return FloatValue(c), nil
}

func decimalArith(op Op, a, b Value) (Value, error) {
	var (
		n   int64
		s   uint8
		err error
	)
	switch op {
	case OpAdd:
		n, s, err = DecimalAdd(a.num, a.scale, b.num, b.scale)
	case OpSub:
		n, s, err = DecimalSub(a.num, a.scale, b.num, b.scale)
	case OpMul:
		n, s, err = DecimalMul(a.num, a.scale, b.num, b.scale)
	case OpDiv:
		n, s, err = DecimalDiv(a.num, a.scale, b.num, b.scale)
	case OpMod:
		n, s, err = DecimalMod(a.num, a.scale, b.num, b.scale)
	}
	if err != nil {
		return Value{}, fmt.Errorf("%s %s %s: %w", a, op, b, err)
	}
	return DecimalValue(n, s), nil
}

// timeArith handles arithmetic with a TIMESTAMP operand; ok is false when
// the combination is not defined.
func timeArith(op Op, a, b Value) (v Value, ok bool, err error) {
	var n int64
	switch {
	case a.kind == Timestamp && b.kind == Int && op == OpAdd,
		a.kind == Int && b.kind == Timestamp && op == OpAdd:
		n, ok = addInt64(a.num, b.num)
	case a.kind == Timestamp && b.kind == Int && op == OpSub:
		n, ok = subInt64(a.num, b.num)
	case a.kind == Timestamp && b.kind == Timestamp && op == OpSub:
		n, ok = subInt64(a.num, b.num)
		if !ok {
			return Value{}, true, fmt.Errorf("%s - %s: %w", a, b, ErrIntegerOverflow)
		}
		return IntValue(n), true, nil
	default:
		return Value{}, false, nil
	}
	if !ok {
		return Value{}, true, fmt.Errorf("%s %s %s: timestamp out of range", a, op, b)
	}
	return TimestampValue(n), true, nil
}

package record

import (
	"errors"
	"math"
	"testing"
)

// num parses a test number by the decoding rule, failing the test on error.
func num(t testing.TB, s string) Value {
	t.Helper()
	v, err := ParseNumber(s)
	if err != nil {
		t.Fatalf("ParseNumber(%q): %v", s, err)
	}
	return v
}

func TestArith(t *testing.T) {
	big := IntValue(math.MaxInt64)
	tests := []struct {
		op   Op
		a, b Value
		kind Kind
		text string
		err  error // nil, or the wrapped sentinel; errAny for another error
	}{
		{OpAdd, IntValue(2), IntValue(3), Int, "5", nil},
		{OpSub, IntValue(2), IntValue(3), Int, "-1", nil},
		{OpMul, IntValue(-4), IntValue(3), Int, "-12", nil},
		{OpDiv, IntValue(7), IntValue(2), Int, "3", nil},
		{OpDiv, IntValue(-7), IntValue(2), Int, "-3", nil},
		{OpMod, IntValue(-7), IntValue(2), Int, "-1", nil},
		{OpDiv, IntValue(1), IntValue(0), 0, "", ErrDivisionByZero},
		{OpMod, IntValue(1), IntValue(0), 0, "", ErrDivisionByZero},
		{OpAdd, big, IntValue(1), 0, "", ErrIntegerOverflow},
		{OpSub, IntValue(math.MinInt64), IntValue(1), 0, "", ErrIntegerOverflow},
		{OpMul, big, IntValue(2), 0, "", ErrIntegerOverflow},
		{OpDiv, IntValue(math.MinInt64), IntValue(-1), 0, "", ErrIntegerOverflow},
		{OpMod, IntValue(math.MinInt64), IntValue(-1), Int, "0", nil},
		{OpAdd, num(t, "0.1"), num(t, "0.2"), Decimal, "0.3", nil},
		{OpAdd, num(t, "1.5"), num(t, "0.25"), Decimal, "1.75", nil},
		{OpSub, num(t, "1.00"), num(t, "0.005"), Decimal, "0.995", nil},
		{OpMul, num(t, "1.5"), num(t, "1.5"), Decimal, "2.25", nil},
		{OpMul, num(t, "10.50"), IntValue(3), Decimal, "31.50", nil},
		{OpAdd, IntValue(1), num(t, "0.5"), Decimal, "1.5", nil},
		{OpDiv, IntValue(1), num(t, "3.0"), Decimal, "0.333333", nil},
		{OpDiv, num(t, "2.0"), num(t, "3.0"), Decimal, "0.666667", nil},
		{OpDiv, num(t, "-2.0"), num(t, "3.0"), Decimal, "-0.666667", nil},
		{OpDiv, num(t, "1.00000000"), IntValue(8), Decimal, "0.12500000", nil},
		{OpDiv, num(t, "0.0000005"), IntValue(1), Decimal, "0.0000005", nil},
		{OpDiv, num(t, "1.5"), num(t, "0.000000000000000001"), 0, "", ErrDecimalOverflow},
		{OpDiv, IntValue(1), num(t, "0.000000000000000100"), 0, "", ErrDecimalOverflow},
		{OpDiv, IntValue(1), num(t, "1.000000000000000000"), Decimal, "1.000000000000000000", nil},
		{OpDiv, IntValue(-2), num(t, "3.000000000000000000"), Decimal, "-0.666666666666666667", nil},
		{OpDiv, num(t, "1.0"), num(t, "0.0"), 0, "", ErrDivisionByZero},
		{OpMod, num(t, "7.5"), IntValue(2), Decimal, "1.5", nil},
		{OpAdd, num(t, "9223372036854775.807"), num(t, "0.001"), 0, "", ErrDecimalOverflow},
		{OpMul, num(t, "99999999999.99"), num(t, "99999999999.99"), 0, "", ErrDecimalOverflow},
		// A scale beyond 18 is reduced by dropping zero digits only.
		{OpMul, num(t, "0.0000000010"), num(t, "0.0000000010"), Decimal, "0.000000000000000001", nil},
		{OpMul, num(t, "0.0000000011"), num(t, "0.0000000011"), 0, "", ErrDecimalOverflow},
		{OpAdd, FloatValue(0.5), IntValue(1), Float, "1.5", nil},
		{OpMul, num(t, "0.5"), FloatValue(3), Float, "1.5", nil},
		{OpDiv, FloatValue(1), FloatValue(0), 0, "", ErrDivisionByZero},
		{OpMul, FloatValue(1e300), FloatValue(1e300), 0, "", errAny},
		{OpAdd, NullValue(), IntValue(1), Null, "NULL", nil},
		{OpDiv, IntValue(1), NullValue(), Null, "NULL", nil},
		{OpAdd, TimestampValue(1000), IntValue(500), Timestamp, "1970-01-01T00:00:01.500Z", nil},
		{OpAdd, IntValue(500), TimestampValue(1000), Timestamp, "1970-01-01T00:00:01.500Z", nil},
		{OpSub, TimestampValue(1000), TimestampValue(400), Int, "600", nil},
		{OpSub, TimestampValue(1000), IntValue(1000), Timestamp, "1970-01-01T00:00:00.000Z", nil},
		{OpMul, TimestampValue(1000), IntValue(2), 0, "", errAny},
		{OpAdd, StringValue("a"), IntValue(1), 0, "", errAny},
		{OpAdd, BoolValue(true), BoolValue(true), 0, "", errAny},
	}
	for _, tt := range tests {
		got, err := Arith(tt.op, tt.a, tt.b)
		name := tt.a.String() + " " + tt.op.String() + " " + tt.b.String()
		if tt.err != nil {
			if err == nil {
				t.Errorf("%s = %v, want error", name, got)
			} else if tt.err != errAny && !errors.Is(err, tt.err) {
				t.Errorf("%s: error %v, want %v", name, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got.Kind() != tt.kind || got.String() != tt.text {
			t.Errorf("%s = %v %s, want %v %s", name, got.Kind(), got, tt.kind, tt.text)
		}
	}
}

var errAny = errors.New("any error")

func TestNeg(t *testing.T) {
	for _, tt := range []struct {
		in   Value
		want string
		ok   bool
	}{
		{IntValue(5), "-5", true},
		{num(t, "-1.50"), "1.50", true},
		{FloatValue(2), "-2", true},
		{NullValue(), "NULL", true},
		{IntValue(math.MinInt64), "", false},
		{StringValue("x"), "", false},
	} {
		got, err := Neg(tt.in)
		if (err == nil) != tt.ok || tt.ok && got.String() != tt.want {
			t.Errorf("Neg(%v) = %v, %v; want %s ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestDecimalDivRoundsHalfAwayFromZero(t *testing.T) {
	for _, tt := range []struct {
		a    string
		b    int64
		want string
	}{
		{"0.0000005", 2, "0.0000003"}, // 0.00000025 -> half away from zero
		{"-0.0000005", 2, "-0.0000003"},
		{"0.000001", 4, "0.000000"}, // 0.00000025 at scale 6
		{"0.000003", 4, "0.000001"}, // 0.00000075
		{"1.000000", 3, "0.333333"},
	} {
		got, err := Div(num(t, tt.a), IntValue(tt.b))
		if err != nil || got.String() != tt.want {
			t.Errorf("%s / %d = %v, %v; want %s", tt.a, tt.b, got, err, tt.want)
		}
	}
}

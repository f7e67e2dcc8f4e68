package record

import (
	"math"
	"testing"
)

func TestParseNumber(t *testing.T) {
	tests := []struct {
		in   string
		kind Kind
		text string
	}{
		{"150", Int, "150"},
		{"-7", Int, "-7"},
		{"12.50", Decimal, "12.50"},
		{"-0.05", Decimal, "-0.05"},
		{".5", Decimal, "0.5"},
		{"1e3", Float, "1000"},
		{"2.5E-1", Float, "0.25"},
	}
	for _, tt := range tests {
		v, err := ParseNumber(tt.in)
		if err != nil {
			t.Fatalf("ParseNumber(%q): %v", tt.in, err)
		}
		if v.Kind() != tt.kind || v.String() != tt.text {
			t.Errorf("ParseNumber(%q) = %v %q, want %v %q", tt.in, v.Kind(), v.String(), tt.kind, tt.text)
		}
	}
	for _, bad := range []string{"", "-", "1.2.3", "abc", "1e", "99999999999999999999", "1.0000000000000000000001"} {
		if _, err := ParseNumber(bad); err == nil {
			t.Errorf("ParseNumber(%q): want error", bad)
		}
	}
}

// TestKeyFormText: values that AppendKey encodes alike (one group) have
// one KeyForm text as keys of any type, and values it encodes apart have
// different ones unless they are a STRING and a number spelled alike.
// KeyForm keeps a value in its group.
func TestKeyFormText(t *testing.T) {
	vals := []Value{IntValue(150), DecimalValue(1500, 1), DecimalValue(15000, 2), FloatValue(150), FloatValue(1.5e2),
		DecimalValue(75, 1), DecimalValue(750, 2), FloatValue(7.5), IntValue(0), DecimalValue(0, 3), FloatValue(math.Copysign(0, -1)),
		IntValue(-20), DecimalValue(-2000, 2), FloatValue(-20), FloatValue(1e300), FloatValue(math.NaN()),
		FloatValue(-math.NaN()), DecimalValue(12345, 3), DecimalValue(123450, 4), IntValue(1500000), FloatValue(1.5e6),
		IntValue(1<<62 + 1), FloatValue(0.1), DecimalValue(1, 1), DecimalValue(100000000000000001, 18), FloatValue(1e-7), DecimalValue(1, 7),
		IntValue(1<<53 + 1), FloatValue(1 << 53), StringValue("x"), StringValue("150"), NullValue(), TimestampValue(5)}
	for _, typ := range []Type{AnyType, BigintType, DoubleType, DecimalType(6, 3), DecimalType(18, 0), StringType} {
		for _, a := range vals {
			ka := a.KeyForm(typ)
			if string(ka.AppendKey(nil)) != string(a.AppendKey(nil)) {
				t.Errorf("%s: %v's KeyForm %v is in another group", typ, a, ka)
			}
			for _, b := range vals {
				kb := b.KeyForm(typ)
				sameKey := string(a.AppendKey(nil)) == string(b.AppendKey(nil))
				sameText := ka.String() == kb.String() && string(ka.AppendJSON(nil)) == string(kb.AppendJSON(nil))
				stringAndNumber := (a.Kind() == String) != (b.Kind() == String)
				if sameKey && (!sameText || ka.Kind() != kb.Kind()) || !sameKey && sameText && !stringAndNumber {
					t.Errorf("%s: %v and %v: one group %v, KeyForms %v %s and %v %s", typ, a, b, sameKey, ka.Kind(), ka, kb.Kind(), kb)
				}
			}
		}
	}
}

// TestKeyForm: a key takes the form of its type: a DECIMAL(p,s) key's
// numbers are at scale s (unless they have more fraction digits), a DOUBLE
// key's whole numbers are FLOATs, another key's whole numbers INTEGERs and
// its other decimals have no trailing zeros.
func TestKeyForm(t *testing.T) {
	tests := []struct {
		v    Value
		typ  Type
		kind Kind
		text string
	}{
		{DecimalValue(1500, 1), DecimalType(6, 3), Decimal, "150.000"},
		{IntValue(150), DecimalType(6, 3), Decimal, "150.000"},
		{FloatValue(150), DecimalType(6, 3), Decimal, "150.000"},
		{DecimalValue(750, 2), DecimalType(6, 3), Decimal, "7.500"},
		{DecimalValue(123450, 4), DecimalType(6, 3), Decimal, "12.345"},
		{DecimalValue(123456, 4), DecimalType(6, 3), Decimal, "12.3456"},
		{DecimalValue(15000, 2), DecimalType(5, 2), Decimal, "150.00"},
		{IntValue(150), DecimalType(5, 0), Decimal, "150"},
		{IntValue(1 << 62), DecimalType(18, 3), Decimal, "4611686018427387904"}, // 10^3 times it overflows
		{FloatValue(7.5), DecimalType(6, 3), Decimal, "7.500"},
		{FloatValue(0.1), AnyType, Decimal, "0.1"},
		{FloatValue(1e-7), AnyType, Decimal, "0.0000001"},
		{DecimalValue(1, 1), DoubleType, Float, "0.1"},
		{DecimalValue(750, 2), DoubleType, Float, "7.5"},
		{DecimalValue(100000000000000001, 18), DoubleType, Decimal, "0.100000000000000001"}, // no FLOAT stands for it
		{FloatValue(1e-300), AnyType, Float, "1e-300"},
		{DecimalValue(15000, 2), AnyType, Int, "150"},
		{FloatValue(1.5e6), AnyType, Int, "1500000"},
		{DecimalValue(750, 2), AnyType, Decimal, "7.5"},
		{DecimalValue(750, 2), BigintType, Decimal, "7.5"},
		{DecimalValue(15000, 2), BigintType, Int, "150"},
		{IntValue(150), DoubleType, Float, "150"},
		{DecimalValue(15000, 2), DoubleType, Float, "150"},
		{IntValue(1500000), DoubleType, Float, "1.5e+06"},
		{IntValue(1<<62 + 1), DoubleType, Int, "4611686018427387905"}, // no FLOAT holds it
		{FloatValue(math.Copysign(0, -1)), DoubleType, Float, "0"},
		{FloatValue(math.Copysign(0, -1)), AnyType, Int, "0"},
		{DecimalValue(0, 3), DoubleType, Float, "0"},
		{FloatValue(1e300), DoubleType, Float, "1e+300"},
		{FloatValue(math.NaN()), DoubleType, Float, "NaN"},
		{StringValue("150.0"), DecimalType(6, 3), String, "150.0"},
		{NullValue(), DecimalType(6, 3), Null, "NULL"},
	}
	for _, tt := range tests {
		got := tt.v.KeyForm(tt.typ)
		if got.Kind() != tt.kind || got.String() != tt.text {
			t.Errorf("%v.KeyForm(%s) = %v %s, want %v %s", tt.v, tt.typ, got.Kind(), got, tt.kind, tt.text)
		}
		if again := got.KeyForm(tt.typ); again != got {
			t.Errorf("%v.KeyForm(%s) = %v, but its KeyForm is %v", tt.v, tt.typ, got, again)
		}
	}
}

func TestAppendKeyGroupsEqualNumbers(t *testing.T) {
	same := []Value{IntValue(150), DecimalValue(1500, 1), DecimalValue(15000, 2), FloatValue(150)}
	want := string(same[0].AppendKey(nil))
	for _, v := range same[1:] {
		if got := string(v.AppendKey(nil)); got != want {
			t.Errorf("%v encodes differently from 150", v)
		}
	}
	if string(StringValue("150").AppendKey(nil)) == want {
		t.Error("string 150 must not equal number 150")
	}
	ab := string(StringValue("c").AppendKey(StringValue("ab").AppendKey(nil)))
	bc := string(StringValue("bc").AppendKey(StringValue("a").AppendKey(nil)))
	if ab == bc {
		t.Error(`("ab","c") and ("a","bc") collide`)
	}
	if string(NullValue().AppendKey(nil)) == string(StringValue("").AppendKey(nil)) {
		t.Error("NULL collides with empty string")
	}
}

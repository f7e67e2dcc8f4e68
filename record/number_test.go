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

// TestGroupValueText: values that AppendKey encodes alike (one group)
// have one GroupValue text, and values it encodes apart have different
// ones unless they are a STRING and a number spelled alike.
func TestGroupValueText(t *testing.T) {
	vals := []Value{IntValue(150), DecimalValue(1500, 1), DecimalValue(15000, 2), FloatValue(150), FloatValue(1.5e2),
		DecimalValue(75, 1), DecimalValue(750, 2), FloatValue(7.5), IntValue(0), DecimalValue(0, 3), FloatValue(math.Copysign(0, -1)),
		IntValue(-20), DecimalValue(-2000, 2), FloatValue(-20), FloatValue(1e300), FloatValue(math.NaN()), DecimalValue(12345, 3),
		StringValue("x"), NullValue(), TimestampValue(5)}
	for _, a := range vals {
		for _, b := range vals {
			sameKey := string(a.AppendKey(nil)) == string(b.AppendKey(nil))
			sameText := string(a.GroupValue().AppendText(nil)) == string(b.GroupValue().AppendText(nil))
			// a FLOAT and a DECIMAL 7.5 are two groups, whose texts agree
			floatAndDecimal := a.Kind() != b.Kind() && (a.Kind() == Float || b.Kind() == Float)
			if sameKey != sameText && !(sameText && floatAndDecimal) {
				t.Errorf("%v and %v: one group %v, one GroupValue text %v (%s, %s)", a, b, sameKey, sameText,
					a.GroupValue().AppendText(nil), b.GroupValue().AppendText(nil))
			}
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

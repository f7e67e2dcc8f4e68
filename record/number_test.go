package record

import "testing"

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

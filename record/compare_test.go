package record

import (
	"cmp"
	"math"
	"testing"
)

func TestCompare(t *testing.T) {
	tests := []struct {
		a, b Value
		want int
		err  bool
	}{
		{IntValue(1), IntValue(2), -1, false},
		{IntValue(150), num(t, "150.00"), 0, false},
		{num(t, "150.001"), IntValue(150), 1, false},
		{num(t, "-0.5"), num(t, "0.25"), -1, false},
		{num(t, "-1.5"), num(t, "-1.25"), -1, false},
		{num(t, "-0.05"), num(t, "-0.5"), 1, false},
		{num(t, "9223372036854775807"), num(t, "922337203685477580.7"), 1, false},
		{num(t, "0.100000000000000001"), num(t, "0.1"), 1, false},
		{IntValue(math.MaxInt64), num(t, "9223372036854775.806"), 1, false},
		{IntValue(3), FloatValue(2.5), 1, false},
		{num(t, "2.5"), FloatValue(2.5), 0, false},
		{FloatValue(math.NaN()), FloatValue(math.NaN()), 0, false},
		{FloatValue(math.NaN()), FloatValue(math.Inf(1)), 1, false},
		{IntValue(1), FloatValue(math.NaN()), -1, false},
		{StringValue("abc"), StringValue("abd"), -1, false},
		{StringValue("b"), StringValue("abc"), 1, false},
		{BoolValue(false), BoolValue(true), -1, false},
		{TimestampValue(5), TimestampValue(5), 0, false},
		{TimestampValue(0), StringValue("1970-01-01T00:00:00.001Z"), -1, false},
		{StringValue("2024-01-15"), TimestampValue(0), 1, false},
		{TimestampValue(0), StringValue("not a time"), 0, true},
		{NullValue(), NullValue(), 0, false},
		{NullValue(), IntValue(1), 1, false},
		{StringValue(""), NullValue(), -1, false},
		{StringValue("1"), IntValue(1), 0, true},
		{BoolValue(true), IntValue(1), 0, true},
		{TimestampValue(1), IntValue(1), 0, true},
	}
	for _, tt := range tests {
		got, err := Compare(tt.a, tt.b)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("Compare(%v %v, %v %v) = %d, %v; want %d, error %v", tt.a.Kind(), tt.a, tt.b.Kind(), tt.b, got, err, tt.want, tt.err)
		}
		if tt.err {
			continue
		}
		back, err := Compare(tt.b, tt.a)
		if err != nil || back != -tt.want {
			t.Errorf("Compare(%v, %v) = %d, %v; want %d (antisymmetry)", tt.b, tt.a, back, err, -tt.want)
		}
	}
}

func TestEqual(t *testing.T) {
	if eq, err := Equal(num(t, "1.50"), num(t, "1.5")); err != nil || !eq {
		t.Errorf("1.50 = 1.5: %v, %v", eq, err)
	}
	if _, err := Equal(StringValue("a"), IntValue(1)); err == nil {
		t.Error("STRING = INTEGER: want error")
	}
}

// TestCompareForm: equal values written differently are in one order (a
// FLOAT, an INTEGER, then DECIMALs by scale; -0.0 before 0.0), the same
// whichever is first.
func TestCompareForm(t *testing.T) {
	ordered := []Value{FloatValue(1.5e2), IntValue(150), DecimalValue(150, 0), DecimalValue(1500, 1), DecimalValue(15000, 2)}
	for i, a := range ordered {
		for j, b := range ordered {
			if c, _ := Compare(a, b); c != 0 {
				t.Fatalf("%v and %v are not equal", a, b)
			}
			if got, want := CompareForm(a, b), cmp.Compare(i, j); got != want {
				t.Errorf("CompareForm(%v, %v) = %d, want %d", a, b, got, want)
			}
		}
	}
	if CompareForm(FloatValue(math.Copysign(0, -1)), FloatValue(0)) >= 0 {
		t.Error("-0.0 is not before 0.0")
	}
}

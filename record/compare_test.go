package record

import (
	"cmp"
	"math"
	"math/rand/v2"
	"strconv"
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

// TestEqualIffSameKey: for random pairs of numbers in every form (INTEGERs
// beyond 2^53, DECIMALs of up to 18 digits, FLOATs, -0.0, NaN, ±Inf) and
// STRINGs spelled like them, a = b exactly when their keys are equal, and
// their KeyForms as keys of any type stay in their groups: grouping,
// DISTINCT, joins and routing agree with the = operator.
func TestEqualIffSameKey(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var pool []Value
	add := func(v Value) {
		pool = append(pool, v)
		if f, err := strconv.ParseFloat(v.String(), 64); err == nil && v.Kind() != String {
			pool = append(pool, FloatValue(f)) // the nearest FLOAT of an exact number
			if w, err := ParseNumber(strconv.FormatFloat(f, 'f', -1, 64)); err == nil {
				pool = append(pool, w) // the decimal a FLOAT prints as
			}
		}
		pool = append(pool, StringValue(v.String()))
	}
	for _, v := range []Value{IntValue(0), FloatValue(math.Copysign(0, -1)), FloatValue(math.NaN()), FloatValue(math.Inf(1)),
		FloatValue(math.Inf(-1)), IntValue(math.MaxInt64), IntValue(math.MinInt64), FloatValue(1 << 63), FloatValue(-(1 << 63)),
		IntValue(1 << 53), IntValue(1<<53 + 1), DecimalValue(1, 1), FloatValue(0.1), DecimalValue(100000000000000001, 18),
		FloatValue(1e-19), DecimalValue(1, 18), FloatValue(1e-18), FloatValue(7.5), DecimalValue(7500, 3)} {
		add(v)
	}
	for range 80 {
		s := uint8(rng.IntN(MaxScale))
		n := rng.Int64N(1<<rng.IntN(63)+1) - rng.Int64N(1<<rng.IntN(63)+1)
		add(DecimalValue(n, s))
		add(DecimalValue(n*10, s+1)) // trailing zero, perhaps overflowing: another number then
		add(IntValue(n))
		add(FloatValue(math.Float64frombits(rng.Uint64())))
		add(FloatValue(float64(n) / math.Pow10(int(s))))
	}
	keys := make([]string, len(pool))
	for i, v := range pool {
		keys[i] = string(v.AppendKey(nil))
	}
	for i, a := range pool {
		for j, b := range pool {
			c, err := Compare(a, b)
			eq := err == nil && c == 0
			if same := keys[i] == keys[j]; eq != same {
				t.Fatalf("%v %v and %v %v: equal %v, one key %v", a.Kind(), a, b.Kind(), b, eq, same)
			}
			if c2, err2 := Compare(b, a); err == nil && (err2 != nil || c2 != -c) {
				t.Fatalf("%v vs %v: %d, reversed %d", a, b, c, c2)
			}
		}
		for _, typ := range []Type{AnyType, DoubleType, DecimalType(18, 3), BigintType} {
			if k := a.KeyForm(typ); string(k.AppendKey(nil)) != string(a.AppendKey(nil)) {
				t.Fatalf("%v %v: its KeyForm(%s) %v %v is another key", a.Kind(), a, typ, k.Kind(), k)
			}
		}
	}
}

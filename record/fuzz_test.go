package record

import (
	"math/big"
	"testing"
)

// rat returns an exact INTEGER or DECIMAL as a rational.
func rat(v Value) *big.Rat {
	n, s := v.num, v.scaleOf()
	return new(big.Rat).SetFrac(big.NewInt(n), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(s)), nil))
}

func FuzzParseNumber(f *testing.F) {
	for _, s := range []string{"0", "-7", "12.50", ".5", "1e3", "-0.000000000000000001", "9223372036854775807", "1.", "+3", "1e-400"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseNumber(s)
		if err != nil {
			return
		}
		back, err := ParseNumber(v.String())
		if v.Kind() == Float {
			return // shortest float text may use an exponent or be non-finite
		}
		if err != nil {
			t.Fatalf("ParseNumber(%q) = %v, whose text does not parse: %v", s, v, err)
		}
		// "1." is a DECIMAL of scale 0 whose text "1" reads back as INTEGER.
		if c, err := Compare(v, back); err != nil || c != 0 || back.String() != v.String() {
			t.Fatalf("ParseNumber(%q) = %v does not round-trip (%v)", s, v, back)
		}
		for _, cast := range []func(Value) (Value, error){ToInt, ToFloat, ToString, ToTimestamp, ToBool} {
			_, _ = cast(v)
		}
		_, _ = ToDecimal(v, 2)
	})
}

func FuzzCasts(f *testing.F) {
	for _, s := range []string{"42", "1.5", "true", "2024-01-15T10:30:00Z", "2024-01-15", "NaN", "-Inf", "1e400", " 7 "} {
		f.Add(s, int8(2))
	}
	f.Fuzz(func(t *testing.T, s string, scale int8) {
		v := StringValue(s)
		for _, cast := range []func(Value) (Value, error){ToInt, ToFloat, ToString, ToTimestamp, ToBool} {
			out, err := cast(v)
			if err == nil {
				_ = out.String()
			}
		}
		d, err := ToDecimal(v, int(scale))
		if err == nil && int(scale) >= 0 && int(d.scale) != int(scale) {
			t.Fatalf("ToDecimal(%q, %d) has scale %d", s, scale, d.scale)
		}
	})
}

// FuzzDecimalArith checks exact arithmetic and comparison against
// math/big, with docs/sql.md's rules: + - * are exact or an error; INTEGER /
// INTEGER truncates toward zero and % takes the dividend's sign (exact);
// a decimal / is within half a unit of the result's last digit and a decimal
// % is exact; Compare agrees with the rational order.
func FuzzDecimalArith(f *testing.F) {
	f.Add("0.1", "0.2")
	f.Add("-9223372036854775.808", "0.001")
	f.Add("123.456", "-0.000000000000000007")
	f.Add("99999999999.99", "3")
	f.Add("11", "20")
	f.Add("-7", "2")
	f.Add("7.5", "-2")
	f.Fuzz(func(t *testing.T, as, bs string) {
		if len(as) > 64 || len(bs) > 64 {
			return // longer text only repeats digits ParseNumber refuses
		}
		a, err1 := ParseNumber(as)
		b, err2 := ParseNumber(bs)
		if err1 != nil || err2 != nil || !a.isExact() || !b.isExact() {
			return
		}
		ra, rb := rat(a), rat(b)
		c, err := Compare(a, b)
		if err != nil || c != ra.Cmp(rb) {
			t.Fatalf("Compare(%v, %v) = %d, %v; want %d", a, b, c, err, ra.Cmp(rb))
		}
		exact := map[Op]*big.Rat{
			OpAdd: new(big.Rat).Add(ra, rb),
			OpSub: new(big.Rat).Sub(ra, rb),
			OpMul: new(big.Rat).Mul(ra, rb),
		}
		if rb.Sign() != 0 {
			// a % b = a - trunc(a/b)*b for integers and decimals alike.
			q := new(big.Rat).Quo(ra, rb)
			trunc := new(big.Rat).SetInt(new(big.Int).Quo(q.Num(), q.Denom()))
			exact[OpMod] = new(big.Rat).Sub(ra, new(big.Rat).Mul(trunc, rb))
			if a.Kind() == Int && b.Kind() == Int {
				exact[OpDiv] = trunc
			}
		}
		for op, want := range exact {
			got, err := Arith(op, a, b)
			if err == nil && rat(got).Cmp(want) != 0 {
				t.Fatalf("%v %s %v = %v, want %s", a, op, b, got, want.FloatString(20))
			}
		}
		got, err := Div(a, b)
		if rb.Sign() == 0 {
			if err == nil {
				t.Fatalf("%v / 0 = %v, want error", a, got)
			}
			return
		}
		if err != nil || exact[OpDiv] != nil {
			return
		}
		diff := new(big.Rat).Sub(rat(got), new(big.Rat).Quo(ra, rb))
		half := new(big.Rat).SetFrac(big.NewInt(1), new(big.Int).Mul(big.NewInt(2), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(got.scale)), nil)))
		if diff.Abs(diff).Cmp(half) > 0 {
			t.Fatalf("%v / %v = %v, off by more than half a unit", a, b, got)
		}
	})
}

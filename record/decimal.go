package record

import (
	"errors"
	"math"
	"math/big"
	"math/bits"
)

// MaxScale is the largest decimal scale the exact representation supports.
const MaxScale = 18

// DivisionScale is the minimum scale of a DECIMAL quotient: a / b has scale
// max(scale(a), scale(b), DivisionScale), at most MaxScale.
const DivisionScale = 6

// ErrDivisionByZero reports a division or modulo by zero.
var ErrDivisionByZero = errors.New("division by zero")

// ErrIntegerOverflow reports an INTEGER result outside the int64 range.
var ErrIntegerOverflow = errors.New("integer out of range")

// pow10 holds 10^0 .. 10^18, every power of ten that fits an int64.
var pow10 = [MaxScale + 1]int64{
	1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
}

// abs64 returns |n| as a uint64 (exact also for math.MinInt64).
func abs64(n int64) uint64 {
	if n < 0 {
		return -uint64(n)
	}
	return uint64(n)
}

// signed returns the int64 with magnitude u and the given sign, or false
// when it does not fit.
func signed(u uint64, neg bool) (int64, bool) {
	if neg {
		if u > 1<<63 {
			return 0, false
		}
		return -int64(u), true
	}
	if u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// addInt64 returns a+b, or false on overflow.
func addInt64(a, b int64) (int64, bool) {
	c := a + b
	if (a >= 0) == (b >= 0) && (c >= 0) != (a >= 0) {
		return 0, false
	}
	return c, true
}

// subInt64 returns a-b, or false on overflow.
func subInt64(a, b int64) (int64, bool) {
	c := a - b
	if (a >= 0) != (b >= 0) && (c >= 0) != (a >= 0) {
		return 0, false
	}
	return c, true
}

// mulInt64 returns a*b, or false on overflow.
func mulInt64(a, b int64) (int64, bool) {
	hi, lo := bits.Mul64(abs64(a), abs64(b))
	if hi != 0 {
		return 0, false
	}
	return signed(lo, (a < 0) != (b < 0))
}

// rescaleUp returns n × 10^k, or false on overflow.
func rescaleUp(n int64, k int) (int64, bool) {
	if k == 0 {
		return n, true
	}
	if k < 0 || k > MaxScale {
		return 0, n == 0
	}
	return mulInt64(n, pow10[k])
}

// roundDiv returns n / d rounded half away from zero; d > 0.
func roundDiv(n, d int64) int64 {
	q, r := n/d, n%d
	if r < 0 {
		if -r >= d-(-r) {
			q--
		}
	} else if r >= d-r {
		q++
	}
	return q
}

// RescaleDecimal changes a decimal's scale: up exactly (overflow is an
// error), down rounding half away from zero.
func RescaleDecimal(unscaled int64, from, to uint8) (int64, error) {
	if from > MaxScale || to > MaxScale {
		return 0, ErrDecimalOverflow
	}
	if to >= from {
		n, ok := rescaleUp(unscaled, int(to-from))
		if !ok {
			return 0, ErrDecimalOverflow
		}
		return n, nil
	}
	return roundDiv(unscaled, pow10[from-to]), nil
}

// align brings two decimals to their common (larger) scale.
func align(a int64, sa uint8, b int64, sb uint8) (int64, int64, uint8, error) {
	if sa > MaxScale || sb > MaxScale {
		return 0, 0, 0, ErrDecimalOverflow
	}
	var ok bool
	switch {
	case sa < sb:
		a, ok = rescaleUp(a, int(sb-sa))
		sa = sb
	case sb < sa:
		b, ok = rescaleUp(b, int(sa-sb))
	default:
		ok = true
	}
	if !ok {
		return 0, 0, 0, ErrDecimalOverflow
	}
	return a, b, sa, nil
}

// DecimalAdd returns a + b exactly, at the larger of the two scales.
func DecimalAdd(a int64, sa uint8, b int64, sb uint8) (int64, uint8, error) {
	a, b, s, err := align(a, sa, b, sb)
	if err != nil {
		return 0, 0, err
	}
	c, ok := addInt64(a, b)
	if !ok {
		return 0, 0, ErrDecimalOverflow
	}
	return c, s, nil
}

// DecimalSub returns a - b exactly, at the larger of the two scales.
func DecimalSub(a int64, sa uint8, b int64, sb uint8) (int64, uint8, error) {
	a, b, s, err := align(a, sa, b, sb)
	if err != nil {
		return 0, 0, err
	}
	c, ok := subInt64(a, b)
	if !ok {
		return 0, 0, ErrDecimalOverflow
	}
	return c, s, nil
}

// DecimalMul returns a × b exactly. The result's scale is sa+sb; when that
// product does not fit, trailing zero digits are dropped (which keeps the
// value exact), and if it still does not fit the result is an overflow error.
func DecimalMul(a int64, sa uint8, b int64, sb uint8) (int64, uint8, error) {
	if sa > MaxScale || sb > MaxScale {
		return 0, 0, ErrDecimalOverflow
	}
	neg := (a < 0) != (b < 0)
	hi, lo := bits.Mul64(abs64(a), abs64(b))
	s := int(sa) + int(sb)
	for {
		if hi == 0 && s <= MaxScale {
			if n, ok := signed(lo, neg); ok {
				return n, uint8(s), nil
			}
		}
		if s == 0 {
			return 0, 0, ErrDecimalOverflow
		}
		qhi, rhi := hi/10, hi%10
		qlo, r := bits.Div64(rhi, lo, 10)
		if r != 0 {
			return 0, 0, ErrDecimalOverflow
		}
		hi, lo, s = qhi, qlo, s-1
	}
}

// DecimalDiv returns a / b as a decimal of scale max(sa, sb, DivisionScale)
// (at most MaxScale), rounded half away from zero.
func DecimalDiv(a int64, sa uint8, b int64, sb uint8) (int64, uint8, error) {
	if b == 0 {
		return 0, 0, ErrDivisionByZero
	}
	if sa > MaxScale || sb > MaxScale {
		return 0, 0, ErrDecimalOverflow
	}
	s := max(sa, sb, DivisionScale)
	k := int(s) + int(sb) - int(sa) // quotient = a × 10^k / b, 0 <= k <= 36
	neg := (a < 0) != (b < 0)
	ua, ub := abs64(a), abs64(b)
	if k <= MaxScale {
		hi, lo := bits.Mul64(ua, uint64(pow10[k]))
		if hi >= ub {
			return 0, 0, ErrDecimalOverflow
		}
		q, r := bits.Div64(hi, lo, ub)
		if r >= ub-r {
			q++
		}
		n, ok := signed(q, neg)
		if !ok {
			return 0, 0, ErrDecimalOverflow
		}
		return n, s, nil
	}
	num := new(big.Int).Mul(new(big.Int).SetUint64(ua), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(k)), nil))
	n, ok := bigRoundQuo(num, new(big.Int).SetUint64(ub), neg)
	if !ok {
		return 0, 0, ErrDecimalOverflow
	}
	return n, s, nil
}

// bigRoundQuo returns ±(num / den) rounded half away from zero for
// non-negative num and positive den, or false when it does not fit int64.
func bigRoundQuo(num, den *big.Int, neg bool) (int64, bool) {
	q, r := new(big.Int).QuoRem(num, den, new(big.Int))
	if r.Lsh(r, 1).Cmp(den) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	if !q.IsUint64() {
		return 0, false
	}
	return signed(q.Uint64(), neg)
}

// DecimalMod returns the remainder of a / b (truncating division, so the
// sign follows a), at the larger of the two scales.
func DecimalMod(a int64, sa uint8, b int64, sb uint8) (int64, uint8, error) {
	a, b, s, err := align(a, sa, b, sb)
	if err != nil {
		return 0, 0, err
	}
	if b == 0 {
		return 0, 0, ErrDivisionByZero
	}
	if b == -1 {
		return 0, s, nil
	}
	return a % b, s, nil
}

// DecimalFloor returns the largest integer not above unscaled × 10^-scale.
func DecimalFloor(unscaled int64, scale uint8) (int64, error) {
	if scale > MaxScale {
		return 0, ErrDecimalOverflow
	}
	q, r := unscaled/pow10[scale], unscaled%pow10[scale]
	if r < 0 {
		q--
	}
	return q, nil
}

// DecimalCeil returns the smallest integer not below unscaled × 10^-scale.
func DecimalCeil(unscaled int64, scale uint8) (int64, error) {
	if scale > MaxScale {
		return 0, ErrDecimalOverflow
	}
	q, r := unscaled/pow10[scale], unscaled%pow10[scale]
	if r > 0 {
		q++
	}
	return q, nil
}

package record

import (
	"fmt"
	"math/big"
)

// DecimalSum accumulates an exact sum of INTEGER and DECIMAL values for SUM
// and AVG. Values of mixed scales are summed at the largest scale seen. The
// running sum lives in an int64 and moves to a big.Int if it ever leaves
// that range, so intermediate overflow never loses digits and nothing is
// ever rounded; only a final result that does not fit a DECIMAL is an
// error. The zero value is an empty sum, ready to use.
type DecimalSum struct {
	n     int64    // the sum × 10^scale, while big is nil
	big   *big.Int // the sum × 10^scale, once it left the int64 range
	scale uint8
	count int64
}

// Add adds v to the sum. NULL is skipped (not counted); kinds other than
// INTEGER and DECIMAL are an error.
func (s *DecimalSum) Add(v Value) error { return s.add(v, false) }

// Remove subtracts a value previously added, for sliding frames. NULL is
// skipped.
func (s *DecimalSum) Remove(v Value) error { return s.add(v, true) }

// Count returns the number of values in the sum.
func (s *DecimalSum) Count() int64 { return s.count }

// Reset empties the sum.
func (s *DecimalSum) Reset() { *s = DecimalSum{} }

func (s *DecimalSum) add(v Value, remove bool) error {
	switch v.kind {
	case Null:
		return nil
	case Int, Decimal:
	default:
		return fmt.Errorf("SUM/AVG of %s: want INTEGER or DECIMAL", v.kind)
	}
	vs := v.scaleOf()
	if vs > MaxScale {
		return fmt.Errorf("SUM/AVG of %s: %w", v, ErrDecimalOverflow)
	}
	if vs > s.scale {
		s.raiseScale(vs)
	}
	if remove {
		s.count--
	} else {
		s.count++
	}
	if s.big == nil {
		if x, ok := rescaleUp(v.num, int(s.scale-vs)); ok {
			var c int64
			if remove {
				c, ok = subInt64(s.n, x)
			} else {
				c, ok = addInt64(s.n, x)
			}
			if ok {
				s.n = c
				return nil
			}
		}
		s.big = big.NewInt(s.n)
	}
	x := new(big.Int).Mul(big.NewInt(v.num), bigPow10(int(s.scale-vs)))
	if remove {
		s.big.Sub(s.big, x)
	} else {
		s.big.Add(s.big, x)
	}
	return nil
}

// raiseScale re-expresses the running sum at the larger scale to.
func (s *DecimalSum) raiseScale(to uint8) {
	k := int(to - s.scale)
	s.scale = to
	if s.big == nil {
		if n, ok := rescaleUp(s.n, k); ok {
			s.n = n
			return
		}
		s.big = big.NewInt(s.n)
	}
	s.big.Mul(s.big, bigPow10(k))
}

func bigPow10(k int) *big.Int {
	if k <= MaxScale {
		return big.NewInt(pow10[k])
	}
	return new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(k)), nil)
}

// Sum returns the exact sum as a DECIMAL at the largest scale added (scale 0
// when only INTEGERs were added), or NULL when nothing was added. A sum
// beyond the DECIMAL range is an error.
func (s *DecimalSum) Sum() (Value, error) {
	if s.count == 0 {
		return Value{}, nil
	}
	if s.big == nil {
		return DecimalValue(s.n, s.scale), nil
	}
	if !s.big.IsInt64() {
		return Value{}, fmt.Errorf("SUM: %w", ErrDecimalOverflow)
	}
	return DecimalValue(s.big.Int64(), s.scale), nil
}

// Avg returns the mean as a DECIMAL, computed exactly as Sum / Count with
// DecimalDiv's rule: scale max(sum scale, DivisionScale), rounded half away
// from zero. It is NULL when nothing was added.
func (s *DecimalSum) Avg() (Value, error) {
	if s.count == 0 {
		return Value{}, nil
	}
	if s.big == nil {
		n, sc, err := DecimalDiv(s.n, s.scale, s.count, 0)
		if err != nil {
			return Value{}, fmt.Errorf("AVG: %w", err)
		}
		return DecimalValue(n, sc), nil
	}
	sc := max(s.scale, DivisionScale)
	num := new(big.Int).Mul(s.big, bigPow10(int(sc-s.scale)))
	neg := num.Sign() < 0
	n, ok := bigRoundQuo(num.Abs(num), big.NewInt(s.count), neg)
	if !ok {
		return Value{}, fmt.Errorf("AVG: %w", ErrDecimalOverflow)
	}
	return DecimalValue(n, sc), nil
}

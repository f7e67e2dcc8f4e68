package exec

import (
	"fmt"
	"math"
	"math/big"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/record"
)

// numState accumulates SUM and AVG for one group. INTEGER and DECIMAL
// values are summed exactly, at the largest scale seen; FLOAT values
// exactly too, rounded once to a float64 at the end, so that the sum does
// not depend on the order of the values (a FLOAT input makes the result
// FLOAT, as in PostgreSQL's type promotion).
//
// It takes 24 bytes, since a query keeps one per aggregate and group: the
// common case, exact values whose sum fits an int64 and fewer than 2^32
// values, needs nothing more. What few groups need, a FLOAT sum (decoded
// numbers are FLOAT only when written with an exponent), a sum beyond the
// int64 range, the high bits of the count and a failed merge, lives in a
// numRare allocated by the first group that needs it.
type numState struct {
	sum      int64    // the exact values' sum × 10^scale, unless rare.spilled
	rare     *numRare // nil until needed
	count    uint32   // non-NULL values, modulo 2^32 (rare.countHigh has the rest)
	scale    uint8    // the exact values' largest scale
	exact    bool     // an INTEGER or DECIMAL was seen
	decimals bool     // a DECIMAL was seen: the result is DECIMAL even at scale 0
}

// numRare is the part of a numState that few groups need.
type numRare struct {
	big       record.DecimalSum // the exact sum, once it left the int64 range
	f         *big.Float        // the finite FLOAT values' exact sum (nil: none; see floatScratch)
	nonFinite float64           // the infinite and NaN FLOAT values' sum
	countHigh int64             // the non-NULL value count divided by 2^32
	err       error             // a merge that could not be represented
	spilled   bool              // big holds the exact sum (numState.sum is unused)
	floats    bool              // a FLOAT was seen
}

// addFloat adds a FLOAT value to the sum; sc is the aggregator's scratch.
func (r *numRare) addFloat(x float64, sc *floatScratch) {
	r.floats = true
	if math.IsInf(x, 0) || math.IsNaN(x) {
		r.nonFinite += x
		return
	}
	sc.add(&r.f, sc.of(x))
}

// n returns the number of non-NULL values.
func (s *numState) n() int64 {
	n := int64(s.count)
	if s.rare != nil {
		n += s.rare.countHigh << 32
	}
	return n
}

// addCount adds k to the number of non-NULL values.
func (s *numState) addCount(k int64) {
	n := s.n() + k
	s.count = uint32(n)
	if high := n >> 32; high != 0 || s.rare != nil {
		s.more().countHigh = high
	}
}

// more returns s's rare part, allocating it on first use.
func (s *numState) more() *numRare {
	if s.rare == nil {
		s.rare = new(numRare)
	}
	return s.rare
}

// addExact adds the INTEGER or DECIMAL unscaled × 10^-scale, with scale at
// most record.MaxScale (as prepare checks). The sum stays in the int64
// while it fits and moves to a record.DecimalSum, which never overflows,
// when it does not.
func (s *numState) addExact(unscaled int64, scale uint8) {
	s.exact = true
	if s.rare == nil || !s.rare.spilled {
		if scale == s.scale {
			if c := s.sum + unscaled; (c > s.sum) == (unscaled > 0) {
				s.sum = c
				return
			}
		} else if c, sc, err := record.DecimalAdd(s.sum, s.scale, unscaled, scale); err == nil {
			s.sum, s.scale = c, sc
			return
		}
		r := s.more()
		r.spilled = true
		r.addBig(record.DecimalValue(s.sum, s.scale))
	}
	s.rare.addBig(record.DecimalValue(unscaled, scale))
}

// addBig adds v to the spilled sum. For values within record.MaxScale, as
// all added ones are, DecimalSum.Add cannot fail; an error is kept all the
// same rather than lost.
func (r *numRare) addBig(v record.Value) {
	if err := r.big.Add(v); err != nil && r.err == nil {
		r.err = err
	}
}

// exactSum returns the exact values' sum as a DECIMAL; a spilled sum beyond
// the DECIMAL range is an error.
func (s *numState) exactSum() (record.Value, error) {
	if s.rare != nil && s.rare.spilled {
		return s.rare.big.Sum()
	}
	return record.DecimalValue(s.sum, s.scale), nil
}

// sumAvg is SUM(x) or AVG(x).
type sumAvg struct {
	arg     expr.Func
	avg     bool
	cur     record.Value
	scratch floatScratch
	states  []numState
}

func (a *sumAvg) name() string {
	if a.avg {
		return "AVG"
	}
	return "SUM"
}

func (a *sumAvg) prepare(r *record.Record) error {
	v, err := a.arg(r)
	if err != nil {
		return err
	}
	if err := record.CheckSummable(a.name(), v); err != nil {
		return err
	}
	a.cur = v
	return nil
}

func (a *sumAvg) apply(g int32) {
	s := &a.states[g]
	switch a.cur.Kind() {
	case record.Null:
		return
	case record.Float:
		s.more().addFloat(a.cur.Float(), &a.scratch)
	case record.Decimal:
		s.decimals = true
		s.addExact(a.cur.Decimal())
	default:
		s.addExact(a.cur.Int(), 0)
	}
	if s.count++; s.count == 0 {
		s.more().countHigh++
	}
}

func (a *sumAvg) result(g int32) (record.Value, error) {
	s := &a.states[g]
	if s.rare != nil && s.rare.err != nil {
		return record.Value{}, fmt.Errorf("%s: %w", a.name(), s.rare.err)
	}
	if s.n() == 0 {
		return record.Value{}, nil
	}
	if s.rare != nil && s.rare.floats {
		return a.floatResult(s)
	}
	sum, err := s.exactSum()
	if err != nil {
		return record.Value{}, err
	}
	n, scale := sum.Decimal()
	if a.avg {
		q, qs, err := record.DecimalDiv(n, scale, s.n(), 0)
		if err != nil {
			return record.Value{}, fmt.Errorf("AVG: %w", err)
		}
		return record.DecimalValue(q, qs), nil
	}
	if !s.decimals {
		return record.IntValue(n), nil
	}
	return sum, nil
}

// floatResult is the FLOAT result of a group that saw a FLOAT: the float
// sum plus the exact values' sum converted.
func (a *sumAvg) floatResult(s *numState) (record.Value, error) {
	total := s.rare.nonFinite
	if f := s.rare.f; f != nil {
		x, _ := f.Float64()
		total += x
	}
	if s.exact {
		d, err := s.exactSum()
		if err != nil {
			return record.Value{}, err
		}
		f, err := record.ToFloat(d)
		if err != nil {
			return record.Value{}, err
		}
		total += f.Float()
	}
	if a.avg {
		total /= float64(s.n())
	}
	return record.FloatValue(total), nil
}

func (a *sumAvg) merge(d, s int32) {
	dst, src := &a.states[d], &a.states[s]
	if r := src.rare; r != nil {
		if r.err != nil && (dst.rare == nil || dst.rare.err == nil) {
			dst.more().err = r.err
		}
		if r.floats {
			dr := dst.more()
			dr.nonFinite += r.nonFinite
			if r.f != nil {
				a.scratch.add(&dr.f, r.f)
			}
			dr.floats = true
		}
	}
	if src.exact {
		if sum, err := src.exactSum(); err != nil {
			dst.more().err = err
		} else {
			dst.addExact(sum.Decimal())
		}
	}
	dst.addCount(src.n())
	dst.decimals = dst.decimals || src.decimals
}
func (a *sumAvg) grow(n int)    { a.states = growTo(a.states, n) }
func (a *sumAvg) clear(g int32) { a.states[g] = numState{} }

package analytic

import (
	"math"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/record"
)

// sumAvg is SUM(x) or AVG(x) over the frame, skipping NULLs, with the
// GROUP BY typing rules: INTEGER and DECIMAL values are summed exactly; the
// SUM of INTEGERs is an INTEGER, with a DECIMAL among them a DECIMAL at the
// frame's largest scale; the AVG of exact values is a DECIMAL (record's
// DecimalDiv scale rule); a FLOAT in the frame makes the result FLOAT.
//
// A sliding frame keeps its rows' values to subtract what leaves it. FLOAT
// values are summed with compensation and re-summed from the frame each
// time it has been fully replaced, so rounding drift stays bounded; NaN and
// infinities are counted, not summed, so that they leave the frame cleanly.
type sumAvg struct {
	arg    expr.Func
	avg    bool
	size   int // frame rows; negative for an unbounded frame
	cur    record.Value
	states []numFrame
}

// numFrame is one partition's SUM/AVG state.
type numFrame struct {
	sum  numSum
	ring ring[number] // sliding frames: the frame's values
	// scales counts the frame's INTEGER (scale 0) and DECIMAL values per
	// scale (sliding frames), giving the result scale of the frame alone.
	scales [record.MaxScale + 1]int32
}

// numSum is a running sum of numbers that supports removal.
type numSum struct {
	dec                 record.DecimalSum // INTEGER and DECIMAL values
	f, c                float64           // finite FLOATs: Neumaier sum and compensation
	nan, posInf, negInf int64             // non-finite FLOATs
	n                   int64             // non-NULL values
	floats              int64             // FLOAT values among them
	decimals            int64             // DECIMAL values among them
	err                 error             // an exact value the sum rejected
}

func (f *sumAvg) name() string {
	if f.avg {
		return "AVG"
	}
	return "SUM"
}

func (f *sumAvg) grow(n int) { f.states = growTo(f.states, n) }

func (f *sumAvg) prepare(r *record.Record, _ int32) error {
	v, err := f.arg(r)
	if err != nil {
		return err
	}
	if err := record.CheckSummable(f.name(), v); err != nil {
		return err
	}
	f.cur = v
	return nil
}

func (f *sumAvg) apply(id int32) (record.Value, error) {
	s := &f.states[id]
	if f.size < 0 {
		s.sum.add(f.cur, 1)
		return s.sum.result(f.avg, -1)
	}
	old, full := s.ring.push(toNumber(f.cur), f.size)
	if full {
		v := old.value()
		s.sum.add(v, -1)
		s.count(v, -1)
	}
	s.sum.add(f.cur, 1)
	s.count(f.cur, 1)
	if full && s.ring.head == 0 {
		s.resumFloats()
	}
	return s.sum.result(f.avg, s.scale())
}

// count adjusts the per-scale count of exact values by d.
func (s *numFrame) count(v record.Value, d int32) {
	switch v.Kind() {
	case record.Int:
		s.scales[0] += d
	case record.Decimal:
		_, sc := v.Decimal()
		s.scales[sc] += d
	}
}

// scale returns the largest scale of the frame's exact values.
func (s *numFrame) scale() int {
	if s.sum.n == s.sum.floats {
		return 0
	}
	for i := len(s.scales) - 1; i > 0; i-- {
		if s.scales[i] > 0 {
			return i
		}
	}
	return 0
}

// resumFloats recomputes the FLOAT sum from the frame's values.
func (s *numFrame) resumFloats() {
	s.sum.f, s.sum.c = 0, 0
	for _, v := range s.ring.buf {
		if v.kind == record.Float {
			if x := math.Float64frombits(uint64(v.bits)); !math.IsNaN(x) && !math.IsInf(x, 0) {
				s.sum.addFloat(x)
			}
		}
	}
}

// number is a numeric or NULL Value without the string field: half the
// size, and free of pointers, so frame rings cost the collector nothing.
type number struct {
	bits  int64 // INTEGER, DECIMAL unscaled value, or FLOAT bits
	kind  record.Kind
	scale uint8
}

func toNumber(v record.Value) number {
	switch v.Kind() {
	case record.Int:
		return number{bits: v.Int(), kind: record.Int}
	case record.Float:
		return number{bits: int64(math.Float64bits(v.Float())), kind: record.Float}
	case record.Decimal:
		u, sc := v.Decimal()
		return number{bits: u, kind: record.Decimal, scale: sc}
	}
	return number{}
}

func (n number) value() record.Value {
	switch n.kind {
	case record.Int:
		return record.IntValue(n.bits)
	case record.Float:
		return record.FloatValue(math.Float64frombits(uint64(n.bits)))
	case record.Decimal:
		return record.DecimalValue(n.bits, n.scale)
	}
	return record.Value{}
}

// add adds (d = 1) or removes (d = -1) a value prepare has validated.
func (s *numSum) add(v record.Value, d int64) {
	switch v.Kind() {
	case record.Null:
		return
	case record.Float:
		s.floats += d
		switch x := v.Float(); {
		case math.IsNaN(x):
			s.nan += d
		case math.IsInf(x, 1):
			s.posInf += d
		case math.IsInf(x, -1):
			s.negInf += d
		default:
			s.addFloat(float64(d) * x)
		}
	default:
		if v.Kind() == record.Decimal {
			s.decimals += d
		}
		var err error
		if d > 0 {
			err = s.dec.Add(v)
		} else {
			err = s.dec.Remove(v)
		}
		if err != nil && s.err == nil {
			s.err = err
		}
		if s.dec.Count() == 0 {
			s.dec.Reset() // forget the scale and any big.Int of values gone
		}
	}
	s.n += d
}

// addFloat adds x to the compensated FLOAT sum (Neumaier).
func (s *numSum) addFloat(x float64) {
	t := s.f + x
	if math.Abs(s.f) >= math.Abs(x) {
		s.c += (s.f - t) + x
	} else {
		s.c += (x - t) + s.f
	}
	s.f = t
}

// floatTotal returns the sum of the FLOAT values.
func (s *numSum) floatTotal() float64 {
	switch {
	case s.nan > 0 || (s.posInf > 0 && s.negInf > 0):
		return math.NaN()
	case s.posInf > 0:
		return math.Inf(1)
	case s.negInf > 0:
		return math.Inf(-1)
	}
	return s.f + s.c
}

// result returns the SUM or AVG of the values held. scale is the result
// scale of the exact values, or negative for the running sum's own scale.
func (s *numSum) result(avg bool, scale int) (record.Value, error) {
	if s.err != nil {
		return record.Value{}, s.err
	}
	if s.n == 0 {
		return record.Value{}, nil
	}
	if s.floats > 0 {
		total := s.floatTotal()
		if s.n > s.floats {
			d, err := s.dec.Sum()
			if err != nil {
				return record.Value{}, err
			}
			f, err := record.ToFloat(d)
			if err != nil {
				return record.Value{}, err
			}
			total += f.Float()
		}
		if avg {
			total /= float64(s.n)
		}
		return record.FloatValue(total), nil
	}
	sum, err := s.dec.Sum()
	if err != nil {
		return record.Value{}, err
	}
	n, sc := sum.Decimal()
	if scale >= 0 && int(sc) > scale {
		// Exact: every value in the frame has at most scale digits.
		if n, err = record.RescaleDecimal(n, sc, uint8(scale)); err != nil {
			return record.Value{}, err
		}
		sc = uint8(scale)
	}
	if avg {
		q, qs, err := record.DecimalDiv(n, sc, s.n, 0)
		if err != nil {
			return record.Value{}, err
		}
		return record.DecimalValue(q, qs), nil
	}
	if s.decimals == 0 {
		return record.IntValue(n), nil
	}
	return record.DecimalValue(n, sc), nil
}

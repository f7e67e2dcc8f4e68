package exec

import (
	"fmt"
	"math"
	"math/big"
	"slices"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/record"
)

// moments holds a group's count and the exact sums of its values and of
// their squares (nil until the first value). Exact sums do not depend on
// the order values are added in, so neither does the result, whatever the
// interleaving of several source partitions (Welford's running mean does).
type moments struct {
	n         int64
	sum, sq   *big.Float
	nonFinite float64 // the sum of the infinite and NaN values, if any
}

// momentPrec is the precision of the sums: enough for every float64 and
// its square to add exactly.
const momentPrec = 1 << 13

// floatScratch adds to exact sums of float64 values (big.Float at
// momentPrec) without allocating in the steady state: a sum is never added
// into in place (big.Float allocates when its result aliases an operand)
// but into a spare, which then trades places with it.
type floatScratch struct {
	spare *big.Float
	x     big.Float
}

// of returns x as a big.Float, valid until the next call.
func (sc *floatScratch) of(x float64) *big.Float {
	return sc.x.SetPrec(momentPrec).SetFloat64(x)
}

// add sets *sum to *sum + x, allocating *sum on first use.
func (sc *floatScratch) add(sum **big.Float, x *big.Float) {
	if sc.spare == nil {
		sc.spare = new(big.Float).SetPrec(momentPrec)
	}
	if *sum == nil {
		*sum = new(big.Float).SetPrec(momentPrec)
	}
	sc.spare.Add(*sum, x)
	*sum, sc.spare = sc.spare, *sum
}

// variance is VARIANCE/VAR_SAMP/VAR_POP and STDDEV/STDDEV_SAMP/STDDEV_POP
// of the values as float64, from exact sums, rounded once at the end.
type variance struct {
	arg     expr.Func
	name    string
	pop     bool
	sqrt    bool
	cur     float64
	null    bool
	states  []moments
	scratch floatScratch
	x, y    big.Float // scratch
}

func (a *variance) prepare(r *record.Record) error {
	v, err := a.arg(r)
	if err != nil {
		return err
	}
	a.null = v.IsNull()
	if a.null {
		return nil
	}
	if v.Class() != record.ClassNumber {
		return fmt.Errorf("%s of %s %s: want a number", a.name, v.Kind(), v)
	}
	f, err := record.ToFloat(v)
	a.cur = f.Float()
	return err
}

func (a *variance) apply(g int32) {
	if a.null {
		return
	}
	m := &a.states[g]
	m.n++
	if math.IsInf(a.cur, 0) || math.IsNaN(a.cur) {
		m.nonFinite += a.cur
		return
	}
	x := a.scratch.of(a.cur)
	a.scratch.add(&m.sum, x)
	a.scratch.add(&m.sq, a.y.SetPrec(momentPrec).Mul(x, x))
}

func (a *variance) result(g int32) (record.Value, error) {
	m := &a.states[g]
	den := m.n - 1
	if a.pop {
		den = m.n
	}
	switch {
	case m.n == 0 || den <= 0:
		return record.Value{}, nil
	case m.nonFinite != 0: // an infinity or a NaN (NaN != 0)
		return record.FloatValue(math.NaN()), nil
	}
	// (sq - sum*sum/n) / den
	x, y := a.x.SetPrec(momentPrec), a.y.SetPrec(momentPrec)
	x.Mul(m.sum, m.sum)
	x.Quo(x, y.SetInt64(m.n))
	x.Sub(m.sq, x)
	x.Quo(x, y.SetInt64(den))
	v, _ := x.Float64()
	v = max(v, 0)
	if a.sqrt {
		v = math.Sqrt(v)
	}
	return record.FloatValue(v), nil
}

// merge adds group s's sums to group d's.
func (a *variance) merge(d, s int32) {
	x, y := &a.states[d], &a.states[s]
	x.n += y.n
	x.nonFinite += y.nonFinite
	switch {
	case y.sum == nil:
	case x.sum == nil:
		x.sum, x.sq = y.sum, y.sq
	default:
		a.scratch.add(&x.sum, y.sum)
		a.scratch.add(&x.sq, y.sq)
	}
	*y = moments{}
}
func (a *variance) grow(n int)    { a.states = growTo(a.states, n) }
func (a *variance) clear(g int32) { a.states[g] = moments{} }

// median is MEDIAN(x): the middle value, or the mean of the two middle
// values (exact for INTEGER and DECIMAL inputs).
type median struct {
	arg  expr.Func
	cur  record.Value
	vals [][]record.Value
}

func (a *median) prepare(r *record.Record) error {
	v, err := a.arg(r)
	if err != nil {
		return err
	}
	a.cur = v
	if v.IsNull() {
		return nil
	}
	if v.Class() != record.ClassNumber {
		return fmt.Errorf("MEDIAN of %s %s: want a number", v.Kind(), v)
	}
	return nil
}

func (a *median) apply(g int32) {
	if !a.cur.IsNull() {
		a.vals[g] = append(a.vals[g], a.cur)
	}
}

func (a *median) result(g int32) (record.Value, error) {
	vs := a.vals[g]
	if len(vs) == 0 {
		return record.Value{}, nil
	}
	slices.SortFunc(vs, func(x, y record.Value) int {
		if c, _ := record.Compare(x, y); c != 0 {
			return c
		}
		return record.CompareForm(x, y) // equal values in one order, whatever their arrival
	})
	mid := len(vs) / 2
	if len(vs)%2 == 1 {
		return vs[mid], nil
	}
	return midpoint(vs[mid-1], vs[mid])
}

// midpoint returns (x + y) / 2, exactly for INTEGER and DECIMAL values: the
// half of a sum at scale s is exact at scale s+1.
func midpoint(x, y record.Value) (record.Value, error) {
	if c, _ := record.Compare(x, y); c == 0 {
		return x, nil
	}
	sum, err := record.Add(x, y)
	if err != nil {
		return record.Value{}, fmt.Errorf("MEDIAN: %w", err)
	}
	switch sum.Kind() {
	case record.Float:
		return record.FloatValue(sum.Float() / 2), nil
	case record.Int:
		if sum.Int()%2 == 0 {
			return record.IntValue(sum.Int() / 2), nil
		}
	}
	half, err := record.Mul(sum, record.DecimalValue(5, 1))
	if err != nil {
		return record.Value{}, fmt.Errorf("MEDIAN: %w", err)
	}
	return half, nil
}

func (a *median) merge(d, s int32) {
	a.vals[d] = append(a.vals[d], a.vals[s]...)
	a.vals[s] = nil
}
func (a *median) grow(n int)    { a.vals = growTo(a.vals, n) }
func (a *median) clear(g int32) { a.vals[g] = nil }

// stringAgg is STRING_AGG(x, sep): the values' text joined in the order
// of their records' positions (event time, then place in the source), each
// value after the first preceded by the separator given with it.
type stringAgg struct {
	arg, sep expr.Func
	cur      record.Value
	curSep   record.Value
	seq      int64
	pos      position
	states   []strState
	buf      []byte
}

// strState is one group's pieces, in position order.
type strState struct {
	pieces []strPiece
}

// strPiece is one value's text and the separator that goes before it.
type strPiece struct {
	pos       position
	sep, text string
}

func (a *stringAgg) prepare(r *record.Record) error {
	v, err := a.arg(r)
	if err != nil {
		return err
	}
	a.cur = v
	a.seq++
	a.pos = positionOf(r, a.seq)
	if a.sep == nil {
		a.curSep = record.StringValue(",")
		return nil
	}
	a.curSep, err = a.sep(r)
	return err
}

func (a *stringAgg) apply(g int32) {
	if a.cur.IsNull() {
		return
	}
	a.states[g].insert(strPiece{pos: a.pos, sep: string(appendText(nil, a.curSep)), text: string(appendText(nil, a.cur))})
}

// insert adds p at its place: records mostly come in order, so the search
// starts from the end.
func (s *strState) insert(p strPiece) {
	i := len(s.pieces)
	for i > 0 && p.pos.compare(&s.pieces[i-1].pos) < 0 {
		i--
	}
	s.pieces = slices.Insert(s.pieces, i, p)
}

// appendText appends v's display text; NULL appends nothing.
func appendText(b []byte, v record.Value) []byte {
	if v.IsNull() {
		return b
	}
	return v.AppendText(b)
}

func (a *stringAgg) result(g int32) (record.Value, error) {
	s := &a.states[g]
	if len(s.pieces) == 0 {
		return record.Value{}, nil
	}
	b := a.buf[:0]
	for i, p := range s.pieces {
		if i > 0 {
			b = append(b, p.sep...)
		}
		b = append(b, p.text...)
	}
	a.buf = b
	return record.StringValue(string(b)), nil
}

func (a *stringAgg) merge(d, s int32) {
	for _, p := range a.states[s].pieces {
		a.states[d].insert(p)
	}
	a.states[s] = strState{}
}
func (a *stringAgg) grow(n int)    { a.states = growTo(a.states, n) }
func (a *stringAgg) clear(g int32) { a.states[g] = strState{} }

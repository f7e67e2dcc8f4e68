package exec

import (
	"fmt"
	"math"
	"slices"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/record"
)

// moments holds Welford's running mean and sum of squared deviations.
type moments struct {
	n, mean, m2 float64
}

// variance is VARIANCE/VAR_SAMP/VAR_POP and STDDEV/STDDEV_SAMP/STDDEV_POP,
// computed in float64 with Welford's method.
type variance struct {
	arg    expr.Func
	name   string
	pop    bool
	sqrt   bool
	cur    float64
	null   bool
	states []moments
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
	d := a.cur - m.mean
	m.mean += d / m.n
	m.m2 += d * (a.cur - m.mean)
}

func (a *variance) result(g int32) (record.Value, error) {
	m := a.states[g]
	den := m.n - 1
	if a.pop {
		den = m.n
	}
	if m.n == 0 || den <= 0 {
		return record.Value{}, nil
	}
	v := max(m.m2/den, 0)
	if a.sqrt {
		v = math.Sqrt(v)
	}
	return record.FloatValue(v), nil
}

// merge combines two moment sets (Chan et al.).
func (a *variance) merge(d, s int32) {
	x, y := a.states[d], a.states[s]
	if y.n == 0 {
		return
	}
	if x.n == 0 {
		a.states[d] = y
		return
	}
	n := x.n + y.n
	delta := y.mean - x.mean
	a.states[d] = moments{n: n, mean: x.mean + delta*y.n/n, m2: x.m2 + y.m2 + delta*delta*x.n*y.n/n}
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
		c, _ := record.Compare(x, y)
		return c
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

// stringAgg is STRING_AGG(x, sep): the values' text joined, each value
// after the first preceded by the separator given with it.
type stringAgg struct {
	arg, sep expr.Func
	cur      record.Value
	curSep   record.Value
	states   []strState
}

type strState struct {
	buf      []byte
	firstSep string
	any      bool
}

func (a *stringAgg) prepare(r *record.Record) error {
	v, err := a.arg(r)
	if err != nil {
		return err
	}
	a.cur = v
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
	s := &a.states[g]
	if s.any {
		s.buf = appendText(s.buf, a.curSep)
	} else {
		s.firstSep = string(appendText(nil, a.curSep))
		s.any = true
	}
	s.buf = appendText(s.buf, a.cur)
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
	if !s.any {
		return record.Value{}, nil
	}
	return record.StringValue(string(s.buf)), nil
}

func (a *stringAgg) merge(d, s int32) {
	dst, src := &a.states[d], &a.states[s]
	if !src.any {
		return
	}
	if !dst.any {
		*dst, *src = *src, strState{}
		return
	}
	dst.buf = append(append(dst.buf, src.firstSep...), src.buf...)
}
func (a *stringAgg) grow(n int)    { a.states = growTo(a.states, n) }
func (a *stringAgg) clear(g int32) { a.states[g] = strState{} }

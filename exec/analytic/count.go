package analytic

import (
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/record"
)

// countRows is COUNT(*): the number of rows in the frame.
type countRows struct {
	size int // frame rows; negative for an unbounded frame
	n    []int64
}

func (f *countRows) grow(n int)                          { f.n = growTo(f.n, n) }
func (f *countRows) prepare(*record.Record, int32) error { return nil }
func (f *countRows) apply(id int32) (record.Value, error) {
	f.n[id]++
	c := f.n[id]
	if f.size >= 0 {
		c = min(c, int64(f.size))
	}
	return record.IntValue(c), nil
}

// countValues is COUNT(x): the number of non-NULL values in the frame. A
// sliding frame keeps the NULL-ness of its rows to count what leaves it.
type countValues struct {
	arg    expr.Func
	size   int // frame rows; negative for an unbounded frame
	null   bool
	states []countState
}

type countState struct {
	n    int64
	ring ring[bool] // sliding frames: whether each row's value is non-NULL
}

func (f *countValues) grow(n int) { f.states = growTo(f.states, n) }

func (f *countValues) prepare(r *record.Record, _ int32) error {
	v, err := f.arg(r)
	f.null = v.IsNull()
	return err
}

func (f *countValues) apply(id int32) (record.Value, error) {
	s := &f.states[id]
	if !f.null {
		s.n++
	}
	if f.size >= 0 {
		if old, full := s.ring.push(!f.null, f.size); full && old {
			s.n--
		}
	}
	return record.IntValue(s.n), nil
}

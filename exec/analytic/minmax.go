package analytic

import (
	"fmt"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/record"
)

// minMax is MIN(x) or MAX(x) over the frame, skipping NULLs. An unbounded
// frame keeps the running extreme. A sliding frame keeps a monotonic deque:
// the frame's values that no later value in the frame beats, oldest first,
// so the front is the extreme and each row is pushed and popped at most
// once (O(1) amortised). Among equal extremes the earliest is returned.
// The first value of a partition fixes its class (numbers, strings,
// booleans, timestamps); a value of another class is an error.
type minMax struct {
	arg    expr.Func
	max    bool
	size   int // frame rows; negative for an unbounded frame
	cur    record.Value
	cls    record.Class
	states []extreme
}

type extreme struct {
	cls  record.Class
	rows int64
	best record.Value // unbounded frames
	q    deque        // sliding frames
}

func (f *minMax) name() string {
	if f.max {
		return "MAX"
	}
	return "MIN"
}

func (f *minMax) grow(n int) { f.states = growTo(f.states, n) }

func (f *minMax) prepare(r *record.Record, id int32) error {
	v, err := f.arg(r)
	if err != nil {
		return err
	}
	f.cur, f.cls = v, v.Class()
	if have := f.states[id].cls; f.cls != record.ClassNone && have != record.ClassNone && f.cls != have {
		return fmt.Errorf("%s over mixed types: %s value after %s", f.name(), v.Kind(), have)
	}
	return nil
}

// beats reports whether v is strictly more extreme than have.
func (f *minMax) beats(v, have record.Value) bool {
	c, _ := record.Compare(v, have) // one class: always comparable
	if f.max {
		return c > 0
	}
	return c < 0
}

func (f *minMax) apply(id int32) (record.Value, error) {
	s := &f.states[id]
	null := f.cur.IsNull()
	if !null {
		s.cls = f.cls
	}
	if f.size < 0 {
		if !null && (s.best.IsNull() || f.beats(f.cur, s.best)) {
			s.best = retain(f.cur)
		}
		return s.best, nil
	}
	s.rows++
	for s.q.n > 0 && s.q.front().seq <= s.rows-int64(f.size) {
		s.q.popFront()
	}
	if !null {
		for s.q.n > 0 && f.beats(f.cur, s.q.back().v) {
			s.q.popBack()
		}
		s.q.pushBack(entry{seq: s.rows, v: retain(f.cur)}, f.size)
	}
	if s.q.n == 0 {
		return record.Value{}, nil
	}
	return s.q.front().v, nil
}

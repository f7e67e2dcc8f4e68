package analytic

import (
	"bytes"
	"strings"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/record"
)

// rowNumber is ROW_NUMBER(): the row's position in its partition, from 1.
type rowNumber struct{ n []int64 }

func (f *rowNumber) grow(n int)                          { f.n = growTo(f.n, n) }
func (f *rowNumber) prepare(*record.Record, int32) error { return nil }
func (f *rowNumber) apply(id int32) (record.Value, error) {
	f.n[id]++
	return record.IntValue(f.n[id]), nil
}

// rank is RANK() or DENSE_RANK(). Rows arrive in ORDER BY order, so a row
// is a peer of the previous row of its partition exactly when their ORDER
// BY values are equal (as GROUP BY equality: by key encoding); otherwise it
// starts a new rank. Without ORDER BY every row is a peer: rank 1.
type rank struct {
	order  []expr.Func
	dense  bool
	cur    []byte // the current row's ORDER BY key encoding
	states []rankState
}

type rankState struct {
	rows, rank, denseRank int64
	prev                  []byte // the previous row's ORDER BY key encoding
}

func (f *rank) grow(n int) { f.states = growTo(f.states, n) }

func (f *rank) prepare(r *record.Record, _ int32) error {
	f.cur = f.cur[:0]
	for _, o := range f.order {
		v, err := o(r)
		if err != nil {
			return err
		}
		f.cur = v.AppendKey(f.cur)
	}
	return nil
}

func (f *rank) apply(id int32) (record.Value, error) {
	s := &f.states[id]
	s.rows++
	if s.rows == 1 || !bytes.Equal(s.prev, f.cur) {
		s.rank = s.rows
		s.denseRank++
		s.prev = append(s.prev[:0], f.cur...)
	}
	if f.dense {
		return record.IntValue(s.denseRank), nil
	}
	return record.IntValue(s.rank), nil
}

// lag is LAG(x, offset, default): x of the row offset rows before the
// current one in its partition, or default (NULL when absent) when there
// is no such row. It keeps the last offset values per partition.
type lag struct {
	arg, def expr.Func // def is nil for a NULL default
	offset   int
	cur, dv  record.Value
	states   []ring[record.Value]
}

func (f *lag) grow(n int) { f.states = growTo(f.states, n) }

func (f *lag) prepare(r *record.Record, id int32) error {
	v, err := f.arg(r)
	if err != nil {
		return err
	}
	f.cur = v
	f.dv = record.Value{}
	if f.def != nil && len(f.states[id].buf) < f.offset {
		f.dv, err = f.def(r)
	}
	return err
}

func (f *lag) apply(id int32) (record.Value, error) {
	if f.offset == 0 {
		return f.cur, nil
	}
	old, full := f.states[id].push(retain(f.cur), f.offset)
	if !full {
		return f.dv, nil
	}
	return old, nil
}

// retain copies a string value so that window state does not pin the
// input record's memory.
func retain(v record.Value) record.Value {
	if v.Kind() == record.String {
		return record.StringValue(strings.Clone(v.Str()))
	}
	return v
}

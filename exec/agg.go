package exec

import (
	"cmp"
	"fmt"
	"strings"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/record"
)

// aggregator computes one aggregate call for every group of a pipeline. Its
// per-group states live in a slice indexed by group id, so a group's state
// is a concrete value, not an interface per group.
//
// Updating is two-phase so that a record either updates every aggregate of
// its group or none: prepare evaluates and validates the record's
// arguments (and may fail), apply folds them into a group (and cannot).
type aggregator interface {
	// prepare evaluates the arguments for r.
	prepare(r *record.Record) error
	// apply folds the prepared arguments into group g.
	apply(g int32)
	// result returns group g's current value.
	result(g int32) (record.Value, error)
	// merge folds group src's state into group dst (session merges).
	merge(dst, src int32)
	// grow makes room for group ids below n.
	grow(n int)
	// clear resets group g's state to empty, releasing what it holds.
	clear(g int32)
}

// growTo extends s with zero values up to length n. Past growStep
// elements the capacity grows by an eighth instead of append's quarter:
// the group state slices hold most of a pipeline's memory, and the extra
// copying happens only when groups are created.
func growTo[T any](s []T, n int) []T {
	if n <= len(s) {
		return s
	}
	if n > cap(s) && cap(s) >= growStep {
		t := make([]T, len(s), max(n, cap(s)+cap(s)/8))
		copy(t, s)
		s = t
	}
	return append(s, make([]T, n-len(s))...)
}

// growStep is the capacity from which growTo grows slices by an eighth.
const growStep = 1024

// checkClass fixes the aggregate's value class on the first value and
// rejects values of another class later.
func checkClass(fn string, have *record.Class, v record.Value) error {
	c := v.Class()
	if *have == record.ClassNone {
		*have = c
		return nil
	}
	if c != *have {
		return fmt.Errorf("%s over mixed types: %s value after %s", fn, v.Kind(), *have)
	}
	return nil
}

// retain copies a string value so that group state does not pin the input
// record's memory.
func retain(v record.Value) record.Value {
	if v.Kind() == record.String {
		return record.StringValue(strings.Clone(v.Str()))
	}
	return v
}

// counts is the per-group state of COUNT(*) and COUNT(x): a count each.
type counts struct{ n []int64 }

func (a *counts) result(g int32) (record.Value, error) {
	return record.IntValue(a.n[g]), nil
}
func (a *counts) merge(d, s int32) { a.n[d] += a.n[s] }
func (a *counts) grow(n int)       { a.n = growTo(a.n, n) }
func (a *counts) clear(g int32)    { a.n[g] = 0 }

// countStar is COUNT(*).
type countStar struct{ counts }

func (a *countStar) prepare(*record.Record) error { return nil }
func (a *countStar) apply(g int32)                { a.n[g]++ }

// countValues is COUNT(x): the number of non-NULL values.
type countValues struct {
	arg  expr.Func
	null bool
	counts
}

func (a *countValues) prepare(r *record.Record) error {
	v, err := a.arg(r)
	a.null = v.IsNull()
	return err
}

func (a *countValues) apply(g int32) {
	if !a.null {
		a.n[g]++
	}
}

// countDistinct is COUNT(DISTINCT x), keyed by the values' key encoding
// (so 1, 1.0 and 1.00 count once).
type countDistinct struct {
	arg  expr.Func
	null bool
	buf  []byte
	sets []map[string]struct{}
}

func (a *countDistinct) prepare(r *record.Record) error {
	v, err := a.arg(r)
	a.null = v.IsNull()
	a.buf = v.AppendKey(a.buf[:0])
	return err
}

func (a *countDistinct) apply(g int32) {
	if a.null {
		return
	}
	m := a.sets[g]
	if m == nil {
		m = make(map[string]struct{})
		a.sets[g] = m
	}
	if _, ok := m[string(a.buf)]; !ok {
		m[string(a.buf)] = struct{}{}
	}
}

func (a *countDistinct) result(g int32) (record.Value, error) {
	return record.IntValue(int64(len(a.sets[g]))), nil
}

func (a *countDistinct) merge(d, s int32) {
	if a.sets[d] == nil {
		a.sets[d], a.sets[s] = a.sets[s], nil
		return
	}
	for k := range a.sets[s] {
		a.sets[d][k] = struct{}{}
	}
}
func (a *countDistinct) grow(n int)    { a.sets = growTo(a.sets, n) }
func (a *countDistinct) clear(g int32) { a.sets[g] = nil }

// minMax is MIN(x) or MAX(x).
type minMax struct {
	arg  expr.Func
	max  bool
	cls  record.Class
	cur  record.Value
	vals []record.Value
}

func (a *minMax) name() string {
	if a.max {
		return "MAX"
	}
	return "MIN"
}

func (a *minMax) prepare(r *record.Record) error {
	v, err := a.arg(r)
	if err != nil {
		return err
	}
	a.cur = v
	if v.IsNull() {
		return nil
	}
	return checkClass(a.name(), &a.cls, v)
}

func (a *minMax) apply(g int32) {
	if !a.cur.IsNull() && a.better(a.cur, a.vals[g]) {
		a.vals[g] = retain(a.cur)
	}
}

// better reports whether v replaces the current extreme have. Values of one
// class always compare without error. Of equal values, the one of the
// greater form (record.CompareForm: 7.50 over 7.5) is kept, whichever came
// first, so that the result's text does not depend on the arrival order.
func (a *minMax) better(v, have record.Value) bool {
	if have.IsNull() {
		return true
	}
	c, _ := record.Compare(v, have)
	if c == 0 {
		return record.CompareForm(v, have) > 0
	}
	if a.max {
		return c > 0
	}
	return c < 0
}

func (a *minMax) result(g int32) (record.Value, error) { return a.vals[g], nil }
func (a *minMax) merge(d, s int32) {
	if !a.vals[s].IsNull() && a.better(a.vals[s], a.vals[d]) {
		a.vals[d] = a.vals[s]
	}
}
func (a *minMax) grow(n int)    { a.vals = growTo(a.vals, n) }
func (a *minMax) clear(g int32) { a.vals[g] = record.Value{} }

// firstLast is FIRST_VALUE(x) or LAST_VALUE(x) as an aggregate: the first
// or last non-NULL value in arrival order.
type firstLast struct {
	arg  expr.Func
	last bool
	seq  int64
	cur  record.Value
	pos  position
	vals []record.Value
	poss []position
}

func (a *firstLast) prepare(r *record.Record) error {
	v, err := a.arg(r)
	a.cur = v
	a.seq++
	a.pos = positionOf(r, a.seq)
	return err
}

// takes reports whether a value at p replaces group g's.
func (a *firstLast) takes(g int32, p *position) bool {
	if a.vals[g].IsNull() {
		return true
	}
	c := p.compare(&a.poss[g])
	return c < 0 && !a.last || c > 0 && a.last
}

func (a *firstLast) apply(g int32) {
	if !a.cur.IsNull() && a.takes(g, &a.pos) {
		a.vals[g], a.poss[g] = retain(a.cur), a.pos
	}
}

func (a *firstLast) result(g int32) (record.Value, error) { return a.vals[g], nil }

func (a *firstLast) merge(d, s int32) {
	if !a.vals[s].IsNull() && a.takes(d, &a.poss[s]) {
		a.vals[d], a.poss[d] = a.vals[s], a.poss[s]
	}
}

func (a *firstLast) grow(n int) {
	a.vals = growTo(a.vals, n)
	a.poss = growTo(a.poss, n)
}
func (a *firstLast) clear(g int32) { a.vals[g], a.poss[g] = record.Value{}, position{} }

// position orders the records of a group for FIRST_VALUE, LAST_VALUE and
// STRING_AGG so that the result does not depend on how the records of
// several source partitions interleave: by event time, then by place in
// the source (topic or file, partition, offset; a record read through a
// repartition topic by its place in its source, as in one process). seq,
// the order the pipeline took the records in, breaks ties only between
// records that share a source place (records not read from a source).
type position struct {
	t        int64
	topic    string
	part     int32
	off, seq int64
}

// positionOf returns r's position; seq counts the records taken.
func positionOf(r *record.Record, seq int64) position {
	t := r.Timestamp
	if r.HasEventTime {
		t = r.EventTime
	}
	part, off := r.SourcePosition()
	return position{t: t, topic: r.Topic, part: part, off: off, seq: seq}
}

func (p *position) compare(q *position) int {
	switch {
	case p.t != q.t:
		return cmp.Compare(p.t, q.t)
	case p.topic != q.topic:
		return strings.Compare(p.topic, q.topic)
	case p.part != q.part:
		return cmp.Compare(p.part, q.part)
	case p.off != q.off:
		return cmp.Compare(p.off, q.off)
	}
	return cmp.Compare(p.seq, q.seq)
}

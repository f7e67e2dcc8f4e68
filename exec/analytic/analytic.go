// Package analytic computes analytic (window) functions over row windows:
// `f(...) OVER (...)` calls in a select list, one output value per call for
// every input row.
//
// Two OVER forms are supported. The reference dialect's
// `OVER (ROWS WINDOW BUFFER n ROWS [PARTITION BY ...] [ORDER BY ...])`
// frames the last n rows of the partition, the current row included. The
// standard `OVER ([PARTITION BY ...] [ORDER BY ...] [ROWS BETWEEN k
// PRECEDING AND CURRENT ROW])` frames the current row and the k rows before
// it (all rows before it for UNBOUNDED PRECEDING). Without a frame the
// window runs from the partition's first row to the current row: ROWS, not
// SQL's RANGE default, so later peers of the current row are not in its
// frame, since they have not arrived yet.
//
// Evaluation is streaming. Rows are taken in the order Apply receives
// them, which the ORDER BY is taken to follow: the executor (package exec)
// feeds a row window ordered by the event-time column in event-time order,
// once the watermark has passed the rows, and refuses any other ORDER BY
// except the Top-N it evaluates itself. A row whose ORDER BY value equals
// its predecessor's is its peer: for RANK and DENSE_RANK it shares the
// rank. The functions are LAG,
// ROW_NUMBER, RANK, DENSE_RANK, and COUNT, SUM, AVG, MIN and MAX over the
// frame; LAG, ROW_NUMBER, RANK and DENSE_RANK ignore the frame, as in SQL.
// LEAD needs rows that have not arrived yet and is rejected. Typing follows
// the GROUP BY aggregates: SUM and AVG of INTEGER and DECIMAL values are
// exact, and NULLs are skipped.
//
// State is kept per partition key: at most the frame size (or LAG offset)
// values per call, and only running aggregates for unbounded frames.
// Partition keys live for the State's lifetime.
package analytic

import (
	"fmt"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/record"
)

// Stage holds the compiled OVER calls of one select list. It is immutable
// and may be shared; each pipeline takes its own State from NewState.
type Stage struct {
	// groups are the PARTITION BY evaluators of each distinct PARTITION BY
	// list: calls with the same list share one partition lookup per row.
	groups [][]expr.Func
	calls  []callSpec
}

// callSpec is one compiled OVER call.
type callSpec struct {
	// group indexes Stage.groups.
	group int
	// name is the call as SQL, used as the context of evaluation errors.
	name string
	// newRunner returns the call's per-State evaluator.
	newRunner func() runner
}

// runner evaluates one call for one State. Its per-partition states are
// indexed by partition id. Updating is two-phase so that a row either
// enters every window or none: prepare evaluates and validates the row's
// arguments against the partition's state (and may fail), apply adds the
// row to the partition's window and returns the call's value.
type runner interface {
	// grow makes room for partition ids below n.
	grow(n int)
	// prepare evaluates the call's arguments on r for partition id.
	prepare(r *record.Record, id int32) error
	// apply adds the prepared row to partition id and returns the result.
	apply(id int32) (record.Value, error)
}

// State is one pipeline's analytic state: the windows of every partition
// key seen. It is not safe for concurrent use.
type State struct {
	stage  *Stage
	groups []partitions
	runs   []runner
	key    []byte // scratch partition key encoding
}

// partitions maps the partition keys of one PARTITION BY list to ids.
type partitions struct {
	keys []expr.Func
	ids  map[string]int32
	// runs are the runners of the calls partitioned by this list.
	runs []runner
	// cur is the current row's partition id.
	cur int32
}

// Len returns the number of OVER calls, the length Apply's out must have.
func (s *Stage) Len() int { return len(s.calls) }

// NewState returns empty per-pipeline state.
func (s *Stage) NewState() *State {
	st := &State{stage: s, groups: make([]partitions, len(s.groups)), runs: make([]runner, len(s.calls))}
	for g, keys := range s.groups {
		st.groups[g] = partitions{keys: keys, ids: make(map[string]int32)}
	}
	for i, c := range s.calls {
		st.runs[i] = c.newRunner()
		st.groups[c.group].runs = append(st.groups[c.group].runs, st.runs[i])
	}
	return st
}

// Apply adds r to its window partition of every call and sets out[i] to the
// value of calls[i] for r. An error concerns r alone: r then enters no
// window (except when a result, computed after r entered, cannot be
// represented) and out holds no meaningful values.
func (st *State) Apply(r *record.Record, out []record.Value) error {
	if len(out) < len(st.runs) {
		return fmt.Errorf("analytic: %d result slots for %d OVER calls", len(out), len(st.runs))
	}
	for g := range st.groups {
		if err := st.locate(&st.groups[g], r); err != nil {
			return err
		}
	}
	calls := st.stage.calls
	for i, run := range st.runs {
		if err := run.prepare(r, st.groups[calls[i].group].cur); err != nil {
			return fmt.Errorf("%s: %w", calls[i].name, err)
		}
	}
	var first error
	for i, run := range st.runs {
		v, err := run.apply(st.groups[calls[i].group].cur)
		if err != nil && first == nil {
			first = fmt.Errorf("%s: %w", calls[i].name, err)
		}
		out[i] = v
	}
	return first
}

// locate sets p.cur to the id of r's partition, creating the partition on
// its first row. Looking up an existing key does not allocate.
func (st *State) locate(p *partitions, r *record.Record) error {
	st.key = st.key[:0]
	for _, k := range p.keys {
		v, err := k(r)
		if err != nil {
			return fmt.Errorf("PARTITION BY: %w", err)
		}
		st.key = v.AppendKey(st.key)
	}
	id, ok := p.ids[string(st.key)]
	if !ok {
		id = int32(len(p.ids))
		p.ids[string(st.key)] = id
		for _, run := range p.runs {
			run.grow(int(id) + 1)
		}
	}
	p.cur = id
	return nil
}

// growTo extends s with zero values up to length n.
func growTo[T any](s []T, n int) []T {
	if n <= len(s) {
		return s
	}
	return append(s, make([]T, n-len(s))...)
}

package exec

import (
	"fmt"
	"math"
	"slices"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/record"
)

// Stats are a pipeline's cumulative counters over its input records:
// In == Accepted + Filtered + Limited + DeadLettered + LateDropped always. A record
// counts once however many windows it falls in.
type Stats struct {
	// In counts records given to Process.
	In int64
	// Filtered counts records removed by WHERE (or a rank bound).
	Filtered int64
	// Limited counts records read after a stateless LIMIT was reached,
	// which no output row reflects.
	Limited int64
	// Accepted counts records emitted or folded into state.
	Accepted int64
	// DeadLettered counts records sent to Output.DeadLetter: evaluation
	// errors, and late records under the dead_letter strategy.
	DeadLettered int64
	// LateDropped counts late records dropped under the drop strategy.
	LateDropped int64
	// Late counts every late record dropped or dead-lettered (it is part
	// of LateDropped + DeadLettered, not a term of the sum above).
	Late int64
	// RowErrors counts output rows that failed to evaluate (an aggregate
	// overflow, a division by zero in the select list); they go to
	// Output.DeadLetter as group rows and are not input records.
	RowErrors int64
}

// Output receives what a pipeline produces.
type Output interface {
	// Emit receives output rows (Values by OutputSchema slot); the rows are
	// valid only during the call.
	Emit(rows []record.Record)
	// DeadLetter receives a record that failed evaluation, or a late
	// record under the dead_letter strategy, with the reason.
	DeadLetter(r *record.Record, reason error)
}

// Pipeline is one partition worker's execution of a Program: its state is
// per group and open window. It is not safe for concurrent use.
type Pipeline struct {
	p     *Program
	stats Stats
	out   Output // the Output of the call in progress
	wm    int64  // the watermark

	rows    rowBuf         // output rows of the emission in progress
	keyBuf  []byte         // the group key encoding of the record in progress
	keyVals []record.Value // its group key values
	group   record.Record  // the group row under evaluation
	ext     record.Record  // an input row extended with analytic slots
	an      analyticState  // OVER state, when the query has OVER calls
	ord     ordered        // rows held for an event-time ordered row window
	top     topState       // the ranked rows of a Top-N query

	// Aggregation state.
	aggs     []aggregator
	gt       groupTable
	groups   map[string]int32       // unwindowed groups by key
	windows  map[int64]*window      // open (and retained) windows by start
	lastWin  *window                // the window of the previous record
	freeWins []*window              // released windows for reuse
	sessions map[string]*sessionKey // session windows by group key
	due      []dueItem              // scratch for firing
	nextDue  int64                  // no window is due before the watermark reaches this
	changed  []int32                // groups to emit at the end of the call
	stale    []staleRow             // rows written for sessions whose bounds moved, to retract
	held     heldSet                // unwindowed EMIT FINAL: per source, smallest offset held
	src      sources
	fences   []fenceEntry // per source (indexed as in src): its replay fence

	// Stateless state.
	distinct map[string]struct{}
	emitted  int64
}

// NewPipeline returns a pipeline with empty state.
func (p *Program) NewPipeline() *Pipeline {
	pl := &Pipeline{p: p, wm: math.MinInt64, nextDue: math.MaxInt64}
	pl.ord.frontier, pl.ord.maxTime = math.MinInt64, math.MinInt64
	if p.top != nil {
		pl.top = newTopState()
	}
	pl.rows.width = p.out.Len()
	if t := p.groupTop; t != nil {
		pl.rows.width += t.keys + t.order // hidden columns to rank by
	}
	if p.analytic != nil {
		pl.an = p.analytic.newState()
	}
	if p.distinct && p.agg == nil {
		pl.distinct = make(map[string]struct{})
	}
	if a := p.agg; a != nil {
		pl.keyVals = make([]record.Value, len(a.keys))
		pl.group.Values = make([]record.Value, a.rowLen())
		pl.gt.width = len(a.keys)
		pl.gt.types = a.keyTypes
		pl.gt.windowed = a.windowed()
		pl.gt.retracts = p.Retracts()
		pl.gt.moves = pl.gt.retracts && a.session()
		for _, s := range a.specs {
			pl.aggs = append(pl.aggs, s.make())
		}
		switch {
		case a.window == nil:
			pl.groups = make(map[string]int32)
		case a.session():
			pl.sessions = make(map[string]*sessionKey)
		default:
			pl.windows = make(map[int64]*window)
		}
	}
	return pl
}

// Stats returns the cumulative counters.
func (pl *Pipeline) Stats() Stats { return pl.stats }

// Process runs recs through the query. Rows go to out.Emit: for stateless
// queries once per call; for EMIT FINAL when windows fire; for EMIT
// CHANGES at the end of the call, the latest row of each changed group.
func (pl *Pipeline) Process(recs []record.Record, out Output) {
	pl.Add(recs, nil, out)
	pl.Flush(out)
}

// Add runs the records recs[i] for i in sel (in that order; a nil sel
// selects all) through the query, like Process, but keeps the rows that
// Process emits at the end of a call (a stateless query's rows, EMIT
// CHANGES rows) until Flush. It lets a caller run its shares of batches
// that other partitions share, in place, as one Process.
func (pl *Pipeline) Add(recs []record.Record, sel []int32, out Output) {
	pl.out = out
	defer func() { pl.out = nil }()
	step := pl.aggregate
	switch {
	case pl.p.top != nil:
		step = pl.topRecord
	case pl.p.agg == nil:
		step = pl.stateless
	}
	if sel == nil {
		for i := range recs {
			step(&recs[i])
		}
		return
	}
	for _, i := range sel {
		step(&recs[i])
	}
}

// Flush emits what the Add calls since the last Flush left for the end of
// a call.
func (pl *Pipeline) Flush(out Output) {
	pl.out = out
	defer func() { pl.out = nil }()
	switch {
	case pl.p.agg != nil:
		pl.flushChanged()
	case pl.p.top != nil:
		pl.fireTop(false)
	default:
		if pl.p.rowOrdered() && !pl.p.external {
			pl.releaseOrdered(false)
		}
		pl.emitStateless()
	}
}

// emitStateless emits the rows of a query without aggregation gathered so
// far, unless they wait for Finish to be sorted.
func (pl *Pipeline) emitStateless() {
	if pl.p.sortsAll() {
		// Rows wait for Finish, which sorts them; LIMIT keeps only the top.
		pl.pruneTop()
		return
	}
	pl.emit()
}

// Advance moves the watermark to wm (it never moves back) and fires the
// windows whose end plus allowed lateness it has reached.
func (pl *Pipeline) Advance(wm int64, out Output) {
	pl.out = out
	defer func() { pl.out = nil }()
	if wm > pl.wm {
		pl.wm = wm
	}
	if pl.p.agg != nil && pl.wm >= pl.nextDue {
		pl.fireDue(false)
	}
	if pl.p.rowOrdered() {
		pl.releaseOrdered(false)
		pl.emitStateless()
	}
	if pl.p.top != nil {
		pl.fireTop(false)
	}
	pl.flushChanged()
}

// Finish ends a bounded input: every window fires and, without windows,
// EMIT FINAL emits every group. The pipeline's state is then empty.
func (pl *Pipeline) Finish(out Output) {
	pl.out = out
	defer func() { pl.out = nil }()
	a := pl.p.agg
	if a == nil {
		switch {
		case pl.p.top != nil:
			pl.fireTop(true)
		case pl.p.rowOrdered():
			pl.releaseOrdered(true)
		}
		// the input ended: a row window's rows are all out, and its
		// first rows hold the commit no more (heldRowWindow)
		pl.held.reset()
		pl.emit()
		return
	}
	if a.windowed() {
		pl.fireDue(true)
	} else {
		pl.finishGroups()
	}
	pl.flushChanged()
}

// stateless evaluates one record of a query without aggregation.
func (pl *Pipeline) stateless(r *record.Record) {
	p := pl.p
	pl.stats.In++
	if !pl.pass(r) {
		return
	}
	if p.rowOrdered() {
		pl.holdOrdered(r)
		return
	}
	pl.statelessRow(r)
}

// statelessRow computes the output row of an input row that passed WHERE.
func (pl *Pipeline) statelessRow(r *record.Record) {
	p := pl.p
	if p.hasLimit && !p.sortsAll() && pl.emitted >= p.limit {
		pl.stats.Limited++
		return
	}
	src := r
	if p.analytic != nil {
		var err error
		if src, err = pl.applyAnalytic(r); err != nil {
			pl.deadLetter(r, err)
			return
		}
		if p.qualify != nil && !pl.qualifies(r, src) {
			return
		}
	}
	dst := pl.rows.add(r)
	for i, f := range p.project {
		v, err := f(src)
		if err != nil {
			pl.rows.drop()
			pl.deadLetter(r, err)
			return
		}
		dst[i] = v
	}
	if pl.distinct != nil && !pl.firstSeen(dst) {
		pl.rows.drop()
		pl.stats.Accepted++
		return
	}
	pl.emitted++
	pl.stats.Accepted++
}

// pass applies WHERE; it counts filtered and failed records.
func (pl *Pipeline) pass(r *record.Record) bool {
	return pl.p.where == nil || pl.holds(pl.p.where, "WHERE", r, r)
}

// holds applies the filter f of a clause (WHERE, QUALIFY) to src: a row
// for which it is not TRUE is counted filtered, and one it fails on is
// dead-lettered as r, the error naming the clause.
func (pl *Pipeline) holds(f expr.Func, clause string, r, src *record.Record) bool {
	v, err := f(src)
	if err != nil {
		pl.deadLetter(r, fmt.Errorf("%s: %w", clause, err))
		return false
	}
	if v.Kind() != record.Bool || !v.Bool() {
		pl.stats.Filtered++
		return false
	}
	return true
}

// firstSeen reports whether row is new to SELECT DISTINCT, remembering it.
// A new row stands for every row equal to it, so it takes its columns'
// key forms (keyForms).
func (pl *Pipeline) firstSeen(row []record.Value) bool {
	b := pl.keyBuf[:0]
	for _, v := range row {
		b = v.AppendKey(b)
	}
	pl.keyBuf = b
	if _, ok := pl.distinct[string(b)]; ok {
		return false
	}
	pl.distinct[string(b)] = struct{}{}
	pl.p.keyForms(row)
	return true
}

// keyForms puts the output columns of a row that stands for all rows equal
// to it (SELECT DISTINCT) in the form of their types (record.Value.KeyForm),
// so that it prints alike whichever of them came first.
func (p *Program) keyForms(row []record.Value) {
	for i := range min(len(row), p.out.Len()) {
		row[i] = row[i].KeyForm(p.out.Field(i).Type)
	}
}

// deadLetter sends r to the dead-letter output and counts it; a record
// read again after a rebalance (record.Record.Replay) is only counted, the
// run before having sent it.
func (pl *Pipeline) deadLetter(r *record.Record, err error) {
	pl.stats.DeadLettered++
	if !r.Replay {
		pl.out.DeadLetter(r, err)
	}
}

// sortsAll reports whether a query without aggregation has an ORDER BY:
// its rows are then sorted over the whole (bounded) input at Finish, and
// the job merges the partitions' sorted runs.
func (p *Program) sortsAll() bool { return p.agg == nil && len(p.order) > 0 }

// pruneTop keeps the rows an ORDER BY ... LIMIT n query can still emit: once
// the buffer holds well over n rows it is sorted and cut to the first n, so
// memory stays bounded by the limit.
func (pl *Pipeline) pruneTop() {
	p := pl.p
	if !p.hasLimit || int64(len(pl.rows.rows)) < 2*p.limit+1024 {
		return
	}
	rows := pl.rows.done()
	slices.SortStableFunc(rows, func(a, b record.Record) int { return p.compare(&a, &b) })
	kept := rowBuf{width: pl.rows.width}
	for i := range rows[:p.limit] {
		copy(kept.add(&rows[i]), rows[i].Values)
	}
	pl.rows = kept
}

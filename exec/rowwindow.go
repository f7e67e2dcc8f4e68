package exec

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// Row windows (OVER) take their rows in one of three orders, decided at
// compile time from the OVER clauses' ORDER BY and the query's QUALIFY:
//
//   - no ORDER BY: arrival order;
//   - ORDER BY the event-time column (ascending): event-time order. Rows wait
//     until the watermark passes them and then run in (event time, arrival)
//     order, so LAG, running aggregates and ROW_NUMBER follow event time;
//   - a rank function (ROW_NUMBER, RANK, DENSE_RANK) ordered by anything else,
//     bounded by QUALIFY (rn <= N): a Top-N (see topn.go).
//
// Any other ORDER BY is refused: Sluice never reorders rows silently.

// overCalls returns the distinct OVER calls of the select list and QUALIFY.
func overCalls(items []sql.SelectItem, qualify sql.Expr) []*sql.Call {
	var calls []*sql.Call
	for _, it := range items {
		calls = collectCalls(it.Expr, calls, isAnalyticCall)
	}
	return collectCalls(qualify, calls, isAnalyticCall)
}

// eventOrdered checks that every OVER call with an ORDER BY orders by the
// event-time column, ascending, and reports whether any does. When the
// query names no event-time column (no event.time.field), the ORDER BY
// column becomes the event time, as a WINDOW's time column does, and must
// hold a time as that column must.
func (p *Program) eventOrdered(calls []*sql.Call) (bool, error) {
	ordered := false
	for _, c := range calls {
		o := c.Over.OrderBy
		if len(o) == 0 {
			continue
		}
		if err := p.eventTimeOrder(c, o); err != nil {
			return false, err
		}
		ordered = true
	}
	if ordered && p.set.late == LateUpdate {
		return false, &sql.PropertyError{Key: PropLateDataStrategy, InValue: true, Msg: fmt.Sprintf("WITH '%s': 'update' is not supported by a row window ordered by event time: "+
			"a row that arrives after later rows have run cannot change their results; use 'dead_letter' or 'drop'", PropLateDataStrategy)}
	}
	return ordered, nil
}

// eventTimeOrder checks one OVER call's ORDER BY, adopting its column as
// the event time when none is set.
func (p *Program) eventTimeOrder(c *sql.Call, o []sql.OrderItem) error {
	refuse := func(at sql.Node, why string) error {
		hint := "order the row window by the event-time column"
		if sql.IsRankCall(c) {
			hint += ", or keep the top rows of each partition with a filter on the rank " +
				"(Top-N: QUALIFY " + c.Name + "() OVER (...) <= n, or WHERE rn <= n over a subquery)"
		}
		return errorAt(at, "%s: %s; %s", sql.FormatExpr(c), why, hint)
	}
	if len(o) > 1 {
		return refuse(o[1], "a row window is processed in event-time order, so ORDER BY takes one key, the event-time column")
	}
	if o[0].Desc {
		return refuse(o[0], "ORDER BY "+sql.FormatExpr(o[0].Expr)+" DESC would need every later row before the first result")
	}
	id, ok := o[0].Expr.(*sql.Ident)
	if !ok {
		return refuse(o[0], "ORDER BY "+sql.FormatExpr(o[0].Expr)+" is not the event-time column, and rows cannot be reordered by it")
	}
	if sys, ok := record.IsSystemColumn(id.Name); ok {
		if sys == record.SysEventTime || (sys == record.SysTimestamp && p.time.slot < 0) {
			return nil
		}
		return refuse(o[0], "ORDER BY "+sys+" is not the event time")
	}
	switch {
	case p.time.slot >= 0 && strings.EqualFold(p.time.name, id.Name):
		return nil
	case p.time.slot >= 0 || p.set.timeField != "":
		return refuse(o[0], fmt.Sprintf("ORDER BY %s is not the event-time column %s", id.Name, p.time.name))
	}
	slot, ok := p.in.Lookup(id.Name)
	if !ok {
		if !p.autoAdd {
			return errorAt(id, "unknown column %q in ORDER BY of %s", id.Name, sql.FormatExpr(c))
		}
		slot = p.in.Add(id.Name)
	}
	if msg := p.notATime(p.in.Field(slot)); msg != "" {
		return errorAt(id, "%s", msg)
	}
	p.time.slot, p.time.name = slot, id.Name
	return nil
}

// ordered holds the rows of an event-time ordered row window until the
// watermark passes them. Each source partition's rows queue in their own
// run, in arrival order, which is event-time order when the partition's
// events are in order; a release sorts only a run that is not, then merges
// the runs' heads. Rows live in one arena and their values in one slab,
// so holding a row allocates nothing in steady state.
type ordered struct {
	runs []heldRun // by source index (pipeline.src)
	rows []heldRow // the arena; runs index it
	vals []record.Value
	// spareRows and spareVals are the arena and slab compaction moves to.
	spareRows []heldRow
	spareVals []record.Value
	live      int // rows of the arena still held
	seq       int64
	// frontier is the event time up to which rows have been released: a
	// row before it arrives too late to take its place.
	frontier int64
	maxTime  int64 // the largest event time seen (for a pipeline's own watermark)
}

// heldRun is one source partition's held rows: rows[head:] index the arena.
type heldRun struct {
	rows   []int32
	head   int
	sorted bool // rows[head:] are in (event time, arrival) order
}

// heldRow is one buffered input row; its values are vals[off:off+n].
type heldRow struct {
	t, seq int64
	off, n int
	rec    record.Record
}

// cmp orders held rows by event time, rows of equal time by their place in
// the source (topic or file, partition, offset: arrival order within one
// source partition, and the same order whatever the interleaving of
// several; a row read through a repartition topic by its source
// partition, as in one process), then by arrival.
func (a *heldRow) cmp(b *heldRow) int {
	if c := cmp.Compare(a.t, b.t); c != 0 {
		return c
	}
	ap, _ := a.rec.SourcePosition()
	bp, _ := b.rec.SourcePosition()
	if a.rec.Topic != b.rec.Topic || ap != bp {
		if c := strings.Compare(a.rec.Topic, b.rec.Topic); c != 0 {
			return c
		}
		return cmp.Compare(ap, bp)
	}
	return cmp.Compare(a.seq, b.seq)
}

// holdOrdered buffers r for release in event-time order, or handles it as
// late when rows after its event time have already run.
func (pl *Pipeline) holdOrdered(r *record.Record) {
	t, ok := pl.eventTime(r)
	if !ok {
		return
	}
	o := &pl.ord
	if bound := pl.rowBound(r); t < bound {
		pl.lateRow(r, t, bound)
		return
	}
	h := heldRow{t: t, seq: o.seq, off: len(o.vals), n: len(r.Values), rec: *r}
	h.rec.Values = nil
	o.vals = append(o.vals, r.Values...)
	src := pl.src.index(r)
	for len(o.runs) <= src {
		o.runs = append(o.runs, heldRun{sorted: true})
	}
	run := &o.runs[src]
	// out of order by event time, or (read through a repartition topic,
	// where source partitions interleave) by place in the source
	if n := len(run.rows); n > run.head {
		if last := &o.rows[run.rows[n-1]]; last.t > t || last.t == t && last.cmp(&h) > 0 {
			run.sorted = false
		}
	}
	run.rows = append(run.rows, int32(len(o.rows)))
	o.rows = append(o.rows, h)
	o.live++
	o.seq++
	o.maxTime = max(o.maxTime, t)
}

// rowBound returns the event time below which r is late: the frontier the
// row window has run to and, under a job, r's own source partition's
// watermark less the allowed lateness, so that which rows are late does not
// depend on when the job's watermark arrived.
func (pl *Pipeline) rowBound(r *record.Record) int64 {
	if pl.p.external {
		return max(pl.ord.frontier, subSat(r.Watermark, pl.p.set.lateness))
	}
	return pl.ord.frontier
}

// lateRow handles a row whose place in event-time order, bound, has been
// passed.
func (pl *Pipeline) lateRow(r *record.Record, t, bound int64) {
	pl.lateBehind(r, t, bound, "%s, up to which the row window runs")
}

// releaseOrdered runs the held rows with event time up to the watermark
// less the allowed lateness (all of them when all is set), in (event time,
// arrival) order, into the row buffer.
func (pl *Pipeline) releaseOrdered(all bool) {
	o := &pl.ord
	wm := pl.wm
	if !pl.p.external && o.maxTime > math.MinInt64 {
		wm = max(wm, subSat(o.maxTime, pl.p.set.outOfOrder))
	}
	upTo := subSat(wm, pl.p.set.lateness)
	if all {
		upTo = math.MaxInt64
	} else {
		if upTo < o.frontier {
			return
		}
		o.frontier = upTo
	}
	if o.live == 0 {
		return
	}
	for i := range o.runs {
		if r := &o.runs[i]; !r.sorted {
			tail := r.rows[r.head:]
			slices.SortFunc(tail, func(a, b int32) int { return o.rows[a].cmp(&o.rows[b]) })
			r.sorted = true
		}
	}
	for {
		// the next row is the least head of the runs (few: one per source partition)
		best := -1
		for i := range o.runs {
			r := &o.runs[i]
			if r.head < len(r.rows) && o.rows[r.rows[r.head]].t <= upTo &&
				(best < 0 || o.rows[r.rows[r.head]].cmp(&o.rows[o.runs[best].rows[o.runs[best].head]]) < 0) {
				best = i
			}
		}
		if best < 0 {
			break
		}
		r := &o.runs[best]
		h := &o.rows[r.rows[r.head]]
		r.head++
		h.rec.Values = o.vals[h.off : h.off+h.n : h.off+h.n]
		pl.statelessRow(&h.rec)
		h.rec = record.Record{}
		o.live--
	}
	o.compact()
}

// compact drops released rows: the runs' heads, and the arena and value
// slab once released rows are most of them.
func (o *ordered) compact() {
	if o.live == 0 {
		for i := range o.runs {
			o.runs[i] = heldRun{rows: o.runs[i].rows[:0], sorted: true}
		}
		clear(o.rows)
		o.rows = o.rows[:0]
		clear(o.vals)
		o.vals = o.vals[:0]
		return
	}
	if len(o.rows) < 1024 || 2*o.live > len(o.rows) {
		return
	}
	rows, vals := o.spareRows[:0], o.spareVals[:0]
	for i := range o.runs {
		r := &o.runs[i]
		n := 0
		for _, idx := range r.rows[r.head:] {
			h := o.rows[idx]
			vals = append(vals, o.vals[h.off:h.off+h.n]...)
			h.off = len(vals) - h.n
			r.rows[n] = int32(len(rows))
			rows = append(rows, h)
			n++
		}
		r.rows, r.head = r.rows[:n], 0
	}
	clear(o.rows)
	clear(o.vals)
	o.rows, o.vals, o.spareRows, o.spareVals = rows, vals, o.rows[:0], o.vals[:0]
}

// subSat is a - b (b >= 0) without wrapping below math.MinInt64.
func subSat(a, b int64) int64 {
	if a < math.MinInt64+b {
		return math.MinInt64
	}
	return a - b
}

// heldOrdered notes the offsets of the rows still held.
func (pl *Pipeline) heldOrdered(h *heldSet) {
	o := &pl.ord
	for i := range o.runs {
		if r := &o.runs[i]; r.head < len(r.rows) {
			// a run is in arrival order until sorted: its least offset is any of its rows
			for _, idx := range r.rows[r.head:] {
				h.note(i, o.rows[idx].rec.Offset)
			}
		}
	}
	for i := range pl.rows.rows { // released, waiting for Finish to sort them
		r := &pl.rows.rows[i]
		h.note(pl.src.index(r), r.Offset)
	}
}

// compileQualify compiles a QUALIFY that is a plain filter over the row
// window's results (not a Top-N bound).
func (p *Program) compileQualify(q sql.Expr, scope *expr.Scope) error {
	if q == nil {
		return nil
	}
	f, err := expr.Compile(q, scope)
	if err != nil {
		return err
	}
	p.qualify = f
	return nil
}

// qualifies applies QUALIFY to a row extended with its OVER values.
func (pl *Pipeline) qualifies(r, src *record.Record) bool {
	return pl.holds(pl.p.qualify, "QUALIFY", r, src)
}

// rowOrdered reports whether rows run in event-time order (an OVER call
// orders by event time).
func (p *Program) rowOrdered() bool { return p.analytic != nil && p.analytic.ordered }

// itemExprs returns the expressions of the select items.
func itemExprs(items []sql.SelectItem) []sql.Expr {
	es := make([]sql.Expr, len(items))
	for i, it := range items {
		es[i] = it.Expr
	}
	return es
}

package exec

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// A Top-N query keeps, per PARTITION BY key, the rows ranked 1..N by a rank
// function ordered by any expression:
//
//	SELECT symbol, price, ROW_NUMBER() OVER (PARTITION BY symbol ORDER BY price DESC) AS rn
//	FROM trades QUALIFY rn <= 3
//
// (or the same as a subquery filtered by WHERE rn <= 3). State is the N
// best rows of each key (plus the rows tied with the last for RANK and
// DENSE_RANK). Under EMIT CHANGES (the default for ROW_NUMBER) every change
// of a key's top rows emits updates. ROW_NUMBER's are keyed by the
// PARTITION BY columns and the rank, so each row overwrites the one that
// held its rank before: a row pushed out of the top N is overwritten by the
// row that takes its rank. RANK and DENSE_RANK give one rank to tied rows,
// so their updates are keyed by the row itself (every selected column but
// the rank): a row entering the top N or changing rank is emitted with its
// new rank, and a row leaving it is retracted: emitted with a NULL rank.
// Without EMIT CHANGES they emit under EMIT FINAL (their default): the top
// rows of each key once, at the end of a bounded input.

// rankKind is the rank function of a Top-N.
type rankKind uint8

const (
	rowNumber rankKind = iota
	rankGaps           // RANK
	rankDense          // DENSE_RANK
)

// topNPlan is the compiled Top-N.
type topNPlan struct {
	call *sql.Call
	kind rankKind
	// lo and hi bound the ranks emitted; hi is the N kept per key.
	lo, hi int64
	keys   []expr.Func
	order  []expr.Func
	desc   []bool
	// project computes the output over an input row extended with the
	// rank at rankSlot, then the window start and end.
	project  []expr.Func
	rankSlot int
	// types are the types of project's values, whose key columns take
	// their form (Program.keyColumns).
	types    []record.Type
	changes  bool
	keySlots []int
	// window is the TUMBLING window the rows are ranked within; nil for none.
	window *windowSpec
}

// isTopN reports whether sel's QUALIFY bounds a rank function that has an
// ORDER BY: such a query is a Top-N. The checks that the rest of the query
// fits are made by compileTopN.
func isTopN(sel *sql.Select) bool {
	_, _, _, ok := sql.TopN(sel)
	return ok
}

// groups reports whether sel groups rows (GROUP BY, HAVING or an
// aggregate): a Top-N then ranks the groups (groupTopN), else the input
// rows, within a window when there is one.
func groups(sel *sql.Select, items []sql.SelectItem) bool {
	if len(sel.GroupBy) > 0 || sel.Having != nil {
		return true
	}
	for _, it := range items {
		if len(collectAggregates(it.Expr, nil)) > 0 {
			return true
		}
	}
	return false
}

// maxTopN bounds N, the rows a Top-N keeps per key.
const maxTopN = 1 << 20

// compileTopN compiles a Top-N query (isTopN).
func (p *Program) compileTopN(sel *sql.Select, items []sql.SelectItem, in *expr.Scope) error {
	var t topNPlan
	t.call, t.lo, t.hi, _ = sql.TopN(sel)
	c := t.call
	if conj := sql.Conjuncts(sel.Qualify); len(conj) > 1 {
		return errorAt(sel.Qualify, "the filter of a Top-N must be only the bound on its rank (%s): "+
			"filter other columns in WHERE (of the subquery), before the rows are ranked", sql.FormatExpr(c))
	}
	if t.hi < t.lo || t.hi < 1 {
		return errorAt(sel.Qualify, "%s selects no rank: a Top-N keeps ranks 1 to N with N >= 1", sql.FormatExpr(sel.Qualify))
	}
	if t.hi > maxTopN {
		return errorAt(sel.Qualify, "a Top-N of %d rows per key is too large (at most %d)", t.hi, maxTopN)
	}
	for _, o := range overCalls(items, sel.Qualify) {
		if !sql.SameExpr(o, c) {
			return errorAt(o, "%s: a Top-N query can compute only its rank function %s; compute other window functions in a separate query",
				sql.FormatExpr(o), sql.FormatExpr(c))
		}
	}
	if len(c.Args) > 0 || c.Star || c.Distinct {
		return errorAt(c, "%s takes no arguments", c.Name)
	}
	if c.Over.Buffer != 0 || c.Over.Frame != nil {
		return errorAt(c.Over, "%s ranks the whole partition: it takes no ROWS frame", c.Name)
	}
	switch strings.ToUpper(c.Name) {
	case "RANK":
		t.kind = rankGaps
	case "DENSE_RANK":
		t.kind = rankDense
	}
	if sel.Window != nil {
		if sel.Window.Kind != sql.Tumbling {
			return errorAt(sel.Window, "a Top-N of rows within a window needs a TUMBLING window: a row of several SLIDING windows or of a SESSION would rank in each")
		}
		w, err := compileWindow(sel.Window)
		if err != nil {
			return err
		}
		t.window = w
		if p.set.late == LateUpdate {
			return &sql.PropertyError{Key: PropLateDataStrategy, InValue: true, Msg: fmt.Sprintf("WITH '%s': 'update' is not supported by a Top-N within a window: "+
				"a window's top rows are emitted once, when it closes; use 'dead_letter' or 'drop'", PropLateDataStrategy)}
		}
		if sel.Emit == sql.EmitChanges {
			return errorAt(sel, "a Top-N within a window emits each window's top rows when it closes: use EMIT FINAL (the default with a WINDOW)")
		}
	}
	switch sel.Emit {
	case sql.EmitChanges:
		t.changes = true
	case sql.EmitDefault:
		t.changes = t.kind == rowNumber && t.window == nil
	}
	switch {
	case sel.Distinct:
		return errorAt(sel, "SELECT DISTINCT is not supported with a Top-N")
	case t.changes && (len(sel.OrderBy) > 0 || sel.Limit != nil):
		return errorAt(sel, "ORDER BY and LIMIT over a Top-N need EMIT FINAL: under EMIT CHANGES its rows are updates")
	}
	for _, k := range c.Over.PartitionBy {
		f, err := expr.Compile(k, in)
		if err != nil {
			return err
		}
		t.keys = append(t.keys, f)
	}
	for _, o := range c.Over.OrderBy {
		f, err := expr.Compile(o.Expr, in)
		if err != nil {
			return err
		}
		t.order, t.desc = append(t.order, f), append(t.desc, o.Desc)
	}
	isRank := func(e sql.Expr) (int, bool) {
		if x, ok := isAnalyticCall(e); ok && sql.SameExpr(x, c) {
			return t.rankSlot, true
		}
		if id, ok := e.(*sql.Ident); ok && t.window != nil {
			switch sys, _ := record.IsSystemColumn(id.Name); sys {
			case record.SysWindowStart:
				return t.rankSlot + 1, true
			case record.SysWindowEnd:
				return t.rankSlot + 2, true
			}
		}
		return 0, false
	}
	discover := &expr.Scope{Schema: in.Schema, AutoAdd: in.AutoAdd, Override: isRank}
	for _, it := range items {
		if _, err := expr.Compile(it.Expr, discover); err != nil {
			return err
		}
	}
	t.rankSlot = p.in.Len()
	scope := &expr.Scope{Schema: in.Schema, AutoAdd: in.AutoAdd, Override: isRank}
	for _, it := range items {
		f, typ, err := expr.CompileTyped(it.Expr, scope)
		if err != nil {
			return err
		}
		t.project = append(t.project, f)
		t.types = append(t.types, typ)
	}
	if t.changes {
		slots, err := topKeySlots(c, items, t.kind == rowNumber && t.lo == t.hi)
		if err != nil {
			return err
		}
		if t.kind != rowNumber {
			slots, err = rankKeySlots(c, items)
			if err != nil {
				return err
			}
		}
		t.keySlots = slots
	}
	p.top = &t
	return nil
}

// rankKeySlots returns the output slots keying the EMIT CHANGES updates of
// a Top-N by RANK or DENSE_RANK: every selected column but the rank, the
// row itself. The ORDER BY expressions must be among them, so that rows
// equal in every selected column are peers, which always share a rank and
// enter and leave the top N together: to a consumer they are one row.
func rankKeySlots(c *sql.Call, items []sql.SelectItem) ([]int, error) {
	for _, o := range c.Over.OrderBy {
		if !slices.ContainsFunc(items, func(it sql.SelectItem) bool { return sql.SameExpr(o.Expr, it.Expr) }) {
			return nil, errorAt(o.Expr, "EMIT CHANGES of a Top-N by %s updates each row, keyed by its selected columns: "+
				"select %s, the ORDER BY of the rank (or use EMIT FINAL)", c.Name, sql.FormatExpr(o.Expr))
		}
	}
	var slots []int
	for i, it := range items {
		if x, ok := isAnalyticCall(it.Expr); !ok || !sql.SameExpr(x, c) {
			slots = append(slots, i)
		}
	}
	return slots, nil
}

// topKeySlots returns the output slots of the PARTITION BY columns and the
// rank: the key of an EMIT CHANGES Top-N's updates. A bound that keeps one
// rank (rn = 1, deduplication) keys by the PARTITION BY columns alone.
func topKeySlots(c *sql.Call, items []sql.SelectItem, oneRank bool) ([]int, error) {
	find := func(e sql.Expr) int {
		for i, it := range items {
			if sql.SameExpr(e, it.Expr) {
				return i
			}
		}
		return -1
	}
	var slots []int
	keys := slices.Clone(c.Over.PartitionBy)
	if !oneRank {
		keys = append(keys, c)
	}
	for _, k := range keys {
		i := find(k)
		if i < 0 {
			what := sql.FormatExpr(k)
			if k == sql.Expr(c) {
				what = "the rank (" + what + ")"
			}
			return nil, errorAt(k, "EMIT CHANGES of a Top-N updates each rank of each partition, keyed by the PARTITION BY "+
				"columns and the rank: select %s (or use EMIT FINAL)", what)
		}
		slots = append(slots, i)
	}
	return slots, nil
}

// topState is a pipeline's Top-N state: the ranked rows of each key, per
// open window (one window, start 0, without a WINDOW clause).
type topState struct {
	wins    map[int64]*topWindow
	dirty   []int32 // EMIT CHANGES: lists of window 0 with changed ranks
	nextDue int64   // no window is due before the watermark reaches this
	ext     record.Record
	key     []byte
	order   []record.Value // scratch ORDER BY values
}

// topWindow is one window's ranked rows.
type topWindow struct {
	start int64
	ids   map[string]int32
	lists []topList
	held  heldSet // within a WINDOW: the smallest offset per source read
}

// topList is one key's rows, best first.
type topList struct {
	rows []topRow
	// from is the first position whose row changed since the last flush;
	// -1 when none did.
	from int
	// gone holds, under EMIT CHANGES of RANK and DENSE_RANK, the rows that
	// left the top N since the last flush after being emitted: each is
	// retracted at the flush.
	gone []topRow
}

// topRow is one ranked row: its ORDER BY values and a copy of the input.
type topRow struct {
	order []record.Value
	rec   record.Record
	// shown is, under EMIT CHANGES of RANK and DENSE_RANK, the rank the
	// row was last emitted with; 0 when it is not shown, shownBefore when
	// an earlier run of the job may have shown it.
	shown int64
}

// shownBefore is the shown rank of a row read again after a rebalance
// (record.Record.MayBeWritten): the run before may have emitted it with a rank
// this run does not know, so it is emitted with its rank at the next
// flush, and retracted if it leaves the top N first.
const shownBefore = -1

func newTopState() topState {
	return topState{wins: make(map[int64]*topWindow), nextDue: math.MaxInt64}
}

// window returns the state of the window starting at start.
func (st *topState) window(start int64) *topWindow {
	w := st.wins[start]
	if w == nil {
		w = &topWindow{start: start, ids: make(map[string]int32)}
		st.wins[start] = w
	}
	return w
}

// topRecord ranks one input record of a Top-N.
func (pl *Pipeline) topRecord(r *record.Record) {
	pl.stats.In++
	if !pl.pass(r) {
		return
	}
	t, st := pl.p.top, &pl.top
	var start int64
	if t.window != nil {
		et, ok := pl.eventTime(r)
		if !ok {
			return
		}
		start = floorDiv(et, t.window.size) * t.window.size
		if wm := pl.windowBound(r); start+t.window.size+pl.p.set.lateness <= wm {
			pl.late(r, et, wm)
			return
		}
		if !pl.p.external && et-pl.p.set.outOfOrder > pl.wm {
			pl.wm = et - pl.p.set.outOfOrder
		}
		st.nextDue = min(st.nextDue, start+t.window.size+pl.p.set.lateness)
	}
	w := st.window(start)
	if t.window != nil {
		w.held.note(pl.src.index(r), r.Offset)
	}
	st.key = st.key[:0]
	for _, k := range t.keys {
		v, err := k(r)
		if err != nil {
			pl.deadLetter(r, fmt.Errorf("PARTITION BY: %w", err))
			return
		}
		st.key = v.AppendKey(st.key)
	}
	order := st.order[:0]
	for _, f := range t.order {
		v, err := f(r)
		if err != nil {
			pl.deadLetter(r, fmt.Errorf("ORDER BY: %w", err))
			return
		}
		order = append(order, v)
	}
	st.order = order
	id, ok := w.ids[string(st.key)]
	if !ok {
		id = int32(len(w.lists))
		w.ids[string(st.key)] = id
		w.lists = append(w.lists, topList{from: -1})
	}
	l := &w.lists[id]
	// Tied rows rank by source position (before), which is arrival order
	// within a source partition.
	pos := sort.Search(len(l.rows), func(i int) bool {
		c := t.compare(order, l.rows[i].order)
		return c < 0 || c == 0 && before(r, &l.rows[i].rec)
	})
	if t.kind == rowNumber && int64(pos) >= t.hi {
		pl.stats.Filtered++
		return
	}
	rec := *r
	rec.Values = slices.Clone(r.Values)
	row := topRow{order: slices.Clone(order), rec: rec}
	if r.MayBeWritten() && t.changes && t.kind != rowNumber {
		// read again after a rebalance: the run before may have shown it
		row.shown = shownBefore
	}
	l.rows = slices.Insert(l.rows, pos, row)
	n := t.kept(l.rows)
	if t.changes && t.kind != rowNumber {
		for _, g := range l.rows[n:] {
			if g.shown != 0 {
				l.gone = append(l.gone, g)
			}
		}
	}
	clear(l.rows[n:])
	l.rows = l.rows[:n]
	if pos >= len(l.rows) {
		pl.stats.Filtered++ // ranked below N (RANK, DENSE_RANK)
		return
	}
	pl.stats.Accepted++
	if t.changes {
		if l.from < 0 {
			st.dirty = append(st.dirty, id)
			l.from = pos
		}
		l.from = min(l.from, pos)
	}
}

// before reports whether a ranks before b when their ORDER BY values tie:
// by source (topic, then partition), then offset, so that ties rank the
// same whatever the order in which source partitions' records arrive. A
// record read through a repartition topic ranks by its place in its
// source (record.Record.SourcePosition), as in one process.
func before(a, b *record.Record) bool {
	if c := strings.Compare(a.Topic, b.Topic); c != 0 {
		return c < 0
	}
	ap, ao := a.SourcePosition()
	bp, bo := b.SourcePosition()
	if ap != bp {
		return ap < bp
	}
	return ao < bo
}

// compare orders two rows' ORDER BY values (NULLs last when ascending).
func (t *topNPlan) compare(a, b []record.Value) int { return compareTuples(a, b, t.desc) }

// compareTuples orders two lists of values as compareValues orders
// values (its rule written out here, so that the loop makes no call but
// record.Compare), the first that differ deciding, descending where desc
// says (nil: all ascending).
func compareTuples(a, b []record.Value, desc []bool) int {
	for i := range a {
		c, err := record.Compare(a[i], b[i])
		if err != nil {
			c = int(a[i].Kind()) - int(b[i].Kind())
		}
		if desc != nil && desc[i] {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// ranks calls fn with each row's rank, best first.
func (t *topNPlan) ranks(rows []topRow, fn func(i int, rank int64) bool) {
	var rank int64
	for i := range rows {
		switch {
		case i == 0 || t.kind == rowNumber:
			rank++
		case t.compare(rows[i].order, rows[i-1].order) != 0:
			if t.kind == rankGaps {
				rank = int64(i) + 1
			} else {
				rank++
			}
		}
		if !fn(i, rank) {
			return
		}
	}
}

// kept returns how many of rows (best first) rank within N.
func (t *topNPlan) kept(rows []topRow) int {
	n := len(rows)
	t.ranks(rows, func(i int, rank int64) bool {
		if rank > t.hi {
			n = i
			return false
		}
		return true
	})
	return n
}

// addTopRows adds the output rows of list l of window w from position
// from on.
func (pl *Pipeline) addTopRows(w *topWindow, l *topList, from int) {
	t := pl.p.top
	t.ranks(l.rows, func(i int, rank int64) bool {
		if i < from || rank < t.lo {
			return true
		}
		pl.addTopRow(w, &l.rows[i].rec, rank)
		return true
	})
}

// addRankChanges adds, under EMIT CHANGES of RANK or DENSE_RANK, the
// updates of list l since the last flush: first the retractions of the
// rows that left the top N (or whose rank fell below the bound's lower
// end), then each row whose rank changed, with its new rank.
func (pl *Pipeline) addRankChanges(w *topWindow, l *topList) {
	t := pl.p.top
	for i := range l.gone {
		pl.addTopRow(w, &l.gone[i].rec, 0)
	}
	clear(l.gone)
	l.gone = l.gone[:0]
	t.ranks(l.rows, func(i int, rank int64) bool {
		if rank < t.lo {
			rank = 0 // held for its rank, not shown
		}
		if r := &l.rows[i]; i >= l.from && rank != r.shown {
			pl.addTopRow(w, &r.rec, rank)
			r.shown = rank
		}
		return true
	})
}

// addTopRow evaluates the output row of rec ranked rank into the row
// buffer (a rank of 0 retracts the row: its rank is NULL); a failure sends
// rec to the dead-letter output.
func (pl *Pipeline) addTopRow(w *topWindow, rec *record.Record, rank int64) {
	t, st := pl.p.top, &pl.top
	vals := st.ext.Values[:0]
	vals = append(vals, rec.Values[:min(len(rec.Values), t.rankSlot)]...)
	for len(vals) < t.rankSlot+3 {
		vals = append(vals, record.Value{})
	}
	vals[t.rankSlot] = record.Value{}
	if rank != 0 {
		vals[t.rankSlot] = record.IntValue(rank)
	}
	if t.window != nil {
		vals[t.rankSlot+1] = record.TimestampValue(w.start)
		vals[t.rankSlot+2] = record.TimestampValue(w.start + t.window.size)
	}
	st.ext = *rec
	st.ext.Values = vals
	dst := pl.rows.add(rec)
	for i, f := range t.project {
		v, err := f(&st.ext)
		if err != nil {
			pl.rows.drop()
			pl.stats.RowErrors++
			pl.out.DeadLetter(rec, fmt.Errorf("rank %d: %w", rank, err))
			return
		}
		dst[i] = v
	}
}

// flushTop emits, under EMIT CHANGES, the rows whose rank changed.
func (pl *Pipeline) flushTop() {
	st := &pl.top
	if len(st.dirty) == 0 {
		return
	}
	w := st.wins[0]
	for _, id := range st.dirty {
		l := &w.lists[id]
		if pl.p.top.kind == rowNumber {
			pl.addTopRows(w, l, l.from)
		} else {
			pl.addRankChanges(w, l)
		}
		l.from = -1
	}
	st.dirty = st.dirty[:0]
	pl.emit()
}

// fireTop emits, under EMIT FINAL, the top rows of every window whose end
// plus the allowed lateness the watermark has reached (of every window
// when all is set, at the end of a bounded input), in window order, and
// drops their state.
func (pl *Pipeline) fireTop(all bool) {
	t, st := pl.p.top, &pl.top
	if t.changes {
		pl.flushTop()
		return
	}
	if !all && (t.window == nil || pl.wm < st.nextDue) {
		return
	}
	var due []int64
	st.nextDue = math.MaxInt64
	for start := range st.wins {
		if all || start+t.window.size+pl.p.set.lateness <= pl.wm {
			due = append(due, start)
		} else {
			st.nextDue = min(st.nextDue, start+t.window.size+pl.p.set.lateness)
		}
	}
	slices.Sort(due)
	for _, start := range due {
		w := st.wins[start]
		for i := range w.lists {
			pl.addTopRows(w, &w.lists[i], 0)
		}
		delete(st.wins, start)
		if pl.p.sortsAll() {
			continue // sorted and emitted at Finish
		}
		pl.emit()
	}
}

// heldTop notes the offsets a replay must read again to rebuild the
// Top-N: within a window, the smallest offset read per source of the open
// windows (nothing of them is emitted before they close); without one,
// the offsets of the rows in the top n, as a replay from the smallest
// reads every one of them again, and the top n of those rows and the rows
// after them is the top n of all. EMIT CHANGES holds them only with
// HoldChanges: its rows are written as they change.
func (pl *Pipeline) heldTop(h *heldSet) {
	t := pl.p.top
	switch {
	case t.window != nil:
		for _, w := range pl.top.wins {
			h.mergeFrom(w.held)
		}
		return
	case t.changes && !pl.p.holdChanges:
		return
	}
	for _, w := range pl.top.wins {
		for i := range w.lists {
			for j := range w.lists[i].rows {
				r := &w.lists[i].rows[j].rec
				h.note(pl.src.index(r), r.Offset)
			}
		}
	}
}

// groupTopN is a Top-N over the rows of an aggregating query with EMIT
// FINAL: each emission (a fired window, or every group at the end of a
// bounded input) is ranked on its own, per PARTITION BY key and window.
// The rows carry hidden columns after the output: the window start (when
// windowed), the PARTITION BY values and the ORDER BY values.
type groupTopN struct {
	call   *sql.Call
	kind   rankKind
	lo, hi int64
	// rankOut is the output slot of the rank.
	rankOut int
	// keys and order count the hidden PARTITION BY (window start
	// included) and ORDER BY columns; desc gives each ORDER BY direction.
	keys, order int
	desc        []bool
}

// compileGroupTopN checks a Top-N over an aggregating query and returns
// its plan, or nil when the query has no window function. It does not
// compile the hidden columns (see groupTopColumns).
func compileGroupTopN(sel *sql.Select, items []sql.SelectItem, a *aggPlan) (*groupTopN, error) {
	calls := overCalls(items, sel.Qualify)
	if len(calls) == 0 {
		if sel.Qualify != nil {
			return nil, errorAt(sel.Qualify, "QUALIFY filters on the results of window functions (OVER), and the query has none: filter groups with HAVING")
		}
		return nil, nil
	}
	c, lo, hi, ok := sql.TopN(sel)
	if !ok {
		return nil, errorAt(calls[0], "window function %s OVER (...) over grouped rows is supported only as a Top-N: "+
			"a rank function bounded by QUALIFY (or by WHERE over a subquery), with EMIT FINAL", calls[0].Name)
	}
	for _, o := range calls {
		if !sql.SameExpr(o, c) {
			return nil, errorAt(o, "%s: a Top-N query can compute only its rank function %s", sql.FormatExpr(o), sql.FormatExpr(c))
		}
	}
	switch {
	case len(sql.Conjuncts(sel.Qualify)) > 1:
		return nil, errorAt(sel.Qualify, "the filter of a Top-N must be only the bound on its rank (%s): filter groups with HAVING", sql.FormatExpr(c))
	case hi < lo || hi < 1:
		return nil, errorAt(sel.Qualify, "%s selects no rank: a Top-N keeps ranks 1 to N with N >= 1", sql.FormatExpr(sel.Qualify))
	case hi > maxTopN:
		return nil, errorAt(sel.Qualify, "a Top-N of %d rows per key is too large (at most %d)", hi, maxTopN)
	case len(c.Args) > 0 || c.Star || c.Distinct:
		return nil, errorAt(c, "%s takes no arguments", c.Name)
	case c.Over.Buffer != 0 || c.Over.Frame != nil:
		return nil, errorAt(c.Over, "%s ranks the whole partition: it takes no ROWS frame", c.Name)
	case a.emit != sql.EmitFinal:
		return nil, errorAt(sel, "a Top-N over grouped rows needs EMIT FINAL (each window's top rows, or all groups' at the end): "+
			"under EMIT CHANGES the groups' rows are updates, which cannot be ranked")
	case a.session():
		return nil, errorAt(sel.Window, "a Top-N over SESSION windows is not supported: sessions of different keys fire separately; use TUMBLING or SLIDING")
	case sel.Distinct:
		return nil, errorAt(sel, "SELECT DISTINCT is not supported with a Top-N")
	}
	t := &groupTopN{call: c, lo: lo, hi: hi, rankOut: -1}
	switch strings.ToUpper(c.Name) {
	case "RANK":
		t.kind = rankGaps
	case "DENSE_RANK":
		t.kind = rankDense
	}
	for i, it := range items {
		if x, ok := isAnalyticCall(it.Expr); ok && sql.SameExpr(x, c) {
			t.rankOut = i
			continue
		}
		if x, ok := findAnalytic(it.Expr); ok {
			return nil, errorAt(x, "%s over grouped rows can only be selected as it is, not inside an expression", x.Name)
		}
	}
	return t, nil
}

// groupTopColumns returns the hidden columns' expressions: the window
// start (windowed queries), the PARTITION BY and the ORDER BY expressions.
func (t *groupTopN) groupTopColumns(a *aggPlan) []sql.Expr {
	var es []sql.Expr
	if a.windowed() {
		es = append(es, &sql.Ident{Pos: t.call.Pos, Name: record.SysWindowStart})
	}
	es = append(es, t.call.Over.PartitionBy...)
	t.keys = len(es)
	for _, o := range t.call.Over.OrderBy {
		es = append(es, o.Expr)
		t.desc = append(t.desc, o.Desc)
	}
	t.order = len(t.call.Over.OrderBy)
	return es
}

// rankGroupRows ranks the rows of one emission of a grouped Top-N and
// returns those within the bound, with the rank set and the hidden columns
// cut off.
func (pl *Pipeline) rankGroupRows(rows []record.Record) []record.Record {
	t, width := pl.p.groupTop, pl.p.out.Len()
	hidden := func(r *record.Record) []record.Value { return r.Values[width:] }
	// rows that tie on the rank's ORDER BY are ordered by their columns,
	// not by the order their groups were made in, which follows arrival
	slices.SortFunc(rows, func(a, b record.Record) int {
		ha, hb := hidden(&a), hidden(&b)
		if c := compareTuples(ha[:t.keys], hb[:t.keys], nil); c != 0 {
			return c
		}
		if c := compareTuples(ha[t.keys:], hb[t.keys:], t.desc); c != 0 {
			return c
		}
		return compareTuples(a.Values[:width], b.Values[:width], nil)
	})
	kept := rows[:0] // overwrites rows only behind i; prev keeps the hidden values
	var rank int64
	var prev []record.Value
	first := 0
	for i := range rows {
		h := hidden(&rows[i])
		switch {
		case prev == nil || compareTuples(h[:t.keys], prev[:t.keys], nil) != 0:
			rank, first = 1, i
		case t.kind == rowNumber:
			rank++
		case compareTuples(h[t.keys:], prev[t.keys:], t.desc) != 0:
			if t.kind == rankGaps {
				rank = int64(i-first) + 1
			} else {
				rank++
			}
		}
		prev = h
		if rank < t.lo || rank > t.hi {
			continue
		}
		r := rows[i]
		r.Values = r.Values[:width:width]
		if t.rankOut >= 0 {
			r.Values[t.rankOut] = record.IntValue(rank)
		}
		kept = append(kept, r)
	}
	return kept
}

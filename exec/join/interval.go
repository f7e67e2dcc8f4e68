package join

import (
	"fmt"
	"math"
	"strings"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// PropStateTTL bounds a stream-stream join with no time bound in its ON:
// rows are kept (and joined) while their event times are within it.
const PropStateTTL = "join.state.ttl"

// interval is a stream-stream join: each input's rows are kept per join
// key until the watermark shows that no row of the other input can still
// fall within the time bound. 0 is the left input (FROM, or the rows of
// the joins before it), 1 the right.
type interval struct {
	kind     sql.JoinKind
	lo, hi   int64 // right time - left time must be in [lo, hi] (ms)
	bound    string
	keys     [2][]expr.Func // over the joined row: each side's join key
	residual expr.Func
	times    [2]*exec.Program // each side's event time over the joined row; nil: the record's own
	tslot    [2]int           // the slot of each side's time column; -1: none
	offset   [2]int           // each side's first slot in the joined row
	width    [2]int
	side     int // the slot that says which input a row came from
	// slack bounds how far a left row's time may be ahead of the earliest
	// time of the rows it joins (the spans of the joins before it), so that
	// the watermark after the join stays behind every row it still holds
	slack int64
	// exchange: the join's rows are re-routed first, each side hashed on
	// its xkeys (SetExchange); k is the join's place in the chain
	exchange bool
	xkeys    [2][]expr.Func
	k        int
}

// outer reports whether unmatched rows of side s are emitted with NULLs.
func (iv *interval) outer(s int) bool {
	switch iv.kind {
	case sql.FullJoin:
		return true
	case sql.LeftJoin:
		return s == 0
	case sql.RightJoin:
		return s == 1
	}
	return false
}

// timeBound finds the time bound of a stream-stream join: WITHIN d, or a
// conjunct `b.t BETWEEN a.t - x AND a.t + y` (either side first), else
// 'join.state.ttl'. It returns the bound, the time columns it names (""
// when it names none) and the other conjuncts.
func (c *compiler) timeBound(j sql.Join) (lo, hi int64, cols [2]inputCol, rest []sql.Expr, err error) {
	found := false
	for _, conj := range sql.Conjuncts(j.On) {
		if b, ok := conj.(*sql.Between); ok && !b.Not && !found {
			if l, h, cs, ok := c.between(b); ok {
				lo, hi, cols, found = l, h, cs, true
				continue
			}
		}
		rest = append(rest, conj)
	}
	if j.Within > 0 {
		if found {
			return 0, 0, cols, nil, errorAt(j, "JOIN %s has both WITHIN and a BETWEEN time bound: give one", j.Source.Name)
		}
		d := j.Within.Milliseconds()
		return -d, d, cols, rest, nil
	}
	if found {
		if lo > hi {
			return 0, 0, cols, nil, errorAt(j, "JOIN %s: the time bound is empty (its lower end is after its upper end)", j.Source.Name)
		}
		return lo, hi, cols, rest, nil
	}
	if ttl := strings.TrimSpace(c.props[PropStateTTL]); ttl != "" {
		d, err := sql.PositiveDurationProperty(PropStateTTL, ttl)
		if err != nil {
			return 0, 0, cols, nil, err
		}
		return -d.Milliseconds(), d.Milliseconds(), cols, rest, nil
	}
	return 0, 0, cols, nil, errorAt(j, "JOIN %s: a stream-stream join needs a time bound, or it keeps every row forever: add WITHIN INTERVAL '5' MINUTES, or AND %s.ts BETWEEN %s.ts - INTERVAL '1' MINUTE AND %s.ts + INTERVAL '1' MINUTE, or set '%s'; or declare '%s.primary.key' to join it as a table",
		j.Source.Name, c.qualifier(c.ss), c.qualifier(0), c.qualifier(0), PropStateTTL, j.Source.Name)
}

// between reads `x.t BETWEEN y.t [+-] INTERVAL AND y.t [+-] INTERVAL`
// where one of x and y is the right stream (c.ss) and the other an input
// joined before it, as right - left in [lo, hi]; cols are indexed by side
// (0 left, 1 right).
func (c *compiler) between(b *sql.Between) (lo, hi int64, cols [2]inputCol, ok bool) {
	x, okx := b.X.(*sql.Ident)
	if !okx {
		return 0, 0, cols, false
	}
	xi, err := c.resolve(x)
	if err != nil || xi < 0 {
		return 0, 0, cols, false
	}
	yl, lcol, okl := c.offsetOf(b.Lo)
	yh, hcol, okh := c.offsetOf(b.Hi)
	if !okl || !okh || lcol.in != hcol.in || !strings.EqualFold(lcol.name, hcol.name) {
		return 0, 0, cols, false
	}
	switch {
	case xi == c.ss && lcol.in < c.ss: // right - left in [yl, yh]
		cols[1], cols[0] = inputCol{xi, x.Name}, lcol
		return yl, yh, cols, true
	case xi >= c.ss || lcol.in != c.ss:
		return 0, 0, cols, false
	}
	cols[0], cols[1] = inputCol{xi, x.Name}, lcol
	// left in [right + yl, right + yh]: right - left in [-yh, -yl]
	return -yh, -yl, cols, true
}

type inputCol struct {
	in   int
	name string
}

// offsetOf reads `col`, `col + INTERVAL` or `col - INTERVAL`.
func (c *compiler) offsetOf(e sql.Expr) (int64, inputCol, bool) {
	var sign int64
	var lit sql.Expr
	switch n := e.(type) {
	case *sql.Ident:
		i, err := c.resolve(n)
		return 0, inputCol{i, n.Name}, err == nil && i >= 0
	case *sql.Binary:
		switch n.Op {
		case sql.Add:
			sign = 1
		case sql.Sub:
			sign = -1
		default:
			return 0, inputCol{}, false
		}
		id, ok := n.L.(*sql.Ident)
		lit = n.R
		if !ok {
			return 0, inputCol{}, false
		}
		i, err := c.resolve(id)
		if err != nil || i < 0 {
			return 0, inputCol{}, false
		}
		l, ok := lit.(*sql.Literal)
		if !ok || l.Kind != sql.IntervalLit {
			return 0, inputCol{}, false
		}
		f, err := expr.Compile(l, &expr.Scope{Schema: record.NewSchema()})
		if err != nil {
			return 0, inputCol{}, false
		}
		v, err := f(&record.Record{})
		if err != nil || v.Kind() != record.Int {
			return 0, inputCol{}, false
		}
		return sign * v.Int(), inputCol{i, id.Name}, true
	}
	return 0, inputCol{}, false
}

// nullTime reports whether a row's time on side s is NULL: the left row
// of a later join whose bound reads a stream an outer join left out.
func (iv *interval) nullTime(s int, r *record.Record) bool {
	return iv.tslot[s] >= 0 && r.Values[iv.tslot[s]].IsNull()
}

// eventTime returns side s's event time of a row.
func (iv *interval) eventTime(s int, r *record.Record) (int64, error) {
	if p := iv.times[s]; p != nil {
		t, ok := p.EventTime(r)
		if !ok {
			return 0, fmt.Errorf("the event time of %s is not a time", []string{"the left input", "the right input"}[s])
		}
		return t, nil
	}
	if r.HasEventTime {
		return r.EventTime, nil
	}
	return r.Timestamp, nil
}

// sideColumn names the joined row's slot that says which input of a
// stream-stream join a row came from (no SQL name can spell it): an
// internal column (record.Field.Internal), which no output shows.
const sideColumn = " side"

// streamJoin is the ON of a statement's stream-stream JOIN (its right
// input is c.ss, its left the inputs joined before it).
type streamJoin struct {
	at     sql.Join
	lo, hi int64
	// cols are each side's time in the bound, as named in the joined row:
	// "" for the records' own (the right side, or a first join's left), or
	// the joined row's event time (a later join's left)
	cols     [2]string
	left     int           // the input of the left side's time column; -1 when none
	keys     [2][]sql.Expr // each side's join key over the joined row
	eqs      [][2]sql.Expr // the key equalities over the joined row, and as written
	residual []sql.Expr    // the rest of ON over the joined row
}

// streamJoin reads the stream-stream JOIN j, the k-th of the statement:
// its time bound, its key equalities (each side reading only its own
// inputs) and the rest of ON.
func (c *compiler) streamJoin(j sql.Join, k int) (*streamJoin, error) {
	sj := &streamJoin{at: j, left: -1}
	var rest []sql.Expr
	var err error
	var cols [2]inputCol
	if sj.lo, sj.hi, cols, rest, err = c.timeBound(j); err != nil {
		return nil, err
	}
	left, right := uint64(1)<<c.ss-1, uint64(1)<<c.ss
	for _, conj := range rest {
		r, mask, err := c.expr(conj)
		if err != nil {
			return nil, err
		}
		if mask>>(c.ss+1) != 0 {
			return nil, errorAt(conj, "ON of JOIN %s reads a source joined after it: %s", j.Source.Name, sql.FormatExpr(conj))
		}
		if b, ok := conj.(*sql.Binary); ok && b.Op == sql.Eq && mask&left != 0 && mask&right != 0 {
			l, lm, _ := c.expr(b.L)
			rr, rm, _ := c.expr(b.R)
			switch {
			case lm != 0 && lm&^left == 0 && rm == right:
				sj.keys[0], sj.keys[1] = append(sj.keys[0], l), append(sj.keys[1], rr)
				sj.eqs = append(sj.eqs, [2]sql.Expr{r, conj})
				continue
			case lm == right && rm != 0 && rm&^left == 0:
				sj.keys[0], sj.keys[1] = append(sj.keys[0], rr), append(sj.keys[1], l)
				sj.eqs = append(sj.eqs, [2]sql.Expr{r, conj})
				continue
			}
		}
		sj.residual = append(sj.residual, r)
	}
	if k == 0 && cols[0].name != "" && cols[0].in != 0 {
		return nil, errorAt(j, "JOIN %s: the time bound reads %s.%s: the first stream-stream join compares the event times of %s and %s", j.Source.Name, c.qualifier(cols[0].in), cols[0].name, c.qualifier(0), c.qualifier(c.ss))
	}
	if k > 0 {
		// a later join's left side is the rows of the joins before it: its
		// time is the event time of one of their streams, or the joined
		// row's (the latest of its rows')
		if cols[0].name != "" {
			if err := c.earlierTime(j, cols[0]); err != nil {
				return nil, err
			}
			sj.left = cols[0].in
			sj.cols[0] = c.times[cols[0].in]
		}
		cols[0] = inputCol{in: -1}
	}
	// Each side's event time: the columns of a BETWEEN bound, else
	// '<n>.event.time.field', else 'event.time.field', else the record's.
	for s, in := range [2]int{0, c.ss} {
		if s == 0 && k > 0 {
			continue
		}
		col := cols[s].name
		if col == "" {
			col = strings.TrimSpace(c.props[c.inputs[in].Name+".event.time.field"])
		}
		if f := strings.TrimSpace(c.props[exec.PropEventTimeField]); col == "" && f != "" && (!c.known[in] || c.has(in, f)) {
			col = f
		}
		if _, sys := record.IsSystemColumn(col); sys {
			col = ""
		}
		if col != "" {
			if err := c.use(in, col, j); err != nil {
				return nil, err
			}
			col = c.name(in, c.canonical(in, col))
		}
		sj.cols[s] = col
		c.times[in] = col
	}
	return sj, nil
}

// earlierTime checks that the left column of a later stream-stream join's
// bound is the event time of a stream joined before: the watermark bounds
// only that.
func (c *compiler) earlierTime(j sql.Join, col inputCol) error {
	t, ok := c.times[col.in]
	name := c.name(col.in, c.canonical(col.in, col.name))
	if ok && t != "" && strings.EqualFold(t, name) {
		return nil
	}
	what := "is a table's column"
	if ok && t == "" {
		what = "is not its event time (it has none: its records' timestamps)"
	} else if ok {
		what = fmt.Sprintf("is not its event time (%s)", t)
	}
	return errorAt(j, "JOIN %s: the time bound reads %s.%s, which %s: the bound of a later stream-stream join compares the new stream's event time with that of a stream joined before, which the watermark bounds; name that column, or use WITHIN (the joined row's event time, the latest of its rows')",
		j.Source.Name, c.qualifier(col.in), col.name, what)
}

// boundText describes the bound as right time - left time in [lo, hi]:
// the left time of a later join is a stream's, or the joined row's (the
// latest of the rows before it).
func (sj *streamJoin) boundText(c *compiler, in int) string {
	left := c.qualifier(0) + ".t"
	if sj.left >= 0 {
		left = c.qualifier(sj.left) + ".t"
	} else if in != c.streams[0] {
		var ts []string
		for _, i := range append([]int{0}, c.streams...) {
			if i < in {
				ts = append(ts, c.qualifier(i)+".t")
			}
		}
		left = "max(" + strings.Join(ts, ", ") + ")"
	}
	return fmt.Sprintf("%s.t - %s in [%dms, %dms]", c.qualifier(in), left, sj.lo, sj.hi)
}

// compile compiles the stream-stream join's keys, event times and the
// rest of its ON over the joined row into iv.
func (sj *streamJoin) compile(iv *interval, c *compiler, joined *record.Schema) error {
	scope := &expr.Scope{Schema: joined}
	if err := checkEqs(sj.eqs, scope); err != nil {
		return err
	}
	iv.tslot = [2]int{-1, -1}
	for s := range 2 {
		if sj.cols[s] != "" {
			if slot, ok := joined.Lookup(sj.cols[s]); ok {
				iv.tslot[s] = slot
			}
		}
		for _, k := range sj.keys[s] {
			f, err := expr.Compile(k, scope)
			if err != nil {
				return err
			}
			iv.keys[s] = append(iv.keys[s], f)
		}
		if sj.cols[s] != "" {
			var err error
			props := map[string]string{exec.PropEventTimeField: sj.cols[s], exec.PropEventTimeFormat: c.props[exec.PropEventTimeFormat]}
			tsel := &sql.Select{Pos: sj.at.Pos, Items: []sql.SelectItem{{Pos: sj.at.Pos, Expr: &sql.Ident{Pos: sj.at.Pos, Name: sj.cols[s]}}}}
			if iv.times[s], err = exec.Compile(tsel, exec.Options{Properties: props, Schema: joined, ExternalWatermark: true}); err != nil {
				return err
			}
		}
	}
	if r := and(sj.residual); r != nil {
		var err error
		if iv.residual, err = expr.Compile(r, scope); err != nil {
			return err
		}
	}
	return nil
}

// Side is one input of a stream-stream join as its source decodes it.
type Side struct {
	// Schema are the columns the input's source decodes.
	Schema *record.Schema
	// Offset is the first slot of those columns in the joined row, Width
	// the joined row's width and Slot the slot that tells the inputs apart
	// (-1: none, for a stream read with its tables joined).
	Offset, Width, Slot int
}

// Sides returns the streams of a statement with stream-stream joins (nil
// for a stream-table join), by their tag in the side slot: the FROM stream,
// then the right input of each stream-stream join. Their sources are read
// into the joined row.
func (p *Program) Sides() []Side {
	if p.ivs == nil {
		return nil
	}
	out := []Side{{Schema: p.c.schema(0), Offset: 0, Width: p.width, Slot: p.ivs[0].side}}
	for k, iv := range p.ivs {
		out = append(out, Side{Schema: p.c.schema(p.c.streams[k]), Offset: iv.offset[1], Width: p.width, Slot: iv.side})
	}
	return out
}

// StreamInputs returns the inputs of Sides (0, then each stream-stream
// join's right input).
func (p *Program) StreamInputs() []int { return append([]int{0}, p.c.streams...) }

// sideOf returns a row's tag: 0 for the FROM stream, k+1 for the right
// input of stream-stream join k.
func sideOf(r *record.Record, slot int) int {
	if v := r.Values[slot]; v.Kind() == record.Int {
		return int(v.Int())
	}
	return 0
}

// stageOf returns the stream-stream join a stream's row enters and its side there.
func stageOf(tag int) (k, s int) {
	if tag == 0 {
		return 0, 0
	}
	return tag - 1, 1
}

// EventTime returns a record's event time: a stream-stream join reads its
// input's own event time (job.Program).
func (p *Program) EventTime(r *record.Record) (int64, bool) {
	if p.ivs == nil {
		return p.Program.EventTime(r)
	}
	k, s := stageOf(sideOf(r, p.ivs[0].side))
	t, err := p.ivs[k].eventTime(s, r)
	return t, err == nil
}

// HoldsRows reports whether the query holds input rows until the
// watermark passes them (job.Program): a stream-stream join buffers each
// input's rows, and keeps the more of them the further one source
// partition runs ahead of the slowest in event time.
func (p *Program) HoldsRows() bool { return p.ivs != nil || p.Program.HoldsRows() }

// Reach returns how much later than a row's own event time a joined row
// made from it may be: the sum of the stream-stream joins' time bounds'
// farthest ends, 0 without one.
func (p *Program) Reach() int64 {
	var r int64
	for _, iv := range p.ivs {
		r += max(iv.hi, -iv.lo, 0)
	}
	return r
}

// Outer reports whether a stream-stream join of the program writes the
// unmatched rows of an input with NULLs (LEFT, RIGHT, FULL).
func (p *Program) Outer() bool {
	for _, iv := range p.ivs {
		if iv.kind != sql.InnerJoin {
			return true
		}
	}
	return false
}

// Replayed decides about a record of the first stream-stream join's
// inputs that a replay after a rebalance reads again before the read
// offset of the checkpoint its partition resumed from, whose watermark
// was wm. It reports true when the record may be skipped: it and every
// row it can meet were settled under wm. A record settled itself that
// may meet one that was not is kept and marked Settled: it pairs again,
// so that the other finds its match, but is not written with NULLs again.
//
// A row is settled under wm when wm passed its event time and the time
// the join decides it at (its time plus the bound's far end, when it is
// written with NULLs unless it matched). The job that committed the
// checkpoint had read it (a record after the read offset is not before
// the watermark, or it would be late) and wrote the rows it decided
// before it committed. Records of later joins are kept.
func (p *Program) Replayed(r *record.Record, wm int64) bool {
	if p.ivs == nil {
		return false
	}
	k, s := stageOf(sideOf(r, p.ivs[0].side))
	if k > 0 {
		return false
	}
	iv := p.ivs[0]
	t, err := iv.eventTime(s, r)
	if err != nil {
		return false
	}
	own, meets := iv.settles(s)
	switch {
	case t+own >= wm:
		return false
	case t+meets < wm:
		return true
	}
	r.Settled = true
	return false
}

// ReplayRule returns what stage 2 of a statement repartitioned across
// processes does with a record it reads again before its partition's
// fence, whose watermark is wm (kafka.RepartitionSource's fired): true
// when the record had its whole effect under wm, so the replay skips it.
//
// A record had its whole effect once every window of every row it can be
// joined into fired: a stream-stream join's rows are as late as its
// bounds reach past the record's own event time (Reach), and the windows
// after the joins fire by the watermark less Lag (SetReplayFences drops
// the rows of the windows fired under that, so a window is either written
// whole again or not at all). With nothing kept after a stream-stream
// join, a record left the join, its pairs written, once wm passed its
// time plus that reach; an outer join also needs every row a replayed row
// may meet, or it would write that row with NULLs: Replayed decides, and
// marks the rows whose NULLs were decided already Settled. Groups without
// a window never fire: a replay keeps every record, and rebuilds them
// (with their rows with NULLs) from their first rows, which hold the
// commit (holdsMatched).
func (p *Program) ReplayRule() func(rec *record.Record, wm int64) bool {
	reach, lag, after := p.Reach(), p.Lag(), p.Program
	if p.ivs == nil {
		// tables only: a joined row keeps its record's event time, offset
		// and watermark, so the query after the joins judges the record
		// as it would without them (which also stamps a record it keeps
		// with wm, keeping it out of the windows that fired)
		return after.Replayed
	}
	if p.settles() {
		return p.Replayed
	}
	left := after.Replayable() == nil && !after.Windowed()
	return func(rec *record.Record, wm int64) bool {
		et, ok := p.EventTime(rec)
		switch {
		case !ok:
			return false
		case left:
			return et+reach < wm
		}
		return wm > math.MinInt64+lag && after.Fired(et+reach, wm-lag)
	}
}

// settles reports whether a replay marks Settled the records whose rows
// with NULLs the run before decided (ReplayRule is Replayed): an outer
// join of streams followed by a query that keeps no window and nothing
// else in memory. A row with NULLs the join decides for a record read
// again is then one the run before did not write, nor dead-letter.
func (p *Program) settles() bool {
	return p.ivs != nil && p.Outer() && p.Program.Replayable() == nil && !p.Program.Windowed()
}

// WriteRows makes the pipelines write the rows of the program's joins as
// they are made, instead of running the query after the joins over them:
// a stage of a statement repartitioned across processes whose joined rows
// go through a topic to the process that owns their key in the query after
// the joins, which runs Program over them.
//
// Of one join of two streams (stage 2, whose rows go to an exchange
// topic), each row's Offset is the offset of the record whose arrival
// made it, and its Sub the offset of the record it met, both in their
// partition (the repartition topic's, where both sides of a key are), and
// its OriginPartition and OriginOffset the place in its source of the
// record that made it; a record meets the rows before it in the order they came, so a
// partition read in order makes the same rows in the same order every
// time. A window naming a column of the joined row takes its time from
// it, as one process does.
//
// An outer join of two streams decides its rows with NULLs record by
// record, by the watermark each record carries (that of its partition,
// the lowest of its source partitions' as the reports before the record
// give it: no record that is not late can still match a row it passed),
// each partition with a state of its own, so that a replay decides them
// at the same records: after a record's pairs, the unmatched rows its
// watermark passes, by their offsets, each with the record's offset as
// its Offset and that offset plus its own as its Sub (a pair's is below
// the record's offset), and its own record's place in its source as its
// OriginPartition and OriginOffset; those left when the input ends after
// the last record L, with L as their Offset and 2L+1 plus their own
// offset as their Sub. A replay from the committed offset
// decides again exactly the rows that record decided then with the
// offset of their own, from its state of the rows after the commit: each
// row that matched held the commit where it would read it without its
// matches (ssState.held).
//
// Of tables joined alone (stage 1, whose rows go to the repartition
// topic), each record is looked up in the tables as it is read and its
// joined row, which keeps the record's place, times and watermark, is
// written at once: a record an inner join drops is counted filtered, one
// a lookup fails on is dead-lettered, as one process does. A temporal
// join, whose table versions the watermark prunes, is refused.
func (p *Program) WriteRows() error {
	if len(p.ivs) == 0 {
		for _, lk := range p.tables {
			if lk.asOf != nil {
				return fmt.Errorf("join: a temporal join (JOIN %s FOR SYSTEM_TIME AS OF) does not write its joined rows", lk.table.name)
			}
		}
		if len(p.tables) == 0 {
			return fmt.Errorf("join: no join writes its joined rows")
		}
		p.rows = true
		return nil
	}
	if len(p.ivs) != 1 || len(p.tables) > 0 {
		return fmt.Errorf("join: only one join of two streams, or tables joined alone, write their joined rows")
	}
	p.rows = true
	return nil
}

// decidesByRecord reports whether the pipelines decide the rows with
// NULLs record by record, each partition with a state of its own: an
// outer join that writes its rows (WriteRows).
func (p *Program) decidesByRecord() bool { return p.rows && p.Outer() }

// RowKey compiles keys over the joined row: those the query after the
// joins groups its rows by (plan.Plan.FinalKeys), which an exchange topic
// routes them on.
func (p *Program) RowKey(keys []sql.Expr) ([]expr.Func, error) {
	scope := &expr.Scope{Schema: p.stream}
	var out []expr.Func
	for _, e := range keys {
		f, err := p.c.compile(e, scope)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// Lag returns how far the watermark after the stream-stream joins may be
// behind the watermark of their inputs: each join holds it back by its
// bound's farthest end and its slack while it holds rows.
func (p *Program) Lag() int64 {
	var lag int64
	for _, iv := range p.ivs {
		lag += max(iv.hi, -iv.lo, 0) + iv.slack
	}
	return lag
}

// SetReplayFences makes the program, run by stage 2 of a statement
// repartitioned across processes, drop the joined rows whose windows had
// all fired when the checkpoint of their partition (fence says its
// watermark) was committed: a replay after a rebalance joins such rows
// again, and their windows, written already, must not be written again
// with part of their rows. The windows after the joins then fire once the
// watermark less Lag passes them, on every worker alike (never before the
// joins could still emit a row into them), so those that fired at a
// checkpoint are the ones its watermark less Lag passed. SESSION windows
// after the joins are fenced by the query itself, with the fence less
// Lag (exec.Program.SetReplayFences: a session rebuilt that closes under
// it fired before, and writes nothing), and take every joined row (a
// session's end depends on its later rows). Without a stream-stream join
// (tables only) the query after the joins takes the fences as they are:
// a joined row is its record's.
func (p *Program) SetReplayFences(fence exec.Fences) {
	if p.ivs == nil {
		// tables only: the query after the joins sees each record's rows
		// as its own records, and fences them itself
		p.Program.SetReplayFences(fence)
		return
	}
	p.fence = fence
	if fence == nil {
		p.Program.SetReplayFences(nil)
		return
	}
	// the query after the joins moves by the watermark less Lag: its
	// SESSION windows fired before a replay closed under the fence less
	// Lag (exec.Program.SetReplayFences), a joined row being its
	// partition's (both its rows are in the one repartition topic's)
	p.Program.SetReplayFences(lagged{fence, p.Lag()})
}

// lagged is the Fences of the query after the joins: each fence less lag.
type lagged struct {
	exec.Fences
	lag int64
}

// FenceWatermark implements exec.Fences.
func (l lagged) FenceWatermark(part int32) (int64, bool) {
	wm, ok := l.Fences.FenceWatermark(part)
	if !ok || wm <= math.MinInt64+l.lag {
		return math.MinInt64, false
	}
	return wm - l.lag, true
}

// settles returns how long after its time a row of side s is settled (its
// time passed and its join decided it), and how long after it every row
// it can meet is: side 0 at t meets side-1 rows up to t+hi, each decided
// at its time - lo; side 1 at t meets side-0 rows up to t-lo, each decided
// at its time + hi.
func (iv *interval) settles(s int) (own, meets int64) {
	if s == 0 {
		return max(iv.hi, 0), max(iv.hi, 0, iv.hi-iv.lo)
	}
	return max(-iv.lo, 0), max(-iv.lo, 0, iv.hi-iv.lo)
}

// Bound describes a stream-stream join's time bound ("" for others).
func (p *Program) Bound() string {
	var out []string
	for _, iv := range p.ivs {
		out = append(out, iv.bound)
	}
	return strings.Join(out, "; ")
}

// RoutingKey returns the routing key of the streams of stream-stream
// joins as functions over the joined row: each reads its stream's key
// (keys[tag] are the key expressions of the stream Sides()[tag] as the
// planner wrote them; a shorter list is padded with NULLs, a longer one
// cut, to the FROM stream's).
func (p *Program) RoutingKey(keys [][]sql.Expr) ([]expr.Func, error) {
	if len(keys) != len(p.ivs)+1 {
		return nil, fmt.Errorf("join routing key: keys for %d streams, %d streams", len(keys), len(p.ivs)+1)
	}
	scope := &expr.Scope{Schema: p.stream}
	fs := make([][]expr.Func, len(keys))
	for tag, ks := range keys {
		for i := range keys[0] {
			if i >= len(ks) || ks[i] == nil {
				fs[tag] = append(fs[tag], nullKey)
				continue
			}
			f, err := p.c.compile(ks[i], scope)
			if err != nil {
				return nil, err
			}
			fs[tag] = append(fs[tag], f)
		}
	}
	var out []expr.Func
	slot := p.ivs[0].side
	for i := range keys[0] {
		out = append(out, func(r *record.Record) (record.Value, error) {
			return fs[sideOf(r, slot)][i](r)
		})
	}
	return out, nil
}

func nullKey(*record.Record) (record.Value, error) { return record.NullValue(), nil }

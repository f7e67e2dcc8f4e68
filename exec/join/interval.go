package join

import (
	"fmt"
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
// fall within the time bound. 0 is the left input (FROM), 1 the right.
type interval struct {
	kind     sql.JoinKind
	lo, hi   int64 // right time - left time must be in [lo, hi] (ms)
	bound    string
	keys     [2][]expr.Func // over the joined row: each side's join key
	residual expr.Func
	times    [2]*exec.Program // each side's event time over the joined row; nil: the record's own
	offset   [2]int           // each side's first slot in the joined row
	width    [2]int
	side     int // the slot that says which input a row came from
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
func (c *compiler) timeBound(j sql.Join) (lo, hi int64, cols [2]string, rest []sql.Expr, err error) {
	found := false
	for _, conj := range conjuncts(j.On) {
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
		d, perr := exec.ParseDuration(ttl)
		if perr != nil || d <= 0 {
			return 0, 0, cols, nil, fmt.Errorf("WITH '%s'='%s': want a positive duration (5s, 10m, 1h)", PropStateTTL, ttl)
		}
		return -d.Milliseconds(), d.Milliseconds(), cols, rest, nil
	}
	return 0, 0, cols, nil, errorAt(j, "JOIN %s: a stream-stream join needs a time bound, or it keeps every row forever: add WITHIN INTERVAL '5' MINUTES, or AND %s.ts BETWEEN %s.ts - INTERVAL '1' MINUTE AND %s.ts + INTERVAL '1' MINUTE, or set '%s'; or declare '%s.primary.key' to join it as a table",
		j.Source.Name, c.qualifier(c.ss), c.qualifier(0), c.qualifier(0), PropStateTTL, j.Source.Name)
}

// between reads `x.t BETWEEN y.t [+-] INTERVAL AND y.t [+-] INTERVAL`
// where x and y are the two streams (input 0 and c.ss), as right - left in
// [lo, hi]; cols are indexed by side (0 left, 1 right).
func (c *compiler) between(b *sql.Between) (lo, hi int64, cols [2]string, ok bool) {
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
	case xi == c.ss && lcol.in == 0: // right - left in [yl, yh]
		cols[1], cols[0] = x.Name, lcol.name
		return yl, yh, cols, true
	case xi != 0 || lcol.in != c.ss:
		return 0, 0, cols, false
	}
	cols[0], cols[1] = x.Name, lcol.name
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
// stream-stream join a row came from (no SQL name can spell it).
const sideColumn = " side"

// streamJoin is the ON of a statement's stream-stream JOIN (its right
// input is c.ss, its left the stream and the tables joined before it).
type streamJoin struct {
	at       sql.Join
	lo, hi   int64
	cols     [2]string     // each side's event-time column; "" for the records' own
	keys     [2][]sql.Expr // each side's join key over the joined row
	residual []sql.Expr    // the rest of ON over the joined row
}

// streamJoin reads the stream-stream JOIN j: its time bound, its key
// equalities (each side reading only its own inputs) and the rest of ON.
func (c *compiler) streamJoin(j sql.Join) (*streamJoin, error) {
	sj := &streamJoin{at: j}
	var rest []sql.Expr
	var err error
	if sj.lo, sj.hi, sj.cols, rest, err = c.timeBound(j); err != nil {
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
				continue
			case lm == right && rm != 0 && rm&^left == 0:
				sj.keys[0], sj.keys[1] = append(sj.keys[0], rr), append(sj.keys[1], l)
				continue
			}
		}
		sj.residual = append(sj.residual, r)
	}
	// Each side's event time: the columns of a BETWEEN bound, else
	// '<n>.event.time.field', else 'event.time.field', else the record's.
	for s, in := range [2]int{0, c.ss} {
		col := sj.cols[s]
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
	}
	c.leftTime = sj.cols[0] // input 0's columns keep their names in the joined row
	return sj, nil
}

// compile compiles the stream-stream join's keys, event times and the
// rest of its ON over the joined row into iv.
func (sj *streamJoin) compile(iv *interval, c *compiler, joined *record.Schema) error {
	scope := &expr.Scope{Schema: joined}
	for s := range 2 {
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

// Sides returns the inputs of a stream-stream join (nil for a
// stream-table join): their sources are read into the joined row.
func (p *Program) Sides() []Side {
	if p.iv == nil {
		return nil
	}
	return []Side{
		{Schema: p.c.schema(0), Offset: 0, Width: p.width, Slot: p.iv.side},
		{Schema: p.c.schema(p.c.ss), Offset: p.iv.offset[1], Width: p.width, Slot: p.iv.side},
	}
}

// StreamInput returns the input of the stream-stream join's right side (0
// when there is none).
func (p *Program) StreamInput() int { return p.c.ss }

// EventTime returns a record's event time: a stream-stream join reads its
// input's own event time (job.Program).
func (p *Program) EventTime(r *record.Record) (int64, bool) {
	if p.iv == nil {
		return p.Program.EventTime(r)
	}
	s := 0
	if v := r.Values[p.iv.side]; v.Kind() == record.Int && v.Int() == 1 {
		s = 1
	}
	t, err := p.iv.eventTime(s, r)
	return t, err == nil
}

// HoldsRows reports whether the query holds input rows until the
// watermark passes them (job.Program): a stream-stream join buffers each
// input's rows, and keeps the more of them the further one source
// partition runs ahead of the slowest in event time.
func (p *Program) HoldsRows() bool { return p.iv != nil || p.Program.HoldsRows() }

// Bound describes a stream-stream join's time bound ("" for others).
func (p *Program) Bound() string {
	if p.iv == nil {
		return ""
	}
	return p.iv.bound
}

// RoutingKey returns the routing key of a stream-stream join as functions
// over the joined row: each reads its input's side of the key (keys[s] are
// input s's key expressions as the planner wrote them).
func (p *Program) RoutingKey(keys [2][]sql.Expr) ([]expr.Func, error) {
	if len(keys[0]) != len(keys[1]) {
		return nil, fmt.Errorf("join routing key: %d keys on the left, %d on the right", len(keys[0]), len(keys[1]))
	}
	scope := &expr.Scope{Schema: p.stream}
	var out []expr.Func
	slot := p.iv.side
	for i := range keys[0] {
		var fs [2]expr.Func
		for s := range 2 {
			e, _, err := p.c.expr(keys[s][i])
			if err != nil {
				return nil, err
			}
			if fs[s], err = expr.Compile(e, scope); err != nil {
				return nil, err
			}
		}
		out = append(out, func(r *record.Record) (record.Value, error) {
			if v := r.Values[slot]; v.Kind() == record.Int && v.Int() == 1 {
				return fs[1](r)
			}
			return fs[0](r)
		})
	}
	return out, nil
}

package join

import (
	"fmt"
	"math"
	"sync/atomic"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// Pipeline is one partition worker's execution of a join Program: it looks
// each stream record's rows up in the tables and runs the query after the
// join on the joined rows. It is not safe for concurrent use.
type Pipeline struct {
	p     *Program
	inner *exec.Pipeline
	// joined rows of the batch in progress, and their values
	recs []record.Record
	vals []record.Value
	prober
	// counters of stream records that never reached the inner pipeline,
	// and of joined rows a later table's lookup failed on
	in, unmatched, dead, rowErrors int64
	// a stream-stream join's state, its watermark and its output rows' values
	ss    *ssState
	wm    int64
	arena []record.Value
	// the watermark this pipeline gives each temporal table it looks up by
	// the stream's event time, whose old versions are then dropped
	marks []tableMark
}

type tableMark struct {
	t    *Table
	mark *atomic.Int64
}

// NewPipeline returns a fresh pipeline (job.Program).
func (p *Program) NewPipeline() *Pipeline {
	pl := &Pipeline{p: p, inner: p.Program.NewPipeline(), wm: math.MinInt64}
	if p.iv != nil {
		pl.ss = newSSState(p.iv)
	}
	for _, lk := range p.tables {
		if lk.prunes {
			pl.marks = append(pl.marks, tableMark{lk.table, lk.table.watch()})
		}
	}
	return pl
}

// InputSchema returns the columns the stream source decodes.
func (p *Program) InputSchema() *record.Schema { return p.stream }

// Tables returns the program's tables, in JOIN order.
func (p *Program) Tables() []*Table {
	out := make([]*Table, len(p.tables))
	for i, lk := range p.tables {
		out[i] = lk.table
	}
	return out
}

// Process joins a batch of stream records and runs the rest of the query.
func (pl *Pipeline) Process(recs []record.Record, out exec.Output) {
	if pl.ss != nil {
		pl.interval(recs, out)
		return
	}
	w := pl.p.width
	if need := len(recs) * w; cap(pl.vals) < need {
		pl.vals = make([]record.Value, need)
	}
	joined := pl.recs[:0]
	used := 0
	for i := range recs {
		r := &recs[i]
		pl.in++
		if len(r.Values) == w { // joined as its source was read
			joined = append(joined, *r)
			continue
		}
		row := pl.vals[used : used+w : used+w]
		n := copy(row, r.Values)
		clear(row[n:])
		// the joined row is built in place in the batch (a pointer to a
		// local would escape through the compiled expressions)
		joined = append(joined, *r)
		j := &joined[len(joined)-1]
		j.Values = row
		ok, err := pl.join(j, pl.p.tables)
		switch {
		case err != nil:
			joined = joined[:len(joined)-1]
			pl.dead++
			out.DeadLetter(r, err)
		case !ok:
			joined = joined[:len(joined)-1]
			pl.unmatched++
		default:
			used += w
		}
	}
	pl.recs = joined
	if len(joined) > 0 {
		pl.inner.Process(joined, out)
	}
	clear(pl.recs) // drop references to the batch's records
}

// prober looks rows up in tables, with its own scratch space.
type prober struct {
	keyVals []record.Value
	keyBuf  []byte
}

// join fills j's slots of the tables lks; false when an INNER join found
// no row.
func (pl *prober) join(j *record.Record, lks []*lookup) (bool, error) {
	for _, lk := range lks {
		row, err := pl.probe(lk, j)
		if err != nil {
			return false, err
		}
		dst := j.Values[lk.offset : lk.offset+lk.table.schema.Len()]
		if row != nil {
			copy(dst, row)
			if lk.residual != nil {
				v, err := lk.residual(j)
				if err != nil {
					return false, fmt.Errorf("JOIN %s ON: %w", lk.table.name, err)
				}
				if v.Kind() != record.Bool || !v.Bool() {
					row = nil
					clear(dst)
				}
			}
		}
		if row == nil && lk.kind != sql.LeftJoin {
			return false, nil
		}
	}
	return true, nil
}

// probe returns the table row matching j's key, or nil. It reads the
// shard that owns the key; a table that may still change is read under
// that shard's read lock (a stored row's values never change, so they stay
// valid after it).
func (pl *prober) probe(lk *lookup, j *record.Record) ([]record.Value, error) {
	vals := pl.keyVals[:0]
	for _, f := range lk.keys {
		v, err := f(j)
		if err != nil {
			return nil, fmt.Errorf("JOIN %s key: %w", lk.table.name, err)
		}
		if v.IsNull() {
			return nil, nil
		}
		vals = append(vals, v)
	}
	pl.keyVals = vals
	b := pl.keyBuf[:0]
	for _, v := range vals {
		b = v.AppendKey(b)
	}
	pl.keyBuf = b
	var at int64
	if lk.asOf != nil {
		var ok bool
		if at, ok = lk.asOf.EventTime(j); !ok {
			return nil, fmt.Errorf("JOIN %s FOR SYSTEM_TIME AS OF: the stream's time is not a time", lk.table.name)
		}
	}
	t := lk.table
	sh := t.shards[t.shardOfKey(vals, j.Partition)]
	dynamic := t.dynamic.Load()
	if dynamic {
		sh.mu.RLock()
	}
	r, ok := sh.rows.get(b)
	var out []record.Value
	var err error
	switch {
	case !ok:
	case lk.asOf != nil:
		out, err = r.at(at)
	default:
		out = r.vals
	}
	if dynamic {
		sh.mu.RUnlock()
	}
	if err != nil {
		return nil, fmt.Errorf("JOIN %s FOR SYSTEM_TIME AS OF: the record is late: %w", t.name, err)
	}
	return out, nil
}

// Advance moves the watermark: a stream-stream join first emits the
// outer rows no match can come for and drops the rows that are done.
func (pl *Pipeline) Advance(wm int64, out exec.Output) {
	for _, m := range pl.marks {
		if wm > m.mark.Load() {
			m.mark.Store(wm)
			m.t.Prune()
		}
	}
	if pl.ss == nil {
		pl.inner.Advance(wm, out)
		return
	}
	pl.wm = max(pl.wm, wm)
	pl.begin()
	inner := pl.ss.evict(pl, pl.wm)
	pl.flush(out)
	pl.inner.Advance(inner, out)
}

// Finish ends a bounded input.
func (pl *Pipeline) Finish(out exec.Output) {
	if pl.ss != nil {
		pl.begin()
		pl.ss.finish(pl)
		pl.flush(out)
	}
	pl.inner.Finish(out)
}

// interval runs a batch through a stream-stream join.
func (pl *Pipeline) interval(recs []record.Record, out exec.Output) {
	iv := pl.p.iv
	pl.begin()
	for i := range recs {
		r := &recs[i]
		pl.in++
		s := 0
		if v := r.Values[iv.side]; v.Kind() == record.Int && v.Int() == 1 {
			s = 1
		}
		t, err := iv.eventTime(s, r)
		if err == nil && s == 0 && pl.p.pre > 0 {
			// the tables joined before the stream-stream join
			var ok bool
			if ok, err = pl.join(r, pl.p.tables[:pl.p.pre]); err == nil && !ok {
				pl.unmatched++
				continue
			}
		}
		if err != nil {
			pl.dead++
			out.DeadLetter(r, err)
			continue
		}
		key, ok, err := pl.keyOf(iv.keys[s], r)
		if err == nil && ok {
			err = pl.ss.insert(pl, r, s, t, key, pl.wm)
		} else if err == nil && iv.outer(s) {
			pl.emitOuter(r, s, t) // a NULL key never matches
		} else if err == nil {
			pl.unmatched++
		}
		if err != nil {
			pl.dead++
			out.DeadLetter(r, err)
		}
	}
	pl.flush(out)
}

// keyOf encodes a row's join key (valid until the next call); false when
// a value is NULL.
func (pl *Pipeline) keyOf(fns []expr.Func, r *record.Record) ([]byte, bool, error) {
	b := pl.keyBuf[:0]
	for _, f := range fns {
		v, err := f(r)
		if err != nil {
			return nil, false, fmt.Errorf("join key: %w", err)
		}
		if v.IsNull() {
			return nil, false, nil
		}
		b = v.AppendKey(b)
	}
	pl.keyBuf = b
	return b, true, nil
}

// begin starts collecting output rows.
func (pl *Pipeline) begin() {
	pl.recs = pl.recs[:0]
	pl.arena = pl.arena[:0]
}

// row returns a cleared row of the joined width, valid until the next begin.
func (pl *Pipeline) row() []record.Value {
	w := pl.p.width
	if len(pl.arena)+w > cap(pl.arena) {
		pl.arena = make([]record.Value, 0, max(1024*w, 2*cap(pl.arena)))
	}
	n := len(pl.arena)
	pl.arena = pl.arena[:n+w]
	row := pl.arena[n : n+w : n+w]
	clear(row)
	return row
}

// emitPair joins r (side s) with the values o of a buffered row of the
// other side when the rest of ON holds; the row's event time is the later
// of the two.
func (pl *Pipeline) emitPair(r *record.Record, s int, o []record.Value, t int64) (bool, error) {
	iv := pl.p.iv
	vals := pl.row()
	copy(vals[iv.offset[s]:iv.offset[s]+iv.width[s]], r.Values[iv.offset[s]:])
	copy(vals[iv.offset[1-s]:], o)
	pl.recs = append(pl.recs, *r)
	j := &pl.recs[len(pl.recs)-1]
	j.Values = vals
	j.EventTime, j.HasEventTime = t, true
	if iv.residual != nil {
		v, err := iv.residual(j)
		if err != nil || v.Kind() != record.Bool || !v.Bool() {
			pl.recs = pl.recs[:len(pl.recs)-1]
		}
		if err != nil {
			return false, fmt.Errorf("JOIN ON: %w", err)
		}
		if v.Kind() != record.Bool || !v.Bool() {
			return false, nil
		}
	}
	return true, nil
}

// emitOuter emits r (side s) with NULLs for the other input.
func (pl *Pipeline) emitOuter(r *record.Record, s int, t int64) {
	iv := pl.p.iv
	vals := pl.row()
	copy(vals[iv.offset[s]:iv.offset[s]+iv.width[s]], r.Values[iv.offset[s]:])
	j := *r
	j.Values = vals
	j.EventTime, j.HasEventTime = t, true
	pl.recs = append(pl.recs, j)
}

// flush joins the collected rows with the tables joined after the
// stream-stream join and runs them through the query after the join. A row
// whose lookup fails is dead-lettered with its stream record's bytes.
func (pl *Pipeline) flush(out exec.Output) {
	if post := pl.p.tables[pl.p.pre:]; len(post) > 0 {
		kept := pl.recs[:0]
		for i := range pl.recs {
			j := &pl.recs[i]
			ok, err := pl.join(j, post)
			switch {
			case err != nil:
				pl.rowErrors++
				out.DeadLetter(j, err)
			case ok:
				kept = append(kept, *j)
			}
		}
		clear(pl.recs[len(kept):])
		pl.recs = kept
	}
	if len(pl.recs) > 0 {
		pl.inner.Process(pl.recs, out)
	}
	clear(pl.recs)
	pl.recs = pl.recs[:0]
}

// Stats counts stream records: those an INNER join found no row for are
// filtered, those whose join failed are dead-lettered.
func (pl *Pipeline) Stats() exec.Stats {
	s := pl.inner.Stats()
	if pl.ss != nil {
		// every input record is folded into the join's state; the query
		// after the join counts joined rows, whose failures are row errors
		return exec.Stats{In: pl.in, Accepted: pl.in - pl.dead - pl.unmatched, Filtered: pl.unmatched,
			DeadLettered: pl.dead, RowErrors: s.RowErrors + s.DeadLettered + pl.rowErrors}
	}
	s.In = pl.in
	s.Filtered += pl.unmatched
	s.DeadLettered += pl.dead
	return s
}

// Held reports the offsets still held in open state (exec.Pipeline.Held).
func (pl *Pipeline) Held(fn func(topic string, partition int32, minOffset int64)) {
	pl.inner.Held(fn)
	if pl.ss != nil {
		pl.ss.held(fn)
	}
}

// StateRows returns the rows a stream-stream join buffers (0 for others).
func (pl *Pipeline) StateRows() int64 {
	if pl.ss == nil {
		return 0
	}
	return pl.ss.rows
}

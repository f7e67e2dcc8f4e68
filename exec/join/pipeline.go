package join

import (
	"fmt"

	"github.com/sluicesql/sluice/exec"
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
	// per table: the shards read-locked during the batch (dynamic tables)
	locked  [][]bool
	keyVals []record.Value
	keyBuf  []byte
	route   []record.Value
	// counters of stream records that never reached the inner pipeline
	in, unmatched, dead int64
}

// NewPipeline returns a fresh pipeline (job.Program).
func (p *Program) NewPipeline() *Pipeline {
	pl := &Pipeline{p: p, inner: p.Program.NewPipeline()}
	for _, lk := range p.tables {
		pl.locked = append(pl.locked, make([]bool, len(lk.table.shards)))
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
	w := pl.p.width
	if need := len(recs) * w; cap(pl.vals) < need {
		pl.vals = make([]record.Value, need)
	}
	joined := pl.recs[:0]
	used := 0
	for i := range recs {
		r := &recs[i]
		pl.in++
		row := pl.vals[used : used+w : used+w]
		n := copy(row, r.Values)
		clear(row[n:])
		j := *r
		j.Values = row
		ok, err := pl.join(&j)
		switch {
		case err != nil:
			pl.dead++
			out.DeadLetter(r, err)
		case !ok:
			pl.unmatched++
		default:
			joined = append(joined, j)
			used += w
		}
	}
	pl.unlock()
	pl.recs = joined
	if len(joined) > 0 {
		pl.inner.Process(joined, out)
	}
	clear(pl.recs) // drop references to the batch's records
}

// join fills j's table slots; false when an INNER join found no row.
func (pl *Pipeline) join(j *record.Record) (bool, error) {
	for ti, lk := range pl.p.tables {
		row, err := pl.probe(ti, lk, j)
		if err != nil {
			return false, err
		}
		dst := j.Values[lk.offset : lk.offset+len(lk.table.schema.Names())]
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

// probe returns the table row matching j's key, or nil.
func (pl *Pipeline) probe(ti int, lk *lookup, j *record.Record) ([]record.Value, error) {
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
	t := lk.table
	s := t.shardOfStream(j, &pl.route)
	sh := t.shards[s]
	if t.dynamic.Load() && !pl.locked[ti][s] {
		sh.mu.RLock()
		pl.locked[ti][s] = true
	}
	r, ok := sh.rows[string(b)]
	if !ok {
		return nil, nil
	}
	return r.vals, nil
}

// unlock releases the shards read-locked during a batch.
func (pl *Pipeline) unlock() {
	for ti, lk := range pl.p.tables {
		for s, l := range pl.locked[ti] {
			if l {
				lk.table.shards[s].mu.RUnlock()
				pl.locked[ti][s] = false
			}
		}
	}
}

// Advance moves the watermark of the query after the join.
func (pl *Pipeline) Advance(wm int64, out exec.Output) { pl.inner.Advance(wm, out) }

// Finish ends a bounded input.
func (pl *Pipeline) Finish(out exec.Output) { pl.inner.Finish(out) }

// Stats counts stream records: those an INNER join found no row for are
// filtered, those whose join failed are dead-lettered.
func (pl *Pipeline) Stats() exec.Stats {
	s := pl.inner.Stats()
	s.In = pl.in
	s.Filtered += pl.unmatched
	s.DeadLettered += pl.dead
	return s
}

// Held reports the offsets still held in open state (exec.Pipeline.Held).
func (pl *Pipeline) Held(fn func(topic string, partition int32, minOffset int64)) {
	pl.inner.Held(fn)
}

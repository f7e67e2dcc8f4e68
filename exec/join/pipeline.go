package join

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
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
	// the stream-stream joins' states, the job's watermark, the rows each
	// join emitted and not yet passed on, the rows for the query after the
	// joins, and the values of the rows built
	ss    []*ssState
	wm    int64
	outs  [][]record.Record
	final []record.Record
	arena []record.Value
	// x is the worker's place in the exchanges between joins; nil when
	// there are none
	x *member
	// the watermark this pipeline gives each temporal table it looks up by
	// the stream's event time, whose old versions are then dropped
	marks []tableMark
	// fences caches, per partition, the watermark under which the windows
	// after the joins had fired before a replay (Program.SetReplayFences),
	// as of the FenceEpoch fencesEpoch
	fences      map[int32]int64
	fencesEpoch uint64
	// parts is, when the join decides its rows with NULLs record by
	// record (Program.decidesByRecord), its state per partition, ss[0]
	// being the one of the record in hand; nulls counts the rows with
	// NULLs at the end of outs[0] not yet identified (identify)
	parts map[int32]*ssState
	nulls int
	// settles caches Program.settles: a row with NULLs decided for a
	// record read again is new
	settles bool
}

type tableMark struct {
	t    *Table
	mark *atomic.Int64
}

// NewPipeline returns a fresh pipeline (job.Program).
func (p *Program) NewPipeline() *Pipeline {
	pl := &Pipeline{p: p, inner: p.Program.NewPipeline(), wm: math.MinInt64, settles: p.settles()}
	for k, iv := range p.ivs {
		pl.ss = append(pl.ss, newSSState(iv, k))
	}
	pl.outs = make([][]record.Record, len(p.ivs))
	if p.decidesByRecord() {
		pl.parts = map[int32]*ssState{}
	}
	if p.x != nil {
		pl.x = p.x.join()
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

// PrunedTable returns the name of the first table of a temporal join
// whose old versions the watermark drops (FOR SYSTEM_TIME AS OF the
// stream's event-time column), or "" when every table keeps its versions.
func (p *Program) PrunedTable() string {
	for _, lk := range p.tables {
		if lk.prunes {
			return lk.table.name
		}
	}
	return ""
}

// ResumeAt implements job.Resumer: wm is the lowest watermark at which
// the job would resume its source partitions from what it committed (or
// resumed from). A temporal join's table then drops no version older
// than its newest at or below wm, whatever the watermark: a record that
// a restart or a rebalance reads again from there, on time when it was
// first read, has an event time at or above wm and meets the version it
// met then, not a later one nor none (dead-lettered as late).
func (p *Program) ResumeAt(wm int64) {
	for _, lk := range p.tables {
		if lk.prunes {
			lk.table.resume.Store(wm)
		}
	}
}

// Release implements job.Releaser: the pipeline's watermark no longer
// holds back the versions its temporal tables drop.
func (pl *Pipeline) Release() {
	for _, m := range pl.marks {
		m.t.unwatch(m.mark)
	}
	pl.marks = nil
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
			deadLetter(out, r, err)
		case !ok:
			joined = joined[:len(joined)-1]
			pl.unmatched++
		default:
			used += w
		}
	}
	pl.recs = joined
	switch {
	case len(joined) == 0:
	case pl.p.rows:
		out.Emit(joined)
	default:
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

// Advance moves the watermark: the stream-stream joins first emit the
// outer rows no match can come for and drop the rows that are done, one
// after another (the watermark after a join is the one it moves the next
// to), and the query after them moves to the last one's.
func (pl *Pipeline) Advance(wm int64, out exec.Output) {
	for _, m := range pl.marks {
		if wm > m.mark.Load() {
			m.mark.Store(wm)
			m.t.Prune()
		}
	}
	if pl.ss == nil {
		if !pl.p.rows {
			pl.inner.Advance(wm, out)
		}
		return
	}
	if pl.parts != nil {
		// its records' watermarks decide (decide)
		return
	}
	pl.wm = max(pl.wm, wm)
	pl.begin()
	w := pl.ss[0].evict(pl, pl.wm)
	w = pl.run(out, advancing, w)
	if pl.p.fence != nil && pl.wm > math.MinInt64+pl.p.Lag() {
		// repartitioned: the windows fire by the watermark less the most
		// the joins may hold it back, never earlier, so that the windows
		// fired at a checkpoint are known from its watermark alone (the
		// joins' own hold depends on the rows each worker holds)
		w = pl.wm - pl.p.Lag()
	}
	if pl.p.rows {
		return
	}
	pl.inner.Advance(w, out)
	if pl.p.keepsMatched() {
		pl.ss[0].keepMatched(pl.p, w)
	}
}

// keepsMatched reports whether the outer rows dropped as matched hold
// the commit until the windows of their rows with NULLs fired
// (ssState.keepMatched): in stage 2 of a repartitioned statement whose
// outer join is followed by TUMBLING or SLIDING windows.
func (p *Program) keepsMatched() bool {
	return p.fence != nil && p.Windowed() && p.Outer() && !p.Program.Sessions()
}

// holdsMatched reports whether the outer rows dropped as matched hold the
// commit for good (ssState.holdMatched): in stage 2 of a repartitioned
// statement whose outer join is followed by groups without a window, or
// by SESSION windows. A replay reads every record again for those (a
// session's end depends on its later rows, and groups never fire), so an
// outer row read again must meet again every row it matched, whenever
// that was, or it would be folded with NULLs into a group or a session
// that is written.
func (p *Program) holdsMatched() bool {
	return p.fence != nil && p.Outer() && (p.Program.GroupsForEver() || p.Program.Sessions())
}

// HeldForGood says why, in stage 2 of a repartitioned statement, the
// first record each source partition gives the join holds the
// partition's commit until the input ends, or returns "": as the query
// after the join does (exec.Program.HeldForGood), or, for SESSION windows
// after an outer join, because the outer rows that matched hold it
// (holdsMatched).
func (p *Program) HeldForGood() string {
	if why := p.Program.HeldForGood(); why != "" {
		return why
	}
	if p.Outer() && p.Program.Sessions() {
		return "the rows of its outer join that matched hold it, so that a replay folds every row into sessions as one process does"
	}
	return ""
}

// Finish ends a bounded input.
func (pl *Pipeline) Finish(out exec.Output) {
	switch {
	case pl.parts != nil:
		pl.begin()
		for _, part := range slices.Sorted(maps.Keys(pl.parts)) {
			st := pl.parts[part]
			pl.ss[0] = st
			st.finish(pl)
			pl.identify(st.lastRead, 2*st.lastRead+1)
		}
		pl.run(out, finishing, 0)
	case pl.ss != nil:
		pl.begin()
		pl.ss[0].finish(pl)
		pl.run(out, finishing, 0)
	}
	if pl.p.rows {
		return
	}
	if pl.x == nil || pl.x.id == 0 || pl.inner.Stats().In > 0 {
		// a worker whose query after the joins saw no row holds nothing
		// (worker 0 gives a global aggregate's row for no input)
		pl.inner.Finish(out)
	}
}

// Exchanges reports whether the workers hand rows to each other between
// stream-stream joins: every worker must then be finished, even one that
// read nothing, since others send it rows (job.Exchanger).
func (pl *Pipeline) Exchanges() bool { return pl.x != nil }

// interval runs a batch of the streams' records through the stream-stream
// joins.
func (pl *Pipeline) interval(recs []record.Record, out exec.Output) {
	pl.begin()
	for i := range recs {
		r := &recs[i]
		pl.in++
		if pl.parts != nil {
			pl.ss[0] = pl.partition(r)
		}
		if err := pl.enter(r); err != nil {
			pl.dead++
			deadLetter(out, r, err)
		}
		if pl.parts != nil {
			pl.decide(r)
		}
	}
	pl.run(out, processing, 0)
}

// partition returns the join's state of r's partition, when it decides
// its rows with NULLs record by record.
func (pl *Pipeline) partition(r *record.Record) *ssState {
	st := pl.parts[r.Partition]
	if st == nil {
		st = newSSState(pl.p.ivs[0], 0)
		pl.parts[r.Partition] = st
	}
	st.lastRead = r.Offset
	return st
}

// decide writes, after the pairs of r, the rows with NULLs of its
// partition's unmatched rows that the watermark r carries passes, and
// identifies them by r's offset (Program.WriteRows).
func (pl *Pipeline) decide(r *record.Record) {
	if st := pl.ss[0]; r.Watermark > st.wm {
		st.evict(pl, r.Watermark)
	}
	pl.identify(r.Offset, r.Offset)
}

// identify gives the rows with NULLs at the end of outs[0], decided
// together, their identity: ordered by their own offsets, each has at as
// its Offset and base plus its own offset as its Sub (the exchange
// topic's sub-position is one past it); its OriginPartition and
// OriginOffset stay its own record's place in its source.
func (pl *Pipeline) identify(at, base int64) {
	n := pl.nulls
	pl.nulls = 0
	if n == 0 {
		return
	}
	outs := pl.outs[0]
	rows := outs[len(outs)-n:]
	slices.SortFunc(rows, func(a, b record.Record) int { return cmp.Compare(a.Offset, b.Offset) })
	for i := range rows {
		rows[i].Offset, rows[i].Sub = at, base+rows[i].Offset
	}
}

// enter takes a stream's record into the stream-stream join it is an input of.
func (pl *Pipeline) enter(r *record.Record) error {
	tag := sideOf(r, pl.p.ivs[0].side)
	k, s := stageOf(tag)
	iv := pl.p.ivs[k]
	t, err := iv.eventTime(s, r)
	if err != nil {
		return err
	}
	if tag == 0 {
		// the tables joined before the stream-stream joins
		ok, err := pl.join(r, pl.p.lookups(-1))
		if err != nil {
			return err
		}
		if !ok {
			pl.unmatched++
			return nil
		}
	}
	return pl.into(k, s, r, t, t, false)
}

// into joins a row with side s of stream-stream join k (at time t in its
// bound, event time et), or sends it to the worker that holds its key
// there unless it arrived from the exchange (here).
func (pl *Pipeline) into(k, s int, r *record.Record, t, et int64, here bool) error {
	iv := pl.p.ivs[k]
	key, ok, err := pl.keyOf(iv.keys[s], r)
	switch {
	case err != nil:
		return err
	case !ok && iv.outer(s): // a NULL key never matches
		if !r.Settled {
			pl.ss[k].emitOuter(pl, r, s, et)
		}
	case !ok && (k == 0 || s == 1): // a stream's record
		pl.unmatched++
	case !ok:
	case iv.exchange && !here && pl.x.send(iv, s, r):
	default:
		return pl.ss[k].insert(pl, r, s, t, et, key)
	}
	return nil
}

// The steps of run.
const (
	processing = iota
	advancing
	finishing
)

// run passes the rows each stream-stream join emitted on, join after join:
// through the tables joined after it, to the next join (on this worker or,
// with an exchange, on the one that holds their key there), after the last
// to the query after the joins. Advancing, each join after the first then
// drops its rows done at the watermark w the join before it moved to, and
// run returns the last join's watermark; finishing, each join ends once
// every row for it has come.
func (pl *Pipeline) run(out exec.Output, step int, w int64) int64 {
	last := len(pl.p.ivs) - 1
	for k, iv := range pl.p.ivs {
		if k > 0 && iv.exchange {
			w = pl.exchange(k, step, w, out)
		}
		if k > 0 {
			switch step {
			case advancing:
				w = pl.ss[k].evict(pl, w)
			case finishing:
				pl.ss[k].finish(pl)
			}
		}
		rows := pl.outs[k]
		if after := pl.p.lookups(k); len(after) > 0 {
			rows = pl.lookup(rows, after, out)
		}
		if k == last {
			pl.toQuery(rows, out)
		} else {
			for i := range rows {
				pl.next(k+1, &rows[i], out)
			}
		}
		clear(pl.outs[k])
		pl.outs[k] = pl.outs[k][:0]
	}
	if pl.x != nil && pl.x.final() != nil {
		// the exchange before the query after the joins
		w = pl.exchange(len(pl.p.ivs), step, w, out)
	}
	switch {
	case len(pl.final) > 0 && pl.p.rows:
		out.Emit(pl.final)
	case len(pl.final) > 0:
		pl.inner.Process(pl.final, out)
	}
	clear(pl.final)
	pl.final = pl.final[:0]
	return w
}

// exchange sends the rows queued for exchange k (join k, or past the last
// join the query after them) and joins those sent to this worker; with
// the step, it sends the mark w (advancing; it returns the lowest mark
// taken) or the last mark, then waits for every worker's (finishing).
func (pl *Pipeline) exchange(k, step int, w int64, out exec.Output) int64 {
	switch step {
	case processing:
		pl.x.flush(k)
		pl.x.receive(pl, k, out, false)
	case advancing:
		pl.x.mark(k, w)
		pl.x.receive(pl, k, out, false)
		w = pl.x.low(k)
	case finishing:
		pl.x.mark(k, math.MaxInt64)
		pl.x.receive(pl, k, out, true)
	}
	return w
}

// toQuery passes the last join's rows to the query after the joins: on
// this worker, or on the one that owns their keys there (the final
// exchange).
func (pl *Pipeline) toQuery(rows []record.Record, out exec.Output) {
	if pl.p.Windowed() {
		// the watermark after the joins bounds every time of the rows to
		// come, so a row is late only by it, not by the watermark of the
		// source partition of the record that made it (its joined time may
		// be behind that); a window naming its column takes that time
		wt := pl.p.winTime
		kept := rows[:0]
		for i := range rows {
			r := &rows[i]
			if wt != nil {
				t, ok := wt.EventTime(r)
				if !ok {
					pl.rowErrors++
					deadLetter(out, r, fmt.Errorf("WINDOW: the event time column %s is NULL or not a time", pl.p.winCol))
					continue
				}
				r.EventTime, r.HasEventTime = t, true
			}
			if pl.p.rows {
				// the query after the join judges it (stage 3)
				kept = append(kept, *r)
				continue
			}
			r.Watermark = math.MinInt64
			if pl.p.fence != nil && !pl.p.Sessions() {
				// a replay: not into the windows that fired before it
				// (SESSION windows fence their sessions themselves: a
				// row of a record read again is judged as it was, the
				// others by the fence, see exec.Program.SetReplayFences)
				floor := pl.replayFloor(r.Partition)
				if r.HasEventTime && floor > math.MinInt64 && pl.p.Fired(r.EventTime, floor) {
					continue
				}
				r.Watermark = floor
			}
			kept = append(kept, *r)
		}
		rows = kept
	}
	if pl.x == nil || pl.x.final() == nil {
		pl.final = append(pl.final, rows...)
		return
	}
	k := len(pl.p.ivs)
	for i := range rows {
		if !pl.x.sendOn(k, 0, &rows[i], pl.x.final(), false) {
			pl.final = append(pl.final, rows[i])
		}
	}
}

// replayFloor returns the watermark under which the windows after the
// joins had fired before a replay of partition p: the watermark of the
// checkpoint it resumed from less the most the watermark after the joins
// lags behind it (math.MinInt64 when it resumed from none). A joined row
// goes into none of those windows: a row only in such windows is dropped,
// and the others are stamped with it, as a record is with the watermark
// of its source partition.
func (pl *Pipeline) replayFloor(p int32) int64 {
	if epoch := pl.p.fence.FenceEpoch(); pl.fences == nil || pl.fencesEpoch != epoch {
		// none looked up yet, or the fences moved (a partition given back)
		pl.fences, pl.fencesEpoch = map[int32]int64{}, epoch
	}
	wm, ok := pl.fences[p]
	if !ok {
		wm = math.MinInt64
		if w, found := pl.p.fence.FenceWatermark(p); found && w > math.MinInt64+pl.p.Lag() {
			wm = w - pl.p.Lag()
		}
		pl.fences[p] = wm
	}
	return wm
}

// next joins a row emitted by the stream-stream join before k with k's
// right input.
func (pl *Pipeline) next(k int, r *record.Record, out exec.Output) {
	iv := pl.p.ivs[k]
	if iv.nullTime(0, r) { // it meets no row
		if iv.outer(0) {
			pl.ss[k].emitOuter(pl, r, 0, r.EventTime)
		}
		return
	}
	t, err := iv.eventTime(0, r)
	if err == nil {
		err = pl.into(k, 0, r, t, r.EventTime, false)
	}
	if err != nil {
		pl.rowErrors++
		deadLetter(out, r, err)
	}
}

// arrive joins a row another worker sent for side s of join k (or, past
// the last join, for the query after the joins).
func (pl *Pipeline) arrive(k, s int, r *record.Record, out exec.Output) {
	if k == len(pl.p.ivs) {
		pl.final = append(pl.final, *r)
		return
	}
	t, err := pl.p.ivs[k].eventTime(s, r)
	if err == nil {
		et := t
		if s == 0 {
			et = r.EventTime
		}
		err = pl.into(k, s, r, t, et, true)
	}
	if err != nil {
		pl.rowErrors++
		deadLetter(out, r, err)
	}
}

// lookups returns the tables joined after stream-stream join k (-1:
// before the first).
func (p *Program) lookups(k int) []*lookup {
	lo := 0
	for lo < len(p.tables) && p.tables[lo].after < k {
		lo++
	}
	hi := lo
	for hi < len(p.tables) && p.tables[hi].after == k {
		hi++
	}
	return p.tables[lo:hi]
}

// lookup joins rows with the tables lks, keeping those that the joins
// keep. A row whose lookup fails is dead-lettered with its stream record's
// bytes.
func (pl *Pipeline) lookup(rows []record.Record, lks []*lookup, out exec.Output) []record.Record {
	kept := rows[:0]
	for i := range rows {
		j := &rows[i]
		ok, err := pl.join(j, lks)
		switch {
		case err != nil:
			pl.rowErrors++
			deadLetter(out, j, err)
		case ok:
			kept = append(kept, *j)
		}
	}
	clear(rows[len(kept):])
	return kept
}

// keyOf encodes a row's join key (valid until the next call; its values
// in pl.keyVals); false when a value is NULL.
func (pl *Pipeline) keyOf(fns []expr.Func, r *record.Record) ([]byte, bool, error) {
	b, vals := pl.keyBuf[:0], pl.keyVals[:0]
	for _, f := range fns {
		v, err := f(r)
		if err != nil {
			return nil, false, fmt.Errorf("join key: %w", err)
		}
		if v.IsNull() {
			return nil, false, nil
		}
		vals = append(vals, v)
		b = v.AppendKey(b)
	}
	pl.keyBuf, pl.keyVals = b, vals
	return b, true, nil
}

// begin starts collecting output rows.
func (pl *Pipeline) begin() {
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

// emitPair joins r (side s of st's join) with the values o of a buffered
// row of the other side, read at offset at, when the rest of ON holds; the
// row's event time is t, the later of the two's, and its offset off (the
// query after the joins holds it while the row is in an open window), or,
// when the program writes its rows (WriteRows), r's, with at as its Sub
// (its OriginPartition and OriginOffset stay r's place in its source).
func (pl *Pipeline) emitPair(st *ssState, r *record.Record, s int, o []record.Value, t, off, at int64) (bool, error) {
	iv := st.iv
	vals := pl.row()
	copy(vals[iv.offset[s]:iv.offset[s]+iv.width[s]], r.Values[iv.offset[s]:])
	copy(vals[iv.offset[1-s]:], o)
	outs := &pl.outs[st.k]
	*outs = append(*outs, *r)
	j := &(*outs)[len(*outs)-1]
	j.Values = vals
	j.EventTime, j.HasEventTime = t, true
	j.Offset = off
	if pl.p.rows {
		j.Offset, j.Sub = r.Offset, at
	}
	if iv.residual != nil {
		v, err := iv.residual(j)
		if err != nil || v.Kind() != record.Bool || !v.Bool() {
			*outs = (*outs)[:len(*outs)-1]
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

// emitOuter emits r (side s of st's join) with NULLs for the other side.
func (st *ssState) emitOuter(pl *Pipeline, r *record.Record, s int, t int64) {
	iv := st.iv
	vals := pl.row()
	copy(vals[iv.offset[s]:iv.offset[s]+iv.width[s]], r.Values[iv.offset[s]:])
	j := *r
	j.Values = vals
	j.EventTime, j.HasEventTime = t, true
	// a row with NULLs is written once, when it is decided (a replayed
	// record whose row was written before is Settled and gets none): a
	// failure after the join is dead-lettered even for a replayed record
	j.Replay = false
	pl.outs[st.k] = append(pl.outs[st.k], j)
	if pl.parts != nil {
		pl.nulls++
	}
}

// Stats counts stream records: those an INNER join found no row for are
// filtered, those whose join failed are dead-lettered.
func (pl *Pipeline) Stats() exec.Stats {
	s := pl.inner.Stats()
	if pl.ss != nil {
		// every input record is folded into a join's state; the query
		// after the joins counts joined rows, whose failures are row errors
		return exec.Stats{In: pl.in, Accepted: pl.in - pl.dead - pl.unmatched, Filtered: pl.unmatched,
			DeadLettered: pl.dead, RowErrors: s.RowErrors + s.DeadLettered + pl.rowErrors}
	}
	s.In = pl.in
	s.Filtered += pl.unmatched
	s.DeadLettered += pl.dead
	if pl.p.rows {
		// the joined rows are written, not passed to the query after
		// the joins
		s.Accepted = pl.in - pl.unmatched - pl.dead
	}
	return s
}

// Held reports the offsets still held in open state (exec.Pipeline.Held).
func (pl *Pipeline) Held(fn func(topic string, partition int32, minOffset int64)) {
	pl.inner.Held(fn)
	for _, st := range pl.states() {
		st.held(fn)
	}
	if pl.x != nil {
		pl.x.held(fn)
	}
}

// StateRows returns the rows the stream-stream joins buffer (0 for others).
func (pl *Pipeline) StateRows() int64 {
	var n int64
	for _, st := range pl.states() {
		n += st.rows
	}
	return n
}

// states returns the stream-stream joins' states: one per partition when
// the join decides its rows with NULLs record by record.
func (pl *Pipeline) states() []*ssState {
	if pl.parts == nil {
		return pl.ss
	}
	return slices.Collect(maps.Values(pl.parts))
}

// Pending reports, per source partition, the least event time of a row
// with NULLs the pipeline may still write from the records it took: that
// of its unmatched rows of an outer side, when the join decides them
// record by record (job.Pender). The watermark stage 2 reports after its
// commits stays at it, so that stage 3 takes none of them for late.
func (pl *Pipeline) Pending(fn func(topic string, partition int32, minEventTime int64)) {
	if pl.parts == nil {
		return
	}
	for _, st := range pl.parts {
		st.pending(fn)
	}
}

// deadLetter sends r to out's dead letters, unless r was read again after
// a rebalance from before its partition's fence (record.Record.Replay; a
// joined row carries its record's mark): the run before sent it, with
// every row it joined then. A replayed record whose temporal version was
// dropped (errPruned) is dead-lettered all the same, as a late record is:
// the run before may have joined it with that version, so dropping it
// silently would write its window without it. The plan runs such joins in
// one process per group, whose tables keep the versions its own replays
// need (job.Resumer), so this is a record late in the run before too, its
// dead letter written again (at least once).
func deadLetter(out exec.Output, r *record.Record, err error) {
	switch {
	case !r.Replay:
		out.DeadLetter(r, err)
	case errors.Is(err, errPruned):
		out.DeadLetter(r, fmt.Errorf("%w (the record was read again after a rebalance from before its partition's last commit; the run that read it first may have joined it)", err))
	}
}

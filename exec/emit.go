package exec

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluicesql/sluice/record"
)

// rowBuf collects output rows in one flat value slice, reused across
// emissions so that emitting allocates nothing in steady state.
type rowBuf struct {
	width int
	vals  []record.Value
	rows  []record.Record
}

func (b *rowBuf) reset() {
	b.vals = b.vals[:0]
	b.rows = b.rows[:0]
}

// add appends a row carrying meta's metadata and returns its values to fill.
func (b *rowBuf) add(meta *record.Record) []record.Value {
	n := len(b.vals)
	b.vals = slices.Grow(b.vals, b.width)[:n+b.width]
	b.rows = append(b.rows, record.Record{
		Timestamp: meta.Timestamp, EventTime: meta.EventTime, HasEventTime: meta.HasEventTime, Watermark: meta.Watermark,
		WindowStart: meta.WindowStart, Partition: meta.Partition, Offset: meta.Offset, Topic: meta.Topic, Key: meta.Key, Headers: meta.Headers,
	})
	return b.vals[n:]
}

// drop removes the last row added.
func (b *rowBuf) drop() {
	b.vals = b.vals[:len(b.vals)-b.width]
	b.rows = b.rows[:len(b.rows)-1]
}

// done points the rows at their values and returns them.
func (b *rowBuf) done() []record.Record {
	for i := range b.rows {
		b.rows[i].Values = b.vals[i*b.width : (i+1)*b.width : (i+1)*b.width]
	}
	return b.rows
}

// emit sends the collected rows as one emission unit (a batch of stateless
// rows, a fired window, a batch of changes): DISTINCT, ORDER BY and LIMIT
// of aggregating queries apply within it.
func (pl *Pipeline) emit() {
	rows := pl.rows.done()
	p := pl.p
	if p.groupTop != nil {
		rows = pl.rankGroupRows(rows)
	}
	if p.agg != nil && p.distinct {
		rows = pl.dedupe(rows)
	}
	if len(p.order) > 0 && len(rows) > 1 {
		slices.SortStableFunc(rows, func(a, b record.Record) int {
			// a retraction goes first: a row after it may write its key again
			switch {
			case a.Retract && !b.Retract:
				return -1
			case b.Retract && !a.Retract:
				return 1
			}
			return p.compare(&a, &b)
		})
	}
	if (p.agg != nil || p.sortsAll()) && p.hasLimit && int64(len(rows)) > p.limit {
		rows = rows[:p.limit]
	}
	if len(rows) > 0 {
		p.keyColumns(rows)
		pl.out.Emit(rows)
	}
	pl.rows.reset()
}

// keyColumns puts the message key columns of rows (KeySlots: PRIMARY KEY
// columns, GROUP BY keys, a Top-N's PARTITION BY columns) in the form of
// their types (record.Value.KeyForm): rows whose keys are equal have one
// key text, in the message key and in the row.
func (p *Program) keyColumns(rows []record.Record) {
	for k, s := range p.keySlots {
		t := p.keyTypes[k]
		for i := range rows {
			rows[i].Values[s] = rows[i].Values[s].KeyForm(t)
		}
	}
}

// dedupe keeps the first of equal rows, in the key forms of its columns
// (Program.keyForms). A retraction is kept whatever other rows are: it
// withdraws one group's earlier row, which another row, even an equal one,
// does not.
func (pl *Pipeline) dedupe(rows []record.Record) []record.Record {
	seen := make(map[string]struct{}, len(rows))
	kept := rows[:0]
	for _, r := range rows {
		if r.Retract {
			kept = append(kept, r)
			continue
		}
		b := pl.keyBuf[:0]
		for _, v := range r.Values {
			b = v.AppendKey(b)
		}
		pl.keyBuf = b
		if _, ok := seen[string(b)]; !ok {
			seen[string(b)] = struct{}{}
			pl.p.keyForms(r.Values)
			kept = append(kept, r)
		}
	}
	return kept
}

// addGroupRow evaluates group g's output row into the row buffer, unless
// HAVING rejects it or it fails (then it goes to the dead-letter output).
// A group whose last row written met HAVING and whose row now does not (or
// fails) has that row retracted instead (retractGroup), so the last row of
// each key in the output is the group's final row, or none when its final
// row fails HAVING, whatever the batches were. A session whose bounds
// moved since its row was written has that row retracted first, as its
// window, part of its key, names another one.
func (pl *Pipeline) addGroupRow(g int32) {
	a := pl.p.agg
	if pl.gt.moves && pl.gt.shown[g] && (pl.gt.shownStart[g] != pl.gt.start[g] || pl.gt.shownEnd[g] != pl.gt.end[g]) {
		pl.retractGroup(g)
	}
	pl.loadGroup(g)
	if a.windowed() {
		pl.setWindow(pl.gt.start[g], pl.gt.end[g])
	}
	meta, row := &pl.group, pl.group.Values
	for i, ag := range pl.aggs {
		v, err := ag.result(g)
		if err != nil {
			pl.rowError(err)
			pl.retractGroup(g)
			return
		}
		row[a.aggSlot(i)] = v
	}
	if a.having != nil {
		v, err := a.having(meta)
		if err != nil {
			pl.rowError(fmt.Errorf("HAVING: %w", err))
			pl.retractGroup(g)
			return
		}
		if v.Kind() != record.Bool || !v.Bool() {
			pl.retractGroup(g)
			return
		}
	}
	dst := pl.rows.add(meta)
	for i, f := range a.project {
		v, err := f(meta)
		if err != nil {
			pl.rows.drop()
			pl.rowError(err)
			pl.retractGroup(g)
			return
		}
		dst[i] = v
	}
	if pl.gt.retracts {
		pl.gt.shown[g] = true
		if pl.gt.moves {
			pl.gt.shownStart[g], pl.gt.shownEnd[g] = pl.gt.start[g], pl.gt.end[g]
		}
	}
	pl.rowAdded()
}

// loadGroup puts group g's key values and metadata in pl.group, the group
// row under evaluation.
func (pl *Pipeline) loadGroup(g int32) {
	copy(pl.group.Values, pl.gt.keyOf(g))
	meta := &pl.group
	meta.Timestamp = pl.gt.ts[g]
	meta.HasEventTime = false
	meta.Partition, meta.Offset = -1, -1
}

// setWindow puts a window's bounds in pl.group: its columns, and the
// row's event time and WindowStart.
func (pl *Pipeline) setWindow(start, end int64) {
	a, meta := pl.p.agg, &pl.group
	meta.Values[a.startSlot()] = record.TimestampValue(start)
	meta.Values[a.startSlot()+1] = record.TimestampValue(end)
	meta.Timestamp, meta.EventTime, meta.HasEventTime, meta.WindowStart = end-1, end-1, true, start
}

// retractGroup adds, when group g's last row written met HAVING, the row
// that retracts it (record.Record.Retract): the group's key and window
// columns, NULL for its aggregates. pl.group holds the group's row, or
// for a session (whose bounds may have moved since) is loaded with the
// bounds of the row written.
func (pl *Pipeline) retractGroup(g int32) {
	if !pl.gt.retracts || !pl.gt.shown[g] {
		return
	}
	pl.gt.shown[g] = false
	if pl.gt.moves {
		pl.addRetraction(g, pl.gt.shownStart[g], pl.gt.shownEnd[g])
		return
	}
	pl.addRetractionRow()
}

// addRetraction adds the row that retracts session g's row written with
// the bounds start and end.
func (pl *Pipeline) addRetraction(g int32, start, end int64) {
	pl.loadGroup(g)
	pl.setWindow(start, end)
	pl.addRetractionRow()
}

// addRetractionRow adds the row that retracts the group row in pl.group:
// its key and window columns, NULL for its aggregates.
func (pl *Pipeline) addRetractionRow() {
	a := pl.p.agg
	for i := range pl.aggs {
		pl.group.Values[a.aggSlot(i)] = record.Value{}
	}
	dst := pl.rows.add(&pl.group)
	pl.rows.rows[len(pl.rows.rows)-1].Retract = true
	for i, f := range a.retract {
		v, err := f(&pl.group)
		if err != nil {
			v = record.Value{} // a key's column failed on the row too: it is dead-lettered
		}
		dst[i] = v
	}
	pl.rowAdded()
}

// rowAdded emits the group rows gathered once they are emitChunk, when the
// emission may be split.
func (pl *Pipeline) rowAdded() {
	if len(pl.rows.rows) >= emitChunk && pl.p.splitsEmissions() {
		pl.emit()
	}
}

// emitChunk bounds the group rows gathered for one Emit when an emission
// may be split, so that the output buffer does not grow with the number of
// groups that change or fire together.
const emitChunk = 8

// splitsEmissions reports whether an emission of group rows may go out in
// several Emit calls: nothing (DISTINCT, ORDER BY, LIMIT) applies to the
// emission as a whole.
func (p *Program) splitsEmissions() bool {
	return !p.distinct && len(p.order) == 0 && !p.hasLimit && p.groupTop == nil
}

// rowError reports a group row that failed to evaluate. Its dead letter's
// record is the group: the JSON object of its GROUP BY keys (and window),
// as no input record is at fault.
func (pl *Pipeline) rowError(err error) {
	pl.stats.RowErrors++
	a := pl.p.agg
	keys := pl.group.Values[:pl.gt.width]
	parts := make([]string, len(keys))
	raw := []byte{'{'}
	for i, v := range keys {
		parts[i] = v.String()
		raw = appendMember(raw, a.keyText[i], v)
	}
	if a.windowed() {
		raw = appendMember(raw, "window_start", pl.group.Values[a.startSlot()])
		raw = appendMember(raw, "window_end", pl.group.Values[a.startSlot()+1])
	}
	pl.group.Raw = append(raw, '}')
	pl.out.DeadLetter(&pl.group, fmt.Errorf("group (%s): %w", strings.Join(parts, ", "), err))
	pl.group.Raw = nil
}

// appendMember appends "name":value to the JSON object being written in b.
func appendMember(b []byte, name string, v record.Value) []byte {
	if b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	b = record.AppendJSONString(b, name)
	b = append(b, ':')
	if v.Kind() == record.String {
		return record.AppendJSONString(b, v.Str())
	}
	return v.AppendJSON(b)
}

// markChanged queues group g for emission at the end of the call.
func (pl *Pipeline) markChanged(g int32) {
	if !pl.gt.changed[g] {
		pl.gt.changed[g] = true
		pl.changed = append(pl.changed, g)
	}
}

// flushChanged emits the latest row of every queued group.
func (pl *Pipeline) flushChanged() {
	if len(pl.changed) == 0 && len(pl.stale) == 0 {
		return
	}
	pl.rows.reset()
	pl.retractStale()
	for _, g := range pl.changed {
		if pl.gt.changed[g] {
			pl.gt.changed[g] = false
			pl.addGroupRow(g)
		}
	}
	pl.changed = pl.changed[:0]
	pl.emit()
}

// emitGroups emits the rows of gs as one unit, first flushing pending
// changes of those groups.
func (pl *Pipeline) emitGroups(gs []int32) {
	pl.rows.reset()
	for _, g := range gs {
		pl.gt.changed[g] = false
		pl.addGroupRow(g)
	}
	pl.emit()
}

// emitChangedOf emits the pending changes among gs (before their state is
// released).
func (pl *Pipeline) emitChangedOf(gs []int32) {
	pl.rows.reset()
	for _, g := range gs {
		if pl.gt.changed[g] {
			pl.gt.changed[g] = false
			pl.addGroupRow(g)
		}
	}
	pl.emit()
}

package join

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sluicesql/sluice/partition"
	"github.com/sluicesql/sluice/record"
)

// Sharding says how a table's rows are split over the partition workers.
type Sharding uint8

// The shardings.
const (
	// Broadcast keeps one copy of the table that every worker reads.
	Broadcast Sharding = iota
	// ByKey splits the rows by the key group of their primary key, in key
	// order: the shard always_hash sends a record with that key to. A
	// worker looks a row up in the shard that owns its key, so a stream
	// routed on another key (a later join of a multi-way join) still finds
	// it; a stream hashed on the same key reads only its own shard.
	ByKey
	// ByPartition splits the rows by source partition mod N, as
	// smart_repartition and sticky_partition route a stream partitioned
	// alike (same key, same partition count).
	ByPartition
)

// String returns "broadcast", "by key" or "by partition".
func (s Sharding) String() string {
	return [...]string{"broadcast", "by key", "by partition"}[s]
}

// Table is a table input's state: its latest row per primary key, split
// into shards. A Loader fills it (its readers write under the shards'
// locks); workers read it without locks unless it is dynamic.
type Table struct {
	name   string
	input  int // its input in the statement (1 for the first JOIN)
	schema *record.Schema
	pk     []int
	// sequenced: the rows come from a source whose partitions follow one
	// another (connector.Sequenced): a key's row from a lower partition
	// than its row's is older, and does not replace it (nor, in a temporal
	// table, follow the versions of its time from higher partitions)
	sequenced bool
	// windowed: each row is a window's result (its writer is a windowed
	// aggregate, record.Record.WindowStart): a key's row is the one of its
	// latest window (see KeepLatestWindow)
	windowed bool

	sharding Sharding
	n        int
	assign   []int32 // ByKey: key group -> shard
	shards   []*shard
	// layout is held for writing while Shard moves rows, and for reading
	// by the loader's writes, so that no write lands in a dropped shard
	layout sync.RWMutex

	// dynamic is set while the table may change under running workers,
	// which then take its shards' read locks.
	dynamic atomic.Bool
	rows    atomic.Int64
	// versionTime, set for a temporal table (FOR SYSTEM_TIME AS OF), gives
	// a table record's version time
	versionTime func(*record.Record) (int64, bool)
	// marks are the watermarks of the pipelines that look the temporal
	// table up by the stream's event time: a key's versions older than its
	// newest at or below the lowest of them can never be read again, and
	// are dropped (pruned is the watermark they were last dropped at)
	marksMu sync.Mutex
	marks   []*atomic.Int64
	pruned  atomic.Int64
	// resume is the lowest watermark at which the job would resume its
	// source partitions from what it committed (Program.ResumeAt;
	// math.MaxInt64 until told): no version a record read again from
	// there may meet is dropped
	resume atomic.Int64
}

type shard struct {
	mu   sync.RWMutex
	rows keyMap[row]
	// multi holds the histories of a temporal table with more than one
	// version: those a rising watermark may shorten
	multi map[*history]struct{}
}

func newShard() *shard { return &shard{rows: newKeyMap[row](), multi: map[*history]struct{}{}} }

// addMulti tracks r's history when it has more than one version.
func (sh *shard) addMulti(r row) {
	if r.hist != nil && len(r.hist.versions) > 1 {
		sh.multi[r.hist] = struct{}{}
	}
}

// row is a key's latest row, small enough to live in the map's slot.
type row struct {
	vals []record.Value
	// start and last are a windowed table's row's window: its start and
	// its last millisecond (the row's event time)
	start, last int64
	// hist holds a temporal table's versions of the key, by version time
	hist *history
	part int32 // the source partition it came from (ByPartition)
}

// history is a temporal table's versions of one key, by version time.
type history struct {
	versions []version
	// cut says that older versions were dropped: a time before the first
	// version kept has no known answer
	cut bool
}

// version is one row of a key from its version time on.
type version struct {
	t    int64
	vals []record.Value
	part int32 // the source partition it came from
}

// errPruned says that the version a lookup needs was dropped.
var errPruned = errors.New("the table's versions that old were dropped once the watermark passed them")

// at returns the version valid at time t: the latest from t or before;
// errPruned when it was dropped.
func (r *row) at(t int64) ([]record.Value, error) {
	if r.hist == nil {
		return nil, nil
	}
	vs := r.hist.versions
	i := sort.Search(len(vs), func(i int) bool { return vs[i].t > t })
	if i == 0 {
		if r.hist.cut {
			return nil, errPruned
		}
		return nil, nil
	}
	return vs[i-1].vals, nil
}

// prune drops the versions older than the newest at or below wm, and
// reports whether one version is left.
func (h *history) prune(wm int64) bool {
	vs := h.versions
	if i := sort.Search(len(vs), func(i int) bool { return vs[i].t > wm }) - 1; i > 0 {
		clear(vs[:i])
		h.versions = vs[i:]
		h.cut = true
	}
	return len(h.versions) <= 1
}

// watch registers a pipeline that looks the table up by the stream's event
// time; it stores its watermark in the returned mark.
func (t *Table) watch() *atomic.Int64 {
	m := &atomic.Int64{}
	m.Store(math.MinInt64)
	t.marksMu.Lock()
	t.marks = append(t.marks, m)
	t.marksMu.Unlock()
	return m
}

// unwatch takes out the mark of a pipeline that stopped (watch).
func (t *Table) unwatch(m *atomic.Int64) {
	t.marksMu.Lock()
	defer t.marksMu.Unlock()
	t.marks = slices.DeleteFunc(t.marks, func(have *atomic.Int64) bool { return have == m })
}

// low returns the lowest watermark of the watching pipelines
// (math.MinInt64 when none watches: no version is dropped).
func (t *Table) low() int64 {
	t.marksMu.Lock()
	defer t.marksMu.Unlock()
	if len(t.marks) == 0 {
		return math.MinInt64
	}
	low := int64(math.MaxInt64)
	for _, m := range t.marks {
		low = min(low, m.Load())
	}
	return low
}

// Prune drops, once the watching pipelines' watermarks have all passed
// them, the versions of a temporal table that no stream record on time
// can meet any more: per key, those older than its newest version at or
// below the lowest watermark, or below the watermark the job would
// resume at (Program.ResumeAt) when that is lower.
func (t *Table) Prune() {
	low := min(t.low(), t.resume.Load())
	for {
		old := t.pruned.Load()
		if low <= old {
			return
		}
		if t.pruned.CompareAndSwap(old, low) {
			break
		}
	}
	t.layout.RLock()
	defer t.layout.RUnlock()
	for _, sh := range t.shards {
		sh.mu.Lock()
		for h := range sh.multi {
			if h.prune(low) {
				delete(sh.multi, h)
			}
		}
		sh.mu.Unlock()
	}
}

// Versions returns the number of versions a temporal table holds (its
// rows for another table).
func (t *Table) Versions() int64 {
	t.layout.RLock()
	defer t.layout.RUnlock()
	var n int64
	for _, sh := range t.shards {
		sh.mu.RLock()
		count := func(r row) {
			if r.hist != nil {
				n += int64(len(r.hist.versions))
			} else {
				n++
			}
		}
		for _, r := range sh.rows.nums {
			count(r)
		}
		for _, r := range sh.rows.long {
			count(r)
		}
		sh.mu.RUnlock()
	}
	return n
}

// NewTable returns an empty, broadcast table of the given columns keyed by
// the primary key columns pk (which schema must hold).
func NewTable(name string, schema *record.Schema, pk []string) (*Table, error) {
	t := &Table{name: name, schema: schema, n: 1, shards: []*shard{newShard()}}
	t.resume.Store(math.MaxInt64)
	for _, k := range pk {
		slot, ok := schema.Lookup(k)
		if !ok {
			return nil, fmt.Errorf("table %s: primary key column %q is not among its columns %s", name, k, strings.Join(schema.Names(), ", "))
		}
		t.pk = append(t.pk, slot)
	}
	return t, nil
}

// Name returns the table's source name.
func (t *Table) Name() string { return t.name }

// Input returns the table's input in the statement: 1 for the first JOIN's
// source, and so on.
func (t *Table) Input() int { return t.input }

// Schema returns the columns the table's source decodes.
func (t *Table) Schema() *record.Schema { return t.schema }

// Rows returns the number of keys the table holds.
func (t *Table) Rows() int64 { return t.rows.Load() }

// Sharding returns how the table is split over the workers.
func (t *Table) Sharding() Sharding { return t.sharding }

// Shard splits the table for n workers (moving the rows it already holds).
// Call it before the stream flows.
func (t *Table) Shard(s Sharding, n int) {
	if s == Broadcast || n < 1 {
		n = 1
	}
	t.layout.Lock()
	defer t.layout.Unlock()
	t.sharding, t.n = s, n
	t.assign = partition.Assignment(n)
	old := t.shards
	t.shards = make([]*shard, n)
	for i := range t.shards {
		t.shards[i] = newShard()
	}
	var vals []record.Value
	for _, sh := range old {
		for k, r := range sh.rows.nums {
			to := t.shards[t.shardOf(r.vals, r.part, &vals)]
			to.rows.nums[k] = r
			to.addMulti(r)
		}
		for k, r := range sh.rows.long {
			to := t.shards[t.shardOf(r.vals, r.part, &vals)]
			to.rows.long[k] = r
			to.addMulti(r)
		}
	}
}

// shardOf returns the shard of a table row from source partition part.
func (t *Table) shardOf(row []record.Value, part int32, buf *[]record.Value) int {
	switch t.sharding {
	case ByKey:
		vals := (*buf)[:0]
		for _, s := range t.pk {
			vals = append(vals, row[s])
		}
		*buf = vals
		return int(t.assign[partition.KeyGroup(vals)])
	case ByPartition:
		return partition.Mod(part, t.n)
	}
	return 0
}

// shardOfKey returns the shard that holds the row of key (the values
// equated with the primary key columns, in key order) for a stream record
// read from source partition part.
func (t *Table) shardOfKey(key []record.Value, part int32) int {
	switch t.sharding {
	case ByKey:
		return int(t.assign[partition.KeyGroup(key)])
	case ByPartition:
		return partition.Mod(part, t.n)
	}
	return 0
}

// Dynamic reports whether the table may change while workers read it.
func (t *Table) Dynamic() bool { return t.dynamic.Load() }

// SetDynamic makes workers read the table under its shards' read locks:
// set it before the stream flows when the table may still change (a
// source that goes on, or one not yet read whole).
func (t *Table) SetDynamic() { t.dynamic.Store(true) }

// KeepSourceOrder makes the table hold, per key, the last row in the order
// of a source whose partitions follow one another (connector.Sequenced),
// whatever the order its partitions are read in. Call it before the first
// row.
func (t *Table) KeepSourceOrder() { t.sequenced = true }

// KeepLatestWindow makes the table hold, per key, the row of its latest
// window: its rows are the results of a windowed aggregate keyed by its
// GROUP BY columns (a CREATE TABLE ... GROUP BY k WINDOW ...), whose
// changelog updates and retracts older windows' rows after a later one's
// (late records, a SESSION extended or merged). Call it before the first
// row.
func (t *Table) KeepLatestWindow() { t.windowed = true }

// Apply stores a table record as its key's latest row. A record whose key
// has a NULL is ignored (no stream key equals NULL) and reported false. A
// retraction (record.Record.Retract: a group its writer's HAVING no longer
// keeps, a session whose bounds moved) deletes its key's rows, as a
// tombstone does. In a table that keeps each key's latest window
// (KeepLatestWindow), a row of a window that starts before the key's
// row's is an update of an older window, which leaves the key's row as
// it is, and a retraction deletes the key's row only when it names the
// same window.
func (t *Table) Apply(rec *record.Record) bool {
	var arr [64]byte
	key, ok := t.key(arr[:0], rec.Values)
	if !ok {
		return false
	}
	if rec.Retract {
		t.layout.RLock()
		defer t.layout.RUnlock()
		if t.windowed {
			t.deleteKeyIf(key, func(r row) bool { return r.start == rec.WindowStart && r.last == rec.EventTime })
			return true
		}
		t.deleteKey(key)
		return true
	}
	var vt int64
	if t.versionTime != nil {
		if vt, ok = t.versionTime(rec); !ok {
			return false
		}
	}
	var buf []record.Value
	t.layout.RLock()
	defer t.layout.RUnlock()
	sh := t.shards[t.shardOf(rec.Values, rec.Partition, &buf)]
	r := row{vals: append([]record.Value(nil), rec.Values...), part: rec.Partition}
	for _, s := range t.pk { // the key prints as a group key does, whichever row came last
		if s < len(r.vals) {
			r.vals[s] = r.vals[s].KeyForm(t.schema.Field(s).Type)
		}
	}
	if t.windowed {
		r.start, r.last = rec.WindowStart, rec.EventTime
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	old, had := sh.rows.get(key)
	if had && t.windowed && t.versionTime == nil && r.start < old.start {
		return true
	}
	if had && t.sequenced && t.versionTime == nil && r.part < old.part {
		return true // an older row, read after its key's later one
	}
	if !had {
		t.rows.Add(1)
	}
	if t.versionTime != nil {
		h := old.hist
		if h == nil {
			h = &history{}
		}
		// after the versions of its time read before it, or, from a
		// sequenced source, after those of its time earlier in the source
		i := sort.Search(len(h.versions), func(i int) bool {
			v := h.versions[i]
			return v.t > vt || t.sequenced && v.t == vt && v.part > r.part
		})
		h.versions = slices.Insert(h.versions, i, version{vt, r.vals, r.part})
		if h.prune(t.pruned.Load()) {
			delete(sh.multi, h)
		} else {
			sh.multi[h] = struct{}{}
		}
		r.hist = h
	}
	sh.rows.put(key, r)
	return true
}

// key appends a row's encoded primary key to b; false when a key value is
// NULL.
func (t *Table) key(b []byte, vals []record.Value) ([]byte, bool) {
	for _, s := range t.pk {
		var v record.Value
		if s < len(vals) {
			v = vals[s]
		}
		if v.IsNull() {
			return nil, false
		}
		b = v.AppendKey(b)
	}
	return b, true
}

// tombstoneKeys returns the encoded primary keys that a tombstone's
// message key names: its text read as a value of the key column's type
// (a single key column), so that it deletes the row whose key equals that
// value, as keys are equal everywhere (record.Value.AppendKey): in a
// numeric column the text is a number converted as a decoded value is
// (record.Conform: "150", "150.0" and "1.5e2" are the INTEGER 150, "7.50"
// the DOUBLE 7.5, "150" the DECIMAL(6,3) 150.000), in another typed column
// the text converted to its type. A column without a type holds what its
// records decoded to, so the text names both the STRING and, when it reads
// as one, the number. It is an error when the text is no value of the
// column's type ("15x" or "150.5" in an INTEGER column): no row can have
// that key.
func (t *Table) tombstoneKeys(msgKey []byte) ([][]byte, error) {
	if len(t.pk) != 1 {
		return nil, fmt.Errorf("table %s deletes by a message key holding its one key column's text, and its key has %d columns", t.name, len(t.pk))
	}
	f := t.schema.Field(t.pk[0])
	text := string(msgKey)
	num, numErr := record.ParseNumber(strings.TrimSpace(text))
	if f.Type.Kind == record.TypeAny {
		keys := [][]byte{record.StringValue(text).AppendKey(nil)}
		if numErr == nil {
			keys = append(keys, num.AppendKey(nil))
		}
		return keys, nil
	}
	v := record.StringValue(text)
	if f.Type.Numeric() && numErr == nil {
		v = num
	}
	v, err := record.Conform(v, f)
	if err != nil {
		return nil, fmt.Errorf("table %s: message key %q is no key of column %s: %w", t.name, text, f.Name, err)
	}
	return [][]byte{v.AppendKey(nil)}, nil
}

// deleteKeys removes the rows of the encoded primary keys (a tombstone's,
// see tombstoneKeys) and reports whether one was held.
func (t *Table) deleteKeys(keys [][]byte) bool {
	deleted := false
	t.layout.RLock()
	defer t.layout.RUnlock()
	for _, k := range keys {
		if t.deleteKey(k) {
			deleted = true
		}
	}
	return deleted
}

// deleteKey removes the rows (and versions) of the encoded primary key
// from every shard; t.layout is read-locked.
func (t *Table) deleteKey(key []byte) bool {
	return t.deleteKeyIf(key, nil)
}

// deleteKeyIf is deleteKey of a row that match (nil: any) accepts.
func (t *Table) deleteKeyIf(key []byte, match func(row) bool) bool {
	deleted := false
	for _, sh := range t.shards {
		sh.mu.Lock()
		if r, ok := sh.rows.get(key); ok && (match == nil || match(r)) {
			sh.rows.del(key)
			if r.hist != nil {
				delete(sh.multi, r.hist)
			}
			t.rows.Add(-1)
			deleted = true
		}
		sh.mu.Unlock()
	}
	return deleted
}

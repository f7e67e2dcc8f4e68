package join

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/partition"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// Sharding says how a table's rows are split over the partition workers.
type Sharding uint8

// The shardings.
const (
	// Broadcast keeps one copy of the table that every worker reads.
	Broadcast Sharding = iota
	// ByKey splits the rows by the key group of their routing key, into the
	// workers always_hash sends stream records with that key to.
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
	schema *record.Schema
	pk     []int

	sharding Sharding
	n        int
	assign   []int32
	tableKey []expr.Func // ByKey: the routing key over a table row
	rowKey   []expr.Func // ByKey: the routing key over a stream record
	shards   []*shard
	// layout is held for writing while Shard moves rows, and for reading
	// by the loader's writes, so that no write lands in a dropped shard
	layout sync.RWMutex

	// dynamic is set while the table may change under running workers,
	// which then take its shards' read locks.
	dynamic atomic.Bool
	rows    atomic.Int64
	// versionTime, set for a temporal table (FOR SYSTEM_TIME AS OF), gives
	// a table record's version time; every version is kept
	versionTime func(*record.Record) (int64, bool)
}

type shard struct {
	mu   sync.RWMutex
	rows map[string]row
}

type row struct {
	vals []record.Value
	part int32 // the source partition it came from (ByPartition)
	// hist holds a temporal table's versions of the key, by version time
	hist []version
}

// version is one row of a key from its version time on.
type version struct {
	t    int64
	vals []record.Value
}

// at returns the version valid at time t: the latest from t or before.
func (r *row) at(t int64) []record.Value {
	i := sort.Search(len(r.hist), func(i int) bool { return r.hist[i].t > t })
	if i == 0 {
		return nil
	}
	return r.hist[i-1].vals
}

// NewTable returns an empty, broadcast table of the given columns keyed by
// the primary key columns pk (which schema must hold).
func NewTable(name string, schema *record.Schema, pk []string) (*Table, error) {
	t := &Table{name: name, schema: schema, n: 1, shards: []*shard{{rows: map[string]row{}}}}
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

// Schema returns the columns the table's source decodes.
func (t *Table) Schema() *record.Schema { return t.schema }

// Rows returns the number of keys the table holds.
func (t *Table) Rows() int64 { return t.rows.Load() }

// Sharding returns how the table is split over the workers.
func (t *Table) Sharding() Sharding { return t.sharding }

// Shard splits the table for n workers (moving the rows it already holds).
// For ByKey, tableKey and streamKey are the routing key over a table row
// (table columns) and over a stream record (stream columns), in the order
// the job's routing key hashes them. Call it before the stream flows.
func (t *Table) Shard(s Sharding, n int, tableKey, streamKey []sql.Expr, stream *record.Schema) error {
	if s == Broadcast || n < 1 {
		n = 1
	}
	t.layout.Lock()
	defer t.layout.Unlock()
	t.sharding, t.n = s, n
	t.tableKey, t.rowKey = nil, nil
	if s == ByKey {
		if len(tableKey) == 0 || len(tableKey) != len(streamKey) {
			return fmt.Errorf("table %s: sharding by key needs the routing key of both inputs", t.name)
		}
		t.assign = partition.Assignment(n)
		for i := range tableKey {
			tf, err := expr.Compile(tableKey[i], &expr.Scope{Schema: t.schema})
			if err != nil {
				return fmt.Errorf("table %s: routing key %s: %w", t.name, sql.FormatExpr(tableKey[i]), err)
			}
			sf, err := expr.Compile(streamKey[i], &expr.Scope{Schema: stream})
			if err != nil {
				return fmt.Errorf("table %s: stream routing key %s: %w", t.name, sql.FormatExpr(streamKey[i]), err)
			}
			t.tableKey, t.rowKey = append(t.tableKey, tf), append(t.rowKey, sf)
		}
	}
	old := t.shards
	t.shards = make([]*shard, n)
	for i := range t.shards {
		t.shards[i] = &shard{rows: map[string]row{}}
	}
	var vals []record.Value
	for _, sh := range old {
		for k, r := range sh.rows {
			rec := record.Record{Values: r.vals, Partition: r.part}
			t.shards[t.shardOfRow(&rec, &vals)].rows[k] = r
		}
	}
	return nil
}

// shardOfRow returns the shard of a table record.
func (t *Table) shardOfRow(rec *record.Record, buf *[]record.Value) int {
	switch t.sharding {
	case ByKey:
		return t.group(t.tableKey, rec, buf)
	case ByPartition:
		return mod(rec.Partition, t.n)
	}
	return 0
}

// shardOfStream returns the shard a stream record's worker holds.
func (t *Table) shardOfStream(rec *record.Record, buf *[]record.Value) int {
	switch t.sharding {
	case ByKey:
		return t.group(t.rowKey, rec, buf)
	case ByPartition:
		return mod(rec.Partition, t.n)
	}
	return 0
}

// group evaluates a routing key as the job does (a failing value is NULL)
// and returns its worker.
func (t *Table) group(fns []expr.Func, rec *record.Record, buf *[]record.Value) int {
	vals := (*buf)[:0]
	for _, f := range fns {
		v, err := f(rec)
		if err != nil {
			v = record.NullValue()
		}
		vals = append(vals, v)
	}
	*buf = vals
	return int(t.assign[partition.KeyGroup(vals)])
}

func mod(p int32, n int) int {
	if n <= 1 {
		return 0
	}
	m := int(p) % n
	if m < 0 {
		m += n
	}
	return m
}

// SetDynamic makes workers read the table under its shards' read locks:
// set it before the stream flows when the table may still change (a
// source that goes on, or one not yet read whole).
func (t *Table) SetDynamic() { t.dynamic.Store(true) }

// Apply stores a table record as its key's latest row. A record whose key
// has a NULL is ignored (no stream key equals NULL) and reported false.
func (t *Table) Apply(rec *record.Record) bool {
	key, ok := t.key(rec.Values)
	if !ok {
		return false
	}
	var buf []record.Value
	t.layout.RLock()
	defer t.layout.RUnlock()
	sh := t.shards[t.shardOfRow(rec, &buf)]
	r := row{vals: append([]record.Value(nil), rec.Values...), part: rec.Partition}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	old, had := sh.rows[key]
	if !had {
		t.rows.Add(1)
	}
	if t.versionTime != nil {
		vt, ok := t.versionTime(rec)
		if !ok {
			return false
		}
		r.hist = old.hist
		i := sort.Search(len(r.hist), func(i int) bool { return r.hist[i].t > vt })
		r.hist = slices.Insert(r.hist, i, version{vt, r.vals})
	}
	sh.rows[key] = r
	return true
}

// key encodes a row's primary key; false when a key value is NULL.
func (t *Table) key(vals []record.Value) (string, bool) {
	var arr [64]byte
	b := arr[:0]
	for _, s := range t.pk {
		var v record.Value
		if s < len(vals) {
			v = vals[s]
		}
		if v.IsNull() {
			return "", false
		}
		b = v.AppendKey(b)
	}
	return string(b), true
}

// Delete removes the row of a tombstone: a message with no value whose
// message key is the primary key's text (a single key column). The text is
// matched as a string and, when it reads as one, as a number.
func (t *Table) Delete(msgKey []byte) bool {
	if len(t.pk) != 1 || msgKey == nil {
		return false
	}
	text := string(msgKey)
	cands := []record.Value{record.StringValue(text)}
	if n, err := strconv.ParseInt(text, 10, 64); err == nil {
		cands = append(cands, record.IntValue(n))
	}
	deleted := false
	t.layout.RLock()
	defer t.layout.RUnlock()
	for _, v := range cands {
		key := string(v.AppendKey(nil))
		for _, sh := range t.shards {
			sh.mu.Lock()
			if _, ok := sh.rows[key]; ok {
				delete(sh.rows, key)
				t.rows.Add(-1)
				deleted = true
			}
			sh.mu.Unlock()
		}
	}
	return deleted
}

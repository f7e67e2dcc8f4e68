package partition

import (
	"sync"

	"github.com/sluicesql/sluice/record"
)

// scratch is where routing evaluates the keys of one batch through
// Context.Key, pooled so that routing does not allocate: one Get and Put
// per batch, never per record.
type scratch struct {
	keys  []record.Value // the batch's keys, row-major, one row per record
	slots []int          // 0, 1, ..., width-1: the slots of a row
	odd   []oddRoute     // records whose key width differs from the first's
}

// oddRoute is the partition of a record whose key did not fit the batch's
// row width, routed on its own.
type oddRoute struct{ rec, part int }

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// chunkValues is how many key values routing evaluates before hashing
// them: 256 values (8 KiB) stay in the L1 cache between the two passes.
const chunkValues = 256

// chunkRows returns the number of records per chunk for keys of width w.
func chunkRows(w int) int { return max(chunkValues/w, 16) }

// routeByKey sets dst[i] to the partition in table of recs[i]'s key, as
// key evaluates it. It evaluates the keys of a chunk of records into one
// row-major buffer, each key appended in place, and then hashes the chunk
// in the call-free loop of routeRows, exactly as if the keys were columns
// of the records. A record whose key has another width than the first
// record's is hashed on its own (the whole row when its key is empty).
// When the first record's key is empty it routes every record on its own.
func (s *scratch) routeByKey(recs []record.Record, key func(*record.Record, []record.Value) []record.Value, table *[KeyGroups]int32, dst []int) {
	n := len(recs)
	if n == 0 {
		return
	}
	first := key(&recs[0], s.keys[:0])
	w := len(first)
	if w == 0 {
		s.keys = first
		s.routeEach(recs, key, table, dst)
		return
	}
	rows := chunkRows(w)
	keys := s.grow(rows * w)
	copy(keys, first) // record 0 is row 0 of the first chunk
	odd := s.odd[:0]
	for lo := 0; lo < n; lo += rows {
		hi := min(lo+rows, n)
		for i := max(lo, 1); i < hi; i++ {
			at := (i - lo) * w
			got := key(&recs[i], keys[at:at:at+w]) // appends in place, up to w values
			if len(got) == w {
				if &got[0] != &keys[at] {
					copy(keys[at:at+w], got)
				}
				continue
			}
			vals := got
			if len(vals) == 0 {
				vals = recs[i].Values
			}
			odd = append(odd, oddRoute{rec: i, part: int(table[groupOf(keyHash(vals))])})
		}
		s.route(keys[:(hi-lo)*w], w, table, dst[lo:hi])
	}
	for _, o := range odd {
		dst[o.rec] = o.part
	}
	s.odd = odd
}

// routeByFuncs sets dst[i] to the partition in table of recs[i]'s key
// (fns[k](&recs[i]) for each k, NULL where it fails): for each chunk of
// records it evaluates one function at a time into one row-major buffer,
// then hashes the rows as routeByKey does.
func (s *scratch) routeByFuncs(recs []record.Record, fns []func(*record.Record) (record.Value, error), table *[KeyGroups]int32, dst []int) {
	n, w := len(recs), len(fns)
	rows := chunkRows(w)
	keys := s.grow(rows * w)
	for lo := 0; lo < n; lo += rows {
		chunk := recs[lo:min(lo+rows, n)]
		for k, f := range fns {
			for i := range chunk {
				v, err := f(&chunk[i])
				if err != nil {
					v = record.NullValue()
				}
				keys[i*w+k] = v
			}
		}
		s.route(keys[:len(chunk)*w], w, table, dst[lo:lo+len(chunk)])
	}
}

// grow returns the key buffer with room for size values, reallocated if
// it is smaller; its contents are not kept.
func (s *scratch) grow(size int) []record.Value {
	if cap(s.keys) < size {
		s.keys = make([]record.Value, size)
	}
	return s.keys[:size]
}

// route hashes the rows of width w in keys (one per dst entry) as routeRows
// does for the key columns of records.
func (s *scratch) route(keys []record.Value, w int, table *[KeyGroups]int32, dst []int) {
	for len(s.slots) < w {
		s.slots = append(s.slots, len(s.slots))
	}
	routeRows(keyRows{flat: keys, slots: s.slots[:w]}, table, dst)
}

// routeEach routes each record of recs on its own by key, or by its whole
// row when its key is empty.
func (s *scratch) routeEach(recs []record.Record, key func(*record.Record, []record.Value) []record.Value, table *[KeyGroups]int32, dst []int) {
	buf := s.keys
	for i := range recs {
		r := &recs[i]
		vals := r.Values
		if buf = key(r, buf[:0]); len(buf) > 0 {
			vals = buf
		}
		dst[i] = int(table[groupOf(keyHash(vals))])
	}
	s.keys = buf
}

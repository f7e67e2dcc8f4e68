package bench

import (
	"context"
	"fmt"
	"sync"

	"github.com/sluicesql/sluice/record"
)

// Answer is an order-independent fingerprint of a query's result. For a
// keyed result (GROUP BY) only the last row per key and window counts, so
// EMIT CHANGES and EMIT FINAL give the same Answer however changes were
// batched; otherwise every row counts, as a multiset.
type Answer struct {
	// Rows is the number of result rows (keys for a keyed result).
	Rows int64 `json:"rows"`
	// Hash combines the rows' hashes; equal results have equal hashes.
	Hash uint64 `json:"hash"`
}

// String formats the answer for error messages.
func (a Answer) String() string { return fmt.Sprintf("%d rows, hash %016x", a.Rows, a.Hash) }

// digest accumulates an Answer from output rows. It is the blackhole sink
// of the runs and the output of the limit loops.
type digest struct {
	keySlots []int
	mu       sync.Mutex
	rows     int64
	sum      uint64
	last     map[uint64]uint64 // key hash -> row hash, for keyed results
	written  int64
}

// newDigest returns a digest; keySlots (the output's GROUP BY columns, nil
// for none) make it keep the last row per key.
func newDigest(keySlots []int) *digest {
	d := &digest{keySlots: keySlots}
	if len(keySlots) > 0 {
		d.last = make(map[uint64]uint64)
	}
	return d
}

// add takes one output row. A windowed row carries its window in its event
// time (window end - 1), which becomes part of its key.
func (d *digest) add(r *record.Record) {
	h := hashValues(r.Values)
	d.written++
	if d.last == nil {
		d.rows++
		d.sum += h
		return
	}
	k := uint64(0x9E3779B97F4A7C15)
	for _, s := range d.keySlots {
		k = mix(k ^ hashValue(r.Values[s]))
	}
	if r.HasEventTime {
		k = mix(k ^ uint64(r.EventTime))
	}
	d.last[k] = h
}

// answer returns the fingerprint of everything added.
func (d *digest) answer() Answer {
	if d.last == nil {
		return Answer{Rows: d.rows, Hash: d.sum}
	}
	var sum uint64
	for k, h := range d.last {
		sum += mix(k ^ h)
	}
	return Answer{Rows: int64(len(d.last)), Hash: sum}
}

// Open implements connector.Sink.
func (d *digest) Open(context.Context, *record.Schema, []int) error { return nil }

// Write implements connector.Sink.
func (d *digest) Write(_ context.Context, rows []record.Record) error {
	d.mu.Lock()
	for i := range rows {
		d.add(&rows[i])
	}
	d.mu.Unlock()
	return nil
}

// Flush implements connector.Sink.
func (d *digest) Flush(context.Context) error { return nil }

// Close implements connector.Sink.
func (d *digest) Close() error { return nil }

// Abort implements connector.Sink.
func (d *digest) Abort() {}

// mix is the SplitMix64 finaliser.
func mix(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ x>>30) * 0xBF58476D1CE4E5B9
	x = (x ^ x>>27) * 0x94D049BB133111EB
	return x ^ x>>31
}

// hashValues hashes a row's values in order.
func hashValues(vals []record.Value) uint64 {
	h := uint64(len(vals))
	for _, v := range vals {
		h = mix(h ^ hashValue(v))
	}
	return h
}

// hashValue hashes one value. Decimals are normalised (no trailing zeros),
// so 100.10 and 100.1 hash alike whatever scale a decoder kept.
func hashValue(v record.Value) uint64 {
	tag := uint64(v.Kind()) << 56
	switch v.Kind() {
	case record.Null:
		return tag
	case record.String:
		h := uint64(14695981039346656037)
		s := v.Str()
		for i := 0; i < len(s); i++ {
			h = (h ^ uint64(s[i])) * 1099511628211
		}
		return mix(h ^ tag)
	case record.Decimal:
		u, sc := v.Decimal()
		for sc > 0 && u%10 == 0 {
			u /= 10
			sc--
		}
		return mix(uint64(u)^tag) ^ uint64(sc)
	case record.Float:
		return mix(uint64(v.Int()) ^ tag)
	}
	return mix(uint64(v.Int()) ^ tag)
}

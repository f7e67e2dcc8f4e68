package partition

import (
	"sync"

	"github.com/sluicesql/sluice/record"
)

// HashStrategy is always_hash: each record goes to the partition that owns
// the key group of its routing key (see KeyGroup and Assignment).
type HashStrategy struct {
	tables tableCache
}

// NewHash returns a new always_hash strategy.
func NewHash() *HashStrategy { return &HashStrategy{} }

// Name returns "always_hash".
func (*HashStrategy) Name() string { return AlwaysHash }

// Version returns 2: keyHash of the key values, 4096 key groups,
// Assignment. (Version 1 hashed the AppendKey bytes with hash64.)
func (*HashStrategy) Version() int { return 2 }

// Route hashes every record's routing key. With one partition the whole
// batch goes to partition 0 without hashing.
func (h *HashStrategy) Route(b *record.Batch, ctx *Context, dst []int) int {
	if ctx.Partitions <= 1 {
		return 0
	}
	h.hashInto(b, ctx, dst)
	return -1
}

// Validate accepts Any and Hash requirements: equal keys always meet.
func (h *HashStrategy) Validate(req Requirement) error {
	if req.Kind == Single {
		return splits(AlwaysHash, req)
	}
	return nil
}

// scratch is the per-call buffer of Context.Key, pooled so that routing
// does not allocate.
type scratch struct{ vals []record.Value }

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// hashInto fills dst with the partition of each record's key group. It
// hashes the key values directly (keyHash), never their encoded bytes.
func (h *HashStrategy) hashInto(b *record.Batch, ctx *Context, dst []int) {
	table := h.tables.get(ctx.Partitions)
	dst = dst[:len(b.Records)]
	if slots := ctx.KeySlots; len(slots) > 0 {
		if routeShort(b.Records, slots, table, dst) {
			for i := range dst {
				if dst[i] < 0 {
					dst[i] = int(table[groupOf(finish(foldKey(b.Records[i].Values, slots)))])
				}
			}
		}
		return
	}
	s := scratchPool.Get().(*scratch)
	buf := s.vals
	for i := range b.Records {
		r := &b.Records[i]
		vals := r.Values // no routing key: the whole row is the key
		if ctx.Key != nil {
			if buf = ctx.Key(r, buf[:0]); len(buf) > 0 {
				vals = buf
			}
		}
		dst[i] = int(table[groupOf(keyHash(vals))])
	}
	s.vals = buf
	scratchPool.Put(s)
}

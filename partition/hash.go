package partition

import (
	"sync"

	"github.com/sluicesql/sluice/record"
)

// HashStrategy is always_hash: each record goes to the partition that owns
// the key group of its routing key (see KeyGroupOf and Assignment).
type HashStrategy struct {
	tables tableCache
}

// NewHash returns a new always_hash strategy.
func NewHash() *HashStrategy { return &HashStrategy{} }

// Name returns "always_hash".
func (*HashStrategy) Name() string { return AlwaysHash }

// Version returns 1: hash64 of AppendKey bytes, 4096 key groups, Assignment.
func (*HashStrategy) Version() int { return 1 }

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

// scratch is the per-call buffer set of hashing, pooled so that routing
// does not allocate.
type scratch struct {
	vals []record.Value
	key  []byte
}

var scratchPool = sync.Pool{New: func() any { return &scratch{key: make([]byte, 0, 64)} }}

// hashInto fills dst with the partition of each record's key group.
func (h *HashStrategy) hashInto(b *record.Batch, ctx *Context, dst []int) {
	table := h.tables.get(ctx.Partitions)
	s := scratchPool.Get().(*scratch)
	buf, key := s.vals, s.key
	dst = dst[:len(b.Records)]
	for i := range b.Records {
		r := &b.Records[i]
		key = key[:0]
		if len(ctx.KeySlots) > 0 {
			for _, slot := range ctx.KeySlots {
				key = r.Values[slot].AppendKey(key)
			}
		} else {
			vals := r.Values // no routing key: the whole row is the key
			if ctx.Key != nil {
				if buf = ctx.Key(r, buf[:0]); len(buf) > 0 {
					vals = buf
				}
			}
			for j := range vals {
				key = vals[j].AppendKey(key)
			}
		}
		dst[i] = int(table[hash64(key)>>(64-12)])
	}
	s.vals, s.key = buf, key
	scratchPool.Put(s)
}

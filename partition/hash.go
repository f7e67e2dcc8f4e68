package partition

import "github.com/sluicesql/sluice/record"

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

// hashInto fills dst with the partition of each record's key group. It
// hashes the key values directly (keyHash), never their encoded bytes: read
// at KeySlots, evaluated by KeyFuncs or Key for the whole batch, or, with
// none of them, the whole row.
func (h *HashStrategy) hashInto(b *record.Batch, ctx *Context, dst []int) {
	table := h.tables.get(ctx.Partitions)
	dst = dst[:len(b.Records)]
	switch {
	case len(ctx.KeySlots) > 0:
		routeRows(keyRows{recs: b.Records, slots: ctx.KeySlots}, table, dst)
	case len(ctx.KeyFuncs) > 0:
		s := scratchPool.Get().(*scratch)
		s.routeByFuncs(b.Records, ctx.KeyFuncs, table, dst)
		scratchPool.Put(s)
	case ctx.Key != nil:
		s := scratchPool.Get().(*scratch)
		s.routeByKey(b.Records, ctx.Key, table, dst)
		scratchPool.Put(s)
	default: // no routing key: the whole row is the key
		for i := range b.Records {
			dst[i] = int(table[groupOf(keyHash(b.Records[i].Values))])
		}
	}
}

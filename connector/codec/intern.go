package codec

import (
	"encoding/binary"
	"math/bits"
)

const (
	internSets   = 2048 // two-way sets: 4096 cached strings
	internMaxLen = 64   // longer strings are rarely repeated keys
)

// interner turns byte slices into strings, returning the same string for
// repeated values without allocating. It is a fixed-size two-way
// set-associative cache, so memory stays bounded however many distinct
// strings pass through; a miss costs one allocation, as plain string(b) does.
type interner struct {
	tab [internSets * 2]string
}

func newInterner() *interner {
	return &interner{}
}

// str returns b as a string.
func (t *interner) str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > internMaxLen {
		return string(b)
	}
	set := int(quickHash(b)%internSets) * 2
	if t.tab[set] == string(b) {
		return t.tab[set]
	}
	if t.tab[set+1] == string(b) {
		// Promote, so that the least recently used entry is evicted next.
		t.tab[set], t.tab[set+1] = t.tab[set+1], t.tab[set]
		return t.tab[set]
	}
	s := string(b)
	t.tab[set+1] = t.tab[set]
	t.tab[set] = s
	return s
}

// quickHash mixes the length and the first and last eight bytes of b (1 to
// internMaxLen bytes). Strings that differ only in the middle share a set and
// merely miss the cache: the hash picks a set, equality is always checked.
func quickHash(b []byte) uint64 {
	var head, tail uint64
	if len(b) >= 8 {
		head = binary.LittleEndian.Uint64(b)
		tail = binary.LittleEndian.Uint64(b[len(b)-8:])
	} else {
		for i, c := range b {
			head |= uint64(c) << (8 * i)
		}
	}
	hi, lo := bits.Mul64(head^0x9E3779B97F4A7C15, tail^uint64(len(b))^0xC2B2AE3D27D4EB4F)
	return hi ^ lo
}

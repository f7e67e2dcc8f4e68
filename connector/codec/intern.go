package codec

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

const (
	internSets   = 2048 // two-way sets: 4096 cached strings
	internMaxLen = 64   // longer strings are rarely repeated keys
)

// interner turns byte slices into strings, returning the same string for
// repeated values without allocating. It is a fixed-size two-way
// set-associative cache, so memory stays bounded however many distinct
// strings pass through (128 KiB, allocated on first use); a miss costs one
// allocation, as plain string(b) does.
//
// Each entry keeps the string's first and last eight bytes as words, so a
// lookup of a string of up to 16 bytes compares three words in the entry and
// never reads the cached string's bytes.
//
// Only valid UTF-8 is cached, so a hit needs no check. A miss with invalid
// UTF-8 is replaced (with replace set) or flagged in invalid for the
// decoder to reject the record.
type interner struct {
	tab     *[internSets * 2]internEntry
	replace bool // see ReplaceInvalidUTF8
	invalid bool // a string since the decoder cleared it was not UTF-8
	fixed   []byte
}

// internEntry is one cached string with its head and tail words (see words).
type internEntry struct {
	head, tail uint64
	s          string
}

func newInterner() *interner {
	return &interner{}
}

// str returns b as a string.
func (t *interner) str(b []byte) string {
	return t.strAt(b, 0, len(b))
}

// strAt returns buf[start:end] as a string. It may read the bytes of buf up
// to start+8 to build the head word of a short string without a byte loop.
func (t *interner) strAt(buf []byte, start, end int) string {
	n := end - start
	if n == 0 {
		return ""
	}
	if n > internMaxLen {
		if b := buf[start:end]; !utf8.Valid(b) {
			return t.notUTF8(b)
		}
		return string(buf[start:end])
	}
	var head, tail uint64
	switch {
	case n >= 8:
		head = binary.LittleEndian.Uint64(buf[start:])
		tail = binary.LittleEndian.Uint64(buf[end-8:])
	case start+8 <= len(buf):
		head = binary.LittleEndian.Uint64(buf[start:]) & (1<<(8*n) - 1)
	default:
		for i, c := range buf[start:end] {
			head |= uint64(c) << (8 * i)
		}
	}
	return t.lookup(buf[start:end], head, tail)
}

// lookup returns b (1 to internMaxLen bytes) as a string; head and tail are
// its words. For up to 16 bytes the words together with the length are the
// bytes themselves: below 8 bytes head holds them all (zero padded) and tail
// is 0, from 8 to 16 bytes head and tail overlap or meet. Longer strings are
// compared whole once the words match.
func (t *interner) lookup(b []byte, head, tail uint64) string {
	if t.tab == nil {
		t.tab = new([internSets * 2]internEntry)
	}
	hi, lo := bits.Mul64(head^0x9E3779B97F4A7C15, tail^uint64(len(b))^0xC2B2AE3D27D4EB4F)
	set := int((hi^lo)%internSets) * 2
	e := &t.tab[set]
	if e.head == head && e.tail == tail && len(e.s) == len(b) && (len(b) <= 16 || e.s == string(b)) {
		return e.s
	}
	if f := &t.tab[set+1]; f.head == head && f.tail == tail && len(f.s) == len(b) && (len(b) <= 16 || f.s == string(b)) {
		// Promote, so that the least recently used entry is evicted next.
		*e, *f = *f, *e
		return e.s
	}
	if !utf8.Valid(b) {
		return t.notUTF8(b)
	}
	s := string(b)
	t.tab[set+1] = *e
	*e = internEntry{head: head, tail: tail, s: s}
	return s
}

// notUTF8 returns b, which is not valid UTF-8, with its bad bytes replaced
// when replace is set; otherwise it flags invalid and returns b as it is
// (the decoder then rejects the record).
func (t *interner) notUTF8(b []byte) string {
	if t.replace {
		t.fixed = AppendValidUTF8(t.fixed[:0], b)
		return string(t.fixed)
	}
	t.invalid = true
	return string(b)
}

// Interner returns byte slices as strings without allocating for the
// values it saw recently (a bounded cache, see interner): a decoder of
// repeated keys and symbols keeps one. It is not safe for concurrent use.
type Interner struct{ t interner }

// String returns b as a string, and whether b is valid UTF-8 (when it is
// not, the string holds b's bytes as they are).
func (in *Interner) String(b []byte) (string, bool) {
	in.t.invalid = false
	s := in.t.str(b)
	return s, !in.t.invalid
}

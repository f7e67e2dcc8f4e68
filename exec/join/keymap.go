package join

import (
	"encoding/binary"

	"github.com/sluicesql/sluice/record"
)

// keyMap maps encoded keys (record.Value.AppendKey) to values. A key that
// is one number (an INTEGER, or a DECIMAL or FLOAT of whole value, which
// encode alike) is held by its int64 in a map of its own, so that the most
// common join key neither allocates nor is hashed as bytes.
type keyMap[V any] struct {
	nums map[int64]V
	long map[string]V
}

// numTag is the first byte of the encoding of a whole number.
var numTag = record.IntValue(0).AppendKey(nil)[0]

// numKey returns the number an encoded key is, when it is one.
func numKey(key []byte) (int64, bool) {
	if len(key) != 9 || key[0] != numTag {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(key[1:])), true
}

func newKeyMap[V any]() keyMap[V] {
	return keyMap[V]{nums: map[int64]V{}, long: map[string]V{}}
}

func (m *keyMap[V]) get(key []byte) (V, bool) {
	if n, ok := numKey(key); ok {
		v, ok := m.nums[n]
		return v, ok
	}
	v, ok := m.long[string(key)]
	return v, ok
}

func (m *keyMap[V]) put(key []byte, v V) {
	if n, ok := numKey(key); ok {
		m.nums[n] = v
		return
	}
	m.long[string(key)] = v
}

// del removes key and reports whether it was there.
func (m *keyMap[V]) del(key []byte) bool {
	if n, ok := numKey(key); ok {
		_, had := m.nums[n]
		delete(m.nums, n)
		return had
	}
	_, had := m.long[string(key)]
	delete(m.long, string(key))
	return had
}

func (m *keyMap[V]) len() int { return len(m.nums) + len(m.long) }

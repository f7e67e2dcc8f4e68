package record

import (
	"encoding/binary"
	"math"
)

// Key encoding tags. Every encoded value starts with its tag, so values of
// different types never collide and the encoding of a list of values is
// self-delimiting.
const (
	keyNull byte = iota
	keyBool
	keyNumber
	keyDecimal
	keyFloat
	keyString
	keyTimestamp
)

// AppendKey appends a typed, self-delimiting binary encoding of v to b and
// returns the extended slice. Values that GROUP BY treats as the same group
// encode identically: numerically equal INTEGER, DECIMAL and whole FLOAT
// values share one encoding (150, 150.0 and 150.00 are one group), while a
// STRING "150" never equals the number 150. NULL is a value of its own.
// The encoding is stable across processes and machines: it serves as a
// grouping map key and as the input of routing hashes.
func (v Value) AppendKey(b []byte) []byte {
	switch v.kind {
	case Null:
		return append(b, keyNull)
	case Bool:
		return append(b, keyBool, byte(v.num))
	case Int:
		return appendInt64(append(b, keyNumber), v.num)
	case Decimal:
		n, s := trimDecimal(v.num, v.scale)
		if s == 0 {
			return appendInt64(append(b, keyNumber), n)
		}
		return appendInt64(append(b, keyDecimal, s), n)
	case Float:
		f := v.Float()
		if f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
			return appendInt64(append(b, keyNumber), int64(f))
		}
		bits := math.Float64bits(f)
		if f != f { // every NaN is one group
			bits = 0x7ff8000000000001
		}
		return binary.BigEndian.AppendUint64(append(b, keyFloat), bits)
	case String:
		b = binary.AppendUvarint(append(b, keyString), uint64(len(v.str)))
		return append(b, v.str...)
	case Timestamp:
		return appendInt64(append(b, keyTimestamp), v.num)
	}
	return append(b, keyNull)
}

// GroupValue returns v in the one form of its group (see AppendKey): a
// whole DECIMAL or FLOAT in the int64 range as an INTEGER, another DECIMAL
// without the trailing zeros of its fraction, any other value as it is. So
// values that GROUP BY (and a join's equality) takes for one key have one
// GroupValue and one text: 150, 150.0, 150.00 and 1.5e2 are all 150.
func (v Value) GroupValue() Value {
	switch v.kind {
	case Decimal:
		n, s := trimDecimal(v.num, v.scale)
		if s == 0 {
			return IntValue(n)
		}
		return DecimalValue(n, s)
	case Float:
		if f := v.Float(); f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
			return IntValue(int64(f))
		}
	}
	return v
}

// trimDecimal returns the DECIMAL n × 10^-s without the trailing zeros of
// its fraction.
func trimDecimal(n int64, s uint8) (int64, uint8) {
	for s > 0 && n%10 == 0 {
		n /= 10
		s--
	}
	return n, s
}

func appendInt64(b []byte, n int64) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(n))
}

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

// KeyForm returns v in the one form that every value of its group (see
// AppendKey) takes as a key of type t, so that a key prints alike whichever
// of its values came first:
//
//   - a number in a DECIMAL(p,s) key is an exact DECIMAL at scale s (150,
//     150.0 and 1.5e2 are 150.000 in a DECIMAL(6,3) key); one with more
//     fraction digits than s (which an inferred column may meet after its
//     sample) keeps them, without trailing zeros;
//   - a whole number in a DOUBLE key is a FLOAT (-0.0 is 0);
//   - a whole number in any other key (INTEGER, BIGINT, a column without a
//     type) is an INTEGER, another DECIMAL has no trailing zeros;
//   - every NaN is one NaN, and any other value is as it is.
//
// A group's values print alike, and values of different groups print
// differently, except for a FLOAT and a DECIMAL with equal text (7.5), which
// AppendKey keeps apart.
func (v Value) KeyForm(t Type) Value {
	var n int64
	var s uint8
	switch v.kind {
	case Int:
		n = v.num
	case Decimal:
		n, s = trimDecimal(v.num, v.scale)
	case Float:
		f := v.Float()
		if f != f {
			return FloatValue(math.NaN())
		}
		if f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
			return v
		}
		n = int64(f)
	default:
		return v
	}
	switch {
	case t.Kind == TypeDecimal:
		if t.Scale > int(s) && t.Scale <= MaxScale {
			if m, ok := rescaleUp(n, t.Scale-int(s)); ok {
				return DecimalValue(m, uint8(t.Scale))
			}
		}
		return DecimalValue(n, s)
	case s > 0:
		return DecimalValue(n, s)
	case t.Kind == TypeDouble:
		if f := float64(n); f < 1<<63 && int64(f) == n {
			return FloatValue(f)
		}
	}
	return IntValue(n)
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

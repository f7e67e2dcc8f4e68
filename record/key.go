package record

import (
	"bytes"
	"encoding/binary"
	"math"
	"strconv"
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
// returns the extended slice. Values encode alike exactly when Compare finds
// them equal (NULLs aside): a number encodes as its exact value, a FLOAT as
// the decimal it stands for (see FloatDecimal), so 150, 150.0, 150.00 and
// 1.5e2 are one key, as are 7.5 and 7.5e0 or 0.1 and 1e-1, while a STRING
// "150" never equals the number 150. NULL is a value of its own.
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
		if n, s, ok := FloatDecimal(f); ok {
			if s == 0 {
				return appendInt64(append(b, keyNumber), n)
			}
			return appendInt64(append(b, keyDecimal, s), n)
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
//   - a number in a DOUBLE key is a FLOAT (-0.0 is 0, 7.50 is 7.5), unless
//     no FLOAT stands for it (2^53+1, 0.100000000000000001: see
//     FloatDecimal), which keeps its digits;
//   - a whole number in any other key (INTEGER, BIGINT, a column without a
//     type) is an INTEGER, another number a DECIMAL without trailing zeros
//     (1e-7 is 0.0000001);
//   - every NaN is one NaN, and any other value is as it is.
//
// A group's values print alike, and values of different groups print
// differently, except a STRING and a number spelled alike.
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
		var ok bool
		if n, s, ok = FloatDecimal(f); !ok {
			return v
		}
	default:
		return v
	}
	switch {
	case t.Kind == TypeDouble:
		// The FLOAT the number stands for, unless no FLOAT stands for it
		// (0.100000000000000001, 2^53+1): then its own digits.
		if f := decimalToFloat(n, s); f == f {
			if m, r, ok := FloatDecimal(f); ok && m == n && r == s {
				return FloatValue(f)
			}
		}
		if s > 0 {
			return DecimalValue(n, s)
		}
		return IntValue(n)
	case t.Kind == TypeDecimal:
		if t.Scale > int(s) && t.Scale <= MaxScale {
			if m, ok := rescaleUp(n, t.Scale-int(s)); ok {
				return DecimalValue(m, uint8(t.Scale))
			}
		}
		return DecimalValue(n, s)
	case s > 0:
		return DecimalValue(n, s)
	}
	return IntValue(n)
}

// FloatDecimal returns the exact number n × 10^-s (s ≤ MaxScale, no
// trailing zeros) that the FLOAT f stands for in comparisons and keys: a
// whole f in the int64 range is that integer (1.5e2 is 150, -0.0 is 0),
// another f the shortest decimal that reads back as f, which is how f
// prints (1e-1 is 0.1, 7.5e0 is 7.5). ok is false when no such number
// exists (NaN, ±Inf, |f| ≥ 2^63, a fraction needing more than MaxScale
// digits): such an f equals no INTEGER or DECIMAL.
func FloatDecimal(f float64) (n int64, s uint8, ok bool) {
	if f == math.Trunc(f) {
		if f >= -(1<<63) && f < 1<<63 {
			return int64(f), 0, true
		}
		return 0, 0, false
	}
	if f != f || math.Abs(f) < 1e-18 {
		return 0, 0, false
	}
	// A decimal of at most 15 significant digits that reads back as f is
	// the shortest (no two such decimals read back as one float64); most
	// fractions have one, found without formatting f.
	for s := 1; s <= 15; s++ {
		p := float64(pow10[s])
		m := math.Round(f * p)
		if math.Abs(m) >= 1e15 {
			break
		}
		if m/p == f {
			n, r := trimDecimal(int64(m), uint8(s))
			return n, r, true
		}
	}
	var buf [32]byte
	text := strconv.AppendFloat(buf[:0], f, 'e', -1, 64) // -d.ddde±xx
	neg := text[0] == '-'
	if neg {
		text = text[1:]
	}
	e := bytes.IndexByte(text, 'e')
	exp := 0
	for _, c := range text[e+2:] {
		exp = exp*10 + int(c-'0')
	}
	if text[e+1] == '-' {
		exp = -exp
	}
	digits := 0
	for _, c := range text[:e] {
		if c != '.' {
			n = n*10 + int64(c-'0') // at most 17 digits
			digits++
		}
	}
	scale := digits - 1 - exp // f is not whole, so scale > 0
	if scale > MaxScale {
		return 0, 0, false
	}
	if neg {
		n = -n
	}
	return n, uint8(scale), true
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

package record

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// String returns the value's display text: NULL, true/false, digits, the
// exact decimal with its scale, the shortest float that round-trips, the
// string itself, or an RFC 3339 timestamp with milliseconds in UTC.
func (v Value) String() string { return string(v.AppendText(nil)) }

// AppendText appends the value's display text (see String) to b.
func (v Value) AppendText(b []byte) []byte {
	switch v.kind {
	case Null:
		return append(b, "NULL"...)
	case Bool:
		return strconv.AppendBool(b, v.num != 0)
	case Int:
		return strconv.AppendInt(b, v.num, 10)
	case Float:
		return appendFloat(b, v.Float())
	case Decimal:
		return AppendDecimal(b, v.num, v.scale)
	case String:
		return append(b, v.str...)
	case Timestamp:
		return time.UnixMilli(v.num).UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
	}
	return b
}

// AppendJSON appends the value as a JSON value: null, true/false, a number
// (decimals exactly as written, with their scale), a quoted string, or a
// quoted RFC 3339 timestamp. Non-finite floats become null.
func (v Value) AppendJSON(b []byte) []byte {
	switch v.kind {
	case Null:
		return append(b, "null"...)
	case Float:
		f := v.Float()
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return append(b, "null"...)
		}
		return appendFloat(b, f)
	case String:
		return AppendJSONString(b, v.str)
	case Timestamp:
		b = append(b, '"')
		return append(v.AppendText(b), '"')
	}
	return v.AppendText(b)
}

func appendFloat(b []byte, f float64) []byte {
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}

// AppendDecimal appends unscaled × 10^-scale in plain decimal notation,
// keeping all scale digits ("12.50").
func AppendDecimal(b []byte, unscaled int64, scale uint8) []byte {
	if scale == 0 {
		return strconv.AppendInt(b, unscaled, 10)
	}
	neg := unscaled < 0
	u := uint64(unscaled)
	if neg {
		u = -u
		b = append(b, '-')
	}
	var buf [24]byte
	digits := strconv.AppendUint(buf[:0], u, 10)
	for len(digits) <= int(scale) {
		digits = append([]byte{'0'}, digits...)
	}
	point := len(digits) - int(scale)
	b = append(b, digits[:point]...)
	b = append(b, '.')
	return append(b, digits[point:]...)
}

// AppendJSONString appends s as a JSON string literal. Invalid UTF-8 becomes
// U+FFFD, so the output is always valid JSON.
func AppendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size
				continue
			}
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

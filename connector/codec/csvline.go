package codec

import (
	"bytes"
	"encoding/binary"
	"math/bits"

	"github.com/sluicesql/sluice/record"
)

// DecodeFirst decodes the first line of buf into dst, like Decode, in one
// pass that finds the field delimiters and the line break together (and
// parses a plain number, such as -12.3, as it goes). It returns the length of
// the line including its line break ("\n" or "\r\n"), or 0 when this fast
// path does not apply: buf holds no line break, the line is empty (no
// record), has a quoted field, or does not decode (a wrong number of fields,
// a number out of range). The caller then cuts the line
// itself and calls Decode, which decodes it the same way or reports the
// error. After a 0 the contents of dst are unspecified.
func (d *CSVDecoder) DecodeFirst(buf []byte, dst []record.Value) int {
	slots := d.slots
	if len(dst) != d.width {
		return 0
	}
	for _, s := range d.unset {
		dst[s] = record.Value{}
	}
	d.intern.invalid = false
	delim := d.delim
	delimWord := lsbs * uint64(delim)
	last := len(slots) - 1
	i := 0
	for col, s := range slots {
		if i == len(buf) {
			return 0
		}
		start, c := i, buf[i]
		if c == '"' {
			return 0
		}
		if s >= 0 && mayBeNumber(c) && (d.text == nil || !d.text[col]) {
			// A plain number ending at a delimiter or the line break is
			// stored as it is parsed; anything else is typed below.
			if v, n := parseSimplePrefix(buf[i:]); n > 0 && i+n < len(buf) {
				j := i + n
				switch c := buf[j]; {
				case c == delim && col < last:
					dst[s] = v
					i = j + 1
					continue
				case c == '\n' || c == '\r' && j+1 < len(buf) && buf[j+1] == '\n':
					if col != last || d.intern.invalid {
						return 0
					}
					dst[s] = v
					if c == '\r' {
						j++
					}
					return j + 1
				}
			}
		}
		if i = fieldEnd(buf, i, delimWord, lsbs*'\n'); i == len(buf) {
			return 0
		}
		eol := buf[i] == '\n'
		end := i
		if eol && end > start && buf[end-1] == '\r' {
			end--
		}
		if s >= 0 {
			switch {
			case end == start:
				dst[s] = record.Value{}
			case !mayBeNumber(c) || d.text != nil && d.text[col]:
				dst[s] = record.StringValue(d.intern.strAt(buf, start, end))
			default:
				v, err := d.value(buf[start:end], false)
				if err != nil {
					return 0
				}
				dst[s] = v
			}
		}
		if eol {
			// An empty line is no record; the caller skips it. Decode
			// reports a field that is not UTF-8.
			if col != last || end == 0 || d.intern.invalid {
				return 0
			}
			return i + 1
		}
		i++
	}
	return 0 // more fields than columns
}

// Eight bytes at a time: lsbs has the low bit of every byte set, msbs the
// high bit.
const (
	lsbs = 0x0101010101010101
	msbs = 0x8080808080808080
)

// fieldEnd returns the offset of the first byte of buf from i on that is one
// of the two bytes a and b are filled with (lsbs times the byte), or
// len(buf). It tests eight bytes per step: a byte of x^a is zero where x
// holds a's byte, and (y-lsbs)&^y&msbs flags the lowest zero byte of y
// exactly (a borrow can only flag bytes above it).
func fieldEnd(buf []byte, i int, a, b uint64) int {
	for ; i+8 <= len(buf); i += 8 {
		x := binary.LittleEndian.Uint64(buf[i:])
		y, z := x^a, x^b
		if m := ((y - lsbs) &^ y) | ((z - lsbs) &^ z); m&msbs != 0 {
			return i + bits.TrailingZeros64(m&msbs)>>3
		}
	}
	for i < len(buf) && buf[i] != byte(a) && buf[i] != byte(b) {
		i++
	}
	return i
}

// CSVRecordEnd returns the offset in buf of the line break ('\n') that ends
// the CSV record starting at buf[0], or -1 when buf ends inside the record.
// A record is RFC 4180's: it ends at the first '\n' outside a quoted field,
// and a field is quoted when its first byte is '"' (the first byte of the
// record, or the byte after a delimiter); a quoted field ends at a '"' not
// followed by another (a doubled quote is one quote of its text). Any
// other '"' is a byte of its unquoted field, as Decode has it. Bytes after
// a closing quote other than the delimiter or the line break make the
// record undecodable but do not change where it ends: a '"' among them
// opens nothing, a delimiter after them starts a field.
func CSVRecordEnd(buf []byte, delim byte) int {
	end, _ := CSVRecordEndMax(buf, delim, 0)
	return end
}

// CSVRecordEndMax is CSVRecordEnd with a bound, when maxField > 0, on the
// quoted fields that hold a line break: one whose closing quote is more
// than maxField bytes after its opening quote (or that never closes, such
// as a stray quote) ends the record at its first line break, and cut is
// true; the record, then cut inside a quoted field, cannot decode. So an
// unclosed quote costs the line it opens on, not the rest of the file. A
// quoted field without a line break ends where it closes, however long.
func CSVRecordEndMax(buf []byte, delim byte, maxField int) (end int, cut bool) {
	i := 0
	for {
		nl := bytes.IndexByte(buf[i:], '\n')
		if nl < 0 {
			nl = len(buf) - i
		}
		q := bytes.IndexByte(buf[i:i+nl], '"')
		if q < 0 {
			if i+nl == len(buf) {
				return -1, false
			}
			return i + nl, false
		}
		q += i
		if q > 0 && buf[q-1] != delim {
			i = q + 1 // a quote inside an unquoted field
			continue
		}
		// A quoted field: find its closing quote.
		for j := q + 1; ; {
			c := bytes.IndexByte(buf[j:], '"')
			if c < 0 || j+c+1 == len(buf) {
				// The field, or whether its last quote is doubled, is not
				// in buf: it closes at len(buf) or later (at j+c when
				// that quote is not doubled).
				closes := len(buf)
				if c >= 0 {
					closes = j + c
				}
				if maxField > 0 && closes-q > maxField {
					if lb := bytes.IndexByte(buf[q:closes], '\n'); lb >= 0 {
						return q + lb, true
					}
				}
				return -1, false
			}
			j += c
			if buf[j+1] != '"' {
				if maxField > 0 && j-q > maxField {
					if lb := bytes.IndexByte(buf[q:j], '\n'); lb >= 0 {
						return q + lb, true
					}
				}
				i = j + 1
				break
			}
			j += 2
		}
	}
}

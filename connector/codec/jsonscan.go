package codec

import (
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// skipSpace returns the offset of the first non-white-space byte at or after i.
func skipSpace(data []byte, i int) int {
	for i < len(data) {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// stringStop marks the bytes that end a run of plain string text.
var stringStop = [256]bool{'"': true, '\\': true}

// scanString scans the JSON string whose opening quote is at data[i] and
// returns the offset after its closing quote and whether it contains escapes.
func scanString(data []byte, i int) (end int, escaped bool, err error) {
	for j := i + 1; j < len(data); j++ {
		if !stringStop[data[j]] {
			continue
		}
		switch data[j] {
		case '"':
			return j + 1, escaped, nil
		case '\\':
			escaped = true
			j++
			if j >= len(data) {
				break
			}
			switch data[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(data) || !isHex4(data[j+1:j+5]) {
					return j, true, syntaxError(data, j-1, `invalid \u escape`)
				}
				j += 4
			default:
				return j, true, syntaxError(data, j-1, fmt.Sprintf("invalid escape %q", data[j-1:j+1]))
			}
		}
	}
	return len(data), escaped, syntaxError(data, i, "unterminated string")
}

// scanNumber returns the offset after the run of number characters at data[i].
func scanNumber(data []byte, i int) int {
	for ; i < len(data); i++ {
		switch c := data[i]; {
		case c >= '0' && c <= '9', c == '.', c == '-', c == '+', c == 'e', c == 'E':
		default:
			return i
		}
	}
	return i
}

// validJSONNumber reports whether b is a number by the JSON grammar.
func validJSONNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = digitsEnd(b, i)
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		j := digitsEnd(b, i+1)
		if j == i+1 {
			return false
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := digitsEnd(b, i)
		if j == i {
			return false
		}
		i = j
	}
	return i == len(b)
}

func digitsEnd(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if hexVal(c) < 0 {
			return false
		}
	}
	return true
}

func hexVal(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

// unescape appends the text of a JSON string body whose escapes scanString
// has already validated. Unpaired surrogates become U+FFFD.
func unescape(dst, s []byte) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			dst = append(dst, c)
			continue
		}
		i++
		switch s[i] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, n := decodeU(s[i+1:])
			dst = utf8.AppendRune(dst, r)
			i += n
		default: // '"', '\\', '/'
			dst = append(dst, s[i])
		}
	}
	return dst
}

// decodeU decodes the hex digits after \u (and a following \uXXXX low
// surrogate) and returns the rune and the number of bytes consumed.
func decodeU(s []byte) (rune, int) {
	if len(s) < 4 {
		return utf8.RuneError, len(s)
	}
	r := hex4(s)
	if !utf16.IsSurrogate(r) {
		return r, 4
	}
	if len(s) >= 10 && s[4] == '\\' && s[5] == 'u' && isHex4(s[6:10]) {
		if pair := utf16.DecodeRune(r, hex4(s[6:])); pair != utf8.RuneError {
			return pair, 10
		}
	}
	return utf8.RuneError, 4
}

func hex4(s []byte) rune {
	return hexVal(s[0])<<12 | hexVal(s[1])<<8 | hexVal(s[2])<<4 | hexVal(s[3])
}

func hasPrefix(b []byte, p string) bool {
	return len(b) >= len(p) && string(b[:len(p)]) == p
}

// syntaxError describes a syntax error at offset i of data.
func syntaxError(data []byte, i int, msg string) error {
	if i >= len(data) {
		return fmt.Errorf("at byte %d (end of input): %s", i, msg)
	}
	return fmt.Errorf("at byte %d near %q: %s", i, excerpt(data, i), msg)
}

// excerpt returns up to 16 bytes of data starting at i.
// maxQuote bounds the input one error message quotes.
const maxQuote = 32

// clip shortens input quoted in an error message to maxQuote bytes,
// marking the cut with "...".
func clip(b []byte) []byte {
	if len(b) <= maxQuote {
		return b
	}
	return append(b[:maxQuote:maxQuote], "..."...)
}

func excerpt(data []byte, i int) []byte {
	end := i + 16
	if end > len(data) {
		end = len(data)
	}
	return data[i:end]
}

package codec

import (
	"fmt"
	"unicode/utf8"
)

// InvalidUTF8 says what a decoder does with a string value that is not
// valid UTF-8.
type InvalidUTF8 uint8

const (
	// RejectInvalidUTF8, the default, fails the record: it goes to the
	// dead-letter queue with its original bytes.
	RejectInvalidUTF8 InvalidUTF8 = iota
	// ReplaceInvalidUTF8 reads each byte that is not part of a valid UTF-8
	// sequence as U+FFFD, as encoding/json does.
	ReplaceInvalidUTF8
)

// InvalidUTF8Option is the source option that chooses an InvalidUTF8
// ('<n>.invalid.utf8'), and InvalidUTF8Values its values.
const InvalidUTF8Option = "invalid.utf8"

// InvalidUTF8Values are the values of InvalidUTF8Option, the default first.
var InvalidUTF8Values = []string{"error", "replace"}

// ParseInvalidUTF8 reads a value of InvalidUTF8Option.
func ParseInvalidUTF8(v string) (InvalidUTF8, error) {
	switch v {
	case "error":
		return RejectInvalidUTF8, nil
	case "replace":
		return ReplaceInvalidUTF8, nil
	}
	return 0, fmt.Errorf("unknown value %q; valid: error, replace", v)
}

// InvalidUTF8Error is the decode error of a record holding invalid UTF-8:
// it names the first bad byte's offset in data and the option that
// replaces it.
func InvalidUTF8Error(data []byte, option string) error {
	i := 0
	for i < len(data) {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n == 1 {
			break
		}
		i += n
	}
	if option == "" {
		option = "<source>." + InvalidUTF8Option
	}
	return fmt.Errorf("invalid UTF-8 (byte 0x%02x at byte %d); set '%s'='replace' to read it as U+FFFD", byteAt(data, i), i, option)
}

func byteAt(b []byte, i int) byte {
	if i < len(b) {
		return b[i]
	}
	return 0
}

// AppendValidUTF8 appends b to dst with each byte that is not part of a
// valid UTF-8 sequence replaced by U+FFFD.
func AppendValidUTF8(dst, b []byte) []byte {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			dst = utf8.AppendRune(dst, utf8.RuneError)
		} else {
			dst = append(dst, b[:n]...)
		}
		b = b[n:]
	}
	return dst
}

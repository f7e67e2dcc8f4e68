package record

import (
	"errors"
	"fmt"
	"math"
	"strconv"
)

// ErrDecimalOverflow reports a decimal that does not fit the exact
// scaled-int64 representation (about 18 significant digits).
var ErrDecimalOverflow = errors.New("decimal out of range: more than 18 significant digits")

// ParseNumber types untyped numeric text by Sluice's decoding rule: a whole
// number is an INTEGER, a number with a fraction and no exponent is an exact
// DECIMAL (keeping its written scale, "12.50" has scale 2), and a number with
// an exponent is a FLOAT. An integer too large for int64 is an error, as is a
// decimal with more significant digits than the exact representation holds.
func ParseNumber(s string) (Value, error) {
	if len(s) == 0 {
		return Value{}, fmt.Errorf("empty number")
	}
	i := 0
	if s[0] == '-' || s[0] == '+' {
		i++
	}
	digits, dot, exp := 0, -1, false
	for j := i; j < len(s); j++ {
		c := s[j]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && dot < 0 && !exp:
			dot = j
		case (c == 'e' || c == 'E') && !exp && digits > 0:
			exp = true
		case (c == '+' || c == '-') && exp && (s[j-1] == 'e' || s[j-1] == 'E'):
		default:
			return Value{}, fmt.Errorf("invalid number %q", s)
		}
	}
	if digits == 0 {
		return Value{}, fmt.Errorf("invalid number %q", s)
	}
	if exp {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return Value{}, fmt.Errorf("invalid number %q", s)
		}
		return FloatValue(f), nil
	}
	if dot < 0 {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return Value{}, fmt.Errorf("integer %q out of range", s)
		}
		return IntValue(n), nil
	}
	return parseDecimal(s, i, dot)
}

// parseDecimal parses s, whose sign (if any) ends before start and whose
// decimal point is at dot.
func parseDecimal(s string, start, dot int) (Value, error) {
	scale := len(s) - dot - 1
	if scale > 18 {
		return Value{}, fmt.Errorf("decimal %q: %w", s, ErrDecimalOverflow)
	}
	var n uint64
	for j := start; j < len(s); j++ {
		if j == dot {
			continue
		}
		d := uint64(s[j] - '0')
		if n > (math.MaxInt64-d)/10 {
			return Value{}, fmt.Errorf("decimal %q: %w", s, ErrDecimalOverflow)
		}
		n = n*10 + d
	}
	v := int64(n)
	if s[0] == '-' {
		v = -v
	}
	return DecimalValue(v, uint8(scale)), nil
}

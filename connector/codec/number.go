package codec

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/sluicesql/sluice/record"
)

// errNotNumber reports text that does not have the shape of a number.
var errNotNumber = errors.New("not a number")

// maxFastDigits is the most digits whose value always fits an int64.
const maxFastDigits = 18

// parseNumber types b by record.ParseNumber's rule without allocating for
// the common cases. It returns errNotNumber (wrapped) when b does not have
// the shape of a number, and another error when it does but is out of range.
func parseNumber(b []byte) (record.Value, error) {
	if v, ok := parseSimple(b); ok {
		return v, nil
	}
	return parseGeneral(b)
}

// parseSimple handles the common shapes -?d+ and -?d+.d+ with at most
// maxFastDigits digits in one tight pass.
func parseSimple(b []byte) (record.Value, bool) {
	v, n := parseSimplePrefix(b)
	return v, n > 0 && n == len(b)
}

// parseSimplePrefix parses the longest prefix of b of the shape -?d+ or
// -?d+.d+ with at most maxFastDigits digits and returns its value and length,
// or 0 when b does not start with such a number. A caller must check what
// follows the prefix: "1.5e3" yields 1.5 and 3, "1." yields 0.
func parseSimplePrefix(b []byte) (record.Value, int) {
	i := 0
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		i++
	}
	start := i
	var n uint64
	for i < len(b) && b[i]-'0' <= 9 {
		n = n*10 + uint64(b[i]-'0')
		i++
	}
	intDigits := i - start
	if intDigits == 0 || intDigits > maxFastDigits {
		return record.Value{}, 0
	}
	if i == len(b) || b[i] != '.' {
		v := int64(n)
		if neg {
			v = -v
		}
		return record.IntValue(v), i
	}
	i++
	frac := i
	for i < len(b) && b[i]-'0' <= 9 {
		n = n*10 + uint64(b[i]-'0')
		i++
	}
	scale := i - frac
	if scale == 0 || intDigits+scale > maxFastDigits {
		return record.Value{}, 0
	}
	v := int64(n)
	if neg {
		v = -v
	}
	return record.DecimalValue(v, uint8(scale)), i
}

// parseGeneral handles every shape record.ParseNumber accepts.
func parseGeneral(b []byte) (record.Value, error) {
	if len(b) == 0 {
		return record.Value{}, errNotNumber
	}
	i := 0
	neg := false
	switch b[0] {
	case '-':
		neg = true
		i++
	case '+':
		i++
	}
	start := i
	var n uint64
	digits, dot, exp := 0, -1, false
	for j := i; j < len(b); j++ {
		c := b[j]
		switch {
		case c >= '0' && c <= '9':
			digits++
			n = n*10 + uint64(c-'0') // may wrap past 19 digits; only used when digits <= maxFastDigits
		case c == '.' && dot < 0 && !exp:
			dot = j
		case (c == 'e' || c == 'E') && !exp && digits > 0:
			exp = true
		case (c == '+' || c == '-') && exp && (b[j-1] == 'e' || b[j-1] == 'E'):
		default:
			return record.Value{}, errNotNumber
		}
	}
	if digits == 0 {
		return record.Value{}, errNotNumber
	}
	if exp {
		f, err := strconv.ParseFloat(string(b), 64)
		if err != nil {
			return record.Value{}, errNotNumber
		}
		return record.FloatValue(f), nil
	}
	if dot < 0 {
		if digits <= maxFastDigits {
			v := int64(n)
			if neg {
				v = -v
			}
			return record.IntValue(v), nil
		}
		v, err := strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			return record.Value{}, fmt.Errorf("integer %q out of range", clip(b))
		}
		return record.IntValue(v), nil
	}
	scale := len(b) - dot - 1
	if scale > record.MaxScale {
		return record.Value{}, fmt.Errorf("decimal %q: %w", clip(b), record.ErrDecimalOverflow)
	}
	if digits > maxFastDigits {
		// Recount exactly, detecting overflow, as record.ParseNumber does.
		n = 0
		for j := start; j < len(b); j++ {
			if j == dot {
				continue
			}
			d := uint64(b[j] - '0')
			if n > (math.MaxInt64-d)/10 {
				return record.Value{}, fmt.Errorf("decimal %q: %w", clip(b), record.ErrDecimalOverflow)
			}
			n = n*10 + d
		}
	}
	v := int64(n)
	if neg {
		v = -v
	}
	return record.DecimalValue(v, uint8(scale)), nil
}

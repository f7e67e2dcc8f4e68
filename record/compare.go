package record

import (
	"cmp"
	"fmt"
	"math"
	"strings"
)

// Compare orders a and b, returning -1, 0 or +1.
//
// Numbers compare by value across INTEGER, DECIMAL and FLOAT: INTEGER and
// DECIMAL exactly (150 = 150.00), against a FLOAT through float64. Like
// PostgreSQL, NaN equals NaN and sorts above every other number. STRINGs
// compare byte-wise (lexicographic in UTF-8), BOOLEANs false < true, and
// TIMESTAMPs by time; a STRING compared with a TIMESTAMP is read as a
// timestamp (see ToTimestamp). Other mixes of kinds are an error.
//
// NULL is not an SQL comparison operand (three-valued logic belongs to the
// caller); for sorting, Compare treats NULL as equal to NULL and greater than
// every other value, which is PostgreSQL's default NULLS LAST order.
func Compare(a, b Value) (int, error) {
	if a.kind == b.kind {
		switch a.kind {
		case Int, Timestamp, Bool:
			return cmp.Compare(a.num, b.num), nil
		case Decimal:
			return cmpDecimal(a.num, a.scale, b.num, b.scale), nil
		case Float:
			return cmpFloat(a.Float(), b.Float()), nil
		case String:
			return strings.Compare(a.str, b.str), nil
		case Null:
			return 0, nil
		}
	}
	switch {
	case a.kind == Null:
		return 1, nil
	case b.kind == Null:
		return -1, nil
	case a.isExact() && b.isExact():
		return cmpDecimal(a.num, a.scaleOf(), b.num, b.scaleOf()), nil
	case a.isNumeric() && b.isNumeric():
		return cmpFloat(a.toFloat(), b.toFloat()), nil
	case a.kind == Timestamp && b.kind == String:
		t, err := ToTimestamp(b)
		if err != nil {
			return 0, fmt.Errorf("cannot compare TIMESTAMP with %s: %w", b.quoted(), err)
		}
		return cmp.Compare(a.num, t.num), nil
	case a.kind == String && b.kind == Timestamp:
		c, err := Compare(b, a)
		return -c, err
	}
	return 0, fmt.Errorf("cannot compare %s with %s", a.kind, b.kind)
}

// Equal reports whether a and b are equal by Compare's rules.
func Equal(a, b Value) (bool, error) {
	c, err := Compare(a, b)
	return c == 0, err
}

// scaleOf returns a DECIMAL's scale and 0 for every other kind.
func (v Value) scaleOf() uint8 {
	if v.kind == Decimal {
		return v.scale
	}
	return 0
}

func cmpFloat(a, b float64) int {
	an, bn := math.IsNaN(a), math.IsNaN(b)
	switch {
	case an || bn:
		if an && bn {
			return 0
		}
		if an {
			return 1
		}
		return -1
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cmpDecimal compares two decimals exactly: first their integer parts, then
// their fractions brought to a common scale (which always fits an int64).
func cmpDecimal(a int64, sa uint8, b int64, sb uint8) int {
	if sa == sb {
		return cmp.Compare(a, b)
	}
	if sa > MaxScale || sb > MaxScale {
		return cmpFloat(decimalToFloat(a, sa), decimalToFloat(b, sb))
	}
	qa, ra := a/pow10[sa], a%pow10[sa]
	qb, rb := b/pow10[sb], b%pow10[sb]
	if qa != qb {
		return cmp.Compare(qa, qb)
	}
	s := max(sa, sb)
	return cmp.Compare(ra*pow10[s-sa], rb*pow10[s-sb])
}

// quoted renders v for error messages: strings quoted, others as text.
func (v Value) quoted() string {
	if v.kind == String {
		s := v.str
		if len(s) > 64 {
			s = s[:64] + "..."
		}
		return fmt.Sprintf("%s %q", v.kind, s)
	}
	return v.kind.String() + " " + v.String()
}

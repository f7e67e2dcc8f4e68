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
// DECIMAL exactly (150 = 150.00), FLOATs as float64, and an INTEGER or
// DECIMAL with a FLOAT against the number the FLOAT stands for (how it
// prints, see FloatDecimal: 7.5 = 7.5e0, 0.1 = 1e-1, 150 = 1.5e2), so that
// equality is transitive and a digit of an exact number is never rounded
// away (2^53+1 ≠ 2^53 as a FLOAT). Like PostgreSQL, NaN equals NaN and sorts
// above every other number. STRINGs
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
	case a.isExact() && b.kind == Float:
		return cmpExactFloat(a.num, a.scaleOf(), b.Float()), nil
	case a.kind == Float && b.isExact():
		return -cmpExactFloat(b.num, b.scaleOf(), a.Float()), nil
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

// CompareForm orders the forms of values that Compare finds equal (7.5 and
// 7.50, 150 and 1.5e2, -0.0 and 0.0), returning -1, 0 or +1, so that a
// choice among equal values does not depend on which came first: a FLOAT
// before an INTEGER before a DECIMAL, DECIMALs by scale (7.5 before 7.50),
// FLOATs by their bits as an int64 (-0.0 before 0.0). Equal values of one
// form give 0.
func CompareForm(a, b Value) int {
	if c := cmp.Compare(formRank(a.kind), formRank(b.kind)); c != 0 {
		return c
	}
	if c := cmp.Compare(a.scale, b.scale); c != 0 {
		return c
	}
	return cmp.Compare(a.num, b.num)
}

// formRank orders the kinds of equal numbers for CompareForm: the exact
// ones after FLOAT, a DECIMAL, which may show fraction digits, last.
func formRank(k Kind) int {
	switch k {
	case Float:
		return 0
	case Int:
		return 1
	}
	return 2
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

// cmpExactFloat compares the exact number n × 10^-s with the FLOAT f by the
// number f stands for (FloatDecimal). An f that stands for no exact number
// compares as a float64, and is never equal to one: |f| ≥ 2^63 is beyond
// every INTEGER, and a fraction needing more than MaxScale digits lies
// between two DECIMALs.
func cmpExactFloat(n int64, s uint8, f float64) int {
	if m, r, ok := FloatDecimal(f); ok {
		return cmpDecimal(n, s, m, r)
	}
	if c := cmpFloat(decimalToFloat(n, s), f); c != 0 {
		return c
	}
	if f > 0 {
		return -1
	}
	return 1
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

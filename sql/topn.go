package sql

import (
	"strconv"
	"strings"
)

// IsRankCall reports whether c is ROW_NUMBER, RANK or DENSE_RANK with OVER.
func IsRankCall(c *Call) bool {
	switch strings.ToUpper(c.Name) {
	case "ROW_NUMBER", "RANK", "DENSE_RANK":
		return c.Over != nil
	}
	return false
}

// Conjuncts splits e at AND (nil gives none).
func Conjuncts(e Expr) []Expr {
	if e == nil {
		return nil
	}
	if b, ok := e.(*Binary); ok && b.Op == And {
		return append(Conjuncts(b.L), Conjuncts(b.R)...)
	}
	return []Expr{e}
}

// TopN recognises a Top-N: a conjunct of QUALIFY bounding a rank function
// that has an ORDER BY. It returns the call and the inclusive range of
// ranks the bound keeps (lo >= 1; hi < lo when none).
func TopN(sel *Select) (c *Call, lo, hi int64, ok bool) {
	for _, x := range Conjuncts(sel.Qualify) {
		if c, lo, hi, ok := rankBound(x); ok && len(c.Over.OrderBy) > 0 {
			return c, lo, hi, true
		}
	}
	return nil, 0, 0, false
}

// rankBound recognises a bound on a rank function: `r <= n`, `r < n`,
// `r = n`, the same written the other way round, and `r BETWEEN a AND b`,
// with integer constants.
func rankBound(e Expr) (c *Call, lo, hi int64, ok bool) {
	intLit := func(x Expr) (int64, bool) {
		l, ok := x.(*Literal)
		if !ok || l.Kind != IntLit {
			return 0, false
		}
		n, err := strconv.ParseInt(l.Text, 10, 64)
		return n, err == nil
	}
	rank := func(x Expr) (*Call, bool) {
		c, ok := x.(*Call)
		return c, ok && IsRankCall(c)
	}
	switch x := e.(type) {
	case *Between:
		c, ok := rank(x.X)
		lo, ok1 := intLit(x.Lo)
		hi, ok2 := intLit(x.Hi)
		return c, max(lo, 1), hi, ok && ok1 && ok2 && !x.Not
	case *Binary:
		op, l, r := x.Op, x.L, x.R
		if _, ok := rank(l); !ok {
			l, r = r, l // n >= r is r <= n
			switch op {
			case GtEq:
				op = LtEq
			case Gt:
				op = Lt
			case Eq:
			default:
				return nil, 0, 0, false
			}
		}
		c, ok := rank(l)
		n, ok1 := intLit(r)
		if !ok || !ok1 {
			return nil, 0, 0, false
		}
		switch op {
		case LtEq:
			return c, 1, n, true
		case Lt:
			return c, 1, n - 1, true
		case Eq:
			return c, n, n, true
		}
	}
	return nil, 0, 0, false
}

package expr

import (
	"unicode/utf8"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// like compiles X [NOT] LIKE Pattern: NULL if either side is NULL; other
// non-STRING operands match by their display text.
func (c *compiler) like(x *sql.Like) (node, error) {
	fns, constant, err := c.compileAll([]sql.Expr{x.X, x.Pattern})
	if err != nil {
		return node{}, err
	}
	xf, pf, not := fns[0], fns[1], x.Not
	return node{constant: constant, fn: func(r *record.Record) (record.Value, error) {
		v, err := xf(r)
		if err != nil {
			return v, err
		}
		p, err := pf(r)
		if err != nil {
			return p, err
		}
		if v.IsNull() || p.IsNull() {
			return null, nil
		}
		return record.BoolValue(likeMatch(text(v), text(p)) != not), nil
	}}, nil
}

// likeMatch reports whether s matches the LIKE pattern p: % matches any
// run of characters, _ exactly one character, and a backslash makes the
// next pattern character literal. The match covers all of s.
func likeMatch(s, p string) bool {
	si, pi := 0, 0
	starP, starS := -1, 0 // pattern index after the last %, and where it resumed in s
	for si < len(s) {
		if pi < len(p) {
			switch c := p[pi]; {
			case c == '%':
				pi++
				starP, starS = pi, si
				continue
			case c == '_':
				_, w := utf8.DecodeRuneInString(s[si:])
				si += w
				pi++
				continue
			case c == '\\' && pi+1 < len(p):
				if s[si] == p[pi+1] {
					si, pi = si+1, pi+2
					continue
				}
			case s[si] == c:
				si, pi = si+1, pi+1
				continue
			}
		}
		if starP < 0 {
			return false
		}
		_, w := utf8.DecodeRuneInString(s[starS:])
		starS += w
		si, pi = starS, starP
	}
	for pi < len(p) && p[pi] == '%' {
		pi++
	}
	return pi == len(p)
}

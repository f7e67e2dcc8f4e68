package sql

import "strings"

// SameExpr reports whether a and b are the same expression, ignoring
// positions and identifier case. A qualified and an unqualified reference
// to one column name match: a statement's unqualified name is that of the
// one input that has it. The executor computes one aggregate of the calls
// it finds the same, and EXPLAIN lists it once.
func SameExpr(a, b Expr) bool {
	switch x := a.(type) {
	case *Ident:
		y, ok := b.(*Ident)
		return ok && strings.EqualFold(x.Name, y.Name) && samePath(x.Path, y.Path) &&
			(x.Qualifier == "" || y.Qualifier == "" || strings.EqualFold(x.Qualifier, y.Qualifier))
	case *Index:
		y, ok := b.(*Index)
		return ok && SameExpr(x.X, y.X) && SameExpr(x.Index, y.Index) && samePath(x.Path, y.Path)
	case *Literal:
		y, ok := b.(*Literal)
		return ok && x.Kind == y.Kind && x.Text == y.Text && strings.EqualFold(x.Unit, y.Unit)
	case *Unary:
		y, ok := b.(*Unary)
		return ok && x.Op == y.Op && SameExpr(x.X, y.X)
	case *Binary:
		y, ok := b.(*Binary)
		return ok && x.Op == y.Op && SameExpr(x.L, y.L) && SameExpr(x.R, y.R)
	case *IsNull:
		y, ok := b.(*IsNull)
		return ok && x.Not == y.Not && SameExpr(x.X, y.X)
	case *In:
		y, ok := b.(*In)
		return ok && x.Not == y.Not && SameExpr(x.X, y.X) && sameList(x.List, y.List)
	case *Between:
		y, ok := b.(*Between)
		return ok && x.Not == y.Not && SameExpr(x.X, y.X) && SameExpr(x.Lo, y.Lo) && SameExpr(x.Hi, y.Hi)
	case *Like:
		y, ok := b.(*Like)
		return ok && x.Not == y.Not && SameExpr(x.X, y.X) && SameExpr(x.Pattern, y.Pattern)
	case *Case:
		y, ok := b.(*Case)
		if !ok || len(x.Whens) != len(y.Whens) || !sameOptional(x.Operand, y.Operand) || !sameOptional(x.Else, y.Else) {
			return false
		}
		for i := range x.Whens {
			if !SameExpr(x.Whens[i].Cond, y.Whens[i].Cond) || !SameExpr(x.Whens[i].Result, y.Whens[i].Result) {
				return false
			}
		}
		return true
	case *Cast:
		y, ok := b.(*Cast)
		return ok && strings.EqualFold(x.Type, y.Type) && SameExpr(x.X, y.X)
	case *Call:
		y, ok := b.(*Call)
		return ok && strings.EqualFold(x.Name, y.Name) && x.Star == y.Star && x.Distinct == y.Distinct &&
			sameList(x.Args, y.Args) && sameOver(x.Over, y.Over)
	}
	return false
}

func sameOptional(a, b Expr) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return SameExpr(a, b)
}

func sameList(a, b []Expr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !SameExpr(a[i], b[i]) {
			return false
		}
	}
	return true
}

func sameOver(a, b *Over) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if a.Buffer != b.Buffer || !sameList(a.PartitionBy, b.PartitionBy) || len(a.OrderBy) != len(b.OrderBy) ||
		(a.Frame == nil) != (b.Frame == nil) || (a.Frame != nil && a.Frame.Preceding != b.Frame.Preceding) {
		return false
	}
	for i := range a.OrderBy {
		if a.OrderBy[i].Desc != b.OrderBy[i].Desc || !SameExpr(a.OrderBy[i].Expr, b.OrderBy[i].Expr) {
			return false
		}
	}
	return true
}

// samePath reports whether two nested field paths are equal (any case).
func samePath(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !strings.EqualFold(a[i], b[i]) {
			return false
		}
	}
	return true
}

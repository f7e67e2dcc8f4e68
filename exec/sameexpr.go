package exec

import (
	"fmt"
	"strings"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
)

// sameExpr reports whether a and b are the same expression, ignoring
// positions and identifier case. A qualified and an unqualified reference
// to one column name match (the executor reads a single source).
func sameExpr(a, b sql.Expr) bool {
	switch x := a.(type) {
	case *sql.Ident:
		y, ok := b.(*sql.Ident)
		return ok && strings.EqualFold(x.Name, y.Name) && samePath(x.Path, y.Path) &&
			(x.Qualifier == "" || y.Qualifier == "" || strings.EqualFold(x.Qualifier, y.Qualifier))
	case *sql.Index:
		y, ok := b.(*sql.Index)
		return ok && sameExpr(x.X, y.X) && sameExpr(x.Index, y.Index) && samePath(x.Path, y.Path)
	case *sql.Literal:
		y, ok := b.(*sql.Literal)
		return ok && x.Kind == y.Kind && x.Text == y.Text && strings.EqualFold(x.Unit, y.Unit)
	case *sql.Unary:
		y, ok := b.(*sql.Unary)
		return ok && x.Op == y.Op && sameExpr(x.X, y.X)
	case *sql.Binary:
		y, ok := b.(*sql.Binary)
		return ok && x.Op == y.Op && sameExpr(x.L, y.L) && sameExpr(x.R, y.R)
	case *sql.IsNull:
		y, ok := b.(*sql.IsNull)
		return ok && x.Not == y.Not && sameExpr(x.X, y.X)
	case *sql.In:
		y, ok := b.(*sql.In)
		return ok && x.Not == y.Not && sameExpr(x.X, y.X) && sameList(x.List, y.List)
	case *sql.Between:
		y, ok := b.(*sql.Between)
		return ok && x.Not == y.Not && sameExpr(x.X, y.X) && sameExpr(x.Lo, y.Lo) && sameExpr(x.Hi, y.Hi)
	case *sql.Like:
		y, ok := b.(*sql.Like)
		return ok && x.Not == y.Not && sameExpr(x.X, y.X) && sameExpr(x.Pattern, y.Pattern)
	case *sql.Case:
		y, ok := b.(*sql.Case)
		if !ok || len(x.Whens) != len(y.Whens) || !sameOptional(x.Operand, y.Operand) || !sameOptional(x.Else, y.Else) {
			return false
		}
		for i := range x.Whens {
			if !sameExpr(x.Whens[i].Cond, y.Whens[i].Cond) || !sameExpr(x.Whens[i].Result, y.Whens[i].Result) {
				return false
			}
		}
		return true
	case *sql.Cast:
		y, ok := b.(*sql.Cast)
		return ok && strings.EqualFold(x.Type, y.Type) && sameExpr(x.X, y.X)
	case *sql.Call:
		y, ok := b.(*sql.Call)
		return ok && strings.EqualFold(x.Name, y.Name) && x.Star == y.Star && x.Distinct == y.Distinct &&
			sameList(x.Args, y.Args) && sameOver(x.Over, y.Over)
	}
	return false
}

func sameOptional(a, b sql.Expr) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return sameExpr(a, b)
}

func sameList(a, b []sql.Expr) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !sameExpr(a[i], b[i]) {
			return false
		}
	}
	return true
}

func sameOver(a, b *sql.Over) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if a.Buffer != b.Buffer || !sameList(a.PartitionBy, b.PartitionBy) || len(a.OrderBy) != len(b.OrderBy) ||
		(a.Frame == nil) != (b.Frame == nil) || (a.Frame != nil && a.Frame.Preceding != b.Frame.Preceding) {
		return false
	}
	for i := range a.OrderBy {
		if a.OrderBy[i].Desc != b.OrderBy[i].Desc || !sameExpr(a.OrderBy[i].Expr, b.OrderBy[i].Expr) {
			return false
		}
	}
	return true
}

// isAggregateCall reports whether e is a plain (non-OVER) aggregate call.
func isAggregateCall(e sql.Expr) (*sql.Call, bool) {
	c, ok := e.(*sql.Call)
	return c, ok && c.Over == nil && expr.IsAggregate(c.Name)
}

// isAnalyticCall reports whether e is a call with an OVER clause.
func isAnalyticCall(e sql.Expr) (*sql.Call, bool) {
	c, ok := e.(*sql.Call)
	return c, ok && c.Over != nil
}

// errorAt returns a compile error positioned at n.
func errorAt(n sql.Node, format string, args ...any) error {
	return &expr.Error{Pos: n.Position(), Msg: fmt.Sprintf(format, args...)}
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

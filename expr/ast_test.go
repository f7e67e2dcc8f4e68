package expr

import "github.com/sluicesql/sluice/sql"

// Hand-built AST constructors for the tests.

func col(name string) *sql.Ident { return &sql.Ident{Name: name} }

func lit(kind sql.LiteralKind, text string) *sql.Literal {
	return &sql.Literal{Kind: kind, Text: text}
}

func num(text string) *sql.Literal { return lit(sql.IntLit, text) }
func dec(text string) *sql.Literal { return lit(sql.DecimalLit, text) }
func flt(text string) *sql.Literal { return lit(sql.FloatLit, text) }
func str(text string) *sql.Literal { return lit(sql.StringLit, text) }
func boolean(b bool) *sql.Literal {
	if b {
		return lit(sql.BoolLit, "TRUE")
	}
	return lit(sql.BoolLit, "FALSE")
}

var nullLit = lit(sql.NullLit, "NULL")

func interval(text, unit string) *sql.Literal {
	return &sql.Literal{Kind: sql.IntervalLit, Text: text, Unit: unit}
}

func bin(op sql.BinaryOp, l, r sql.Expr) *sql.Binary { return &sql.Binary{Op: op, L: l, R: r} }
func not(x sql.Expr) *sql.Unary                      { return &sql.Unary{Op: sql.Not, X: x} }
func neg(x sql.Expr) *sql.Unary                      { return &sql.Unary{Op: sql.Neg, X: x} }
func call(name string, args ...sql.Expr) *sql.Call   { return &sql.Call{Name: name, Args: args} }
func cast(x sql.Expr, typ string) *sql.Cast          { return &sql.Cast{X: x, Type: typ} }
func isNull(x sql.Expr, neg bool) *sql.IsNull        { return &sql.IsNull{X: x, Not: neg} }
func in(x sql.Expr, neg bool, list ...sql.Expr) *sql.In {
	return &sql.In{X: x, List: list, Not: neg}
}
func between(x, lo, hi sql.Expr, neg bool) *sql.Between {
	return &sql.Between{X: x, Lo: lo, Hi: hi, Not: neg}
}
func like(x, p sql.Expr, neg bool) *sql.Like { return &sql.Like{X: x, Pattern: p, Not: neg} }
func when(c, r sql.Expr) sql.When            { return sql.When{Cond: c, Result: r} }
func caseOf(operand, els sql.Expr, whens ...sql.When) *sql.Case {
	return &sql.Case{Operand: operand, Whens: whens, Else: els}
}

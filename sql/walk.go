package sql

// Inspect calls f for e and then, if f returns true, for each of e's
// children in source order (depth first). It visits OVER clause expressions
// too. A nil e is skipped.
func Inspect(e Expr, f func(Expr) bool) {
	if e == nil || !f(e) {
		return
	}
	switch n := e.(type) {
	case *Unary:
		Inspect(n.X, f)
	case *Binary:
		Inspect(n.L, f)
		Inspect(n.R, f)
	case *IsNull:
		Inspect(n.X, f)
	case *In:
		Inspect(n.X, f)
		for _, x := range n.List {
			Inspect(x, f)
		}
	case *Between:
		Inspect(n.X, f)
		Inspect(n.Lo, f)
		Inspect(n.Hi, f)
	case *Like:
		Inspect(n.X, f)
		Inspect(n.Pattern, f)
	case *Case:
		Inspect(n.Operand, f)
		for _, w := range n.Whens {
			Inspect(w.Cond, f)
			Inspect(w.Result, f)
		}
		Inspect(n.Else, f)
	case *Cast:
		Inspect(n.X, f)
	case *Index:
		Inspect(n.X, f)
		Inspect(n.Index, f)
	case *Call:
		for _, a := range n.Args {
			Inspect(a, f)
		}
		if n.Over != nil {
			for _, p := range n.Over.PartitionBy {
				Inspect(p, f)
			}
			for _, o := range n.Over.OrderBy {
				Inspect(o.Expr, f)
			}
		}
	}
}

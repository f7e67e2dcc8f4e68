package join

import "github.com/sluicesql/sluice/sql"

// rewrite returns a deep copy of e in which every identifier is replaced by
// f's result (f returns a replacement or an error). The original is not
// modified: the planner reads the same statement.
func rewrite(e sql.Expr, f func(*sql.Ident) (sql.Expr, error)) (sql.Expr, error) {
	var err error
	var walk func(sql.Expr) sql.Expr
	walk = func(e sql.Expr) sql.Expr {
		if e == nil || err != nil {
			return e
		}
		switch n := e.(type) {
		case *sql.Ident:
			var out sql.Expr
			if out, err = f(n); err != nil {
				return e
			}
			return out
		case *sql.Literal:
			c := *n
			return &c
		case *sql.Unary:
			c := *n
			c.X = walk(n.X)
			return &c
		case *sql.Binary:
			c := *n
			c.L, c.R = walk(n.L), walk(n.R)
			return &c
		case *sql.IsNull:
			c := *n
			c.X = walk(n.X)
			return &c
		case *sql.In:
			c := *n
			c.X = walk(n.X)
			c.List = walkAll(n.List, walk)
			return &c
		case *sql.Between:
			c := *n
			c.X, c.Lo, c.Hi = walk(n.X), walk(n.Lo), walk(n.Hi)
			return &c
		case *sql.Like:
			c := *n
			c.X, c.Pattern = walk(n.X), walk(n.Pattern)
			return &c
		case *sql.Case:
			c := *n
			c.Operand, c.Else = walk(n.Operand), walk(n.Else)
			c.Whens = make([]sql.When, len(n.Whens))
			for i, w := range n.Whens {
				c.Whens[i] = sql.When{Pos: w.Pos, Cond: walk(w.Cond), Result: walk(w.Result)}
			}
			return &c
		case *sql.Cast:
			c := *n
			c.X = walk(n.X)
			return &c
		case *sql.Call:
			c := *n
			c.Args = walkAll(n.Args, walk)
			if n.Over != nil {
				o := *n.Over
				o.PartitionBy = walkAll(n.Over.PartitionBy, walk)
				o.OrderBy = make([]sql.OrderItem, len(n.Over.OrderBy))
				for i, it := range n.Over.OrderBy {
					o.OrderBy[i] = sql.OrderItem{Pos: it.Pos, Expr: walk(it.Expr), Desc: it.Desc}
				}
				c.Over = &o
			}
			return &c
		}
		return e
	}
	out := walk(e)
	return out, err
}

func walkAll(es []sql.Expr, walk func(sql.Expr) sql.Expr) []sql.Expr {
	if es == nil {
		return nil
	}
	out := make([]sql.Expr, len(es))
	for i, e := range es {
		out[i] = walk(e)
	}
	return out
}

// conjuncts splits e at its top-level ANDs.
func conjuncts(e sql.Expr) []sql.Expr {
	if b, ok := e.(*sql.Binary); ok && b.Op == sql.And {
		return append(conjuncts(b.L), conjuncts(b.R)...)
	}
	if e == nil {
		return nil
	}
	return []sql.Expr{e}
}

// and joins es with AND (nil for none).
func and(es []sql.Expr) sql.Expr {
	var out sql.Expr
	for _, e := range es {
		if out == nil {
			out = e
			continue
		}
		out = &sql.Binary{Pos: out.Position(), Op: sql.And, L: out, R: e}
	}
	return out
}

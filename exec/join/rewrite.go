package join

import "github.com/sluicesql/sluice/sql"

// rewrite returns e with every identifier replaced by f's result (f
// returns a replacement or an error), through sql.Rewrite: e itself is not
// modified, since the planner reads the same statement.
func rewrite(e sql.Expr, f func(*sql.Ident) (sql.Expr, error)) (sql.Expr, error) {
	var err error
	out := sql.Rewrite(e, func(x sql.Expr) sql.Expr {
		id, ok := x.(*sql.Ident)
		if !ok {
			return nil
		}
		if err != nil {
			return x
		}
		r, ferr := f(id)
		if ferr != nil {
			err = ferr
			return x
		}
		return r
	})
	return out, err
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

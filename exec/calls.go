package exec

import (
	"fmt"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/sql"
)

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

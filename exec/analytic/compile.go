package analytic

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// Compile prepares the OVER calls of one select list; Apply's out[i] is the
// value of calls[i]. scope resolves input columns to slots. Every error is
// an *expr.Error positioned at the offending node ("line:col: ...").
func Compile(calls []*sql.Call, scope *expr.Scope) (*Stage, error) {
	s := &Stage{}
	groups := map[string]int{}
	for _, c := range calls {
		if c.Over == nil {
			return nil, errorAt(c, "%s is not an analytic call: it has no OVER clause", c.Name)
		}
		newRunner, err := compileCall(c, scope)
		if err != nil {
			return nil, err
		}
		key := partitionList(c.Over.PartitionBy)
		g, ok := groups[key]
		if !ok {
			keys, err := compileAll(c.Over.PartitionBy, scope)
			if err != nil {
				return nil, err
			}
			g = len(s.groups)
			groups[key] = g
			s.groups = append(s.groups, keys)
		}
		s.calls = append(s.calls, callSpec{group: g, name: sql.FormatExpr(c), newRunner: newRunner})
	}
	return s, nil
}

// partitionList identifies a PARTITION BY list by its canonical SQL.
func partitionList(es []sql.Expr) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = sql.FormatExpr(e)
	}
	return strings.Join(parts, "\x00")
}

func compileAll(es []sql.Expr, scope *expr.Scope) ([]expr.Func, error) {
	fns := make([]expr.Func, len(es))
	for i, e := range es {
		f, err := expr.Compile(e, scope)
		if err != nil {
			return nil, err
		}
		fns[i] = f
	}
	return fns, nil
}

// compileCall validates one OVER call and returns its runner constructor.
func compileCall(c *sql.Call, scope *expr.Scope) (func() runner, error) {
	name := strings.ToUpper(c.Name)
	if c.Distinct {
		return nil, errorAt(c, "%s(DISTINCT ...) is not supported over a window", name)
	}
	if c.Star && name != "COUNT" {
		return nil, errorAt(c, "%s(*) is not valid: only COUNT takes *", name)
	}
	size, err := frameSize(c.Over)
	if err != nil {
		return nil, err
	}
	order := make([]sql.Expr, len(c.Over.OrderBy))
	for i, o := range c.Over.OrderBy {
		order[i] = o.Expr
	}
	orderFns, err := compileAll(order, scope) // resolved even when unused, so unknown columns are errors
	if err != nil {
		return nil, err
	}
	switch name {
	case "ROW_NUMBER", "RANK", "DENSE_RANK":
		if len(c.Args) != 0 {
			return nil, errorAt(c, "%s takes no arguments, found %d", name, len(c.Args))
		}
		if name == "ROW_NUMBER" {
			return func() runner { return &rowNumber{} }, nil
		}
		dense := name == "DENSE_RANK"
		return func() runner { return &rank{order: orderFns, dense: dense} }, nil
	case "LAG":
		return compileLag(c, scope)
	case "LEAD":
		return nil, errorAt(c, "LEAD is not supported: a streaming row window emits each row's result "+
			"when the row arrives, before the later rows LEAD reads; use LAG")
	case "COUNT":
		if c.Star {
			return func() runner { return &countRows{size: size} }, nil
		}
		arg, err := oneArg(c, scope)
		if err != nil {
			return nil, err
		}
		return func() runner { return &countValues{arg: arg, size: size} }, nil
	case "SUM", "AVG":
		arg, err := oneArg(c, scope)
		if err != nil {
			return nil, err
		}
		avg := name == "AVG"
		return func() runner { return &sumAvg{arg: arg, avg: avg, size: size} }, nil
	case "MIN", "MAX":
		arg, err := oneArg(c, scope)
		if err != nil {
			return nil, err
		}
		isMax := name == "MAX"
		return func() runner { return &minMax{arg: arg, max: isMax, size: size} }, nil
	}
	return nil, errorAt(c, "%s is not supported over a window; the analytic functions are "+
		"LAG, ROW_NUMBER, RANK, DENSE_RANK, COUNT, SUM, AVG, MIN and MAX", name)
}

// oneArg compiles the single argument of an aggregate.
func oneArg(c *sql.Call, scope *expr.Scope) (expr.Func, error) {
	if len(c.Args) != 1 {
		return nil, errorAt(c, "%s takes one argument, found %d", strings.ToUpper(c.Name), len(c.Args))
	}
	f, t, err := expr.CompileTyped(c.Args[0], scope)
	if err != nil {
		return nil, err
	}
	switch name := strings.ToUpper(c.Name); name {
	case "SUM", "AVG":
		if t.Kind != record.TypeAny && !t.Numeric() {
			return nil, errorAt(c, "function %s(%s) does not exist: %s needs a number, and %s is %s", name, t, name, sql.FormatExpr(c.Args[0]), t)
		}
	}
	return f, nil
}

// compileLag compiles LAG(x [, offset [, default]]). The offset must be a
// non-negative integer constant; the default is evaluated on the current row.
func compileLag(c *sql.Call, scope *expr.Scope) (func() runner, error) {
	if len(c.Args) < 1 || len(c.Args) > 3 {
		return nil, errorAt(c, "LAG takes 1 to 3 arguments (value, offset, default), found %d", len(c.Args))
	}
	arg, err := expr.Compile(c.Args[0], scope)
	if err != nil {
		return nil, err
	}
	offset := 1
	if len(c.Args) > 1 {
		lit, ok := c.Args[1].(*sql.Literal)
		if !ok || lit.Kind != sql.IntLit {
			return nil, errorAt(c.Args[1], "LAG offset must be a non-negative integer constant, found %s", sql.FormatExpr(c.Args[1]))
		}
		n, err := strconv.ParseInt(lit.Text, 10, 64)
		if err != nil || n > math.MaxInt32 {
			return nil, errorAt(lit, "LAG offset %s is out of range (at most %d)", lit.Text, math.MaxInt32)
		}
		offset = int(n)
	}
	var def expr.Func
	if len(c.Args) > 2 {
		if def, err = expr.Compile(c.Args[2], scope); err != nil {
			return nil, err
		}
	}
	return func() runner { return &lag{arg: arg, def: def, offset: offset} }, nil
}

// frameSize returns the number of rows in the call's frame, or -1 for a
// frame unbounded at its start.
func frameSize(o *sql.Over) (int, error) {
	switch {
	case o.Buffer != 0 && o.Frame != nil:
		return 0, errorAt(o.Frame, "ROWS WINDOW BUFFER and a ROWS BETWEEN frame cannot be combined in one OVER clause")
	case o.Buffer < 0:
		return 0, errorAt(o, "ROWS WINDOW BUFFER size must be positive, found %d", o.Buffer)
	case o.Buffer > maxFrame:
		return 0, errorAt(o, "ROWS WINDOW BUFFER of %d rows is too large (at most %d)", o.Buffer, maxFrame)
	case o.Buffer > 0:
		return int(o.Buffer), nil
	case o.Frame == nil || o.Frame.Preceding == -1:
		return -1, nil
	case o.Frame.Preceding < 0:
		return 0, errorAt(o.Frame, "ROWS frame start must be n PRECEDING with n >= 0 or UNBOUNDED PRECEDING, found %d", o.Frame.Preceding)
	case o.Frame.Preceding >= maxFrame:
		return 0, errorAt(o.Frame, "ROWS frame of %d PRECEDING is too large (at most %d; or UNBOUNDED PRECEDING)", o.Frame.Preceding, maxFrame-1)
	}
	return int(o.Frame.Preceding) + 1, nil
}

// maxFrame is the largest frame, in rows, a sliding window may hold.
const maxFrame = math.MaxInt32

// errorAt returns a compile error positioned at n.
func errorAt(n sql.Node, format string, args ...any) error {
	return &expr.Error{Pos: n.Position(), Msg: fmt.Sprintf(format, args...)}
}

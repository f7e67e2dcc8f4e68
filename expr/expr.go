// Package expr compiles SQL expressions into evaluators over slot-resolved
// records. Column references become slot reads when the plan is built, so
// evaluation never looks a column up by name, and numeric and boolean
// evaluation allocates nothing.
package expr

import (
	"fmt"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// Func evaluates a compiled expression over one record. An error concerns
// that record only (a bad CAST, a division by zero, an overflow).
type Func func(r *record.Record) (record.Value, error)

// Scope is what Compile resolves names against.
type Scope struct {
	// Schema maps input columns to slots. A column missing from it is a
	// compile error unless AutoAdd is set.
	Schema *record.Schema
	// AutoAdd adds unknown columns to Schema (plan-time schema discovery).
	AutoAdd bool
	// Qualifiers are the names a column may be qualified with (the source's
	// name and alias); nil accepts any qualifier.
	Qualifiers []string
	// Override is consulted first for every node: when it returns ok, the
	// node compiles to a read of r.Values[slot]. The executor uses it to map
	// aggregate calls, group keys and _WINDOW_START to its output slots.
	Override func(e sql.Expr) (slot int, ok bool)
	// OverrideType gives the type of a node Override maps to a slot, for
	// the type checks of the expressions around it; nil: ANY.
	OverrideType func(e sql.Expr) record.Type
}

// Error is a compile error at a position of the SQL text: the positioned
// error of package sql, so that sql.Locate gives it its file and line.
type Error = sql.Error

func errorf(n sql.Node, format string, args ...any) error {
	return sql.Errorf(n, format, args...)
}

// Compile turns e into a Func. Errors are *Error values carrying the
// position of the offending node.
func Compile(e sql.Expr, s *Scope) (Func, error) {
	f, _, err := CompileTyped(e, s)
	return f, err
}

// CompileTyped is Compile that also returns the type of e's values (ANY
// when it cannot be known). An operator whose operands' types never fit it
// (`symbol + 1`, `price = 'abc'`) is an error naming the types.
func CompileTyped(e sql.Expr, s *Scope) (Func, record.Type, error) {
	if s == nil {
		s = &Scope{}
	}
	if e == nil {
		return nil, record.AnyType, fmt.Errorf("compile: no expression")
	}
	c := &compiler{scope: s, types: map[sql.Expr]record.Type{}}
	n, err := c.compile(e)
	if err != nil {
		return nil, record.AnyType, err
	}
	return n.fn, c.types[e], nil
}

// node is a compiled subtree; constant marks subtrees without column,
// metadata or slot reads, which are folded to their value.
type node struct {
	fn       Func
	constant bool
}

type compiler struct {
	scope   *Scope
	types   map[sql.Expr]record.Type // the type of every node compiled
	numbers map[sql.Expr]bool        // string literals compiled as the numbers they spell (coerceText)
}

// compile compiles e and records its type.
func (c *compiler) compile(e sql.Expr) (node, error) {
	if c.scope.Override != nil {
		if slot, ok := c.scope.Override(e); ok {
			c.types[e] = record.AnyType
			if c.scope.OverrideType != nil {
				c.types[e] = c.scope.OverrideType(e)
			}
			return node{fn: slotReader(slot)}, nil
		}
	}
	n, err := c.compileNode(e)
	if err != nil {
		return node{}, err
	}
	t, err := c.typeOf(e)
	if err != nil {
		return node{}, err
	}
	c.types[e] = t
	return n, nil
}

func (c *compiler) compileNode(e sql.Expr) (node, error) {
	var (
		n   node
		err error
	)
	switch x := e.(type) {
	case *sql.Ident:
		return c.ident(x)
	case *sql.Literal:
		v, err := literal(x)
		if err != nil {
			return node{}, err
		}
		return constNode(v), nil
	case *sql.Unary:
		n, err = c.unary(x)
	case *sql.Binary:
		n, err = c.binary(x)
	case *sql.IsNull:
		n, err = c.isNull(x)
	case *sql.In:
		n, err = c.in(x)
	case *sql.Between:
		n, err = c.between(x)
	case *sql.Like:
		n, err = c.like(x)
	case *sql.Case:
		n, err = c.caseExpr(x)
	case *sql.Cast:
		n, err = c.cast(x)
	case *sql.Call:
		n, err = c.call(x)
	case *sql.Index:
		n, err = c.index(x)
	default:
		return node{}, errorf(e, "unsupported expression %T", e)
	}
	if err != nil {
		return node{}, err
	}
	return fold(n), nil
}

// compileAll compiles es and reports whether all of them are constant.
func (c *compiler) compileAll(es []sql.Expr) ([]Func, bool, error) {
	fns := make([]Func, len(es))
	constant := true
	for i, e := range es {
		n, err := c.compile(e)
		if err != nil {
			return nil, false, err
		}
		fns[i] = n.fn
		constant = constant && n.constant
	}
	return fns, constant, nil
}

// fold evaluates a constant node once. A constant that fails to evaluate is
// left to fail per record, since it may sit in a branch never taken.
func fold(n node) node {
	if !n.constant {
		return n
	}
	v, err := n.fn(nil)
	if err != nil {
		return node{fn: n.fn}
	}
	return constNode(v)
}

func constNode(v record.Value) node {
	return node{fn: func(*record.Record) (record.Value, error) { return v, nil }, constant: true}
}

func slotReader(slot int) Func {
	return func(r *record.Record) (record.Value, error) {
		if slot < len(r.Values) {
			return r.Values[slot], nil
		}
		return record.Value{}, nil
	}
}

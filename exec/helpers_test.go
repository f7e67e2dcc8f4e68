package exec

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// AST builders: the tests state queries as ASTs so they do not depend on
// the parser.

func id(name string) *sql.Ident { return &sql.Ident{Name: name} }

func num(text string) *sql.Literal {
	kind := sql.IntLit
	if strings.Contains(text, ".") {
		kind = sql.DecimalLit
	}
	return &sql.Literal{Kind: kind, Text: text}
}

func str(text string) *sql.Literal { return &sql.Literal{Kind: sql.StringLit, Text: text} }

func call(name string, args ...sql.Expr) *sql.Call { return &sql.Call{Name: name, Args: args} }

func countStarCall() *sql.Call { return &sql.Call{Name: "COUNT", Star: true} }

func bin(op sql.BinaryOp, l, r sql.Expr) *sql.Binary { return &sql.Binary{Op: op, L: l, R: r} }

func item(e sql.Expr, alias string) sql.SelectItem { return sql.SelectItem{Expr: e, Alias: alias} }

func items(es ...sql.Expr) []sql.SelectItem {
	out := make([]sql.SelectItem, len(es))
	for i, e := range es {
		out[i] = sql.SelectItem{Expr: e}
	}
	return out
}

func tumbling(col string, size time.Duration) *sql.Window {
	return &sql.Window{Kind: sql.Tumbling, TimeColumn: col, Size: size}
}

// val converts a Go value to a record value: int, float64, string, nil, or
// a record.Value as is.
func val(x any) record.Value {
	switch v := x.(type) {
	case nil:
		return record.Value{}
	case int:
		return record.IntValue(int64(v))
	case int64:
		return record.IntValue(v)
	case float64:
		return record.FloatValue(v)
	case string:
		return record.StringValue(v)
	case record.Value:
		return v
	}
	panic(fmt.Sprintf("val: unsupported %T", x))
}

// dec parses an exact decimal.
func dec(text string) record.Value {
	v, err := record.ParseNumber(text)
	if err != nil {
		panic(err)
	}
	return v
}

// recs builds records with Values in the given order and offsets 0, 1, ...
func recs(rows ...[]any) []record.Record {
	out := make([]record.Record, len(rows))
	for i, row := range rows {
		vals := make([]record.Value, len(row))
		for j, x := range row {
			vals[j] = val(x)
		}
		out[i] = record.Record{Values: vals, Offset: int64(i), Partition: 0, Topic: "t"}
	}
	return out
}

// collector is an Output that keeps copies of what it receives.
type collector struct {
	rows    [][]record.Value
	retract []bool // per row: record.Record.Retract
	emits   int
	dead    []error
	deadRec []record.Record
}

func (c *collector) Emit(rows []record.Record) {
	c.emits++
	for _, r := range rows {
		c.rows = append(c.rows, slices.Clone(r.Values))
		c.retract = append(c.retract, r.Retract)
	}
}

func (c *collector) DeadLetter(r *record.Record, err error) {
	c.dead = append(c.dead, err)
	c.deadRec = append(c.deadRec, *r)
}

// texts renders rows as "v1|v2|..." lines for comparison.
func (c *collector) texts() []string {
	out := make([]string, len(c.rows))
	for i, r := range c.rows {
		out[i] = rowText(r)
	}
	return out
}

func rowText(r []record.Value) string {
	parts := make([]string, len(r))
	for i, v := range r {
		parts[i] = v.String()
	}
	return strings.Join(parts, "|")
}

func compile(t *testing.T, sel *sql.Select, props map[string]string, cols ...string) *Program {
	t.Helper()
	p, err := Compile(sel, Options{Properties: props, Schema: record.NewSchema(cols...)})
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return p
}

// checkStats asserts the counter balance.
func checkStats(t *testing.T, s Stats) {
	t.Helper()
	if s.In != s.Accepted+s.Filtered+s.Limited+s.DeadLettered+s.LateDropped {
		t.Errorf("stats do not balance: %+v", s)
	}
}

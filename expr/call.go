package expr

import (
	"sort"
	"strconv"
	"strings"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// funcDef describes a scalar function: its argument count range (max -1
// means any number) and how to build its evaluator from compiled arguments.
type funcDef struct {
	min, max int
	build    func(args []Func) Func
}

// functions is the scalar function table, by upper-case name.
var functions = map[string]funcDef{
	"COALESCE":     {1, -1, coalesce},
	"NULLIF":       {2, 2, nullIf},
	"ABS":          {1, 1, strict1(absValue)},
	"ROUND":        {1, 2, roundFunc},
	"FLOOR":        {1, 1, strict1(floorValue)},
	"CEIL":         {1, 1, strict1(ceilValue)},
	"CEILING":      {1, 1, strict1(ceilValue)},
	"UPPER":        {1, 1, strict1(upper)},
	"LOWER":        {1, 1, strict1(lower)},
	"LENGTH":       {1, 1, strict1(length)},
	"CHAR_LENGTH":  {1, 1, strict1(length)},
	"SUBSTRING":    {2, 3, substring},
	"SUBSTR":       {2, 3, substring},
	"TRIM":         {1, 2, trimFunc(trimBoth)},
	"BTRIM":        {1, 2, trimFunc(trimBoth)},
	"LTRIM":        {1, 2, trimFunc(trimLeft)},
	"RTRIM":        {1, 2, trimFunc(trimRight)},
	"REPLACE":      {3, 3, replace},
	"CONCAT":       {0, -1, concat},
	"YEAR":         {1, 1, timePart(fieldYear)},
	"QUARTER":      {1, 1, timePart(fieldQuarter)},
	"MONTH":        {1, 1, timePart(fieldMonth)},
	"DAY":          {1, 1, timePart(fieldDay)},
	"HOUR":         {1, 1, timePart(fieldHour)},
	"MINUTE":       {1, 1, timePart(fieldMinute)},
	"SECOND":       {1, 1, timePart(fieldWholeSecond)},
	"MILLISECOND":  {1, 1, timePart(fieldMillisecond)},
	"TUMBLE_START": {2, 2, tumble(false)},
	"TUMBLE_END":   {2, 2, tumble(true)},
}

func (c *compiler) call(x *sql.Call) (node, error) {
	switch {
	case x.Over != nil:
		return node{}, errorf(x, "window function %s is not allowed here", x.Name)
	case IsAggregate(x.Name):
		return node{}, errorf(x, "aggregate %s is not allowed here", x.Name)
	case IsAnalytic(x.Name):
		return node{}, errorf(x, "window function %s requires an OVER clause", x.Name)
	case x.Star:
		return node{}, errorf(x, "%s(*) is not a function call", x.Name)
	case x.Distinct:
		return node{}, errorf(x, "DISTINCT is only allowed in aggregate calls, not in %s", x.Name)
	}
	name := strings.ToUpper(x.Name)
	switch name {
	case "EXTRACT", "DATE_PART":
		return c.extract(x)
	case "DATE_TRUNC":
		return c.dateTrunc(x)
	case "NOW", "CURRENT_TIMESTAMP":
		if len(x.Args) > 0 {
			return node{}, errorf(x, "%s takes no arguments", x.Name)
		}
		return node{fn: now}, nil // never constant: it is read per record
	}
	def, ok := functions[name]
	if !ok {
		return node{}, errorf(x, "unknown function %s%s", x.Name, Hint(x.Name, functionNames()))
	}
	if n := len(x.Args); n < def.min || def.max >= 0 && n > def.max {
		return node{}, errorf(x, "%s takes %s, got %d", x.Name, arity(def.min, def.max), n)
	}
	args, constant, err := c.compileAll(x.Args)
	if err != nil {
		return node{}, err
	}
	return node{constant: constant, fn: def.build(args)}, nil
}

// arity describes an argument count range for error messages.
func arity(lo, hi int) string {
	plural := func(n int) string {
		if n == 1 {
			return "1 argument"
		}
		return strconv.Itoa(n) + " arguments"
	}
	switch {
	case hi < 0:
		return "at least " + plural(lo)
	case lo == hi:
		return plural(lo)
	}
	return strconv.Itoa(lo) + " to " + plural(hi)
}

// strict1 builds a one-argument function that returns NULL for NULL.
func strict1(f func(record.Value) (record.Value, error)) func([]Func) Func {
	return func(args []Func) Func {
		a := args[0]
		return func(r *record.Record) (record.Value, error) {
			v, err := a(r)
			if err != nil || v.IsNull() {
				return null, err
			}
			return f(v)
		}
	}
}

// evalStrict evaluates args in order; isNull reports a NULL argument (the
// remaining arguments are then not evaluated).
func evalStrict(r *record.Record, args []Func, out []record.Value) (isNull bool, err error) {
	for i, a := range args {
		v, err := a(r)
		if err != nil {
			return false, err
		}
		if v.IsNull() {
			return true, nil
		}
		out[i] = v
	}
	return false, nil
}

// coalesce returns its first non-NULL argument, evaluating no further.
func coalesce(args []Func) Func {
	return func(r *record.Record) (record.Value, error) {
		for _, a := range args {
			v, err := a(r)
			if err != nil || !v.IsNull() {
				return v, err
			}
		}
		return null, nil
	}
}

// nullIf returns NULL when its arguments are equal, else the first.
func nullIf(args []Func) Func {
	a, b := args[0], args[1]
	return func(r *record.Record) (record.Value, error) {
		x, err := a(r)
		if err != nil || x.IsNull() {
			return x, err
		}
		y, err := b(r)
		if err != nil || y.IsNull() {
			return x, err
		}
		eq, err := record.Equal(x, y)
		if err != nil || eq {
			return null, err
		}
		return x, nil
	}
}

// functionNames lists the scalar, aggregate and window functions, for hints.
func functionNames() []string {
	names := make([]string, 0, len(functions)+len(aggregates)+len(analytics))
	for _, m := range []map[string]bool{aggregates, analytics} {
		for n := range m {
			names = append(names, n)
		}
	}
	for n := range functions {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

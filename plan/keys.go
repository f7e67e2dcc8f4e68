package plan

import (
	"strconv"
	"strings"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// isAggregate reports whether a function name is a grouping aggregate (the
// aggregates of reference-notes §3, matching expr.IsAggregate).
func isAggregate(name string) bool { return sql.IsAggregate(name) }

// isAnalytic reports whether a function name is a row-order window function
// (meaningful only over an ordered sequence of rows).
func isAnalytic(name string) bool {
	switch strings.ToUpper(name) {
	case "LAG", "LEAD", "ROW_NUMBER", "RANK", "DENSE_RANK":
		return true
	}
	return false
}

// resolver maps a column reference to the input (FROM = 0, then each JOIN)
// it reads, and gives expressions an identity that ignores spelling
// differences SQL ignores (case of identifiers, redundant qualifiers).
type resolver struct {
	inputs map[string]int // lower-case source name or alias -> input index
	single bool           // one input: qualifiers are redundant
	// joined are the table inputs joined as the stream is read: their
	// columns are the stream's (input 0's) as far as input is concerned
	joined map[int]bool
}

func newResolver(sel *sql.Select) *resolver {
	r := &resolver{inputs: map[string]int{}, single: len(sel.Joins) == 0}
	srcs := []sql.Source{sel.From}
	for _, j := range sel.Joins {
		srcs = append(srcs, j.Source)
	}
	for i, s := range srcs {
		if s.Alias != "" {
			r.inputs[strings.ToLower(s.Alias)] = i
		}
	}
	// A source's name names it unless another source of that name has no
	// alias (FROM a JOIN a d: a is the first).
	for i, s := range srcs {
		if _, taken := r.inputs[strings.ToLower(s.Name)]; !taken || s.Alias == "" {
			r.inputs[strings.ToLower(s.Name)] = i
		}
	}
	return r
}

// input returns the input every column of e reads, or -1 when e reads
// none, several, an unknown qualifier, or (with several inputs) an
// unqualified column, which cannot be placed without a schema.
func (r *resolver) input(e sql.Expr) int {
	in := -2
	sql.Inspect(e, func(n sql.Expr) bool {
		id, ok := n.(*sql.Ident)
		if !ok {
			return true
		}
		i := -1
		switch {
		case r.single:
			i = 0
		case id.Qualifier != "":
			if j, ok := r.inputs[strings.ToLower(id.Qualifier)]; ok {
				i = j
			}
		}
		if r.joined[i] {
			i = 0
		}
		if in == -2 {
			in = i
		} else if in != i {
			in = -1
		}
		return true
	})
	if in < 0 {
		return -1
	}
	return in
}

// id returns the identity of e: equal ids mean the same value for every
// record. Identifiers are compared case-insensitively and with their
// qualifier resolved to an input; literals keep their exact text.
func (r *resolver) id(e sql.Expr) string {
	var b strings.Builder
	r.writeID(&b, e)
	return b.String()
}

func (r *resolver) writeID(b *strings.Builder, e sql.Expr) {
	list := func(es []sql.Expr) {
		for i, x := range es {
			if i > 0 {
				b.WriteByte(',')
			}
			r.writeID(b, x)
		}
	}
	switch n := e.(type) {
	case nil:
		b.WriteString("nil")
	case *sql.Ident:
		q := ""
		if !r.single && n.Qualifier != "" {
			q = strings.ToLower(n.Qualifier)
			if i, ok := r.inputs[q]; ok {
				q = "#" + strconv.Itoa(i)
			}
		}
		b.WriteString("col(" + q + "." + strings.ToLower(n.Name) + ")")
	case *sql.Literal:
		b.WriteString("lit(" + strconv.Itoa(int(n.Kind)) + "," + strconv.Quote(n.Text) + "," + n.Unit + ")")
	case *sql.Unary:
		b.WriteString("un" + strconv.Itoa(int(n.Op)) + "(")
		r.writeID(b, n.X)
		b.WriteByte(')')
	case *sql.Binary:
		b.WriteString("bin" + strconv.Itoa(int(n.Op)) + "(")
		list([]sql.Expr{n.L, n.R})
		b.WriteByte(')')
	case *sql.IsNull:
		b.WriteString("isnull" + strconv.FormatBool(n.Not) + "(")
		r.writeID(b, n.X)
		b.WriteByte(')')
	case *sql.In:
		b.WriteString("in" + strconv.FormatBool(n.Not) + "(")
		list(append([]sql.Expr{n.X}, n.List...))
		b.WriteByte(')')
	case *sql.Between:
		b.WriteString("between" + strconv.FormatBool(n.Not) + "(")
		list([]sql.Expr{n.X, n.Lo, n.Hi})
		b.WriteByte(')')
	case *sql.Like:
		b.WriteString("like" + strconv.FormatBool(n.Not) + "(")
		list([]sql.Expr{n.X, n.Pattern})
		b.WriteByte(')')
	case *sql.Case:
		b.WriteString("case(")
		r.writeID(b, n.Operand)
		for _, w := range n.Whens {
			b.WriteString(";when ")
			list([]sql.Expr{w.Cond, w.Result})
		}
		b.WriteString(";else ")
		r.writeID(b, n.Else)
		b.WriteByte(')')
	case *sql.Cast:
		b.WriteString("cast(")
		r.writeID(b, n.X)
		b.WriteString(" as " + strings.ToUpper(n.Type) + ")")
	case *sql.Call:
		b.WriteString("call " + strings.ToUpper(n.Name) + "(" + strconv.FormatBool(n.Star) + strconv.FormatBool(n.Distinct) + ";")
		list(n.Args)
		if o := n.Over; o != nil {
			b.WriteString(";over " + strconv.FormatInt(o.Buffer, 10) + ";")
			list(o.PartitionBy)
			for _, it := range o.OrderBy {
				b.WriteString(";order " + strconv.FormatBool(it.Desc) + " ")
				r.writeID(b, it.Expr)
			}
			if o.Frame != nil {
				b.WriteString(";frame " + strconv.FormatInt(o.Frame.Preceding, 10))
			}
		}
		b.WriteByte(')')
	default:
		b.WriteString("?")
	}
}

// rowEvaluable reports whether e can be computed from one input record:
// no aggregate, no OVER call, and no window system column.
func rowEvaluable(e sql.Expr) bool {
	ok := true
	sql.Inspect(e, func(n sql.Expr) bool {
		switch n := n.(type) {
		case *sql.Call:
			if n.Over != nil || isAggregate(n.Name) || isAnalytic(n.Name) || isClock(n.Name) {
				ok = false
			}
		case *sql.Ident:
			if c, sys := record.IsSystemColumn(n.Name); sys && (c == record.SysWindowStart || c == record.SysWindowEnd) {
				ok = false
			}
		}
		return ok
	})
	return ok
}

// constant reports whether e reads no column and no clock, so every record
// of every input computes the same value for it (GROUP BY 'all').
func constant(e sql.Expr) bool {
	ok := true
	sql.Inspect(e, func(n sql.Expr) bool {
		switch n := n.(type) {
		case *sql.Ident:
			ok = false
		case *sql.Call:
			ok = !isClock(n.Name)
		}
		return ok
	})
	return ok
}

// isClock reports whether a function reads the wall clock (NOW(),
// CURRENT_TIMESTAMP): its value differs between routing and evaluation, so
// it can be no routing key.
func isClock(name string) bool {
	switch strings.ToUpper(name) {
	case "NOW", "CURRENT_TIMESTAMP":
		return true
	}
	return false
}

// formatList prints expressions as canonical SQL joined by ", ".
func formatList(es []sql.Expr) string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = sql.FormatExpr(e)
	}
	return strings.Join(s, ", ")
}

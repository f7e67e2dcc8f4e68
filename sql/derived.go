package sql

import (
	"slices"
	"strconv"
	"strings"
)

// IsAggregate reports whether name (any case) is a grouping aggregate
// function: COUNT, SUM, AVG, MIN, MAX, the STDDEV and VAR families,
// VARIANCE, MEDIAN, FIRST_VALUE, LAST_VALUE and STRING_AGG.
func IsAggregate(name string) bool {
	switch n := strings.ToUpper(name); n {
	case "COUNT", "SUM", "AVG", "MIN", "MAX", "VARIANCE", "MEDIAN",
		"FIRST_VALUE", "LAST_VALUE", "STRING_AGG":
		return true
	default:
		return strings.HasPrefix(n, "STDDEV") || strings.HasPrefix(n, "VAR_")
	}
}

// derivedTable parses `( SELECT ... ) [[AS] alias]` after FROM. The source
// it returns names the subquery's own source, under the alias.
func (p *parser) derivedTable() (*Select, Source) {
	open := p.next()
	p.enter(open) // a subquery nests like parentheses
	defer p.leave()
	if !p.isWord("SELECT") {
		p.failf(p.peek(), "expected SELECT after '(' in FROM (a subquery), found %s", p.describe(p.peek()))
	}
	inner := p.selectStmt()
	p.closeParen(open)
	src := inner.From
	src.Pos = open.pos
	if p.acceptWord("AS") {
		src.Alias = p.name("alias after AS")
	} else if isName(p.peek()) {
		src.Alias = p.next().text
	} else {
		src.Alias = ""
	}
	if len(inner.Joins) > 0 {
		p.failAt(inner.Joins[0].Pos, "JOIN inside a subquery in FROM is not supported")
	}
	return inner, src
}

// mergeDerived plans `SELECT ... FROM (inner) WHERE ...` as one query:
// the outer select list and WHERE read the subquery's output columns,
// which are replaced by the expressions computing them. The outer WHERE
// becomes the inner WHERE (a plain subquery), HAVING (an aggregating one)
// or QUALIFY (one with OVER calls), so it filters the subquery's rows.
// What cannot be merged without changing the result is refused.
func (p *parser) mergeDerived(outer, inner *Select) *Select {
	switch {
	case len(outer.Joins) > 0:
		p.failAt(outer.Joins[0].Pos, "JOIN with a subquery in FROM is not supported")
	case len(outer.GroupBy) > 0:
		p.failAt(outer.GroupBy[0].Position(), "GROUP BY over a subquery in FROM is not supported: group inside the subquery")
	case outer.Having != nil:
		p.failAt(outer.Having.Position(), "HAVING over a subquery in FROM is not supported: filter with WHERE")
	case outer.Window != nil:
		p.failAt(outer.Window.Pos, "WINDOW over a subquery in FROM is not supported: put the window inside the subquery")
	case outer.Qualify != nil:
		p.failAt(outer.Qualify.Position(), "QUALIFY over a subquery in FROM is not supported: filter with WHERE")
	case inner.Limit != nil && (outer.Where != nil || outer.Distinct):
		p.failAt(inner.Limit.Pos, "LIMIT inside a subquery that the outer query filters is not supported: put LIMIT in the outer query")
	case (len(outer.OrderBy) > 0 || outer.Limit != nil) && (len(inner.OrderBy) > 0 || inner.Limit != nil):
		p.failAt(outer.Pos, "ORDER BY or LIMIT both inside and outside a subquery is not supported: write them once, in the outer query")
	case outer.Emit != EmitDefault && inner.Emit != EmitDefault && outer.Emit != inner.Emit:
		p.failAt(outer.Pos, "the subquery says EMIT "+inner.Emit.String()+" and the outer query EMIT "+outer.Emit.String())
	}
	m := &derived{p: p, inner: inner, alias: outer.From.Alias, columns: map[string]Expr{}}
	for _, it := range inner.Items {
		if it.Star {
			m.star = true
			continue
		}
		name := itemName(it)
		m.columns[strings.ToLower(name)] = it.Expr
		m.names = append(m.names, name)
	}
	merged := *inner
	merged.Pos = outer.Pos
	merged.Items = nil
	merged.Derived = inner
	for _, it := range outer.Items {
		if it.Star {
			if it.Qualifier != "" && !strings.EqualFold(it.Qualifier, m.alias) {
				p.failAt(it.Pos, m.unknownQualifier(it.Qualifier, it.Qualifier+".*"))
			}
			merged.Items = append(merged.Items, m.except(it)...)
			continue
		}
		e := m.rewrite(it.Expr)
		m.checkCalls(e)
		alias := it.Alias
		if id, ok := it.Expr.(*Ident); ok && alias == "" {
			alias = id.Name // the column keeps its name in the output
		}
		if id, ok := e.(*Ident); ok && id.Name == alias {
			alias = ""
		}
		merged.Items = append(merged.Items, SelectItem{Pos: it.Pos, Expr: e, Alias: alias, PrimaryKey: it.PrimaryKey})
	}
	if outer.Distinct {
		if inner.Distinct || m.aggregating() || m.analytic() {
			p.failAt(outer.Pos, "SELECT DISTINCT over a subquery is supported only over a plain (not aggregating, not windowed) subquery")
		}
		merged.Distinct = true
	}
	if inner.Distinct && !sameItems(merged.Items, inner.Items) {
		p.failAt(outer.Items[0].Pos, "a subquery with SELECT DISTINCT can only be selected whole (SELECT *): projecting it would change which rows are distinct")
	}
	if outer.Where != nil {
		w := m.rewrite(outer.Where)
		switch {
		case m.analytic():
			merged.Qualify = and(merged.Qualify, w)
		case m.aggregating():
			merged.Having = and(merged.Having, w)
		default:
			merged.Where = and(merged.Where, w)
		}
	}
	if len(outer.OrderBy) > 0 {
		merged.OrderBy = nil
		for _, o := range outer.OrderBy {
			merged.OrderBy = append(merged.OrderBy, OrderItem{Pos: o.Pos, Expr: m.rewrite(o.Expr), Desc: o.Desc})
		}
	}
	if outer.Limit != nil {
		merged.Limit = outer.Limit
	}
	if outer.Emit != EmitDefault {
		merged.Emit = outer.Emit
	}
	merged.With = append(append([]Property(nil), inner.With...), outer.With...)
	merged.DerivedErr = m.err
	return &merged
}

// qualifyAliases lets QUALIFY name select-list aliases of analytic calls
// (`QUALIFY rn <= 3` for `ROW_NUMBER() OVER (...) AS rn`), as in Snowflake
// and Databricks: such names are replaced by the aliased expression.
func (p *parser) qualifyAliases(sel *Select) {
	if sel.Qualify == nil {
		return
	}
	aliases := map[string]Expr{}
	for _, it := range sel.Items {
		if it.Alias != "" && !it.Star && hasOver(it.Expr) {
			aliases[strings.ToLower(it.Alias)] = it.Expr
		}
	}
	if len(aliases) == 0 {
		return
	}
	sel.Qualify = Rewrite(sel.Qualify, func(e Expr) Expr {
		if id, ok := e.(*Ident); ok && id.Qualifier == "" {
			if x, ok := aliases[strings.ToLower(id.Name)]; ok {
				return x
			}
		}
		return nil
	})
}

func hasOver(e Expr) bool {
	found := false
	Inspect(e, func(x Expr) bool {
		if c, ok := x.(*Call); ok && c.Over != nil {
			found = true
		}
		return !found
	})
	return found
}

// derived is the merge of one subquery in FROM.
type derived struct {
	p     *parser
	inner *Select
	alias string
	// columns maps the lower-case output column names of the subquery to
	// their expressions; names lists them as written.
	columns map[string]Expr
	names   []string
	// star: the subquery selects `*`, so other input columns pass through.
	star bool
	// err is the first error of the outer query over the subquery's columns.
	err *Error
}

// itemName is the output name of a select item that is not a star.
func itemName(it SelectItem) string {
	if it.Alias != "" {
		return it.Alias
	}
	if id, ok := it.Expr.(*Ident); ok {
		return id.Name
	}
	return FormatExpr(it.Expr)
}

// except returns the subquery's items less the columns the outer
// `* EXCEPT (...)` leaves out; a name that only the subquery's own `*`
// gives is left out of that star.
func (m *derived) except(star SelectItem) []SelectItem {
	if len(star.Except) == 0 {
		return m.inner.Items
	}
	named := map[string]bool{}
	for _, it := range m.inner.Items {
		if !it.Star {
			named[strings.ToLower(itemName(it))] = true
		}
	}
	drop := map[string]bool{}
	var rest []*Ident // the names for the subquery's star
	for _, x := range star.Except {
		drop[strings.ToLower(x.Name)] = true
		if !named[strings.ToLower(x.Name)] {
			if !m.star {
				m.notColumn(x)
				continue
			}
			rest = append(rest, x)
		}
	}
	var out []SelectItem
	for _, it := range m.inner.Items {
		switch {
		case it.Star:
			it.Except = append(slices.Clip(it.Except), rest...)
		case drop[strings.ToLower(itemName(it))]:
			continue
		}
		out = append(out, it)
	}
	return out
}

func (m *derived) describe() string {
	s := "(SELECT ... FROM " + m.inner.From.Name + ")"
	if m.alias != "" {
		s += " AS " + m.alias
	}
	return s
}

// unknownQualifier is the message for the qualifier q of ref, which is
// not the subquery's alias, in the form of the other unknown names.
func (m *derived) unknownQualifier(q, ref string) string {
	msg := "unknown qualifier " + strconv.Quote(q) + " in " + ref
	if m.alias != "" {
		if hint := DidYouMean(q, []string{m.alias}, strconv.Quote); hint != "" {
			msg += "; " + hint
		}
	}
	return msg + " (the subquery in FROM is " + m.describe() + ")"
}

// rewrite replaces the subquery's column references in e by their expressions.
func (m *derived) rewrite(e Expr) Expr {
	return Rewrite(e, func(x Expr) Expr {
		id, ok := x.(*Ident)
		if !ok {
			return nil
		}
		if id.Qualifier != "" && !strings.EqualFold(id.Qualifier, m.alias) {
			m.p.failAt(id.Pos, m.unknownQualifier(id.Qualifier, FormatExpr(id)))
		}
		if c, ok := m.columns[strings.ToLower(id.Name)]; ok {
			return c
		}
		if !isSystemName(id.Name) && !m.star {
			m.notColumn(id)
		}
		return &Ident{Pos: id.Pos, Name: id.Name}
	})
}

// notColumn records the error for id, a name the subquery does not
// output. It is left for the planner (Select.DerivedErr) to report after
// the subquery's own names: `SELECT symbol FROM (SELECT symbl FROM t)` is
// a typo inside the subquery, as PostgreSQL says.
func (m *derived) notColumn(id *Ident) {
	if m.err != nil {
		return
	}
	msg := "unknown column " + strconv.Quote(id.Name)
	if hint := DidYouMean(id.Name, m.names, strconv.Quote); hint != "" {
		msg += "; " + hint
	}
	msg += " (the subquery in FROM has the columns " + strings.Join(m.names, ", ") + ")"
	m.err = &Error{Pos: id.Pos, Msg: msg} // located by the planner, as its own errors
}

// isSystemName reports whether name is a system column (_TIMESTAMP, ...):
// they pass through a subquery.
func isSystemName(name string) bool {
	return strings.HasPrefix(name, "_")
}

// checkCalls refuses the calls the outer query writes over the subquery:
// aggregates, and window functions over a subquery with window functions,
// DISTINCT or LIMIT (over any other subquery a window function sees the
// same rows in the same order as it would inside it).
func (m *derived) checkCalls(e Expr) {
	Inspect(e, func(x Expr) bool {
		c, ok := x.(*Call)
		if !ok || m.fromInner(c) {
			return !ok
		}
		switch {
		case c.Over != nil && (m.analytic() || m.inner.Distinct || m.inner.Limit != nil):
			m.p.failAt(c.Pos, c.Name+" OVER (...) over a subquery with window functions, DISTINCT or LIMIT is not supported")
		case c.Over == nil && IsAggregate(c.Name):
			m.p.failAt(c.Pos, c.Name+" over a subquery in FROM is not supported: compute it inside the subquery")
		}
		return true
	})
}

// find returns the first call in e that pred accepts, or nil.
func (m *derived) find(e Expr, pred func(*Call) bool) *Call {
	var found *Call
	Inspect(e, func(x Expr) bool {
		if c, ok := x.(*Call); ok && found == nil && pred(c) {
			found = c
		}
		return found == nil
	})
	return found
}

// fromInner reports whether c is one of the subquery's own expressions
// (substituted for a column reference), not written in the outer query.
func (m *derived) fromInner(c *Call) bool {
	found := false
	for _, it := range m.inner.Items {
		Inspect(it.Expr, func(x Expr) bool {
			if x == c {
				found = true
			}
			return !found
		})
	}
	return found
}

// aggregating reports whether the subquery groups.
func (m *derived) aggregating() bool {
	s := m.inner
	if len(s.GroupBy) > 0 || s.Window != nil || s.Having != nil {
		return true
	}
	for _, it := range s.Items {
		if m.find(it.Expr, func(c *Call) bool { return c.Over == nil && IsAggregate(c.Name) }) != nil {
			return true
		}
	}
	return false
}

// analytic reports whether the subquery has OVER calls.
func (m *derived) analytic() bool {
	for _, it := range m.inner.Items {
		if hasOver(it.Expr) {
			return true
		}
	}
	return false
}

func sameItems(a, b []SelectItem) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Star != b[i].Star || a[i].Expr != b[i].Expr {
			return false
		}
	}
	return true
}

func and(a, b Expr) Expr {
	if a == nil {
		return b
	}
	return &Binary{Pos: a.Position(), Op: And, L: a, R: b}
}

// Rewrite returns e with every node for which f returns a replacement (not
// nil) replaced; a replaced node's children are not visited. Parents of
// replaced nodes are copied, so e itself is never modified. OVER clauses
// are rewritten too.
func Rewrite(e Expr, f func(Expr) Expr) Expr {
	if e == nil {
		return nil
	}
	if r := f(e); r != nil {
		return r
	}
	rw := func(x Expr) Expr { return Rewrite(x, f) }
	switch n := e.(type) {
	case *Unary:
		c := *n
		c.X = rw(n.X)
		return &c
	case *Binary:
		c := *n
		c.L, c.R = rw(n.L), rw(n.R)
		return &c
	case *IsNull:
		c := *n
		c.X = rw(n.X)
		return &c
	case *In:
		c := *n
		c.X = rw(n.X)
		c.List = rewriteAll(n.List, f)
		return &c
	case *Between:
		c := *n
		c.X, c.Lo, c.Hi = rw(n.X), rw(n.Lo), rw(n.Hi)
		return &c
	case *Like:
		c := *n
		c.X, c.Pattern = rw(n.X), rw(n.Pattern)
		return &c
	case *Case:
		c := *n
		c.Operand, c.Else = rw(n.Operand), rw(n.Else)
		c.Whens = make([]When, len(n.Whens))
		for i, w := range n.Whens {
			c.Whens[i] = When{Pos: w.Pos, Cond: rw(w.Cond), Result: rw(w.Result)}
		}
		return &c
	case *Cast:
		c := *n
		c.X = rw(n.X)
		return &c
	case *Index:
		c := *n
		c.X, c.Index = rw(n.X), rw(n.Index)
		return &c
	case *Call:
		c := *n
		c.Args = rewriteAll(n.Args, f)
		if n.Over != nil {
			o := *n.Over
			o.PartitionBy = rewriteAll(n.Over.PartitionBy, f)
			if n.Over.OrderBy != nil {
				o.OrderBy = make([]OrderItem, len(n.Over.OrderBy))
				for i, x := range n.Over.OrderBy {
					o.OrderBy[i] = OrderItem{Pos: x.Pos, Expr: rw(x.Expr), Desc: x.Desc}
				}
			}
			c.Over = &o
		}
		return &c
	}
	return e
}

// rewriteAll rewrites each expression of es; nil stays nil.
func rewriteAll(es []Expr, f func(Expr) Expr) []Expr {
	if es == nil {
		return nil
	}
	out := make([]Expr, len(es))
	for i, e := range es {
		out[i] = Rewrite(e, f)
	}
	return out
}

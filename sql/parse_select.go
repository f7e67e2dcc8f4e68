package sql

import (
	"fmt"
	"strings"
	"time"
)

// clause identifies a clause after FROM, in the order the dialect requires.
type clause int

const (
	clauseNone clause = iota - 1
	clauseJoin
	clauseWhere
	clauseGroupBy
	clauseHaving
	clauseWindow
	clauseQualify
	clauseOrderBy
	clauseLimit
	clauseEmit
	clauseWith
)

var clauseNames = [...]string{"JOIN", "WHERE", "GROUP BY", "HAVING", "WINDOW", "QUALIFY", "ORDER BY", "LIMIT", "EMIT", "WITH"}

// clauseAt returns the clause that starts at the current token, if any.
func (p *parser) clauseAt() clause {
	t := p.peek()
	if t.kind != tWord {
		return clauseNone
	}
	switch t.up {
	case "JOIN", "INNER", "LEFT", "RIGHT", "FULL":
		return clauseJoin
	case "WHERE":
		return clauseWhere
	case "GROUP":
		return clauseGroupBy
	case "HAVING":
		return clauseHaving
	case "WINDOW":
		return clauseWindow
	case "QUALIFY":
		return clauseQualify
	case "ORDER":
		return clauseOrderBy
	case "LIMIT":
		return clauseLimit
	case "EMIT":
		return clauseEmit
	case "WITH":
		return clauseWith
	}
	return clauseNone
}

// selectStmt parses SELECT ... with all its clauses, which must come in
// the order of clauseNames.
func (p *parser) selectStmt() *Select {
	sel := &Select{Pos: p.expectWord("SELECT", "").pos}
	sel.Distinct = p.acceptWord("DISTINCT")
	for {
		sel.Items = append(sel.Items, p.selectItem())
		if !p.acceptOp(",") {
			break
		}
	}
	if !p.isWord("FROM") {
		t := p.peek()
		if t.kind == tOp && t.text == ")" {
			p.failf(t, "unbalanced ')': no matching '('")
		}
		p.failf(t, "missing FROM clause: expected ',' or FROM after the select list, found %s", p.describe(t))
	}
	p.i++
	var inner *Select
	if p.isOp("(") {
		inner, sel.From = p.derivedTable()
	} else {
		sel.From = p.source("source name after FROM")
	}
	last := clauseNone
	for c := p.clauseAt(); c != clauseNone; c = p.clauseAt() {
		t := p.peek()
		switch {
		case c < last:
			p.failf(t, "%s clause is out of order: it must come before %s (clause order: %s)",
				clauseNames[c], clauseNames[last], strings.Join(clauseNames[:], ", "))
		case c == last && c != clauseJoin:
			p.failf(t, "duplicate %s clause", clauseNames[c])
		}
		last = c
		p.clause(sel, c)
	}
	if inner != nil {
		return p.mergeDerived(sel, inner)
	}
	p.qualifyAliases(sel)
	return sel
}

// clause parses clause c of sel.
func (p *parser) clause(sel *Select, c clause) {
	switch c {
	case clauseJoin:
		sel.Joins = append(sel.Joins, p.join())
	case clauseWhere:
		p.i++
		sel.Where = p.exprAfter("WHERE")
	case clauseGroupBy:
		p.i++
		p.expectWord("BY", "after GROUP")
		sel.GroupBy = p.exprList("GROUP BY")
	case clauseHaving:
		p.i++
		sel.Having = p.exprAfter("HAVING")
	case clauseWindow:
		sel.Window = p.window(sel)
	case clauseQualify:
		p.i++
		sel.Qualify = p.exprAfter("QUALIFY")
	case clauseOrderBy:
		p.i++
		p.expectWord("BY", "after ORDER")
		sel.OrderBy = p.orderItems()
	case clauseLimit:
		t := p.next()
		sel.Limit = &Limit{Pos: t.pos, Count: p.intValue("row count after LIMIT")}
	case clauseEmit:
		p.i++
		switch {
		case p.acceptWord("CHANGES"):
			sel.Emit = EmitChanges
		case p.acceptWord("FINAL"):
			sel.Emit = EmitFinal
		default:
			p.failf(p.peek(), "expected CHANGES or FINAL after EMIT, found %s", p.describe(p.peek()))
		}
	case clauseWith:
		p.i++
		sel.With = p.properties()
	}
}

// selectItem parses `*`, `q.*`, or `expr [[AS] alias] [PRIMARY KEY]`.
func (p *parser) selectItem() SelectItem {
	t := p.peek()
	item := SelectItem{Pos: t.pos}
	if p.acceptOp("*") {
		item.Star = true
		item.Except = p.starExcept()
		return item
	}
	if isName(t) && p.peekAt(1).kind == tOp && p.peekAt(1).text == "." &&
		p.peekAt(2).kind == tOp && p.peekAt(2).text == "*" {
		p.i += 3
		item.Star, item.Qualifier = true, t.text
		item.Except = p.starExcept()
		return item
	}
	if t.kind == tEOF || (t.kind == tWord && t.up == "FROM") {
		p.failf(t, "expected expression in the select list, found %s", p.describe(t))
	}
	item.Expr = p.expr(precLowest)
	if p.acceptWord("AS") {
		item.Alias = p.name("alias after AS")
	} else if isName(p.peek()) {
		item.Alias = p.next().text
	}
	if p.acceptWord("PRIMARY") {
		p.expectWord("KEY", "after PRIMARY")
		item.PrimaryKey = true
	}
	return item
}

// starExcept parses the `EXCEPT (a, b)` (BigQuery) or `EXCLUDE (a, b)`
// (DuckDB) that may follow `*`; the parentheses may be left out around a
// single name.
func (p *parser) starExcept() []*Ident {
	if !p.isWord("EXCEPT") && !p.isWord("EXCLUDE") {
		return nil
	}
	kw := p.next()
	if !p.isOp("(") {
		t := p.peek()
		return []*Ident{{Pos: t.pos, Name: p.name("column name after " + kw.up)}}
	}
	open := p.next()
	var out []*Ident
	for {
		t := p.peek()
		out = append(out, &Ident{Pos: t.pos, Name: p.name("column name in " + kw.up + " (...)")})
		if !p.acceptOp(",") {
			break
		}
	}
	p.closeParen(open)
	return out
}

// source parses `name [[AS] alias]`.
func (p *parser) source(what string) Source {
	s := Source{Pos: p.peek().pos}
	s.Name = p.name(what)
	if p.acceptWord("AS") {
		s.Alias = p.name("alias after AS")
	} else if isName(p.peek()) {
		s.Alias = p.next().text
	}
	return s
}

// join parses `[INNER|LEFT [OUTER]|RIGHT [OUTER]|FULL [OUTER]] JOIN src
// [FOR SYSTEM_TIME AS OF expr] [alias] ON expr [WITHIN duration]`.
func (p *parser) join() Join {
	j := Join{Pos: p.peek().pos}
	switch {
	case p.acceptWord("INNER"):
		j.Kind = InnerJoin
	case p.acceptWord("LEFT"):
		j.Kind = LeftJoin
		p.acceptWord("OUTER")
	case p.acceptWord("RIGHT"):
		j.Kind = RightJoin
		p.acceptWord("OUTER")
	case p.acceptWord("FULL"):
		j.Kind = FullJoin
		p.acceptWord("OUTER")
	}
	p.expectWord("JOIN", "")
	if t := p.peekAt(1); t.kind == tWord && t.up == "FOR" && p.peekAt(2).kind == tWord && p.peekAt(2).up == "SYSTEM_TIME" {
		j.Source = Source{Pos: p.peek().pos, Name: p.name("source name after JOIN")}
		p.i += 2
		p.expectWord("AS", "after FOR SYSTEM_TIME")
		p.expectWord("OF", "after FOR SYSTEM_TIME AS")
		j.AsOf = p.exprAfter("FOR SYSTEM_TIME AS OF")
		if p.acceptWord("AS") {
			j.Source.Alias = p.name("alias after AS")
		} else if isName(p.peek()) {
			j.Source.Alias = p.next().text
		}
	} else {
		j.Source = p.source("source name after JOIN")
	}
	p.expectWord("ON", "after the joined source")
	j.On = p.exprAfter("ON")
	if p.acceptWord("WITHIN") {
		j.Within = p.duration("after WITHIN")
	}
	return j
}

// window parses `WINDOW TUMBLING(...)`, `SLIDING(...)` or `SESSION(...)`
// of sel; the time column may be qualified by the FROM source's name or
// alias (t.trade_time).
func (p *parser) window(sel *Select) *Window {
	w := &Window{Pos: p.next().pos}
	t := p.peek()
	if t.kind != tWord {
		p.failf(t, "expected window kind TUMBLING, SLIDING or SESSION after WINDOW, found %s", p.describe(t))
	}
	nDurations := 1
	switch t.up {
	case "TUMBLING":
		w.Kind = Tumbling
	case "SLIDING":
		w.Kind = Sliding
		nDurations = 2
	case "SESSION":
		w.Kind = Session
	default:
		p.failf(t, "unknown window kind %s: expected TUMBLING, SLIDING or SESSION", clip(t.text))
	}
	p.i++
	open := p.expectOp("(", "after "+t.up)
	if c := p.peek(); isName(c) && p.peekAt(1).kind == tOp && p.peekAt(1).text == "," {
		w.TimeColumn, w.TimeColumnPos = c.text, c.pos
		p.i += 2
	} else if col := p.peekAt(2); isName(c) && p.peekAt(1).kind == tOp && p.peekAt(1).text == "." && isName(col) &&
		p.peekAt(3).kind == tOp && p.peekAt(3).text == "," && sel.Derived == nil &&
		(strings.EqualFold(c.text, sel.From.Name) || sel.From.Alias != "" && strings.EqualFold(c.text, sel.From.Alias)) {
		// qualified by the FROM source's name or alias: the column itself
		w.TimeColumn, w.TimeColumnPos = col.text, col.pos
		p.i += 4
	} else if isName(c) && p.peekAt(1).kind == tOp && p.peekAt(1).text == "." {
		name := c.text
		for k := 1; p.peekAt(k).kind == tOp && p.peekAt(k).text == "." && isName(p.peekAt(k+1)); k += 2 {
			name += "." + p.peekAt(k+1).text
		}
		p.failf(c, "the time column of %s is a column name, not %s (a nested field or a qualified name): "+
			"name the column alone, or make a nested time a column first (CREATE STREAM s AS SELECT %[2]s AS ts, ... FROM ...)", t.up, clip(name))
	}
	var ds [2]time.Duration
	for i := 0; i < nDurations; i++ {
		if i > 0 {
			p.expectOp(",", fmt.Sprintf("between the %s size and advance", t.up))
		}
		ds[i] = p.duration("in " + t.up)
	}
	p.closeParen(open)
	switch w.Kind {
	case Tumbling:
		w.Size = ds[0]
	case Sliding:
		w.Size, w.Advance = ds[0], ds[1]
	case Session:
		w.Gap = ds[0]
	}
	return w
}

// orderItems parses `expr [ASC|DESC], ...`.
func (p *parser) orderItems() []OrderItem {
	var items []OrderItem
	for {
		t := p.peek()
		o := OrderItem{Pos: t.pos, Expr: p.exprAfter("ORDER BY")}
		if !p.acceptWord("ASC") {
			o.Desc = p.acceptWord("DESC")
		}
		items = append(items, o)
		if !p.acceptOp(",") {
			return items
		}
	}
}

// properties parses `('key' = 'value', ...)`.
func (p *parser) properties() []Property {
	open := p.expectOp("(", "after WITH")
	var props []Property
	for {
		t := p.peek()
		if t.kind != tString {
			p.failf(t, "expected property name as a 'string' in WITH, found %s", p.describe(t))
		}
		p.i++
		p.expectOp("=", "after property name "+quoteString(t.text))
		v := p.peek()
		switch {
		case v.kind == tString || v.kind == tNumber:
		case v.kind == tWord && (v.up == "TRUE" || v.up == "FALSE"):
		default:
			p.failf(v, "expected property value as a 'string' for %s, found %s", quoteString(clip(t.text)), p.describe(v))
		}
		p.i++
		for _, prev := range props {
			if strings.EqualFold(prev.Key, t.text) {
				p.failf(t, "property %s is given twice (first at %d:%d): give it once", quoteString(clip(t.text)), prev.Line, prev.Col)
			}
		}
		props = append(props, Property{Pos: t.pos, Key: t.text, Value: v.text, ValuePos: v.pos})
		if !p.acceptOp(",") {
			break
		}
	}
	p.closeParen(open)
	return props
}

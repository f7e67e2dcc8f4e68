package sql

import (
	"fmt"
	"strings"
	"time"
)

// Operator precedence, loosest first.
const (
	precLowest  = 0
	precOr      = 1
	precAnd     = 2
	precNot     = 3
	precCmp     = 4 // comparisons, IS, IN, BETWEEN, LIKE
	precAdd     = 5 // +, -, ||
	precMul     = 6 // *, /, %
	precNeg     = 7 // unary minus
	precPrimary = 8
)

// binaryOps maps infix operator tokens to their operator and precedence.
var binaryOps = map[string]struct {
	op   BinaryOp
	prec int
}{
	"OR": {Or, precOr}, "AND": {And, precAnd},
	"=": {Eq, precCmp}, "<>": {NotEq, precCmp}, "!=": {NotEq, precCmp},
	"<": {Lt, precCmp}, "<=": {LtEq, precCmp}, ">": {Gt, precCmp}, ">=": {GtEq, precCmp},
	"+": {Add, precAdd}, "-": {Sub, precAdd}, "||": {Concat, precAdd},
	"*": {Mul, precMul}, "/": {Div, precMul}, "%": {Mod, precMul},
}

// exprAfter parses an expression that must follow keyword kw, so that a
// missing expression reads "expected expression after KW, found ...".
func (p *parser) exprAfter(kw string) Expr {
	if !p.startsExpr(p.peek()) {
		t := p.peek()
		p.failf(t, "expected expression after %s, found %s", kw, p.describe(t))
	}
	return p.expr(precLowest)
}

// exprList parses `expr, expr, ...` after keyword kw.
func (p *parser) exprList(kw string) []Expr {
	var list []Expr
	for {
		list = append(list, p.exprAfter(kw))
		if !p.acceptOp(",") {
			return list
		}
	}
}

// startsExpr reports whether t can begin an expression.
func (p *parser) startsExpr(t token) bool {
	switch t.kind {
	case tWord:
		switch t.up {
		case "NOT", "NULL", "TRUE", "FALSE", "CASE", "CAST", "CURRENT_TIMESTAMP":
			return true
		case "LEFT", "RIGHT":
			return p.peekAt(1).kind == tOp && p.peekAt(1).text == "("
		}
		return !reserved[t.up]
	case tQuoted, tString, tNumber, tDuration:
		return true
	case tOp:
		return t.text == "(" || t.text == "-" || t.text == "+"
	}
	return false
}

// expr parses an expression whose infix operators all bind at least as
// tightly as minPrec (precedence climbing).
func (p *parser) expr(minPrec int) Expr {
	p.enter(p.peek())
	defer p.leave()
	x := p.prefix()
	for {
		t := p.peek()
		var name string
		switch t.kind {
		case tOp:
			name = t.text
		case tWord:
			name = t.up
		default:
			return x
		}
		if bo, ok := binaryOps[name]; ok {
			if bo.prec < minPrec {
				return x
			}
			p.i++
			r := p.operand(bo.prec+1, t)
			x = &Binary{Pos: x.Position(), Op: bo.op, L: x, R: r}
			continue
		}
		if precCmp < minPrec {
			return x
		}
		not := false
		if name == "NOT" {
			nt := p.peekAt(1)
			if nt.kind != tWord || (nt.up != "IN" && nt.up != "BETWEEN" && nt.up != "LIKE") {
				return x
			}
			p.i++
			not = true
			t = p.peek()
			name = t.up
		}
		switch name {
		case "IS":
			p.i++
			isNot := p.acceptWord("NOT")
			p.expectWord("NULL", "after IS")
			x = &IsNull{Pos: x.Position(), X: x, Not: isNot}
		case "IN":
			p.i++
			open := p.expectOp("(", "after IN")
			if t := p.peek(); t.kind == tWord && t.up == "SELECT" {
				p.failf(t, "a subquery in IN is not supported: IN takes a list of values, x IN (1, 2); "+
					"to keep the rows whose key is in another source, JOIN it")
			}
			list := p.exprList("IN (")
			p.closeParen(open)
			x = &In{Pos: x.Position(), X: x, List: list, Not: not}
		case "BETWEEN":
			p.i++
			lo := p.operand(precAdd, t)
			p.expectWord("AND", "in BETWEEN")
			hi := p.operand(precAdd, t)
			x = &Between{Pos: x.Position(), X: x, Lo: lo, Hi: hi, Not: not}
		case "LIKE":
			p.i++
			x = &Like{Pos: x.Position(), X: x, Pattern: p.operand(precAdd, t), Not: not}
		default:
			return x
		}
	}
}

// operand parses the right operand of operator token op.
func (p *parser) operand(minPrec int, op token) Expr {
	if !p.startsExpr(p.peek()) {
		name := op.text
		if op.kind == tWord {
			name = op.up
		}
		p.failf(p.peek(), "expected expression after %s, found %s", name, p.describe(p.peek()))
	}
	return p.expr(minPrec)
}

// prefix parses NOT x, -x, +x or a primary expression.
func (p *parser) prefix() Expr {
	t := p.peek()
	switch {
	case t.kind == tWord && t.up == "NOT":
		p.i++
		return &Unary{Pos: t.pos, Op: Not, X: p.operand(precNot, t)}
	case t.kind == tOp && t.text == "-":
		p.i++
		return &Unary{Pos: t.pos, Op: Neg, X: p.operand(precNeg, t)}
	case t.kind == tOp && t.text == "+":
		p.i++
		return p.operand(precNeg, t)
	}
	return p.postfix(p.primary())
}

// primary parses literals, identifiers, calls, CASE, CAST and (expr).
func (p *parser) primary() Expr {
	t := p.peek()
	switch t.kind {
	case tNumber:
		p.i++
		kind := IntLit
		switch {
		case strings.ContainsAny(t.text, "eE"):
			kind = FloatLit
		case strings.Contains(t.text, "."):
			kind = DecimalLit
		}
		return &Literal{Pos: t.pos, Kind: kind, Text: t.text}
	case tString:
		p.i++
		return &Literal{Pos: t.pos, Kind: StringLit, Text: t.text}
	case tDuration:
		return p.shortInterval()
	case tQuoted:
		return p.ident()
	case tOp:
		if t.text == "(" {
			p.i++
			e := p.operand(precLowest, t)
			p.closeParen(t)
			return e
		}
	case tWord:
		next := p.peekAt(1)
		switch t.up {
		case "NULL":
			p.i++
			return &Literal{Pos: t.pos, Kind: NullLit, Text: "NULL"}
		case "TRUE", "FALSE":
			p.i++
			return &Literal{Pos: t.pos, Kind: BoolLit, Text: t.up}
		case "CASE":
			return p.caseExpr()
		case "CURRENT_TIMESTAMP":
			p.i++
			return &Call{Pos: t.pos, Name: t.up}
		case "CAST":
			return p.cast()
		case "INTERVAL":
			if next.kind == tString {
				return p.interval()
			}
		case "TIMESTAMP":
			if next.kind == tString {
				p.i += 2
				return &Literal{Pos: t.pos, Kind: TimestampLit, Text: next.text}
			}
		}
		if next.kind == tOp && next.text == "(" && (!reserved[t.up] || t.up == "LEFT" || t.up == "RIGHT") {
			return p.call()
		}
		if !reserved[t.up] {
			return p.ident()
		}
	}
	p.failf(t, "expected expression, found %s", p.describe(t))
	return nil
}

// ident parses `name`, `qualifier.name` or a longer dotted path
// (`payload.user.id`, `t.payload.user`).
func (p *parser) ident() Expr {
	t := p.next()
	id := &Ident{Pos: t.pos, Name: t.text, Quoted: t.kind == tQuoted && !p.isOp(".")}
	if p.isOp(".") {
		p.i++
		id.Qualifier = id.Name
		id.Name = p.name("column or field name after '.'")
		for p.isOp(".") {
			p.i++
			id.Path = append(id.Path, p.name("field name after '.'"))
		}
	}
	return id
}

// postfix parses the array subscripts after a primary expression, each
// with the fields read from its element: `x[1][2]`, `items[1].sku`.
func (p *parser) postfix(x Expr) Expr {
	for p.isOp("[") {
		open := p.next()
		i := p.operand(precLowest, open)
		t := p.peek()
		if !p.isOp("]") {
			p.failf(t, "expected ']' to close the '[' at %d:%d, found %s", open.pos.Line, open.pos.Col, p.describe(t))
		}
		p.i++
		ix := &Index{Pos: x.Position(), X: x, Index: i}
		for p.isOp(".") {
			p.i++
			ix.Path = append(ix.Path, p.name("field name after '.'"))
		}
		x = ix
	}
	return x
}

// shortUnitNames maps the suffixes of short durations to INTERVAL units.
var shortUnitNames = map[string]string{
	"ns": "NANOSECOND", "us": "MICROSECOND", "ms": "MILLISECOND", "s": "SECOND",
	"m": "MINUTE", "h": "HOUR", "d": "DAY", "w": "WEEK",
}

// shortInterval parses a short duration such as 10s in an expression: the
// INTERVAL literal it abbreviates (INTERVAL '10' SECOND).
func (p *parser) shortInterval() *Literal {
	t := p.next()
	if _, err := parseShortDuration(t.text); err != nil {
		p.failf(t, "bad duration %s: %v", clip(t.text), err)
	}
	n := strings.IndexFunc(t.text, func(r rune) bool { return !isDigit(byte(r)) && r != '.' })
	return &Literal{Pos: t.pos, Kind: IntervalLit, Text: t.text[:n], Unit: shortUnitNames[strings.ToLower(t.text[n:])]}
}

// interval parses `INTERVAL 'n' UNIT` and checks that it is a valid duration.
func (p *parser) interval() *Literal {
	t := p.next()
	text := p.next()
	u := p.peek()
	if u.kind != tWord {
		p.failf(u, "expected INTERVAL unit (SECOND, MINUTE, HOUR, DAY, ...) after %s, found %s", quoteString(clip(text.text)), p.describe(u))
	}
	p.i++
	l := &Literal{Pos: t.pos, Kind: IntervalLit, Text: text.text, Unit: u.up}
	if _, err := l.Duration(); err != nil {
		p.failf(t, "bad INTERVAL: %v", err)
	}
	return l
}

// duration parses a window or WITHIN duration: 10m, a bare number of
// seconds, or INTERVAL 'n' UNIT. It must be positive.
func (p *parser) duration(context string) time.Duration {
	t := p.peek()
	var d time.Duration
	var err error
	switch {
	case t.kind == tDuration || (t.kind == tNumber && !strings.ContainsAny(t.text, "eE")):
		p.i++
		d, err = parseShortDuration(t.text)
		if err != nil {
			p.failf(t, "bad duration %s %s: %v", clip(t.text), context, err)
		}
	case t.kind == tWord && t.up == "INTERVAL" && p.peekAt(1).kind == tString:
		d, _ = p.interval().Duration()
	default:
		p.failf(t, "expected duration (like 1m, 30s or INTERVAL '1' MINUTE) %s, found %s", context, p.describe(t))
	}
	if d <= 0 {
		p.failf(t, "bad duration %s: must be positive", context)
	}
	return d
}

// call parses `NAME(args) [OVER (...)]`, including COUNT(*) and
// COUNT(DISTINCT x).
func (p *parser) call() Expr {
	t := p.next()
	c := &Call{Pos: t.pos, Name: t.up}
	open := p.next()
	switch {
	case c.Name == "EXTRACT" && (isName(p.peek()) || p.peek().kind == tString) && p.peekAt(1).kind == tWord && p.peekAt(1).up == "FROM":
		// EXTRACT(field FROM ts) is the call EXTRACT(field, ts).
		f := p.next()
		field := Expr(&Ident{Pos: f.pos, Name: f.text})
		if f.kind == tString {
			field = &Literal{Pos: f.pos, Kind: StringLit, Text: f.text}
		}
		p.i++
		c.Args = []Expr{field, p.exprAfter("FROM")}
	case p.acceptOp("*"):
		c.Star = true
	case p.isOp(")"):
	default:
		c.Distinct = p.acceptWord("DISTINCT")
		c.Args = p.exprList(fmt.Sprintf("%s(", c.Name))
	}
	p.closeParen(open)
	if p.isWord("OVER") {
		c.Over = p.over()
	}
	return c
}

// over parses `OVER ([ROWS WINDOW BUFFER n ROWS] [PARTITION BY ...]
// [ORDER BY ...] [ROWS BETWEEN n PRECEDING AND CURRENT ROW])`.
func (p *parser) over() *Over {
	o := &Over{Pos: p.next().pos}
	open := p.expectOp("(", "after OVER")
	if p.isWord("ROWS") && p.peekAt(1).kind == tWord && p.peekAt(1).up == "WINDOW" {
		p.i += 2
		p.expectWord("BUFFER", "in ROWS WINDOW BUFFER n ROWS")
		t := p.peek()
		o.Buffer = p.intValue("buffer size in ROWS WINDOW BUFFER n ROWS")
		if o.Buffer <= 0 {
			p.failf(t, "ROWS WINDOW BUFFER size must be positive, found %d", o.Buffer)
		}
		p.expectWord("ROWS", "after the buffer size")
	}
	if p.isWord("PARTITION") {
		p.i++
		p.expectWord("BY", "after PARTITION")
		o.PartitionBy = p.exprList("PARTITION BY")
	}
	if p.acceptWord("ORDER") {
		p.expectWord("BY", "after ORDER")
		o.OrderBy = p.orderItems()
	}
	if p.isWord("ROWS") {
		o.Frame = p.frame()
	}
	p.closeParen(open)
	return o
}

// frame parses `ROWS BETWEEN (n|UNBOUNDED) PRECEDING AND CURRENT ROW` or
// the short `ROWS (n|UNBOUNDED) PRECEDING`.
func (p *parser) frame() *Frame {
	f := &Frame{Pos: p.next().pos}
	between := p.acceptWord("BETWEEN")
	if p.acceptWord("UNBOUNDED") {
		f.Preceding = -1
	} else {
		f.Preceding = p.intValue("row count or UNBOUNDED in ROWS frame")
	}
	p.expectWord("PRECEDING", "in ROWS frame")
	if between {
		p.expectWord("AND", "in ROWS BETWEEN")
		p.expectWord("CURRENT", "in ROWS BETWEEN ... AND (only CURRENT ROW is supported)")
		p.expectWord("ROW", "after CURRENT")
	}
	return f
}

// caseExpr parses `CASE [operand] WHEN c THEN r ... [ELSE e] END`.
func (p *parser) caseExpr() Expr {
	t := p.next()
	c := &Case{Pos: t.pos}
	if !p.isWord("WHEN") {
		c.Operand = p.exprAfter("CASE")
	}
	for p.isWord("WHEN") {
		w := p.next()
		cond := p.exprAfter("WHEN")
		p.expectWord("THEN", "after the WHEN condition")
		c.Whens = append(c.Whens, When{Pos: w.pos, Cond: cond, Result: p.exprAfter("THEN")})
	}
	if len(c.Whens) == 0 {
		p.failf(p.peek(), "expected WHEN in CASE, found %s", p.describe(p.peek()))
	}
	if p.acceptWord("ELSE") {
		c.Else = p.exprAfter("ELSE")
	}
	p.expectWord("END", "to close the CASE at "+fmt.Sprintf("%d:%d", t.pos.Line, t.pos.Col))
	return c
}

// cast parses `CAST(x AS TYPE)` where TYPE is a word with optional
// integer arguments, e.g. DECIMAL(10,2).
func (p *parser) cast() Expr {
	t := p.next()
	open := p.expectOp("(", "after CAST")
	c := &Cast{Pos: t.pos, X: p.exprAfter("CAST(")}
	p.expectWord("AS", "in CAST")
	ty := p.peek()
	if ty.kind != tWord {
		p.failf(ty, "expected type name after AS in CAST, found %s", p.describe(ty))
	}
	p.i++
	c.Type, c.TypePos = ty.up, ty.pos
	if p.isOp("(") {
		topen := p.next()
		var args []string
		for {
			args = append(args, fmt.Sprint(p.intValue("type argument")))
			if !p.acceptOp(",") {
				break
			}
		}
		p.closeParen(topen)
		c.Type += "(" + strings.Join(args, ",") + ")"
	}
	p.closeParen(open)
	return c
}

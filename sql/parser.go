package sql

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// maxErrors bounds how many statement errors one Parse reports.
const maxErrors = 10

// MaxNesting bounds how deeply expressions nest (parentheses, operators,
// calls), so that hostile input gets an error rather than a stack overflow.
const MaxNesting = 1000

// reserved lists the words that cannot be bare identifiers; the printer
// quotes identifiers spelled like them.
var reserved = map[string]bool{
	"SELECT": true, "FROM": true, "WHERE": true, "GROUP": true, "BY": true, "HAVING": true,
	"WINDOW": true, "ORDER": true, "LIMIT": true, "EMIT": true, "WITH": true, "AS": true,
	"AND": true, "OR": true, "NOT": true, "IS": true, "NULL": true, "IN": true,
	"BETWEEN": true, "LIKE": true, "CASE": true, "WHEN": true, "THEN": true, "ELSE": true,
	"END": true, "CAST": true, "TRUE": true, "FALSE": true, "DISTINCT": true, "JOIN": true,
	"INNER": true, "LEFT": true, "RIGHT": true, "FULL": true, "OUTER": true, "ON": true,
	"WITHIN": true, "OVER": true, "PRIMARY": true, "ASC": true, "DESC": true,
	"CREATE": true, "INSERT": true, "INTO": true, "QUALIFY": true, "CURRENT_TIMESTAMP": true,
}

// bailout is the panic value that aborts the current statement after an
// error has been recorded.
type bailout struct{}

// parser is a recursive-descent parser over a fully lexed token list.
type parser struct {
	file, src string
	toks      []token
	i         int
	errs      ErrorList
	depth     int // expressions being parsed, innermost last; see enter
}

// Parse parses every `;`-separated statement of src. filename is used in
// error messages only. On failure the error is an ErrorList of positioned
// errors (at most one per statement) and no statements are returned.
func Parse(filename, src string) (stmts []*Statement, err error) {
	defer func() {
		if r := recover(); r != nil {
			stmts = nil
			err = ErrorList{{File: filename, Pos: Pos{Line: 1, Col: 1},
				Msg: fmt.Sprintf("internal parser error: %v", r)}}
		}
	}()
	toks, anns, lerr := lex(filename, src)
	if lerr != nil {
		return nil, ErrorList{lerr}
	}
	p := &parser{file: filename, src: src, toks: toks}
	starts := map[int]*Statement{}
	for len(p.errs) < maxErrors {
		for p.isOp(";") {
			p.i++
		}
		if p.peek().kind == tEOF {
			break
		}
		start := p.i
		if s := p.statementRecover(); s != nil {
			stmts = append(stmts, s)
			starts[start] = s
		} else {
			starts[start] = &Statement{}
		}
	}
	p.attachAnnotations(anns, starts)
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return stmts, nil
}

// ParseExpr parses a single expression, e.g. `price * quantity > 100`.
func ParseExpr(src string) (e Expr, err error) {
	const file = "<expr>"
	defer func() {
		if r := recover(); r != nil {
			e = nil
			if _, ok := r.(bailout); ok {
				return // err is set by the deferred check below
			}
			err = ErrorList{{File: file, Pos: Pos{Line: 1, Col: 1},
				Msg: fmt.Sprintf("internal parser error: %v", r)}}
		}
	}()
	toks, _, lerr := lex(file, src)
	if lerr != nil {
		return nil, ErrorList{lerr}
	}
	p := &parser{file: file, src: src, toks: toks}
	defer func() {
		if len(p.errs) > 0 {
			e, err = nil, p.errs
		}
	}()
	e = p.expr(precLowest)
	if t := p.peek(); t.kind != tEOF {
		p.failf(t, "expected end of expression, found %s", p.describe(t))
	}
	return e, nil
}

// attachAnnotations gives every annotation to the statement starting at
// the token that follows it, and reports annotations anywhere else.
func (p *parser) attachAnnotations(anns []rawAnnotation, starts map[int]*Statement) {
	for _, a := range anns {
		s, ok := starts[a.next]
		if !ok {
			msg := fmt.Sprintf("annotation @%s is inside a statement: put -- @key: value lines directly before the statement", a.Key)
			if p.toks[a.next].kind == tEOF || p.toks[a.next].text == ";" {
				msg = fmt.Sprintf("annotation @%s is not followed by a statement", a.Key)
			}
			p.errs = append(p.errs, newError(p.file, p.src, a.Pos, msg))
			continue
		}
		if !slices.Contains(Annotations, a.Key) {
			msg := fmt.Sprintf("unknown annotation @%s (valid: @%s)", a.Key, strings.Join(Annotations, ", @"))
			if hint := DidYouMean(a.Key, Annotations, func(k string) string { return "@" + k }); hint != "" {
				msg += "; " + hint
			}
			p.errs = append(p.errs, newError(p.file, p.src, a.keyPos, msg))
			continue
		}
		if s.IsDDL() {
			kind := "STREAM"
			if s.Kind == CreateTable {
				kind = "TABLE"
			}
			p.errs = append(p.errs, newError(p.file, p.src, a.keyPos, fmt.Sprintf(
				"annotation @%s is before CREATE %s %s, which declares a source and runs nothing: put it directly before the query it is for", a.Key, kind, s.Name)))
			continue
		}
		if msg := validateAnnotation(a.Key, a.Value); msg != "" {
			p.errs = append(p.errs, newError(p.file, p.src, a.ValuePos, msg))
			continue
		}
		s.Annotations = append(s.Annotations, a.Annotation)
	}
}

// validateAnnotation checks the value of a known annotation key and returns
// what is wrong with it, or "".
func validateAnnotation(key, value string) string {
	switch key {
	case AnnotationStrategy:
		if value == "" {
			return fmt.Sprintf("annotation @%s needs a value", key)
		}
	case AnnotationJobMode:
		if value == "" {
			return fmt.Sprintf("annotation @%s needs a value", key)
		}
		if !strings.EqualFold(value, JobModeStreaming) && !strings.EqualFold(value, JobModeBatch) {
			return fmt.Sprintf("annotation @%s must be %s or %s, found %q", key, JobModeStreaming, JobModeBatch, value)
		}
	case AnnotationPartitions, AnnotationBatchSize:
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil || n <= 0 {
			return fmt.Sprintf("annotation @%s must be a positive integer, found %q", key, value)
		}
	}
	return ""
}

// statementRecover parses one statement. After an error it skips to the
// next `;` and returns nil.
func (p *parser) statementRecover() (s *Statement) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(bailout); !ok {
				panic(r)
			}
			s = nil
			for t := p.peek(); t.kind != tEOF && !p.isOp(";"); t = p.peek() {
				p.i++
			}
		}
	}()
	s = p.statement()
	if t := p.peek(); t.kind != tEOF && !p.isOp(";") {
		if t.kind == tOp && t.text == ")" {
			p.failf(t, "unbalanced ')': no matching '('")
		}
		p.failf(t, "expected ';' or end of input after the statement, found %s", p.describe(t))
	}
	return s
}

// statement parses SELECT, CREATE STREAM/TABLE name AS SELECT or INSERT INTO name SELECT.
func (p *parser) statement() *Statement {
	t := p.peek()
	s := &Statement{Pos: t.pos}
	switch {
	case p.isWord("SELECT"):
		s.Kind = SelectStatement
	case p.isWord("CREATE"):
		p.i++
		switch {
		case p.acceptWord("STREAM"):
			s.Kind = CreateStream
		case p.acceptWord("TABLE"):
			s.Kind = CreateTable
		default:
			p.failf(p.peek(), "expected STREAM or TABLE after CREATE, found %s", p.describe(p.peek()))
		}
		s.Name = p.name("stream or table name")
		if p.isOp("(") || p.isWord("WITH") {
			p.ddl(s)
			return s
		}
		if !p.isWord("AS") {
			p.failf(p.peek(), "expected AS, a column list '(' or WITH after the name, found %s", p.describe(p.peek()))
		}
		p.i++
	case p.isWord("INSERT"):
		p.i++
		s.Kind = InsertInto
		p.expectWord("INTO", "after INSERT")
		s.Name = p.name("target name after INSERT INTO")
	default:
		p.failf(t, "expected SELECT, CREATE or INSERT at the start of a statement, found %s", p.describe(t))
	}
	if !p.isWord("SELECT") {
		p.failf(p.peek(), "expected SELECT, found %s", p.describe(p.peek()))
	}
	s.Query = p.selectStmt()
	return s
}

// ---- token helpers ----

func (p *parser) peek() token { return p.toks[p.i] }

// peekAt returns the token n positions ahead (the EOF token past the end).
func (p *parser) peekAt(n int) token {
	if p.i+n >= len(p.toks) {
		return p.toks[len(p.toks)-1]
	}
	return p.toks[p.i+n]
}

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) isWord(up string) bool {
	t := p.toks[p.i]
	return t.kind == tWord && t.up == up
}

func (p *parser) isOp(op string) bool {
	t := p.toks[p.i]
	return t.kind == tOp && t.text == op
}

func (p *parser) acceptWord(up string) bool {
	if p.isWord(up) {
		p.i++
		return true
	}
	return false
}

func (p *parser) acceptOp(op string) bool {
	if p.isOp(op) {
		p.i++
		return true
	}
	return false
}

// expectWord consumes keyword up or fails with "expected UP <context>".
func (p *parser) expectWord(up, context string) token {
	if !p.isWord(up) {
		p.failf(p.peek(), "expected %s %s, found %s", up, context, p.describe(p.peek()))
	}
	return p.next()
}

// expectOp consumes operator op or fails with "expected 'op' <context>".
func (p *parser) expectOp(op, context string) token {
	if !p.isOp(op) {
		p.failf(p.peek(), "expected '%s' %s, found %s", op, context, p.describe(p.peek()))
	}
	return p.next()
}

// closeParen consumes the ')' matching the '(' at open.
func (p *parser) closeParen(open token) {
	if !p.isOp(")") {
		p.failf(p.peek(), "expected ')' to close the '(' at %d:%d, found %s",
			open.pos.Line, open.pos.Col, p.describe(p.peek()))
	}
	p.i++
}

// isName reports whether t can be an identifier: a quoted identifier or a
// bare word that is not reserved.
func isName(t token) bool {
	return t.kind == tQuoted || (t.kind == tWord && !reserved[t.up])
}

// name consumes an identifier, describing it as what in the error.
func (p *parser) name(what string) string {
	t := p.peek()
	if !isName(t) {
		p.failf(t, "expected %s, found %s", what, p.describe(t))
	}
	p.i++
	return t.text
}

// describe names a token for "found ..." in error messages.
func (p *parser) describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of input"
	case tWord:
		if reserved[t.up] {
			return t.up
		}
		return fmt.Sprintf("identifier %s", clip(t.text))
	case tQuoted:
		return fmt.Sprintf("identifier %q", clip(t.text))
	case tString:
		return "string " + quoteString(clip(t.text))
	case tNumber:
		return "number " + clip(t.text)
	case tDuration:
		return "duration " + clip(t.text)
	default:
		return "'" + clip(t.text) + "'"
	}
}

// enter starts a nested construct at t, failing past MaxNesting levels;
// every enter is paired with a deferred leave.
func (p *parser) enter(t token) {
	p.depth++
	if p.depth > MaxNesting {
		p.failf(t, "nested too deeply: more than %d levels of parentheses, operators or calls", MaxNesting)
	}
}

// leave ends the construct begun by the matching enter.
func (p *parser) leave() { p.depth-- }

// failf records an error at token t and aborts the statement.
func (p *parser) failf(t token, format string, args ...any) {
	p.failAt(t.pos, fmt.Sprintf(format, args...))
}

// failAt records an error at pos and aborts the statement.
func (p *parser) failAt(pos Pos, msg string) {
	p.errs = append(p.errs, newError(p.file, p.src, pos, msg))
	panic(bailout{})
}

// intValue consumes an unsigned integer token and returns its value.
func (p *parser) intValue(what string) int64 {
	t := p.peek()
	if t.kind != tNumber || strings.ContainsAny(t.text, ".eE") {
		p.failf(t, "expected %s, found %s", what, p.describe(t))
	}
	n, err := strconv.ParseInt(t.text, 10, 64)
	if err != nil {
		p.failf(t, "%s %s is out of range", what, clip(t.text))
	}
	p.i++
	return n
}

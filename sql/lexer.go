package sql

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// tokKind classifies a token.
type tokKind uint8

const (
	tEOF      tokKind = iota
	tWord             // a bare word: identifier or keyword (see token.up)
	tQuoted           // a "quoted" or `backtick` identifier, never a keyword
	tString           // a 'string' literal, escapes resolved
	tNumber           // an unsigned integer, decimal or float, as written
	tDuration         // a number directly followed by letters, e.g. 10m
	tOp               // an operator or punctuation mark
)

// token is one lexed token.
type token struct {
	kind tokKind
	// text is the token as written for words, numbers, durations and
	// operators, and the unescaped content for strings and quoted identifiers.
	text string
	// up is text upper-cased for words (keyword matching), empty otherwise.
	up  string
	pos Pos
}

// rawAnnotation is a `-- @key: value` comment line found by the lexer.
type rawAnnotation struct {
	Annotation
	// keyPos is where the key starts (after the '@'), for errors.
	keyPos Pos
	// next is the index of the first token after the annotation.
	next int
}

// lexer turns source text into tokens and annotations.
type lexer struct {
	file, src string
	off       int
	line      int
	lineStart int
	toks      []token
	anns      []rawAnnotation
}

// lex tokenizes src completely. The token list always ends with a tEOF.
func lex(file, src string) ([]token, []rawAnnotation, *Error) {
	// SQL averages about one token per four bytes: sized so most inputs never regrow.
	l := &lexer{file: file, src: src, line: 1, toks: make([]token, 0, len(src)/4+8)}
	if err := l.run(); err != nil {
		return nil, nil, err
	}
	return l.toks, l.anns, nil
}

func (l *lexer) pos() Pos {
	return Pos{Offset: l.off, Line: l.line, Col: l.off - l.lineStart + 1}
}

func (l *lexer) errorf(p Pos, format string, args ...any) *Error {
	return newError(l.file, l.src, p, fmt.Sprintf(format, args...))
}

// newline records that the byte at l.off is a line break and steps past it.
func (l *lexer) newline() {
	l.off++
	l.line++
	l.lineStart = l.off
}

func (l *lexer) run() *Error {
	for {
		if err := l.skipSpace(); err != nil {
			return err
		}
		p := l.pos()
		if l.off >= len(l.src) {
			l.toks = append(l.toks, token{kind: tEOF, pos: p})
			return nil
		}
		c := l.src[l.off]
		var err *Error
		switch {
		case isIdentStart(c):
			start := l.off
			for l.off < len(l.src) && isIdentPart(l.src[l.off]) {
				l.off++
			}
			w := l.src[start:l.off]
			l.toks = append(l.toks, token{kind: tWord, text: w, up: strings.ToUpper(w), pos: p})
		case isDigit(c) || (c == '.' && l.off+1 < len(l.src) && isDigit(l.src[l.off+1])):
			l.number(p)
		case c == '\'':
			err = l.quoted(p, '\'', tString, "string")
		case c == '"':
			err = l.quoted(p, '"', tQuoted, "quoted identifier")
		case c == '`':
			err = l.quoted(p, '`', tQuoted, "quoted identifier")
		default:
			err = l.operator(p)
		}
		if err != nil {
			return err
		}
	}
}

// skipSpace skips white space and comments, collecting annotations.
func (l *lexer) skipSpace() *Error {
	for l.off < len(l.src) {
		c := l.src[l.off]
		switch {
		case c == '\n':
			l.newline()
		case c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v':
			l.off++
		case c == '-' && strings.HasPrefix(l.src[l.off:], "--"):
			if err := l.lineComment(); err != nil {
				return err
			}
		case c == '/' && strings.HasPrefix(l.src[l.off:], "/*"):
			p := l.pos()
			end := strings.Index(l.src[l.off+2:], "*/")
			if end < 0 {
				return l.errorf(p, "unterminated /* comment: expected */ before end of input")
			}
			stop := l.off + 2 + end + 2
			for l.off < stop {
				if l.src[l.off] == '\n' {
					l.newline()
				} else {
					l.off++
				}
			}
		default:
			return nil
		}
	}
	return nil
}

// lineComment skips a `--` comment; one whose text starts with @ is an
// annotation `-- @key: value`.
func (l *lexer) lineComment() *Error {
	p := l.pos()
	end := strings.IndexByte(l.src[l.off:], '\n')
	if end < 0 {
		end = len(l.src)
	} else {
		end += l.off
	}
	body := l.src[l.off+2 : end]
	bodyStart := l.off + 2
	l.off = end
	trimmed := strings.TrimLeft(body, " \t")
	if !strings.HasPrefix(trimmed, "@") {
		return nil
	}
	at := bodyStart + len(body) - len(trimmed)
	colon := strings.IndexByte(trimmed, ':')
	key := ""
	if colon > 0 {
		key = strings.TrimSpace(trimmed[1:colon])
	}
	if !validAnnotationKey(key) {
		ap := Pos{Offset: at, Line: p.Line, Col: p.Col + (at - p.Offset)}
		return l.errorf(ap, "malformed annotation %q: expected -- @key: value", clip(strings.TrimRight(trimmed, " \t\r")))
	}
	rest := trimmed[colon+1:]
	valOff := at + colon + 1 + (len(rest) - len(strings.TrimLeft(rest, " \t")))
	l.anns = append(l.anns, rawAnnotation{
		Annotation: Annotation{Pos: p, Key: strings.ToLower(key), Value: strings.TrimSpace(rest),
			ValuePos: Pos{Offset: valOff, Line: p.Line, Col: p.Col + (valOff - p.Offset)}},
		keyPos: Pos{Offset: at + 1, Line: p.Line, Col: p.Col + (at + 1 - p.Offset)},
		next:   len(l.toks),
	})
	return nil
}

// validAnnotationKey reports whether k is a word of letters, digits, '_', '.' or '-'.
func validAnnotationKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !isIdentPart(c) && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// number lexes an integer, decimal or float; letters directly after the
// number make it a duration such as 10m.
func (l *lexer) number(p Pos) {
	start := l.off
	l.digits()
	if l.off < len(l.src) && l.src[l.off] == '.' && l.off+1 < len(l.src) && isDigit(l.src[l.off+1]) {
		l.off++
		l.digits()
	}
	if l.off < len(l.src) && (l.src[l.off] == 'e' || l.src[l.off] == 'E') {
		i := l.off + 1
		if i < len(l.src) && (l.src[i] == '+' || l.src[i] == '-') {
			i++
		}
		if i < len(l.src) && isDigit(l.src[i]) {
			l.off = i
			l.digits()
		}
	}
	kind := tNumber
	if l.off < len(l.src) && isIdentStart(l.src[l.off]) {
		kind = tDuration
		for l.off < len(l.src) && isIdentPart(l.src[l.off]) {
			l.off++
		}
	}
	l.toks = append(l.toks, token{kind: kind, text: l.src[start:l.off], pos: p})
}

func (l *lexer) digits() {
	for l.off < len(l.src) && isDigit(l.src[l.off]) {
		l.off++
	}
}

// quoted lexes a string or quoted identifier delimited by q, where a doubled
// q stands for one q.
func (l *lexer) quoted(p Pos, q byte, kind tokKind, what string) *Error {
	l.off++
	start := l.off
	escaped := false
	for {
		i := strings.IndexByte(l.src[l.off:], q)
		if i < 0 {
			return l.errorf(p, "unterminated %s: expected closing %c before end of input", what, q)
		}
		for j := l.off; j < l.off+i; j++ {
			if l.src[j] == '\n' {
				l.line++
				l.lineStart = j + 1
			}
		}
		l.off += i + 1
		if l.off < len(l.src) && l.src[l.off] == q {
			escaped = true
			l.off++
			continue
		}
		break
	}
	text := l.src[start : l.off-1]
	if escaped {
		text = strings.ReplaceAll(text, string(q)+string(q), string(q))
	}
	if kind == tQuoted && text == "" {
		return l.errorf(p, "empty quoted identifier")
	}
	l.toks = append(l.toks, token{kind: kind, text: text, pos: p})
	return nil
}

// operators lists the operator and punctuation tokens, longest first.
var operators = []string{"||", "<>", "!=", "<=", ">=", "(", ")", "[", "]", ",", ".", ";", "*", "+", "-", "/", "%", "=", "<", ">"}

func (l *lexer) operator(p Pos) *Error {
	for _, op := range operators {
		if strings.HasPrefix(l.src[l.off:], op) {
			l.off += len(op)
			l.toks = append(l.toks, token{kind: tOp, text: op, pos: p})
			return nil
		}
	}
	_, n := utf8.DecodeRuneInString(l.src[l.off:])
	return l.errorf(p, "unexpected character %q", l.src[l.off:l.off+n])
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentPart(c byte) bool { return isIdentStart(c) || isDigit(c) }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

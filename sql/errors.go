package sql

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Bounds on how much input one error quotes, so that a huge one-line file
// gives a short message.
const (
	// maxQuote bounds a token quoted in a message ("found string '...'").
	maxQuote = 64
	// maxLine bounds the source line shown above the caret.
	maxLine = 160
)

// Error is one positioned syntax error.
type Error struct {
	// File is the name the source was parsed under; it may be empty.
	File string
	// Pos is where the offending token starts.
	Pos Pos
	// Msg says what was expected and what was found.
	Msg string
	// Line is the source line holding Pos, without its line break; a line
	// longer than 160 bytes is cut to a window around Pos marked by "...".
	Line string
	// caretCol is the 1-based byte column of Pos within a windowed Line;
	// zero means Pos.Col.
	caretCol int
}

// Error renders the error as `file:line:col: message`, then the source line
// and a caret under the offending column.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
	}
	fmt.Fprintf(&b, "%d:%d: %s", e.Pos.Line, e.Pos.Col, e.Msg)
	if e.Line != "" || e.Pos.Col > 1 {
		b.WriteByte('\n')
		b.WriteString(e.Line)
		b.WriteByte('\n')
		col := e.Pos.Col
		if e.caretCol > 0 {
			col = e.caretCol
		}
		b.WriteString(caretPad(e.Line, col))
		b.WriteByte('^')
	}
	return b.String()
}

// caretPad returns the padding that puts a caret under byte column col of
// line, keeping tabs so the caret lines up in a terminal.
func caretPad(line string, col int) string {
	var b strings.Builder
	for i := 0; i < col-1; i++ {
		if i < len(line) && line[i] == '\t' {
			b.WriteByte('\t')
		} else {
			b.WriteByte(' ')
		}
	}
	return b.String()
}

// ErrorList is the list of errors of one Parse call, in source order. A
// non-empty ErrorList is returned as the error; it is never empty then.
type ErrorList []*Error

// Error renders every error, separated by blank lines.
func (l ErrorList) Error() string {
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n\n")
}

// Unwrap returns the individual errors, so errors.As finds an *Error.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// newError builds an Error at pos, extracting the source line from src.
func newError(file, src string, pos Pos, msg string) *Error {
	start := pos.Offset - (pos.Col - 1)
	if start < 0 || start > len(src) {
		start = 0
	}
	end := strings.IndexByte(src[start:], '\n')
	if end < 0 {
		end = len(src)
	} else {
		end += start
	}
	line := strings.TrimSuffix(src[start:end], "\r")
	e := &Error{File: file, Pos: pos, Msg: msg, Line: line}
	if len(line) > maxLine {
		e.Line, e.caretCol = window(line, pos.Col)
	}
	return e
}

// window cuts line to at most maxLine bytes around byte column col, marking
// each cut with "...", and returns col's column in the result.
func window(line string, col int) (string, int) {
	from := min(max(col-1-maxLine/2, 0), len(line))
	to := min(from+maxLine, len(line))
	for from > 0 && !utf8.RuneStart(line[from]) {
		from--
	}
	for to < len(line) && !utf8.RuneStart(line[to]) {
		to--
	}
	out, caret := line[from:to], col-from
	if from > 0 {
		out, caret = "..."+out, caret+3
	}
	if to < len(line) {
		out += "..."
	}
	return out, caret
}

// clip shortens input text quoted in a message to maxQuote bytes, marking
// the cut with "...".
func clip(s string) string {
	if len(s) <= maxQuote {
		return s
	}
	n := maxQuote
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

package sql

import (
	"fmt"
	"strings"
)

// Error is one positioned syntax error.
type Error struct {
	// File is the name the source was parsed under; it may be empty.
	File string
	// Pos is where the offending token starts.
	Pos Pos
	// Msg says what was expected and what was found.
	Msg string
	// Line is the full source line holding Pos, without its line break.
	Line string
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
		b.WriteString(caretPad(e.Line, e.Pos.Col))
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
	return &Error{File: file, Pos: pos, Msg: msg, Line: line}
}

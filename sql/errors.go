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

// Error is one positioned error in SQL text: a syntax error from Parse, or
// an error found after parsing (names, types, WITH properties, sources,
// sinks, annotations). An Error made with Errorf knows only its position;
// Locate gives it the file name and the source line, after which it renders
// as `file:line:col: message`, the line and a caret.
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
	if e.Line != "" {
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
	e := &Error{Pos: pos, Msg: msg}
	e.locate(file, src)
	return e
}

// Errorf returns an Error at the position of n (any AST node, or a Pos) with
// the formatted message. Call Locate on it, or on an error wrapping it, to
// give it the file name and the line to show.
func Errorf(n Node, format string, args ...any) *Error {
	return &Error{Pos: n.Position(), Msg: fmt.Sprintf(format, args...)}
}

// locate sets the file name and the line of src holding e.Pos (cut to a
// window around the column when it is long).
func (e *Error) locate(file, src string) {
	e.File = file
	start := e.Pos.Offset - (e.Pos.Col - 1)
	if start < 0 || start > len(src) {
		start = 0
	}
	end := strings.IndexByte(src[start:], '\n')
	if end < 0 {
		end = len(src)
	} else {
		end += start
	}
	e.Line, e.caretCol = strings.TrimSuffix(src[start:end], "\r"), 0
	if len(e.Line) > maxLine {
		e.Line, e.caretCol = window(e.Line, e.Pos.Col)
	}
}

// Positioned returns the *Error values in err's tree, in the order the tree
// holds them (an ErrorList's order, a joined list's order).
func Positioned(err error) []*Error {
	var out []*Error
	var walk func(error)
	walk = func(err error) {
		switch x := err.(type) {
		case nil:
		case *Error:
			out = append(out, x)
		case interface{ Unwrap() []error }:
			for _, e := range x.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(x.Unwrap())
		}
	}
	walk(err)
	return out
}

// Locate gives every *Error in err's tree that has a position but no file
// name yet the file name and its line of src, the text the statements were
// parsed from (file is shown as given: a relative path stays relative). It
// returns err, so that `return sql.Locate(err, file, src)` reads well; a nil
// err stays nil.
func Locate(err error, file, src string) error {
	for _, e := range Positioned(err) {
		if e.File == "" && e.Pos.Line > 0 {
			e.locate(file, src)
		}
	}
	return err
}

// window cuts line to at most maxLine bytes around byte column col, marking
// each cut with "...", and returns col's column in the result.
func window(line string, col int) (string, int) {
	from := min(max(col-1-maxLine/2, 0), len(line))
	to := min(from+maxLine, len(line))
	// Keep whole characters, backing up at most the length of one (the
	// line need not be UTF-8).
	for k := 0; k < utf8.UTFMax-1 && from > 0 && !utf8.RuneStart(line[from]); k++ {
		from--
	}
	for k := 0; k < utf8.UTFMax-1 && to < len(line) && to > from && !utf8.RuneStart(line[to]); k++ {
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

// Clip shortens input text quoted in a message (a name, a value) to 64
// bytes, marking the cut with "...", so that a huge input gives a short
// message.
func Clip(s string) string { return clip(s) }

// clip shortens input text quoted in a message to maxQuote bytes, marking
// the cut with "...".
func clip(s string) string {
	if len(s) <= maxQuote {
		return s
	}
	n := maxQuote
	for k := 0; k < utf8.UTFMax-1 && !utf8.RuneStart(s[n]); k++ {
		n--
	}
	return s[:n] + "..."
}

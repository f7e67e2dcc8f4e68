package codec

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/sluicesql/sluice/record"
)

// CSVDecoder decodes one CSV line per call into the slots of a schema. Column
// names (from a header row or given) match schema columns case-insensitively;
// columns not in the schema are ignored and schema columns missing from the
// CSV are NULL. A quoted field ("a ""b""", RFC 4180) is a STRING; an unquoted
// field is NULL when empty, a number by record.ParseNumber's rule when it has
// the shape of one, and a STRING otherwise; a field of a column the schema
// types STRING keeps its text (007 stays "007"). A quoted field may hold
// line breaks: the caller cuts records with CSVRecordEnd and passes one
// whole record, which may span lines. A field that is not valid UTF-8 fails
// the record unless SetInvalidUTF8 says to replace it.
type CSVDecoder struct {
	delim  byte
	option string // the option that replaces invalid UTF-8, for errors
	slots  []int  // by CSV column: schema slot or -1
	text   []bool // by CSV column: the text is kept as a STRING; nil when no column is
	unset  []int  // schema slots no column fills: NULL in every record
	width  int    // the schema's number of slots
	intern *interner
	buf    []byte
}

// NewCSVDecoder returns a decoder for lines whose columns are named columns
// (in order), separated by delim, filling the columns of schema.
func NewCSVDecoder(schema *record.Schema, columns []string, delim byte) (*CSVDecoder, error) {
	if err := checkDelimiter(delim); err != nil {
		return nil, err
	}
	if len(columns) == 0 {
		return nil, errors.New("csv: no column names")
	}
	d := &CSVDecoder{delim: delim, slots: make([]int, len(columns)), width: schema.Len(), intern: newInterner()}
	filled := make([]bool, schema.Len())
	for i, c := range columns {
		d.slots[i] = -1
		if s, ok := schema.Lookup(c); ok {
			if filled[s] {
				return nil, fmt.Errorf("csv: column %q appears twice", c)
			}
			filled[s] = true
			d.slots[i] = s
			if schema.Type(s).Kind == record.TypeString {
				if d.text == nil {
					d.text = make([]bool, len(columns))
				}
				d.text[i] = true
			}
		}
	}
	for s, f := range filled {
		if !f {
			d.unset = append(d.unset, s)
		}
	}
	return d, nil
}

func checkDelimiter(delim byte) error {
	switch delim {
	case '"', '\n', '\r', 0:
		return fmt.Errorf("csv: invalid delimiter %q", delim)
	}
	return nil
}

// utf8BOM is the byte order mark some tools write at the start of a file.
var utf8BOM = []byte("\xEF\xBB\xBF")

// ParseCSVHeader splits a header line into column names.
func ParseCSVHeader(line []byte, delim byte) ([]string, error) {
	names, err := SplitCSVLine(line, delim)
	if err != nil {
		return nil, fmt.Errorf("csv header: %w", err)
	}
	for i, name := range names {
		if name == "" {
			return nil, fmt.Errorf("csv header: column %d has no name", i+1)
		}
	}
	return names, nil
}

// SplitCSVLine splits a CSV line into its fields' text, an unquoted field
// trimmed of white space (a byte order mark before the line is dropped).
func SplitCSVLine(line []byte, delim byte) ([]string, error) {
	if err := checkDelimiter(delim); err != nil {
		return nil, err
	}
	line = bytes.TrimPrefix(line, utf8BOM)
	var fields []string
	var buf []byte
	for i := 0; ; {
		field, quoted, next, err := csvField(line, i, delim, &buf)
		if err != nil {
			return nil, err
		}
		text := string(field)
		if !quoted {
			text = string(bytes.TrimSpace(field))
		}
		fields = append(fields, text)
		if next < 0 {
			return fields, nil
		}
		i = next
	}
}

// Decode decodes line (without its line break) into dst, which is indexed by
// the schema's slots. Every slot of dst is set. A line with a different number
// of fields than there are columns is an error; after an error the contents
// of dst are unspecified.
func (d *CSVDecoder) Decode(line []byte, dst []record.Value) error {
	d.intern.invalid = false
	if len(dst) == d.width {
		// Every other slot is written below, or the line is an error.
		for _, s := range d.unset {
			dst[s] = record.Value{}
		}
	} else {
		clear(dst)
	}
	col := 0
	for i := 0; ; col++ {
		// Unquoted fields, the common case, are cut here without a call.
		var field []byte
		quoted, next := false, -1
		if i < len(line) && line[i] == '"' {
			var err error
			if field, next, err = quotedField(line, i, d.delim, &d.buf); err != nil {
				return err
			}
			quoted = true
		} else if j := bytes.IndexByte(line[i:], d.delim); j >= 0 {
			field, next = line[i:i+j], i+j+1
		} else {
			field = line[i:]
		}
		if col < len(d.slots) {
			if s := d.slots[col]; s >= 0 && s < len(dst) {
				v, err := d.value(field, quoted || len(field) > 0 && d.text != nil && d.text[col])
				if err != nil {
					return fmt.Errorf("column %d: %w", col+1, err)
				}
				dst[s] = v
			}
		}
		if next < 0 {
			break
		}
		i = next
	}
	if col+1 != len(d.slots) {
		return fmt.Errorf("line has %d fields, want %d", col+1, len(d.slots))
	}
	if d.intern.invalid {
		return InvalidUTF8Error(line, d.option)
	}
	return nil
}

// SetInvalidUTF8 chooses what Decode and DecodeFirst do with a field that
// is not valid UTF-8 (RejectInvalidUTF8 by default); option names the
// source option that chooses it, for the error message.
func (d *CSVDecoder) SetInvalidUTF8(mode InvalidUTF8, option string) {
	d.intern.replace, d.option = mode == ReplaceInvalidUTF8, option
}

// value types one field; a text field is a STRING, even when empty.
func (d *CSVDecoder) value(field []byte, text bool) (record.Value, error) {
	if text {
		return record.StringValue(d.intern.str(field)), nil
	}
	if len(field) == 0 {
		return record.Value{}, nil
	}
	if !mayBeNumber(field[0]) {
		return record.StringValue(d.intern.str(field)), nil
	}
	v, err := parseNumber(field)
	if err == nil {
		return v, nil
	}
	if err != errNotNumber {
		return record.Value{}, err
	}
	return record.StringValue(d.intern.str(field)), nil
}

// mayBeNumber reports whether text starting with c can have the shape of a
// number: every shape parseNumber accepts starts with a digit, a sign or a
// decimal point.
func mayBeNumber(c byte) bool {
	return c-'0' <= 9 || c == '-' || c == '+' || c == '.'
}

// csvField returns the field starting at line[i], whether it was quoted, and
// the offset of the next field (-1 at the end of the line). The text of a
// quoted field with doubled quotes is built in *buf.
func csvField(line []byte, i int, delim byte, buf *[]byte) (field []byte, quoted bool, next int, err error) {
	if i >= len(line) || line[i] != '"' {
		j := bytes.IndexByte(line[i:], delim)
		if j < 0 {
			return line[i:], false, -1, nil
		}
		return line[i : i+j], false, i + j + 1, nil
	}
	field, next, err = quotedField(line, i, delim, buf)
	return field, true, next, err
}

// quotedField returns the quoted field whose opening quote is line[i] and
// the offset of the next field (-1 at the end of the line). The text of a
// field with doubled quotes is built in *buf.
func quotedField(line []byte, i int, delim byte, buf *[]byte) (field []byte, next int, err error) {
	start := i + 1
	var out []byte
	copied := false
	for j := start; j < len(line); j++ {
		if line[j] != '"' {
			continue
		}
		if j+1 < len(line) && line[j+1] == '"' {
			// A doubled quote: copy the text so far and one quote.
			if !copied {
				out = append((*buf)[:0], line[start:j+1]...)
				copied = true
			} else {
				out = append(out, line[start:j+1]...)
			}
			j++
			start = j + 1
			continue
		}
		field = line[start:j]
		if copied {
			out = append(out, field...)
			*buf = out
			field = out
		}
		switch {
		case j+1 == len(line):
			return field, -1, nil
		case line[j+1] == delim:
			return field, j + 2, nil
		}
		return nil, 0, fmt.Errorf("at byte %d: unexpected %q after a quoted field", j+1, line[j+1])
	}
	return nil, 0, fmt.Errorf("at byte %d: unterminated quoted field", i)
}

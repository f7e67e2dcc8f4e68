package codec

import (
	"encoding/json"
	"strconv"

	"github.com/sluicesql/sluice/record"
)

// JSONEncoder encodes rows as JSON objects whose fields are the schema's
// columns in slot order, but for its internal columns (record.Field.Internal).
// A column of type ROW or ARRAY holds JSON text, written as it is: a nested
// object or array, not an escaped string.
type JSONEncoder struct {
	keys [][]byte // `"name":` per slot, the first with its '{'; nil for an internal column
	raw  []bool   // by slot: the value is JSON text; nil when no column is
	none bool     // no column is shown
}

// NewJSONEncoder returns an encoder for rows of schema.
func NewJSONEncoder(schema *record.Schema) *JSONEncoder {
	e := &JSONEncoder{keys: make([][]byte, schema.Len()), none: true}
	for i := range e.keys {
		if schema.Field(i).Internal {
			continue
		}
		k := []byte{','}
		if e.none {
			k[0], e.none = '{', false
		}
		k = record.AppendJSONString(k, schema.Name(i))
		e.keys[i] = append(k, ':')
		if schema.Type(i).Nested() {
			if e.raw == nil {
				e.raw = make([]bool, schema.Len())
			}
			e.raw[i] = true
		}
	}
	return e
}

// AppendRow appends the JSON object of row (values by slot) to b, without a
// line break. Values beyond the schema are ignored; missing ones are null.
func (e *JSONEncoder) AppendRow(b []byte, row []record.Value) []byte {
	if e.none {
		return append(b, "{}"...)
	}
	for i, k := range e.keys {
		if k == nil {
			continue
		}
		b = append(b, k...)
		var v record.Value
		if i < len(row) {
			v = row[i]
		}
		switch v.Kind() {
		case record.String:
			if e.raw != nil && e.raw[i] && json.Valid([]byte(v.Str())) {
				b = append(b, v.Str()...)
			} else {
				b = record.AppendJSONString(b, v.Str())
			}
		case record.Float:
			b = appendFloat(b, v, v.AppendJSON)
		default:
			b = v.AppendJSON(b)
		}
	}
	return append(b, '}')
}

// appendFloat appends a FLOAT with its usual text (from appendText) when
// that text decodes as a number again, and in exponent notation otherwise
// (a float such as 1.2345678901234568e20 prints without an exponent as an
// integer too large for INTEGER). A FLOAT written without an exponent decodes
// as an INTEGER or DECIMAL of the same value.
func appendFloat(b []byte, v record.Value, appendText func([]byte) []byte) []byte {
	n := len(b)
	b = appendText(b)
	if _, err := parseNumber(b[n:]); err == errNotNumber || err == nil {
		return b // a number, or NaN/Inf text (null in JSON)
	}
	return strconv.AppendFloat(b[:n], v.Float(), 'e', -1, 64)
}

// CSVEncoder encodes rows as CSV lines. NULL is an empty field. A STRING is
// quoted when it must be (it holds the delimiter, a quote or a line break) and
// also when it is empty or looks like a number, so that decoding the line
// gives back the same types.
type CSVEncoder struct {
	delim byte
}

// NewCSVEncoder returns an encoder separating fields by delim.
func NewCSVEncoder(delim byte) (*CSVEncoder, error) {
	if err := checkDelimiter(delim); err != nil {
		return nil, err
	}
	return &CSVEncoder{delim: delim}, nil
}

// AppendHeader appends the schema's column names as a CSV line, without a
// line break.
func (e *CSVEncoder) AppendHeader(b []byte, schema *record.Schema) []byte {
	for i := 0; i < schema.Len(); i++ {
		if i > 0 {
			b = append(b, e.delim)
		}
		b = e.appendField(b, schema.Name(i), false)
	}
	return b
}

// AppendRow appends row (values by slot) as a CSV line, without a line break.
func (e *CSVEncoder) AppendRow(b []byte, row []record.Value) []byte {
	for i, v := range row {
		if i > 0 {
			b = append(b, e.delim)
		}
		switch v.Kind() {
		case record.Null:
		case record.String:
			b = e.appendField(b, v.Str(), true)
		case record.Float:
			b = appendFloat(b, v, v.AppendText)
		default:
			b = v.AppendText(b)
		}
	}
	return b
}

// appendField appends s, quoted when needed. typed asks for quotes also when
// an unquoted s would decode as NULL or a number.
func (e *CSVEncoder) appendField(b []byte, s string, typed bool) []byte {
	if !e.needsQuotes(s, typed) {
		return append(b, s...)
	}
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, s[start:i+1]...)
			b = append(b, '"')
			start = i + 1
		}
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func (e *CSVEncoder) needsQuotes(s string, typed bool) bool {
	if typed && s == "" {
		return true
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case e.delim, '"', '\n', '\r':
			return true
		}
	}
	if typed && looksNumeric(s) {
		if _, err := parseNumber([]byte(s)); err != errNotNumber {
			return true
		}
	}
	return false
}

// looksNumeric is a cheap test that s could have the shape of a number.
func looksNumeric(s string) bool {
	if s == "" {
		return false
	}
	switch c := s[0]; {
	case c >= '0' && c <= '9', c == '-', c == '+', c == '.':
		return true
	}
	return false
}

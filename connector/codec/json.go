package codec

import (
	"fmt"

	"github.com/sluicesql/sluice/record"
)

// Bounds of the decoder's field-name caches, so that input with ever new
// field names cannot grow them without limit.
const (
	maxCachedNames = 1024
	maxFieldOrder  = 64
)

// seenField remembers the field name found at one position of the previous
// object and its slot: JSON lines usually repeat the same field order, so a
// name is usually resolved by one comparison.
type seenField struct {
	name string
	slot int
}

// JSONDecoder decodes one JSON object per call into the slots of a schema.
// Fields match columns case-insensitively by name; absent fields are NULL and
// fields not in the schema are checked and ignored. Numbers are typed by
// record.ParseNumber's rule, strings, booleans and null map to STRING,
// BOOLEAN and NULL, and a nested object or array is kept as its JSON text in
// a STRING. A string value that is not valid UTF-8 fails the record unless
// SetInvalidUTF8 says to replace it.
type JSONDecoder struct {
	schema *record.Schema
	option string // the option that replaces invalid UTF-8, for errors
	order  []seenField
	names  map[string]int // field name as written -> slot, or -1
	intern *interner
	stack  []byte // closing brackets while skipping nested values
	buf    []byte // unescaped string text
}

// NewJSONDecoder returns a decoder filling the columns of schema.
func NewJSONDecoder(schema *record.Schema) *JSONDecoder {
	return &JSONDecoder{
		schema: schema,
		names:  make(map[string]int),
		intern: newInterner(),
	}
}

// SetInvalidUTF8 chooses what Decode does with a string value that is not
// valid UTF-8 (RejectInvalidUTF8 by default); option names the source
// option that chooses it, for the error message.
func (d *JSONDecoder) SetInvalidUTF8(mode InvalidUTF8, option string) {
	d.intern.replace, d.option = mode == ReplaceInvalidUTF8, option
}

// Decode decodes the JSON object in data into dst, which is indexed by the
// schema's slots (slots at or beyond len(dst) are ignored). Every slot of dst
// is set: to the field's value or to NULL. On error dst holds partial values.
func (d *JSONDecoder) Decode(data []byte, dst []record.Value) error {
	clear(dst)
	return d.DecodeFields(data, dst)
}

// DecodeFields is Decode setting only the slots of the fields data has,
// leaving the others as they are (a Kafka message key's fields, over the
// columns its value filled).
func (d *JSONDecoder) DecodeFields(data []byte, dst []record.Value) error {
	d.intern.invalid = false
	i := skipSpace(data, 0)
	if i >= len(data) {
		return fmt.Errorf("empty input: expected a JSON object")
	}
	if data[i] != '{' {
		return syntaxError(data, i, "expected a JSON object")
	}
	i = skipSpace(data, i+1)
	if i < len(data) && data[i] == '}' {
		return d.end(data, i+1)
	}
	for field := 0; ; field++ {
		if i >= len(data) || data[i] != '"' {
			return syntaxError(data, i, "expected a field name")
		}
		end, esc, err := scanString(data, i)
		if err != nil {
			return err
		}
		name := data[i+1 : end-1]
		if esc {
			d.buf = unescape(d.buf[:0], name)
			name = d.buf
		}
		slot := d.slotOf(field, name)
		i = skipSpace(data, end)
		if i >= len(data) || data[i] != ':' {
			return syntaxError(data, i, "expected ':' after a field name")
		}
		i = skipSpace(data, i+1)
		var v record.Value
		if slot >= 0 && slot < len(dst) {
			v, i, err = d.value(data, i)
			dst[slot] = v
		} else {
			i, err = d.skipValue(data, i)
		}
		if err != nil {
			return err
		}
		i = skipSpace(data, i)
		if i >= len(data) {
			return syntaxError(data, i, "unterminated object")
		}
		switch data[i] {
		case ',':
			i = skipSpace(data, i+1)
		case '}':
			return d.end(data, i+1)
		default:
			return syntaxError(data, i, "expected ',' or '}'")
		}
	}
}

// end checks that only white space follows the object and that its
// strings were valid UTF-8.
func (d *JSONDecoder) end(data []byte, i int) error {
	if i = skipSpace(data, i); i < len(data) {
		return syntaxError(data, i, "unexpected text after the object")
	}
	if d.intern.invalid {
		return InvalidUTF8Error(data, d.option)
	}
	return nil
}

// slotOf resolves the name of the field at position pos to a slot, or -1.
func (d *JSONDecoder) slotOf(pos int, name []byte) int {
	if pos < len(d.order) && d.order[pos].name == string(name) {
		return d.order[pos].slot
	}
	slot, ok := d.names[string(name)]
	if !ok {
		slot = -1
		if s, found := d.schema.Lookup(string(name)); found {
			slot = s
		}
		if len(d.names) < maxCachedNames {
			d.names[string(name)] = slot
		}
	}
	if pos < maxFieldOrder {
		for len(d.order) <= pos {
			d.order = append(d.order, seenField{slot: -1})
		}
		d.order[pos] = seenField{name: string(name), slot: slot}
	}
	return slot
}

// value decodes the JSON value starting at data[i].
func (d *JSONDecoder) value(data []byte, i int) (record.Value, int, error) {
	if i >= len(data) {
		return record.Value{}, i, syntaxError(data, i, "expected a value")
	}
	switch c := data[i]; {
	case c == '"':
		end, esc, err := scanString(data, i)
		if err != nil {
			return record.Value{}, i, err
		}
		if !esc {
			return record.StringValue(d.intern.str(data[i+1 : end-1])), end, nil
		}
		d.buf = unescape(d.buf[:0], data[i+1:end-1])
		return record.StringValue(d.intern.str(d.buf)), end, nil
	case c == '-' || (c >= '0' && c <= '9'):
		end := scanNumber(data, i)
		v, err := parseNumber(data[i:end])
		if err != nil {
			if err == errNotNumber {
				return record.Value{}, i, syntaxError(data, i, fmt.Sprintf("invalid number %q", clip(data[i:end])))
			}
			return record.Value{}, i, fmt.Errorf("at byte %d: %w", i, err)
		}
		return v, end, nil
	case c == '{' || c == '[':
		end, err := d.skipNested(data, i)
		if err != nil {
			return record.Value{}, i, err
		}
		return record.StringValue(d.intern.str(data[i:end])), end, nil
	default:
		return d.literal(data, i)
	}
}

// literal decodes true, false or null at data[i].
func (d *JSONDecoder) literal(data []byte, i int) (record.Value, int, error) {
	rest := data[i:]
	switch {
	case hasPrefix(rest, "true"):
		return record.BoolValue(true), i + 4, nil
	case hasPrefix(rest, "false"):
		return record.BoolValue(false), i + 5, nil
	case hasPrefix(rest, "null"):
		return record.Value{}, i + 4, nil
	}
	return record.Value{}, i, syntaxError(data, i, "expected a value")
}

// skipValue checks the JSON value at data[i] without decoding it and returns
// the offset after it.
func (d *JSONDecoder) skipValue(data []byte, i int) (int, error) {
	if i >= len(data) {
		return i, syntaxError(data, i, "expected a value")
	}
	switch c := data[i]; {
	case c == '"':
		end, _, err := scanString(data, i)
		return end, err
	case c == '-' || (c >= '0' && c <= '9'):
		end := scanNumber(data, i)
		if !validJSONNumber(data[i:end]) {
			return i, syntaxError(data, i, fmt.Sprintf("invalid number %q", clip(data[i:end])))
		}
		return end, nil
	case c == '{' || c == '[':
		return d.skipNested(data, i)
	default:
		_, end, err := d.literal(data, i)
		return end, err
	}
}

// skipNested returns the offset after the object or array at data[i],
// checking that brackets nest and strings are well formed.
func (d *JSONDecoder) skipNested(data []byte, i int) (int, error) {
	stack := d.stack[:0]
	defer func() { d.stack = stack[:0] }()
	for i < len(data) {
		switch c := data[i]; c {
		case '{':
			stack = append(stack, '}')
		case '[':
			stack = append(stack, ']')
		case '}', ']':
			if len(stack) == 0 || stack[len(stack)-1] != c {
				return i, syntaxError(data, i, fmt.Sprintf("unexpected %q", c))
			}
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return i + 1, nil
			}
		case '"':
			end, _, err := scanString(data, i)
			if err != nil {
				return i, err
			}
			i = end
			continue
		}
		i++
	}
	return i, syntaxError(data, i, "unterminated nested value")
}

package expr

import (
	"encoding/json"
	"strings"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// Nested values (ROW and ARRAY columns) are held as their JSON text; a
// field access or a subscript finds the part it names in that text when a
// record is evaluated. A missing field, an index out of range or a value
// that is not an object (array) gives NULL, as in PostgreSQL's JSON
// operators.

// fieldReader compiles the read of the nested field path of the column
// value that in returns, converting the result to typ (when it is known).
func fieldReader(in Func, path []string, typ record.Type) Func {
	return func(r *record.Record) (record.Value, error) {
		v, err := in(r)
		if err != nil || v.Kind() != record.String {
			return record.Value{}, err
		}
		text := v.Str()
		for _, name := range path {
			var ok bool
			if text, ok = jsonField(text, name); !ok {
				return record.Value{}, nil
			}
		}
		return jsonValue(text, typ)
	}
}

// index compiles `x[i]`: the i-th element (from 1) of the JSON array x.
func (c *compiler) index(x *sql.Index) (node, error) {
	arr, err := c.compile(x.X)
	if err != nil {
		return node{}, err
	}
	at, err := c.compile(x.Index)
	if err != nil {
		return node{}, err
	}
	t := c.types[x.X]
	if known(t) && t.Kind != record.TypeArray {
		return node{}, errorf(x, "cannot subscript %s, which is %s, not an ARRAY", sql.FormatExpr(x.X), t)
	}
	if it := c.types[x.Index]; known(it) && !isInteger(it) {
		return node{}, errorf(x.Index, "array subscript must be an integer, not %s", it)
	}
	elem, err := c.elemType(x)
	if err != nil {
		return node{}, err
	}
	af, xf, path := arr.fn, at.fn, x.Path
	return node{constant: arr.constant && at.constant, fn: func(r *record.Record) (record.Value, error) {
		v, err := af(r)
		if err != nil || v.Kind() != record.String {
			return record.Value{}, err
		}
		i, err := xf(r)
		if err != nil || i.Kind() != record.Int {
			return record.Value{}, err
		}
		text, ok := jsonElem(v.Str(), i.Int())
		for _, name := range path {
			if !ok {
				break
			}
			text, ok = jsonField(text, name)
		}
		if !ok {
			return record.Value{}, nil
		}
		return jsonValue(text, elem)
	}}, nil
}

// elemType returns the type of `x[i]`, or of the field of it that x.Path
// names (an error when the element's ROW type has no such field).
func (c *compiler) elemType(x *sql.Index) (record.Type, error) {
	t := record.AnyType
	if xt := c.types[x.X]; xt.Kind == record.TypeArray && xt.Elem != nil {
		t = *xt.Elem
	}
	if len(x.Path) == 0 {
		return t, nil
	}
	return fieldType(x, sql.FormatExpr(&sql.Index{X: x.X, Index: x.Index}), t, x.Path)
}

// jsonValue turns the JSON text of one value into a Value: NULL, BOOLEAN,
// a number by record.ParseNumber's rule, a STRING, or the text itself for
// an object or array; then converts it to typ when typ is known.
func jsonValue(text string, typ record.Type) (record.Value, error) {
	var v record.Value
	switch {
	case text == "null" || text == "":
	case text == "true" || text == "false":
		v = record.BoolValue(text == "true")
	case text[0] == '"':
		var s string
		if err := json.Unmarshal([]byte(text), &s); err != nil {
			return record.Value{}, err
		}
		v = record.StringValue(s)
	case text[0] == '{' || text[0] == '[':
		v = record.StringValue(text)
	default:
		n, err := record.ParseNumber(text)
		if err != nil {
			return record.Value{}, err
		}
		v = n
	}
	return record.Conform(v, record.Field{Type: typ, Inferred: true})
}

// jsonField returns the text of the value of field name (matched exactly,
// else ignoring case) of the JSON object text.
func jsonField(text, name string) (string, bool) {
	i := skipWS(text, 0)
	if i >= len(text) || text[i] != '{' {
		return "", false
	}
	var folded string
	found := false
	i = skipWS(text, i+1)
	for i < len(text) && text[i] == '"' {
		end := skipString(text, i)
		key := text[i+1 : max(end-1, i+1)]
		i = skipWS(text, end)
		if i >= len(text) || text[i] != ':' {
			return "", false
		}
		start := skipWS(text, i+1)
		end = skipValue(text, start)
		if end <= start {
			return "", false
		}
		if key == name {
			return text[start:end], true
		}
		if !found && strings.EqualFold(key, name) {
			folded, found = text[start:end], true
		}
		i = skipWS(text, end)
		if i < len(text) && text[i] == ',' {
			i = skipWS(text, i+1)
		}
	}
	return folded, found
}

// jsonElem returns the text of element n (from 1) of the JSON array text.
func jsonElem(text string, n int64) (string, bool) {
	i := skipWS(text, 0)
	if i >= len(text) || text[i] != '[' || n < 1 {
		return "", false
	}
	i = skipWS(text, i+1)
	for k := int64(1); i < len(text) && text[i] != ']'; k++ {
		end := skipValue(text, i)
		if end <= i {
			return "", false
		}
		if k == n {
			return text[i:end], true
		}
		i = skipWS(text, end)
		if i < len(text) && text[i] == ',' {
			i = skipWS(text, i+1)
		}
	}
	return "", false
}

func skipWS(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the offset after the JSON string starting at s[i].
func skipString(s string, i int) int {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(s)
}

// skipValue returns the offset after the JSON value starting at s[i].
func skipValue(s string, i int) int {
	if i >= len(s) {
		return i
	}
	switch s[i] {
	case '"':
		return skipString(s, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(s); j++ {
			switch s[j] {
			case '"':
				j = skipString(s, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return len(s)
	}
	j := i
	for j < len(s) && s[j] != ',' && s[j] != '}' && s[j] != ']' && s[j] != ' ' && s[j] != '\t' && s[j] != '\n' && s[j] != '\r' {
		j++
	}
	return j
}

package kafka

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/sluicesql/sluice/connector/codec"
	"github.com/sluicesql/sluice/record"
)

// jsonSRFormat is '<n>.format'='json_sr': JSON values in the Confluent wire
// format, their JSON Schema in the registry.
type jsonSRFormat struct{}

// The Kafka Connect names that JSON Schemas written by Connect's converter
// (and by Sluice's sinks) carry for types JSON lacks.
const (
	connectDecimal   = "org.apache.kafka.connect.data.Decimal"
	connectTimestamp = "org.apache.kafka.connect.data.Timestamp"
)

func (jsonSRFormat) columns(_ context.Context, _ *registry, s sr.Schema) ([]record.Field, error) {
	if s.Type != sr.TypeJSON {
		return nil, fmt.Errorf("the schema is %s, not JSON Schema", s.Type)
	}
	root, err := parseOrdered([]byte(s.Schema))
	if err != nil {
		return nil, fmt.Errorf("the JSON Schema: %w", err)
	}
	obj, ok := root.(*jsonObject)
	if !ok {
		return nil, errors.New("the JSON Schema is not an object")
	}
	m := jsonSchemaMapper{root: obj, visiting: map[string]bool{}}
	node, err := m.resolve(obj)
	if err != nil {
		return nil, err
	}
	if t, _ := node.get("type").(string); t != "object" || node.get("properties") == nil {
		return nil, errors.New(`the JSON Schema is not of an object with "properties"`)
	}
	return m.properties(node)
}

// jsonSchemaMapper maps the JSON Schema root to SQL types, following its
// local references ("#/definitions/X", "#/$defs/X").
type jsonSchemaMapper struct {
	root     *jsonObject
	visiting map[string]bool
}

// resolve follows node's "$ref", if any.
func (m *jsonSchemaMapper) resolve(node *jsonObject) (*jsonObject, error) {
	for range 32 {
		ref, ok := node.get("$ref").(string)
		if !ok {
			return node, nil
		}
		if !strings.HasPrefix(ref, "#") {
			return nil, fmt.Errorf("reference %q: only references inside the schema (#/...) are supported", ref)
		}
		var cur any = m.root
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#"), "/")[1:] {
			part = strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")
			o, ok := cur.(*jsonObject)
			if !ok || o.get(part) == nil {
				return nil, fmt.Errorf("reference %q: no such definition", ref)
			}
			cur = o.get(part)
		}
		if node, ok = cur.(*jsonObject); !ok {
			return nil, fmt.Errorf("reference %q: not a schema", ref)
		}
	}
	return nil, errors.New("references nest too deeply")
}

// properties returns an object schema's properties as fields, in their
// order; a property is NOT NULL when "required" lists it and it does not
// allow null.
func (m *jsonSchemaMapper) properties(node *jsonObject) ([]record.Field, error) {
	required := map[string]bool{}
	if list, ok := node.get("required").([]any); ok {
		for _, r := range list {
			if s, ok := r.(string); ok {
				required[s] = true
			}
		}
	}
	props, _ := node.get("properties").(*jsonObject)
	if props == nil {
		return nil, nil
	}
	fields := make([]record.Field, 0, len(props.keys))
	for i, name := range props.keys {
		p, ok := props.vals[i].(*jsonObject)
		if !ok {
			fields = append(fields, record.Field{Name: name, Type: record.AnyType})
			continue
		}
		t, nullable, err := m.typeOf(p)
		if err != nil {
			return nil, fmt.Errorf("property %s: %w", name, err)
		}
		fields = append(fields, record.Field{Name: name, Type: t, NotNull: required[name] && !nullable && t.Kind != record.TypeAny})
	}
	return fields, nil
}

// typeOf maps a JSON Schema to a SQL type: "boolean" BOOLEAN; "integer"
// BIGINT (INTEGER with Connect's int8, int16 or int32; TIMESTAMP with
// Connect's Timestamp title); "number" DOUBLE (DECIMAL(p, s) with
// Connect's Decimal title); "string" STRING (TIMESTAMP with the date-time
// format); an object ROW (STRING without properties); an array ARRAY; a
// type, oneOf or anyOf of null and one schema that schema's type,
// nullable; any other schema ANY (values as they come).
func (m *jsonSchemaMapper) typeOf(node *jsonObject) (record.Type, bool, error) {
	if ref, ok := node.get("$ref").(string); ok {
		if m.visiting[ref] {
			return record.Type{}, false, fmt.Errorf("%s is recursive, which has no SQL type", ref)
		}
		m.visiting[ref] = true
		defer delete(m.visiting, ref)
		resolved, err := m.resolve(node)
		if err != nil {
			return record.Type{}, false, err
		}
		return m.typeOf(resolved)
	}
	for _, key := range []string{"oneOf", "anyOf"} {
		alts, ok := node.get(key).([]any)
		if !ok {
			continue
		}
		var one *jsonObject
		nullable, many := false, false
		for _, a := range alts {
			o, _ := a.(*jsonObject)
			switch {
			case o != nil && o.get("type") == "null":
				nullable = true
			case one == nil:
				one = o
			default:
				many = true
			}
		}
		if one == nil || many {
			return record.AnyType, true, nil
		}
		t, _, err := m.typeOf(one)
		return t, nullable, err
	}
	typ := node.get("type")
	nullable := false
	if list, ok := typ.([]any); ok {
		typ = nil
		for _, t := range list {
			switch {
			case t == "null":
				nullable = true
			case typ == nil:
				typ = t
			default:
				return record.AnyType, true, nil
			}
		}
	}
	title, _ := node.get("title").(string)
	switch typ {
	case "boolean":
		return record.BooleanType, nullable, nil
	case "integer":
		if title == connectTimestamp {
			return record.TimestampType, nullable, nil
		}
		switch node.get("connect.type") {
		case "int8", "int16", "int32":
			return record.IntegerType, nullable, nil
		}
		return record.BigintType, nullable, nil
	case "number":
		if title == connectDecimal {
			t, err := connectDecimalType(node)
			return t, nullable, err
		}
		return record.DoubleType, nullable, nil
	case "string":
		if node.get("format") == "date-time" {
			return record.TimestampType, nullable, nil
		}
		return record.StringType, nullable, nil
	case "object":
		if node.get("properties") == nil {
			return record.StringType, nullable, nil
		}
		fields, err := m.properties(node)
		return record.RowType(fields...), nullable, err
	case "array":
		items, ok := node.get("items").(*jsonObject)
		if !ok {
			return record.Type{Kind: record.TypeArray}, nullable, nil
		}
		elem, _, err := m.typeOf(items)
		return record.ArrayType(elem), nullable, err
	case nil:
		if enum, ok := node.get("enum").([]any); ok && len(enum) > 0 {
			for _, e := range enum {
				if _, ok := e.(string); !ok {
					return record.AnyType, true, nil
				}
			}
			return record.StringType, false, nil
		}
		return record.AnyType, true, nil
	}
	return record.Type{}, false, fmt.Errorf("type %v is not a JSON Schema type", typ)
}

// connectDecimalType reads the precision and scale of Connect's Decimal.
func connectDecimalType(node *jsonObject) (record.Type, error) {
	params, _ := node.get("connect.parameters").(*jsonObject)
	param := func(name string, def int) (int, error) {
		if params == nil {
			return def, nil
		}
		s, ok := params.get(name).(string)
		if !ok {
			return def, nil
		}
		return strconv.Atoi(s)
	}
	scale, err := param("scale", 0)
	if err != nil {
		return record.Type{}, fmt.Errorf("decimal scale: %w", err)
	}
	precision, err := param("connect.decimal.precision", record.MaxPrecision)
	if err != nil {
		return record.Type{}, fmt.Errorf("decimal precision: %w", err)
	}
	if precision > record.MaxPrecision || scale > precision || scale < 0 {
		return record.Type{}, fmt.Errorf("decimal(%d, %d) exceeds the 18 digits of DECIMAL", precision, scale)
	}
	return record.DecimalType(precision, scale), nil
}

// jsonObject is a JSON object with its keys in order.
type jsonObject struct {
	keys []string
	vals []any
}

// get returns the value of key, or nil.
func (o *jsonObject) get(key string) any {
	for i, k := range o.keys {
		if k == key {
			return o.vals[i]
		}
	}
	return nil
}

// parseOrdered parses JSON text, objects as *jsonObject.
func parseOrdered(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := parseValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, errors.New("text after the schema")
	}
	return v, nil
}

func parseValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		o := &jsonObject{}
		for dec.More() {
			key, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := parseValue(dec)
			if err != nil {
				return nil, err
			}
			o.keys, o.vals = append(o.keys, key.(string)), append(o.vals, v)
		}
		_, err := dec.Token()
		return o, err
	case json.Delim('['):
		list := []any{}
		for dec.More() {
			v, err := parseValue(dec)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
		}
		_, err := dec.Token()
		return list, err
	}
	return tok, nil
}

func (jsonSRFormat) decoder(_ *registry, _ string, schema *record.Schema, text textDecoder) slotDecoder {
	d := &jsonSRDecoder{json: codec.NewJSONDecoder(schema), scratch: make([]record.Value, schema.Len())}
	d.json.SetInvalidUTF8(text.mode, text.option)
	return d
}

// jsonSRDecoder decodes JSON values in the wire format: the JSON after
// the header fills the columns by name (the schema id is not needed to
// read JSON).
type jsonSRDecoder struct {
	json    *codec.JSONDecoder
	scratch []record.Value
}

// Decode implements valueDecoder: every slot of dst is set.
func (d *jsonSRDecoder) Decode(data []byte, dst []record.Value) error {
	_, body, err := wireID(data)
	if err != nil {
		return err
	}
	return d.json.Decode(body, dst)
}

// decodeInto implements slotDecoder: only the slots of the fields the
// value has are set (a key's, after the value's).
func (d *jsonSRDecoder) decodeInto(data []byte, dst []record.Value) error {
	if err := d.Decode(data, d.scratch); err != nil {
		return err
	}
	for i, v := range d.scratch {
		if !v.IsNull() && i < len(dst) {
			dst[i] = v
		}
	}
	return nil
}

func (jsonSRFormat) encoder(ctx context.Context, reg *registry, subject, name string, schema *record.Schema) (rowEncoder, sr.SubjectSchema, error) {
	register := reg.register
	if reg.useLatest {
		register = func(ctx context.Context, subject string, _ sr.Schema) (sr.SubjectSchema, error) {
			return reg.latestFor(ctx, subject, sr.TypeJSON)
		}
	}
	ss, err := register(ctx, subject, sr.Schema{Schema: jsonSchemaOf(name, schema), Type: sr.TypeJSON})
	if err != nil {
		return nil, ss, err
	}
	return jsonSREncoder{id: ss.ID, enc: codec.NewJSONEncoder(schema)}, ss, nil
}

// jsonSchemaOf derives the JSON Schema (draft 7) of a sink's rows: an
// object whose properties are the columns in order (jsonSchemaType),
// required when NOT NULL, a oneOf with null when nullable.
func jsonSchemaOf(name string, schema *record.Schema) string {
	b := []byte(`{"$schema":"http://json-schema.org/draft-07/schema#","title":`)
	b = record.AppendJSONString(b, name)
	b = append(b, `,"type":"object",`...)
	return string(append(appendJSONProperties(b, schema.Fields()), '}'))
}

// appendJSONProperties appends the "properties" and "required" members of
// an object schema of fields.
func appendJSONProperties(b []byte, fields []record.Field) []byte {
	b = append(b, `"properties":{`...)
	var required []byte
	for i, f := range fields {
		if i > 0 {
			b = append(b, ',')
		}
		b = record.AppendJSONString(b, f.Name)
		b = append(b, ':')
		if f.NotNull || f.Type.Kind == record.TypeAny {
			b = appendJSONSchemaType(b, f.Type)
		} else {
			b = appendJSONSchemaType(append(b, `{"oneOf":[{"type":"null"},`...), f.Type)
			b = append(b, "]}"...)
		}
		if f.NotNull {
			if len(required) > 0 {
				required = append(required, ',')
			}
			required = record.AppendJSONString(required, f.Name)
		}
	}
	b = append(b, '}')
	if len(required) > 0 {
		b = append(append(append(b, `,"required":[`...), required...), ']')
	}
	return b
}

// appendJSONSchemaType appends the JSON Schema of a SQL type: BOOLEAN
// boolean, INTEGER and BIGINT integer (with Connect's int32 or int64),
// DOUBLE number, DECIMAL Connect's Decimal, STRING string, TIMESTAMP a
// date-time string, ROW an object of its fields, ARRAY an array of its
// element, ANY any value.
func appendJSONSchemaType(b []byte, t record.Type) []byte {
	switch t.Kind {
	case record.TypeBoolean:
		return append(b, `{"type":"boolean"}`...)
	case record.TypeInteger:
		return append(b, `{"type":"integer","connect.type":"int32"}`...)
	case record.TypeBigint:
		return append(b, `{"type":"integer","connect.type":"int64"}`...)
	case record.TypeDouble:
		return append(b, `{"type":"number","connect.type":"float64"}`...)
	case record.TypeDecimal:
		p := t.Precision
		if p <= 0 {
			p = record.MaxPrecision
		}
		return fmt.Appendf(b, `{"type":"number","title":%q,"connect.version":1,"connect.parameters":{"scale":"%d","connect.decimal.precision":"%d"}}`,
			connectDecimal, t.Scale, p)
	case record.TypeString:
		return append(b, `{"type":"string"}`...)
	case record.TypeTimestamp:
		return append(b, `{"type":"string","format":"date-time"}`...)
	case record.TypeRow:
		b = append(b, `{"type":"object",`...)
		return append(appendJSONProperties(b, t.Fields), '}')
	case record.TypeArray:
		b = append(b, `{"type":"array"`...)
		if t.Elem != nil && t.Elem.Kind != record.TypeAny {
			b = appendJSONSchemaType(append(b, `,"items":`...), *t.Elem)
		}
		return append(b, '}')
	}
	return append(b, "{}"...)
}

// jsonSREncoder writes rows as JSON in the wire format of a registered
// schema.
type jsonSREncoder struct {
	id  int
	enc *codec.JSONEncoder
}

// AppendRow implements rowEncoder.
func (e jsonSREncoder) AppendRow(b []byte, row []record.Value) ([]byte, error) {
	return e.enc.AppendRow(appendWireHeader(b, e.id), row), nil
}

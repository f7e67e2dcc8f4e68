package kafka

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sluicesql/sluice/record"
)

func (protoFormat) encoder(ctx context.Context, reg *registry, subject, name string, schema *record.Schema) (rowEncoder, sr.SubjectSchema, error) {
	if reg.useLatest {
		return nil, sr.SubjectSchema{}, errors.New("use.latest.version is not supported with the protobuf format: a sink registers (or, with auto.register.schemas false, looks up) the schema of its columns")
	}
	text := protoSchemaOf(name, schema)
	ss, err := reg.register(ctx, subject, sr.Schema{Schema: text, Type: sr.TypeProtobuf})
	if err != nil {
		return nil, ss, err
	}
	return protoEncoder{id: ss.ID, fields: schema.Fields()}, ss, nil
}

// protoSchemaOf derives the Protobuf schema of a sink's rows: one proto3
// message named after the topic whose field n is column n, of the column's
// type (protoFieldType), optional (NULL is an absent field) unless NOT
// NULL; a ROW column is a message nested in it, the same way.
func protoSchemaOf(name string, schema *record.Schema) string {
	var body strings.Builder
	imports := map[string]bool{}
	writeProtoMessage(&body, avroName(name), schema.Fields(), "", imports)
	var b strings.Builder
	b.WriteString("syntax = \"proto3\";\n\n")
	for _, file := range []string{"confluent/meta.proto", "confluent/type/decimal.proto", "google/protobuf/struct.proto", "google/protobuf/timestamp.proto"} {
		if imports[file] {
			fmt.Fprintf(&b, "import %q;\n", file)
		}
	}
	if len(imports) > 0 {
		b.WriteString("\n")
	}
	b.WriteString(body.String())
	return b.String()
}

// writeProtoMessage writes the message name of fields, its ROW fields'
// messages nested in it, and notes the files it imports.
func writeProtoMessage(b *strings.Builder, name string, fields []record.Field, indent string, imports map[string]bool) {
	fmt.Fprintf(b, "%smessage %s {\n", indent, name)
	for i, f := range fields {
		t, repeated := f.Type, false
		if protoRepeated(f) {
			t, repeated = *f.Type.Elem, true
		}
		typ := protoFieldType(t)
		if protoNested(t) {
			typ = avroName(f.Name) + "_row"
			writeProtoMessage(b, typ, t.Fields, indent+"  ", imports)
		}
		for _, file := range protoImports[typ] {
			imports[file] = true
		}
		label, opts := "", ""
		switch {
		case repeated:
			label = "repeated "
		case !f.NotNull && protoImports[typ] == nil && !protoNested(t):
			label = "optional "
		}
		if typ == decimalName {
			opts = fmt.Sprintf(` [(confluent.field_meta) = { params: [ { key: "precision", value: "%d" }, { key: "scale", value: "%d" } ] }]`,
				decimalPrecision(t), t.Scale)
		}
		fmt.Fprintf(b, "%s  %s%s %s = %d%s;\n", indent, label, typ, avroName(f.Name), i+1, opts)
	}
	fmt.Fprintf(b, "%s}\n", indent)
}

// protoNested reports whether a ROW type is written as a nested message
// (one with fields; others are their JSON text).
func protoNested(t record.Type) bool { return t.Kind == record.TypeRow && len(t.Fields) > 0 }

// protoRepeated reports whether an ARRAY column is written as a repeated
// field: one whose element type is known and not an array (Protobuf has no
// list of lists: those are their JSON text). A repeated field has no NULL,
// so a NULL array is written empty and reads back as [].
func protoRepeated(f record.Field) bool {
	return f.Type.Kind == record.TypeArray && f.Type.Elem != nil && f.Type.Elem.Kind != record.TypeArray
}

// protoImports are the files of the well-known messages a sink's schema
// uses (message fields: NULL is an absent field without "optional").
var protoImports = map[string][]string{
	timestampName: {"google/protobuf/timestamp.proto"},
	valueName:     {"google/protobuf/struct.proto"},
	decimalName:   {"confluent/meta.proto", "confluent/type/decimal.proto"},
}

// decimalPrecision is the precision of a DECIMAL column (18 when unset).
func decimalPrecision(t record.Type) int {
	if t.Precision <= 0 {
		return record.MaxPrecision
	}
	return t.Precision
}

// protoFieldType returns the Protobuf type of a scalar column: BOOLEAN
// bool, INTEGER int32, BIGINT int64, DOUBLE double, TIMESTAMP
// google.protobuf.Timestamp, DECIMAL confluent.type.Decimal, a column of
// unknown type google.protobuf.Value; the others string (a ROW without
// fields, an ARRAY not written repeated: their JSON text).
func protoFieldType(t record.Type) string {
	switch t.Kind {
	case record.TypeDecimal:
		return decimalName
	case record.TypeAny:
		return valueName
	case record.TypeBoolean:
		return "bool"
	case record.TypeInteger:
		return "int32"
	case record.TypeBigint:
		return "int64"
	case record.TypeDouble:
		return "double"
	case record.TypeTimestamp:
		return timestampName
	}
	return "string"
}

// protoEncoder writes rows in the wire format of a registered schema from
// protoSchemaOf.
type protoEncoder struct {
	id     int
	fields []record.Field
}

// AppendRow implements rowEncoder.
func (e protoEncoder) AppendRow(b []byte, row []record.Value) ([]byte, error) {
	b = appendWireHeader(b, e.id)
	b = append(b, 0) // message indexes [0]: the schema's one message
	for i, f := range e.fields {
		var v record.Value
		if i < len(row) {
			v = row[i]
		}
		var err error
		if b, err = appendField(b, protowire.Number(i+1), f, v); err != nil {
			return b, fmt.Errorf("column %s: %w", f.Name, err)
		}
	}
	return b, nil
}

// appendField appends field num of f's type holding v: nothing for NULL.
func appendField(b []byte, num protowire.Number, f record.Field, v record.Value) ([]byte, error) {
	if v.IsNull() {
		if f.NotNull {
			return b, errors.New("NULL in a NOT NULL column")
		}
		return b, nil
	}
	switch {
	case protoRepeated(f) || protoNested(f.Type):
		if v.Kind() != record.String {
			return b, fmt.Errorf("a %s value is not the JSON text of a %s", v.Kind(), f.Type)
		}
		x, err := parseJSONValue(v.Str())
		if err != nil {
			return b, fmt.Errorf("the JSON text of a %s: %w", f.Type, err)
		}
		return appendJSONField(b, num, f, x)
	}
	return appendScalar(b, num, f.Type, v)
}

// appendJSONField appends field num of f's type holding the parsed JSON
// value x (a ROW's object, an ARRAY's array, a scalar).
func appendJSONField(b []byte, num protowire.Number, f record.Field, x any) ([]byte, error) {
	if x == nil {
		if f.NotNull {
			return b, fmt.Errorf("null in NOT NULL field %s", f.Name)
		}
		return b, nil
	}
	switch {
	case protoRepeated(f):
		list, ok := x.([]any)
		if !ok {
			return b, fmt.Errorf("field %s: %s is not a JSON array", f.Name, jsonKind(x))
		}
		elem := record.Field{Name: f.Name, Type: *f.Type.Elem, NotNull: true}
		for _, item := range list {
			var err error
			if b, err = appendJSONField(b, num, elem, item); err != nil {
				return b, err
			}
		}
		return b, nil
	case protoNested(f.Type):
		obj, ok := x.(map[string]any)
		if !ok {
			return b, fmt.Errorf("field %s: %s is not a JSON object", f.Name, jsonKind(x))
		}
		b, at := beginSubmessage(b, num)
		for i, sub := range f.Type.Fields {
			var err error
			if b, err = appendJSONField(b, protowire.Number(i+1), sub, obj[sub.Name]); err != nil {
				return b, err
			}
		}
		return endSubmessage(b, at), nil
	}
	v, err := jsonScalar(x, f.Type)
	if err != nil {
		return b, fmt.Errorf("field %s: %w", f.Name, err)
	}
	return appendScalar(b, num, f.Type, v)
}

// appendScalar appends field num of scalar type t holding v (not NULL).
func appendScalar(b []byte, num protowire.Number, t record.Type, v record.Value) ([]byte, error) {
	switch t.Kind {
	case record.TypeBoolean:
		b = protowire.AppendTag(b, num, protowire.VarintType)
		return protowire.AppendVarint(b, protowire.EncodeBool(v.Bool())), nil
	case record.TypeInteger, record.TypeBigint:
		n := v.Int()
		if t.Kind == record.TypeInteger && (n < math.MinInt32 || n > math.MaxInt32) {
			return b, fmt.Errorf("%d does not fit an int32", n)
		}
		b = protowire.AppendTag(b, num, protowire.VarintType)
		return protowire.AppendVarint(b, uint64(n)), nil
	case record.TypeDouble:
		b = protowire.AppendTag(b, num, protowire.Fixed64Type)
		return protowire.AppendFixed64(b, math.Float64bits(doubleOf(v))), nil
	case record.TypeDecimal:
		b, at := beginSubmessage(b, num)
		b, err := appendDecimal(b, v, decimalPrecision(t), t.Scale)
		if err != nil {
			return b, err
		}
		return endSubmessage(b, at), nil
	case record.TypeAny:
		b, at := beginSubmessage(b, num)
		return endSubmessage(appendAnyValue(b, v), at), nil
	case record.TypeTimestamp:
		ms := v.Int()
		secs := floorDiv(ms, 1000)
		nanos := (ms - secs*1000) * 1e6
		b, at := beginSubmessage(b, num)
		if secs != 0 {
			b = protowire.AppendTag(b, 1, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(secs))
		}
		if nanos != 0 {
			b = protowire.AppendTag(b, 2, protowire.VarintType)
			b = protowire.AppendVarint(b, uint64(nanos))
		}
		return endSubmessage(b, at), nil
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	if v.Kind() == record.String {
		return protowire.AppendString(b, v.Str()), nil
	}
	return protowire.AppendBytes(b, v.AppendText(nil)), nil
}

// beginSubmessage appends the tag of field num, a message, and a byte for
// its length; the message follows, then endSubmessage(b, at).
func beginSubmessage(b []byte, num protowire.Number) ([]byte, int) {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return append(b, 0), len(b)
}

// endSubmessage sets the length of the message begun at at (the index of
// its length byte), making room when it takes more than one byte.
func endSubmessage(b []byte, at int) []byte {
	n := len(b) - at - 1
	if n < 0x80 {
		b[at] = byte(n)
		return b
	}
	size := protowire.SizeVarint(uint64(n))
	b = append(b, make([]byte, size-1)...)
	copy(b[at+size:], b[at+1:at+1+n])
	protowire.AppendVarint(b[at:at], uint64(n))
	return b
}

// appendAnyValue appends the google.protobuf.Value of v (not NULL): a
// BOOLEAN its bool_value; an INTEGER of at most 2^53, a FLOAT and a
// DECIMAL a float64 holds exactly its number_value; other values their
// text as its string_value.
func appendAnyValue(b []byte, v record.Value) []byte {
	switch v.Kind() {
	case record.Bool:
		b = protowire.AppendTag(b, 4, protowire.VarintType)
		return protowire.AppendVarint(b, protowire.EncodeBool(v.Bool()))
	case record.Float:
		b = protowire.AppendTag(b, 2, protowire.Fixed64Type)
		return protowire.AppendFixed64(b, math.Float64bits(v.Float()))
	case record.Int:
		if n := v.Int(); n >= -1<<53 && n <= 1<<53 {
			b = protowire.AppendTag(b, 2, protowire.Fixed64Type)
			return protowire.AppendFixed64(b, math.Float64bits(float64(n)))
		}
	case record.Decimal:
		if f, ok := exactFloat(v); ok {
			b = protowire.AppendTag(b, 2, protowire.Fixed64Type)
			return protowire.AppendFixed64(b, math.Float64bits(f))
		}
	}
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	return protowire.AppendString(b, v.String())
}

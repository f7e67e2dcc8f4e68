package kafka

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/sluicesql/sluice/record"
)

// avroColumns returns the columns of an Avro record schema: a field's
// type maps to the SQL type (see avroType).
func avroColumns(s avro.Schema) ([]record.Field, error) {
	rec, ok := s.(*avro.RecordSchema)
	if !ok {
		return nil, fmt.Errorf("the Avro schema is a %s, not a record", s.Type())
	}
	cols := make([]record.Field, 0, len(rec.Fields()))
	for _, f := range rec.Fields() {
		t, notNull, err := avroType(f.Type())
		if err != nil {
			return nil, fmt.Errorf("field %q: %w", f.Name(), err)
		}
		cols = append(cols, record.Field{Name: f.Name(), Type: t, NotNull: notNull})
	}
	return cols, nil
}

// avroType maps an Avro type to a SQL type: boolean BOOLEAN; int INTEGER
// (TIMESTAMP with the date logical type: midnight UTC of the day, as Kafka
// Connect's Date; STRING with time-millis: 'HH:MM:SS.fff'); long BIGINT
// (TIMESTAMP with timestamp-millis, timestamp-micros and their local-
// forms; STRING with time-micros: 'HH:MM:SS.ffffff'); float and double
// DOUBLE; string (uuid too) and enum STRING; bytes or fixed with the
// decimal logical type DECIMAL(p, s) (p at most 18), without a logical type
// STRING (base64, as the protobuf format reads bytes); a record ROW; an
// array ARRAY; a union of null and one type that type, nullable. notNull is
// false for a union with null. Sluice has no DATE or TIME type.
func avroType(s avro.Schema) (t record.Type, notNull bool, err error) {
	if u, ok := s.(*avro.UnionSchema); ok {
		inner, ok := nullableOf(u)
		if !ok {
			// Another union (the one a sink writes for a column of
			// unknown type): values keep the type of their branch.
			return record.AnyType, false, nil
		}
		t, _, err = avroType(inner)
		return t, false, err
	}
	switch s.Type() {
	case avro.Boolean:
		t.Kind = record.TypeBoolean
	case avro.Int:
		switch logicalType(s) {
		case avro.Date:
			t.Kind = record.TypeTimestamp
		case avro.TimeMillis:
			t.Kind = record.TypeString
		default:
			t.Kind = record.TypeInteger
		}
	case avro.Long:
		switch {
		case isTimestamp(s) != 0:
			t.Kind = record.TypeTimestamp
		case logicalType(s) == avro.TimeMicros:
			t.Kind = record.TypeString
		default:
			t.Kind = record.TypeBigint
		}
	case avro.Float, avro.Double:
		t.Kind = record.TypeDouble
	case avro.String, avro.Enum:
		t.Kind = record.TypeString
	case avro.Bytes, avro.Fixed:
		d := decimalOf(s)
		if d == nil {
			if l := fixedLogical(s); l != "" {
				return t, false, fmt.Errorf("%s with the %s logical type is not supported", s.Type(), l)
			}
			t.Kind = record.TypeString
			break
		}
		if d.Precision() > 18 {
			return t, false, fmt.Errorf("decimal(%d, %d) exceeds the 18 digits of DECIMAL", d.Precision(), d.Scale())
		}
		t = record.Type{Kind: record.TypeDecimal, Precision: d.Precision(), Scale: d.Scale()}
	case avro.Record:
		fields, err := avroColumns(s)
		if err != nil {
			return t, false, err
		}
		t = record.Type{Kind: record.TypeRow, Fields: fields}
	case avro.Array:
		elem, _, err := avroType(s.(*avro.ArraySchema).Items())
		if err != nil {
			return t, false, err
		}
		t = record.Type{Kind: record.TypeArray, Elem: &elem}
	default:
		return t, false, fmt.Errorf("Avro type %s is not supported", s.Type())
	}
	return t, true, nil
}

// nullableOf returns T of a union [null, T] (or [T, null]).
func nullableOf(u *avro.UnionSchema) (avro.Schema, bool) {
	types := u.Types()
	if len(types) != 2 {
		return nil, false
	}
	switch {
	case types[0].Type() == avro.Null:
		return types[1], true
	case types[1].Type() == avro.Null:
		return types[0], true
	}
	return nil, false
}

// isTimestamp returns 1 for a timestamp-millis long, 1000 for
// timestamp-micros (the divisor to milliseconds), else 0.
func isTimestamp(s avro.Schema) int64 {
	switch logicalType(s) {
	case avro.TimestampMillis, avro.LocalTimestampMillis:
		return 1
	case avro.TimestampMicros, avro.LocalTimestampMicros:
		return 1000
	}
	return 0
}

// logicalType returns the logical type of a primitive type, or "".
func logicalType(s avro.Schema) avro.LogicalType {
	if p, ok := s.(*avro.PrimitiveSchema); ok && p.Logical() != nil {
		return p.Logical().Type()
	}
	return ""
}

// fixedLogical returns the logical type of a fixed type, or "".
func fixedLogical(s avro.Schema) avro.LogicalType {
	if f, ok := s.(*avro.FixedSchema); ok && f.Logical() != nil {
		return f.Logical().Type()
	}
	return ""
}

// msPerDay is the milliseconds of a day: an Avro date counts days.
const msPerDay = 86_400_000

// timeOfDay returns the text 'HH:MM:SS.fff' (digits 3: n counts
// milliseconds) or 'HH:MM:SS.ffffff' (digits 6: microseconds) of an Avro
// time-millis or time-micros value, false when n is not within a day.
func timeOfDay(n int64, digits int) (string, bool) {
	unit := int64(1000)
	if digits == 6 {
		unit = 1_000_000
	}
	if n < 0 || n >= 86400*unit {
		return "", false
	}
	secs := n / unit
	return fmt.Sprintf("%02d:%02d:%02d.%0*d", secs/3600, secs/60%60, secs%60, digits, n%unit), true
}

// parseTimeOfDay is timeOfDay's inverse: the count of milliseconds (digits
// 3) or microseconds (6) of the time 'HH:MM:SS[.f...]' (or 'HH:MM').
func parseTimeOfDay(text string, digits int) (int64, error) {
	var h, m, sec int64
	var frac string
	clock, frac, _ := strings.Cut(text, ".")
	n, _ := fmt.Sscanf(clock, "%d:%d:%d", &h, &m, &sec)
	if n < 2 || h > 23 || m > 59 || sec > 59 || h < 0 || m < 0 || sec < 0 || len(frac) > digits || strings.Trim(frac, "0123456789") != "" {
		return 0, fmt.Errorf("%q is not a time of day (HH:MM:SS.%s)", text, strings.Repeat("f", digits))
	}
	v := (h*3600 + m*60 + sec)
	for range digits {
		v *= 10
	}
	f := int64(0)
	for i := range digits {
		f *= 10
		if i < len(frac) {
			f += int64(frac[i] - '0')
		}
	}
	return v + f, nil
}

// decimalOf returns the decimal logical type of bytes or fixed, or nil.
func decimalOf(s avro.Schema) *avro.DecimalLogicalSchema {
	var l avro.LogicalSchema
	switch x := s.(type) {
	case *avro.PrimitiveSchema:
		l = x.Logical()
	case *avro.FixedSchema:
		l = x.Logical()
	}
	d, _ := l.(*avro.DecimalLogicalSchema)
	return d
}

// avroProgram decodes values of one writer schema into the slots of the
// source's columns, matched by field name; fields the columns lack are
// read and skipped, and a column the writer lacks takes the default of
// its field in the reader schema (Avro's schema resolution), if it has one.
type avroProgram struct {
	fields   []avroField
	defaults []slotDefault
}

// avroField is one field of the writer schema: its decoder and the slot it
// fills (-1: skipped), its name and type for messages.
type avroField struct {
	slot      int
	dec       avroDecode
	name, typ string
}

// failed returns the error of reading the field, naming it and its type.
func (f *avroField) failed(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("field %s (%s): the value ends before the field does", f.name, f.typ)
	}
	return fmt.Errorf("field %s (%s): %w", f.name, f.typ, err)
}

// avroTypeName names an Avro type for messages: its type and logical type
// (long timestamp-millis, bytes decimal(10,2)), a named type's name, a
// union's branches.
func avroTypeName(s avro.Schema) string {
	if d := decimalOf(s); d != nil {
		return fmt.Sprintf("%s decimal(%d,%d)", s.Type(), d.Precision(), d.Scale())
	}
	switch x := s.(type) {
	case *avro.UnionSchema:
		names := make([]string, len(x.Types()))
		for i, t := range x.Types() {
			names[i] = avroTypeName(t)
		}
		return "union [" + strings.Join(names, ", ") + "]"
	case *avro.ArraySchema:
		return "array<" + avroTypeName(x.Items()) + ">"
	case avro.NamedSchema:
		return fmt.Sprintf("%s %s", s.Type(), x.FullName())
	}
	if l := logicalType(s); l != "" {
		return fmt.Sprintf("%s %s", s.Type(), l)
	}
	return string(s.Type())
}

// avroDecode reads one value of a field's type.
type avroDecode func(r *avro.Reader) record.Value

// newAvroProgram compiles the decoding of writer into schema's slots. The
// slots no field of writer fills are returned in missing.
func newAvroProgram(writer avro.Schema, schema *record.Schema, text textDecoder) (p *avroProgram, missing []int, err error) {
	rec, ok := writer.(*avro.RecordSchema)
	if !ok {
		return nil, nil, fmt.Errorf("the Avro schema is a %s, not a record", writer.Type())
	}
	p = &avroProgram{}
	filled := make([]bool, schema.Len())
	for _, f := range rec.Fields() {
		dec, err := avroDecoder(f.Type(), text)
		if err != nil {
			return nil, nil, fmt.Errorf("field %q: %w", f.Name(), err)
		}
		slot, ok := schema.Lookup(f.Name())
		if !ok {
			slot = -1
		} else {
			filled[slot] = true
		}
		p.fields = append(p.fields, avroField{slot: slot, dec: dec, name: f.Name(), typ: avroTypeName(f.Type())})
	}
	return p, unfilled(len(filled), func(slot int) bool { return filled[slot] }), nil
}

// addDefaults gives each slot of missing whose column is a field with a
// default in reader that default, decoded as a value of the field would be.
func (p *avroProgram) addDefaults(reader avro.Schema, missing []int, schema *record.Schema, text textDecoder) error {
	rec, ok := reader.(*avro.RecordSchema)
	if !ok {
		return nil
	}
	byName := make(map[string]*avro.Field, len(rec.Fields()))
	for _, f := range rec.Fields() {
		byName[f.Name()] = f
	}
	for _, slot := range missing {
		f := byName[schema.Name(slot)]
		if f == nil || !f.HasDefault() {
			continue
		}
		b, err := avro.Marshal(f.Type(), f.Default())
		if err != nil {
			return fmt.Errorf("the default of field %q: %w", f.Name(), err)
		}
		dec, err := avroDecoder(f.Type(), text)
		if err != nil {
			return fmt.Errorf("field %q: %w", f.Name(), err)
		}
		r := avro.NewReader(nil, 0).Reset(b)
		v := dec(r)
		if r.Error != nil {
			return fmt.Errorf("the default of field %q: %w", f.Name(), r.Error)
		}
		p.defaults = append(p.defaults, slotDefault{slot: slot, value: v})
	}
	return nil
}

// avroDecoder returns the decoder of an Avro type.
func avroDecoder(s avro.Schema, text textDecoder) (avroDecode, error) {
	if u, ok := s.(*avro.UnionSchema); ok {
		return unionDecoder(u, text)
	}
	switch s.Type() {
	case avro.Null:
		return func(*avro.Reader) record.Value { return record.NullValue() }, nil
	case avro.Boolean:
		return func(r *avro.Reader) record.Value { return record.BoolValue(r.ReadBool()) }, nil
	case avro.Int:
		switch logicalType(s) {
		case avro.Date:
			return func(r *avro.Reader) record.Value { return record.TimestampValue(int64(r.ReadInt()) * msPerDay) }, nil
		case avro.TimeMillis:
			return timeDecoder(func(r *avro.Reader) int64 { return int64(r.ReadInt()) }, 3), nil
		}
		return func(r *avro.Reader) record.Value { return record.IntValue(int64(r.ReadInt())) }, nil
	case avro.Long:
		switch div := isTimestamp(s); {
		case logicalType(s) == avro.TimeMicros:
			return timeDecoder((*avro.Reader).ReadLong, 6), nil
		case div == 0:
			return func(r *avro.Reader) record.Value { return record.IntValue(r.ReadLong()) }, nil
		case div == 1:
			return func(r *avro.Reader) record.Value { return record.TimestampValue(r.ReadLong()) }, nil
		default:
			return func(r *avro.Reader) record.Value { return record.TimestampValue(floorDiv(r.ReadLong(), div)) }, nil
		}
	case avro.Float:
		return func(r *avro.Reader) record.Value { return record.FloatValue(float64(r.ReadFloat())) }, nil
	case avro.Double:
		return func(r *avro.Reader) record.Value { return record.FloatValue(r.ReadDouble()) }, nil
	case avro.String:
		return func(r *avro.Reader) record.Value {
			s := r.ReadString()
			if utf8.ValidString(s) {
				return record.StringValue(s)
			}
			v, err := text.str([]byte(s))
			if err != nil {
				r.ReportError("string", err.Error())
			}
			return record.StringValue(v)
		}, nil
	case avro.Enum:
		symbols := s.(*avro.EnumSchema).Symbols()
		return func(r *avro.Reader) record.Value {
			i := int(r.ReadInt())
			if i < 0 || i >= len(symbols) {
				r.ReportError("enum", fmt.Sprintf("symbol index %d is not one of its %d symbols", i, len(symbols)))
				return record.NullValue()
			}
			return record.StringValue(symbols[i])
		}, nil
	case avro.Bytes, avro.Fixed:
		d := decimalOf(s)
		if d == nil && fixedLogical(s) == "" {
			read := bytesReader(s)
			return func(r *avro.Reader) record.Value {
				return record.StringValue(base64.StdEncoding.EncodeToString(read(r)))
			}, nil
		}
		if d == nil || d.Precision() > 18 {
			return nil, fmt.Errorf("%s is only read with the decimal logical type (at most 18 digits) or none", s.Type())
		}
		scale := uint8(d.Scale())
		read := bytesReader(s)
		return func(r *avro.Reader) record.Value {
			b := read(r)
			u, ok := twosComplement(b)
			if !ok {
				r.ReportError("decimal", fmt.Sprintf("an unscaled value of %d bytes exceeds 64 bits", len(b)))
				return record.NullValue()
			}
			return record.DecimalValue(u, scale)
		}, nil
	case avro.Record, avro.Array:
		// Nested values are their JSON text, as ROW and ARRAY values are.
		enc, err := avroJSON(s, text)
		if err != nil {
			return nil, err
		}
		return func(r *avro.Reader) record.Value { return record.StringValue(string(enc(r, nil))) }, nil
	}
	return nil, fmt.Errorf("Avro type %s is not supported", s.Type())
}

// bytesReader returns the reader of a bytes or fixed value: the bytes it
// returns are valid until its next call.
func bytesReader(s avro.Schema) func(r *avro.Reader) []byte {
	f, ok := s.(*avro.FixedSchema)
	if !ok {
		return (*avro.Reader).ReadBytes
	}
	buf := make([]byte, f.Size())
	return func(r *avro.Reader) []byte {
		r.Read(buf)
		return buf
	}
}

// timeDecoder returns the decoder of a time-millis (digits 3) or
// time-micros (6) value read by read: its text 'HH:MM:SS.fff'.
func timeDecoder(read func(r *avro.Reader) int64, digits int) avroDecode {
	return func(r *avro.Reader) record.Value {
		n := read(r)
		text, ok := timeOfDay(n, digits)
		if !ok {
			r.ReportError("time", fmt.Sprintf("%d is not within a day", n))
			return record.NullValue()
		}
		return record.StringValue(text)
	}
}

// unionDecoder reads a union: its branch index, then that branch.
func unionDecoder(u *avro.UnionSchema, text textDecoder) (avroDecode, error) {
	types := u.Types()
	decs := make([]avroDecode, len(types))
	for i, t := range types {
		d, err := avroDecoder(t, text)
		if err != nil {
			return nil, err
		}
		decs[i] = d
	}
	return func(r *avro.Reader) record.Value {
		i := r.ReadLong()
		if i < 0 || int(i) >= len(decs) {
			r.ReportError("union", fmt.Sprintf("branch index %d is not one of its %d branches", i, len(decs)))
			return record.NullValue()
		}
		return decs[i](r)
	}, nil
}

// avroJSON returns a function appending the JSON text of one value of s.
func avroJSON(s avro.Schema, text textDecoder) (func(r *avro.Reader, b []byte) []byte, error) {
	switch x := s.(type) {
	case *avro.UnionSchema:
		branches := make([]func(r *avro.Reader, b []byte) []byte, len(x.Types()))
		for i, t := range x.Types() {
			enc, err := avroJSON(t, text)
			if err != nil {
				return nil, err
			}
			branches[i] = enc
		}
		return func(r *avro.Reader, b []byte) []byte {
			i := r.ReadLong()
			if i < 0 || int(i) >= len(branches) {
				r.ReportError("union", fmt.Sprintf("branch index %d is not one of its %d branches", i, len(branches)))
				return append(b, "null"...)
			}
			return branches[i](r, b)
		}, nil
	case *avro.RecordSchema:
		type part struct {
			name []byte
			enc  func(r *avro.Reader, b []byte) []byte
		}
		var parts []part
		for i, f := range x.Fields() {
			enc, err := avroJSON(f.Type(), text)
			if err != nil {
				return nil, err
			}
			name, _ := json.Marshal(f.Name())
			prefix := append([]byte(nil), ',')
			if i == 0 {
				prefix = prefix[:0]
			}
			parts = append(parts, part{append(append(prefix, name...), ':'), enc})
		}
		return func(r *avro.Reader, b []byte) []byte {
			b = append(b, '{')
			for _, p := range parts {
				b = p.enc(r, append(b, p.name...))
			}
			return append(b, '}')
		}, nil
	case *avro.ArraySchema:
		item, err := avroJSON(x.Items(), text)
		if err != nil {
			return nil, err
		}
		return func(r *avro.Reader, b []byte) []byte {
			b = append(b, '[')
			items := int64(0)
			for {
				n, _ := r.ReadBlockHeader()
				if n == 0 || r.Error != nil {
					break
				}
				// A block count is the writer's word: a bad message can
				// claim billions of items. Items stop where the bytes do,
				// and items that take no bytes (null) stop at a bound.
				if n < 0 || n > maxAvroArrayItems-items {
					r.ReportError("array", fmt.Sprintf("more than %d items", maxAvroArrayItems))
					break
				}
				for range n {
					if items > 0 {
						b = append(b, ',')
					}
					items++
					if b = item(r, b); r.Error != nil {
						break
					}
				}
			}
			return append(b, ']')
		}, nil
	}
	dec, err := avroDecoder(s, text)
	if err != nil {
		return nil, err
	}
	return func(r *avro.Reader, b []byte) []byte { return dec(r).AppendJSON(b) }, nil
}

// maxAvroArrayItems bounds the items of one array of a decoded message.
const maxAvroArrayItems = 1 << 22

// twosComplement reads a big-endian two's complement integer of at most 8
// bytes (sign-extended).
func twosComplement(b []byte) (int64, bool) {
	if len(b) > 8 {
		// Leading sign bytes may pad a short value.
		pad := byte(0)
		if b[0]&0x80 != 0 {
			pad = 0xff
		}
		for len(b) > 8 && b[0] == pad {
			b = b[1:]
		}
		if len(b) > 8 {
			return 0, false
		}
	}
	if len(b) == 0 {
		return 0, true
	}
	var v int64
	if b[0]&0x80 != 0 {
		v = -1
	}
	for _, c := range b {
		v = v<<8 | int64(c)
	}
	return v, true
}

// floorDiv divides rounding toward negative infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// avroFormat is '<n>.format'='avro': Avro values in the wire format.
type avroFormat struct{}

// parseAvro parses an Avro schema of the registry, refusing other types.
func parseAvro(s sr.Schema) (any, error) {
	if s.Type != sr.TypeAvro {
		return nil, fmt.Errorf("the schema is %s, not Avro", s.Type)
	}
	return avro.Parse(s.Schema)
}

// avroSchema returns the parsed Avro schema with id.
func avroSchema(ctx context.Context, reg *registry, id int) (avro.Schema, error) {
	p, err := reg.parse(ctx, "avro", id, parseAvro)
	if err != nil {
		return nil, err
	}
	return p.(avro.Schema), nil
}

func (avroFormat) columns(_ context.Context, _ *registry, s sr.Schema) ([]record.Field, error) {
	schema, err := parseAvro(s)
	if err != nil {
		return nil, err
	}
	return avroColumns(schema.(avro.Schema))
}

func (avroFormat) decoder(reg *registry, subject string, schema *record.Schema, text textDecoder) slotDecoder {
	return newAvroValueDecoder(reg, subject, schema, text)
}

func (avroFormat) encoder(ctx context.Context, reg *registry, subject, name string, schema *record.Schema) (rowEncoder, sr.SubjectSchema, error) {
	if reg.useLatest {
		ss, err := reg.latestFor(ctx, subject, sr.TypeAvro)
		if err != nil {
			return nil, ss, err
		}
		s, err := avroSchema(ctx, reg, ss.ID)
		if err != nil {
			return nil, ss, err
		}
		enc, err := newAvroEncoderByName(ss.ID, s, schema)
		if err != nil {
			return nil, ss, fmt.Errorf("writing with subject %q version %d (id %d): %w", subject, ss.Version, ss.ID, err)
		}
		return enc, ss, nil
	}
	s, err := avroSchemaOf(name, schema)
	if err != nil {
		return nil, sr.SubjectSchema{}, fmt.Errorf("the Avro schema of the output: %w", err)
	}
	ss, err := reg.register(ctx, subject, sr.Schema{Schema: s.String(), Type: sr.TypeAvro})
	if err != nil {
		return nil, ss, err
	}
	return newAvroEncoder(ss.ID, s, schema), ss, nil
}

// avroValueDecoder decodes Confluent wire-format Avro values: the writer
// schema is fetched by the id each message carries (once per id) and its
// fields fill the source's columns by name. A column the writer schema
// lacks takes the default its field has in the subject's latest schema
// (the reader schema), so a message written before a field with a default
// was added reads with that default, as Avro's schema resolution has it.
type avroValueDecoder struct {
	reg     *registry
	subject string
	schema  *record.Schema
	text    textDecoder // reads a string that is not UTF-8
	reader  *avro.Reader
	progs   map[int]*avroProgram
	latest  avro.Schema // the subject's latest schema, once a writer lacked a column
}

func newAvroValueDecoder(reg *registry, subject string, schema *record.Schema, text textDecoder) *avroValueDecoder {
	return &avroValueDecoder{reg: reg, subject: subject, schema: schema, text: text, reader: avro.NewReader(nil, 0), progs: map[int]*avroProgram{}}
}

// program compiles the decoding of the writer schema id, with the reader
// schema's defaults for the columns it lacks.
func (d *avroValueDecoder) program(id int) (*avroProgram, error) {
	ctx := context.Background()
	writer, err := avroSchema(ctx, d.reg, id)
	if err != nil {
		return nil, err
	}
	prog, missing, err := newAvroProgram(writer, d.schema, d.text)
	if err != nil {
		return nil, fmt.Errorf("schema %d: %w", id, err)
	}
	if len(missing) == 0 {
		return prog, nil
	}
	if d.latest == nil {
		ss, ok, err := d.reg.readerSchema(ctx, d.subject)
		if err != nil {
			return nil, fmt.Errorf("schema %d lacks columns, and the reader schema for their defaults: %w", id, err)
		}
		if !ok {
			return prog, nil // no reader schema: the columns stay NULL
		}
		if d.latest, err = avroSchema(ctx, d.reg, ss.ID); err != nil {
			return nil, err
		}
	}
	if err := prog.addDefaults(d.latest, missing, d.schema, d.text); err != nil {
		return nil, fmt.Errorf("schema %d: %w", id, err)
	}
	return prog, nil
}

// decodeInto sets the slots of dst that the value's fields fill, leaving
// the others as they are (a key's fields after the value's).
func (d *avroValueDecoder) decodeInto(data []byte, dst []record.Value) error {
	id, body, err := wireID(data)
	if err != nil {
		return err
	}
	prog, ok := d.progs[id]
	if !ok {
		if prog, err = d.program(id); err != nil {
			return err
		}
		d.progs[id] = prog
	}
	for _, def := range prog.defaults {
		if def.slot < len(dst) {
			dst[def.slot] = def.value
		}
	}
	r := d.reader.Reset(body)
	for i := range prog.fields {
		f := &prog.fields[i]
		v := f.dec(r)
		if r.Error != nil {
			err := r.Error
			r.Error = nil
			return fmt.Errorf("avro (schema %d): %w", id, f.failed(err))
		}
		if f.slot >= 0 && f.slot < len(dst) {
			dst[f.slot] = v
		}
	}
	return nil
}

// avroSchemaOf derives the Avro record schema of a sink's rows from their
// columns: each column a field of its SQL type, nullable unless NOT NULL;
// a column of unknown type a union of null, boolean, long, double and
// string.
func avroSchemaOf(name string, schema *record.Schema) (avro.Schema, error) {
	text, err := json.Marshal(avroRecord(avroName(name), schema.Fields()))
	if err != nil {
		return nil, err
	}
	return avro.Parse(string(text))
}

// avroRecord returns the Avro record (as JSON) named name of fields, each
// a field of its SQL type, nullable (a union with null, default null)
// unless NOT NULL. Nested records are named after their path (name_field),
// which keeps their names unique in the schema.
func avroRecord(name string, fields []record.Field) map[string]any {
	out := make([]map[string]any, 0, len(fields))
	for _, f := range fields {
		t := avroJSONType(f.Type, name+"_"+avroName(f.Name))
		field := map[string]any{"name": avroName(f.Name), "type": t}
		if !f.NotNull {
			field["type"], field["default"] = avroNullable(t), nil
		}
		out = append(out, field)
	}
	return map[string]any{"type": "record", "name": name, "fields": out}
}

// avroNullable returns the union of null and the Avro type t.
func avroNullable(t any) any {
	if u, ok := t.([]any); ok {
		return append([]any{"null"}, u...)
	}
	return []any{"null", t}
}

// anyUnion is the Avro type of a column of unknown type.
var anyUnion = []any{"boolean", "long", "double", "string"}

// avroJSONType returns the Avro type (as JSON) of a SQL type; path names
// a nested record.
func avroJSONType(t record.Type, path string) any {
	switch t.Kind {
	case record.TypeRow:
		if len(t.Fields) > 0 {
			return avroRecord(path, t.Fields)
		}
	case record.TypeArray:
		if t.Elem != nil && t.Elem.Kind != record.TypeAny {
			return map[string]any{"type": "array", "items": avroNullable(avroJSONType(*t.Elem, path+"_item"))}
		}
	}
	switch t.Kind {
	case record.TypeBoolean:
		return "boolean"
	case record.TypeInteger:
		return "int"
	case record.TypeBigint:
		return "long"
	case record.TypeDouble:
		return "double"
	case record.TypeString, record.TypeRow, record.TypeArray:
		return "string"
	case record.TypeTimestamp:
		return map[string]any{"type": "long", "logicalType": "timestamp-millis"}
	case record.TypeDecimal:
		p := t.Precision
		if p <= 0 {
			p = 18
		}
		return map[string]any{"type": "bytes", "logicalType": "decimal", "precision": p, "scale": t.Scale}
	}
	return append([]any(nil), anyUnion...)
}

// avroName makes s a valid Avro name.
func avroName(s string) string {
	var b strings.Builder
	for i, c := range s {
		switch {
		case c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9'):
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// avroEncoder writes rows in the wire format of a registered schema.
type avroEncoder struct {
	id     int
	fields []avroEncode
	names  []string // by field: its name, for errors
	slots  []int    // by field: the column it writes (-1: NULL); nil: field i writes column i
	w      *avro.Writer
}

// avroEncode writes one column's value.
type avroEncode func(w *avro.Writer, v record.Value) error

// newAvroEncoder compiles the encoding of schema's rows with the Avro
// record schema s (from avroSchemaOf) registered as id.
func newAvroEncoder(id int, s avro.Schema, schema *record.Schema) *avroEncoder {
	e := &avroEncoder{id: id, w: avro.NewWriter(nil, 0)}
	for i, f := range s.(*avro.RecordSchema).Fields() {
		e.fields = append(e.fields, avroEncoderOf(f.Type(), schema.Fields()[i].Type))
		e.names = append(e.names, schema.Name(i))
	}
	return e
}

// newAvroEncoderByName compiles the encoding of schema's rows with a
// record schema s of the registry: each field writes the column of its
// name; a field without one must be nullable (it is written null), and
// every column must have a field.
func newAvroEncoderByName(id int, s avro.Schema, schema *record.Schema) (*avroEncoder, error) {
	rec, ok := s.(*avro.RecordSchema)
	if !ok {
		return nil, fmt.Errorf("the Avro schema is a %s, not a record", s.Type())
	}
	e := &avroEncoder{id: id, w: avro.NewWriter(nil, 0)}
	used := make([]bool, schema.Len())
	for _, f := range rec.Fields() {
		slot, ok := schema.Lookup(f.Name())
		t := record.AnyType
		if ok {
			used[slot] = true
			t = schema.Type(slot)
		} else if u, isUnion := f.Type().(*avro.UnionSchema); !isUnion || unionBranch(u.Types(), record.NullValue()) < 0 {
			return nil, fmt.Errorf("field %q is not nullable and no output column has its name", f.Name())
		} else {
			slot = -1
		}
		e.fields = append(e.fields, avroEncoderOf(f.Type(), t))
		e.names = append(e.names, f.Name())
		e.slots = append(e.slots, slot)
	}
	for i, u := range used {
		if !u {
			return nil, fmt.Errorf("output column %s is not a field of the schema (fields: %s)", schema.Name(i), avroFieldNames(rec))
		}
	}
	return e, nil
}

// avroFieldNames lists a record's field names, for messages.
func avroFieldNames(rec *avro.RecordSchema) string {
	names := make([]string, len(rec.Fields()))
	for i, f := range rec.Fields() {
		names[i] = f.Name()
	}
	return strings.Join(names, ", ")
}

// avroEncoderOf returns the encoder of a field of Avro type s (nullable
// unions first) for values of SQL type t.
func avroEncoderOf(s avro.Schema, t record.Type) avroEncode {
	if u, ok := s.(*avro.UnionSchema); ok {
		types := u.Types()
		branches := make([]avroEncode, len(types))
		for i, bt := range types {
			branches[i] = avroEncoderOf(bt, t)
		}
		return func(w *avro.Writer, v record.Value) error {
			i := unionBranch(types, v)
			if i < 0 {
				return fmt.Errorf("a %s value does not fit %s", v.Kind(), s)
			}
			w.WriteLong(int64(i))
			return branches[i](w, v)
		}
	}
	switch s.Type() {
	case avro.Record, avro.Array:
		// a ROW or ARRAY value: its JSON text, written as the record or array
		enc := avroJSONEncoder(s, t)
		return func(w *avro.Writer, v record.Value) error {
			if v.Kind() != record.String {
				return fmt.Errorf("a %s value is not the JSON text of a %s", v.Kind(), t)
			}
			x, err := parseJSONValue(v.Str())
			if err != nil {
				return fmt.Errorf("the JSON text of a %s: %w", t, err)
			}
			return enc(w, x)
		}
	case avro.Null:
		return func(*avro.Writer, record.Value) error { return nil }
	case avro.Boolean:
		return func(w *avro.Writer, v record.Value) error { w.WriteBool(v.Bool()); return nil }
	case avro.Int:
		switch logicalType(s) {
		case avro.Date:
			return writeDate
		case avro.TimeMillis:
			return timeEncoder(3, func(w *avro.Writer, n int64) { w.WriteInt(int32(n)) })
		}
		return func(w *avro.Writer, v record.Value) error {
			if v.Int() < math.MinInt32 || v.Int() > math.MaxInt32 {
				return fmt.Errorf("%d does not fit an Avro int", v.Int())
			}
			w.WriteInt(int32(v.Int()))
			return nil
		}
	case avro.Long:
		switch {
		case logicalType(s) == avro.TimeMicros:
			return timeEncoder(6, func(w *avro.Writer, n int64) { w.WriteLong(n) })
		case isTimestamp(s) == 1000:
			return func(w *avro.Writer, v record.Value) error {
				if v.Int() > math.MaxInt64/1000 || v.Int() < math.MinInt64/1000 {
					return fmt.Errorf("%s does not fit timestamp-micros", v)
				}
				w.WriteLong(v.Int() * 1000)
				return nil
			}
		}
		return func(w *avro.Writer, v record.Value) error { w.WriteLong(v.Int()); return nil }
	case avro.Double:
		return func(w *avro.Writer, v record.Value) error { w.WriteDouble(doubleOf(v)); return nil }
	case avro.Bytes, avro.Fixed:
		size := -1
		if f, ok := s.(*avro.FixedSchema); ok {
			size = f.Size()
		}
		d := decimalOf(s)
		if d == nil {
			return bytesEncoder(size)
		}
		scale := d.Scale()
		var buf []byte
		return func(w *avro.Writer, v record.Value) error {
			u, vs := v.Decimal()
			if v.Kind() == record.Int {
				u, vs = v.Int(), 0
			}
			u, ok := rescale(u, int(vs), scale)
			if !ok {
				return fmt.Errorf("%s does not fit scale %d", v, scale)
			}
			buf = appendTwosComplement(buf[:0], u)
			if size < 0 {
				w.WriteBytes(buf)
				return nil
			}
			if len(buf) > size {
				return fmt.Errorf("%s does not fit a fixed(%d) decimal", v, size)
			}
			pad := byte(0)
			if u < 0 {
				pad = 0xff
			}
			for range size - len(buf) {
				w.Write([]byte{pad})
			}
			w.Write(buf)
			return nil
		}
	}
	// string (and the text of ROW, ARRAY and other values)
	var buf []byte
	return func(w *avro.Writer, v record.Value) error {
		if v.Kind() == record.String {
			w.WriteString(v.Str())
			return nil
		}
		buf = v.AppendText(buf[:0])
		w.WriteString(string(buf))
		return nil
	}
}

// writeDate writes a TIMESTAMP at midnight UTC (or a value that converts
// to one, such as 'YYYY-MM-DD') as an Avro date, its day since 1970-01-01.
func writeDate(w *avro.Writer, v record.Value) error {
	t, err := record.ToTimestamp(v)
	if err != nil {
		return err
	}
	ms := t.Int()
	if ms%msPerDay != 0 {
		return fmt.Errorf("%s is not a date (midnight UTC)", t)
	}
	days := ms / msPerDay
	if days < math.MinInt32 || days > math.MaxInt32 {
		return fmt.Errorf("%s does not fit an Avro date", t)
	}
	w.WriteInt(int32(days))
	return nil
}

// timeEncoder returns the encoder of a time-millis (digits 3) or
// time-micros (6) field, written by write: a STRING value is the time's
// text ('HH:MM:SS.fff'), a number the count itself.
func timeEncoder(digits int, write func(*avro.Writer, int64)) avroEncode {
	return func(w *avro.Writer, v record.Value) error {
		n := v.Int()
		if v.Kind() == record.String {
			var err error
			if n, err = parseTimeOfDay(v.Str(), digits); err != nil {
				return err
			}
		} else if _, ok := timeOfDay(n, digits); !ok {
			return fmt.Errorf("%d is not a time of day", n)
		}
		write(w, n)
		return nil
	}
}

// bytesEncoder returns the encoder of a bytes field (size -1) or a fixed
// one of size bytes, without a logical type: a STRING value is its bytes'
// base64 text, as a bytes field reads.
func bytesEncoder(size int) avroEncode {
	return func(w *avro.Writer, v record.Value) error {
		if v.Kind() != record.String {
			return fmt.Errorf("a %s value is not the base64 text of bytes", v.Kind())
		}
		b, err := base64.StdEncoding.DecodeString(v.Str())
		if err != nil {
			return fmt.Errorf("the base64 text of bytes: %w", err)
		}
		if size < 0 {
			w.WriteBytes(b)
			return nil
		}
		if len(b) != size {
			return fmt.Errorf("%d bytes do not fit a fixed(%d)", len(b), size)
		}
		w.Write(b)
		return nil
	}
}

// avroJSONEncoder returns the encoder of a parsed JSON value (of a ROW or
// ARRAY column's text) as Avro type s, for values of SQL type t.
func avroJSONEncoder(s avro.Schema, t record.Type) func(*avro.Writer, any) error {
	switch x := s.(type) {
	case *avro.UnionSchema:
		if inner, ok := nullableOf(x); ok {
			null := int64(0)
			if x.Types()[0].Type() != avro.Null {
				null = 1
			}
			enc := avroJSONEncoder(inner, t)
			return func(w *avro.Writer, v any) error {
				if v == nil {
					w.WriteLong(null)
					return nil
				}
				w.WriteLong(1 - null)
				return enc(w, v)
			}
		}
	case *avro.RecordSchema:
		fields := x.Fields()
		keys := make([]string, len(fields))
		encs := make([]func(*avro.Writer, any) error, len(fields))
		for i, f := range fields {
			keys[i] = f.Name()
			ft := record.AnyType
			for _, sf := range t.Fields {
				if sf.Name == f.Name() || avroName(sf.Name) == f.Name() {
					keys[i], ft = sf.Name, sf.Type
					break
				}
			}
			encs[i] = avroJSONEncoder(f.Type(), ft)
		}
		return func(w *avro.Writer, v any) error {
			obj, ok := v.(map[string]any)
			if !ok {
				return fmt.Errorf("%s is not a JSON object", jsonKind(v))
			}
			for i, enc := range encs {
				if err := enc(w, obj[keys[i]]); err != nil {
					return fmt.Errorf("field %s: %w", keys[i], err)
				}
			}
			return nil
		}
	case *avro.ArraySchema:
		elem := record.AnyType
		if t.Elem != nil {
			elem = *t.Elem
		}
		enc := avroJSONEncoder(x.Items(), elem)
		return func(w *avro.Writer, v any) error {
			list, ok := v.([]any)
			if !ok {
				return fmt.Errorf("%s is not a JSON array", jsonKind(v))
			}
			if len(list) > 0 {
				w.WriteLong(int64(len(list)))
				for _, item := range list {
					if err := enc(w, item); err != nil {
						return err
					}
				}
			}
			w.WriteLong(0)
			return nil
		}
	}
	enc := avroEncoderOf(s, t)
	_, union := s.(*avro.UnionSchema)
	return func(w *avro.Writer, v any) error {
		if v == nil && !union && s.Type() != avro.Null {
			return errors.New("null where the schema allows none")
		}
		val, err := jsonScalar(v, t)
		if err != nil {
			return err
		}
		return enc(w, val)
	}
}

// unionBranch returns the branch of a union a value is written in, or -1:
// a TIMESTAMP a long or a date, a STRING a string, bytes, a record, an
// array (the JSON text of a ROW or ARRAY) or a time.
func unionBranch(types avro.Schemas, v record.Value) int {
	var want func(avro.Type, avro.LogicalType) bool
	switch v.Kind() {
	case record.Null:
		want = func(k avro.Type, _ avro.LogicalType) bool { return k == avro.Null }
	case record.Bool:
		want = func(k avro.Type, _ avro.LogicalType) bool { return k == avro.Boolean }
	case record.Int:
		want = func(k avro.Type, _ avro.LogicalType) bool {
			return k == avro.Long || k == avro.Int || k == avro.Double || k == avro.Bytes
		}
	case record.Float:
		want = func(k avro.Type, _ avro.LogicalType) bool { return k == avro.Double }
	case record.Decimal:
		if _, ok := exactFloat(v); ok {
			want = func(k avro.Type, _ avro.LogicalType) bool { return k == avro.Double || k == avro.Bytes }
		} else {
			want = func(k avro.Type, _ avro.LogicalType) bool { return k == avro.String || k == avro.Bytes }
		}
	case record.Timestamp:
		want = func(k avro.Type, l avro.LogicalType) bool { return k == avro.Long || l == avro.Date }
	default:
		// a string, or the JSON text of a record or array
		want = func(k avro.Type, l avro.LogicalType) bool {
			return k == avro.String || k == avro.Bytes || k == avro.Record || k == avro.Array ||
				l == avro.TimeMillis || l == avro.TimeMicros
		}
	}
	for i, t := range types {
		if want(t.Type(), logicalType(t)) {
			return i
		}
	}
	return -1
}

// rescale changes the scale of an unscaled decimal, exactly or not at all.
func rescale(u int64, from, to int) (int64, bool) {
	for ; from < to; from++ {
		if u > math.MaxInt64/10 || u < math.MinInt64/10 {
			return 0, false
		}
		u *= 10
	}
	for ; from > to; from-- {
		if u%10 != 0 {
			return 0, false
		}
		u /= 10
	}
	return u, true
}

// appendTwosComplement appends the shortest big-endian two's complement of u.
func appendTwosComplement(b []byte, u int64) []byte {
	for i := minBytes(u) - 1; i >= 0; i-- {
		b = append(b, byte(u>>(8*i)))
	}
	return b
}

// minBytes is the fewest bytes holding u in two's complement.
func minBytes(u int64) int {
	n := 1
	for u > 127 || u < -128 {
		u >>= 8
		n++
	}
	return n
}

// AppendRow appends the wire-format encoding of row.
func (e *avroEncoder) AppendRow(b []byte, row []record.Value) ([]byte, error) {
	b = appendWireHeader(b, e.id)
	e.w.Reset(nil)
	for i, enc := range e.fields {
		slot := i
		if e.slots != nil {
			slot = e.slots[i]
		}
		var v record.Value
		if slot >= 0 && slot < len(row) {
			v = row[slot]
		}
		if err := enc(e.w, v); err != nil {
			return b, fmt.Errorf("column %s: %w", e.names[i], err)
		}
	}
	if e.w.Error != nil {
		err := e.w.Error
		e.w.Error = nil
		return b, err
	}
	return append(b, e.w.Buffer()...), nil
}

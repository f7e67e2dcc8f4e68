package kafka

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/bufbuild/protocompile"
	"github.com/twmb/franz-go/pkg/sr"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/sluicesql/sluice/connector/codec"
	"github.com/sluicesql/sluice/record"
)

// protoFormat is '<n>.format'='protobuf': Protobuf values in the Confluent
// wire format, whose header carries the message indexes of the value's
// message type in its schema after the schema id.
type protoFormat struct{}

// protoSchemaFile is the name a registry schema is compiled under; its
// references keep the names it imports them by.
const protoSchemaFile = "registry-schema.proto"

// parseProto compiles a Protobuf schema of the registry with the schemas it
// references (fetched from the registry) and the well-known types.
func parseProto(ctx context.Context, reg *registry, s sr.Schema) (protoreflect.FileDescriptor, error) {
	if s.Type != sr.TypeProtobuf {
		return nil, fmt.Errorf("the schema is %s, not Protobuf", s.Type)
	}
	files := map[string]string{protoSchemaFile: s.Schema}
	maps.Copy(files, confluentFiles)
	if err := reg.references(ctx, s, files); err != nil {
		return nil, err
	}
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
		Accessor: protocompile.SourceAccessorFromMap(files),
	})}
	compiled, err := c.Compile(ctx, protoSchemaFile)
	if err != nil {
		return nil, fmt.Errorf("compiling the Protobuf schema: %w", err)
	}
	return compiled[0], nil
}

// protoFile returns the compiled schema with id.
func protoFile(ctx context.Context, reg *registry, id int) (protoreflect.FileDescriptor, error) {
	p, err := reg.parse(ctx, "protobuf", id, func(s sr.Schema) (any, error) { return parseProto(ctx, reg, s) })
	if err != nil {
		return nil, err
	}
	return p.(protoreflect.FileDescriptor), nil
}

// firstMessage returns the schema's first message: the one a subject's
// values are read as at plan time, and the one the index [0] names.
func firstMessage(fd protoreflect.FileDescriptor) (protoreflect.MessageDescriptor, error) {
	if fd.Messages().Len() == 0 {
		return nil, errors.New("the Protobuf schema defines no message")
	}
	return fd.Messages().Get(0), nil
}

func (protoFormat) columns(ctx context.Context, reg *registry, s sr.Schema) ([]record.Field, error) {
	fd, err := parseProto(ctx, reg, s)
	if err != nil {
		return nil, err
	}
	md, err := firstMessage(fd)
	if err != nil {
		return nil, err
	}
	return protoColumns(md, map[protoreflect.FullName]bool{})
}

// protoColumns returns the columns of a message: one per field, typed by
// protoType. visiting holds the messages being mapped, to refuse
// recursive ones.
func protoColumns(md protoreflect.MessageDescriptor, visiting map[protoreflect.FullName]bool) ([]record.Field, error) {
	if visiting[md.FullName()] {
		return nil, fmt.Errorf("message %s is recursive, which has no SQL type", md.FullName())
	}
	visiting[md.FullName()] = true
	defer delete(visiting, md.FullName())
	fields := md.Fields()
	cols := make([]record.Field, 0, fields.Len())
	for i := range fields.Len() {
		fd := fields.Get(i)
		t, err := protoType(fd, visiting)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", fd.Name(), err)
		}
		cols = append(cols, record.Field{Name: string(fd.Name()), Type: t, NotNull: !fd.HasPresence() || fd.IsList() || fd.IsMap()})
	}
	return cols, nil
}

// protoType maps a field to a SQL type: a repeated field ARRAY of its
// element; a map STRING (its JSON object); otherwise protoKindType.
func protoType(fd protoreflect.FieldDescriptor, visiting map[protoreflect.FullName]bool) (record.Type, error) {
	switch {
	case fd.IsMap():
		return record.StringType, nil
	case fd.IsList():
		elem, err := protoKindType(fd, visiting)
		return record.ArrayType(elem), err
	}
	return protoKindType(fd, visiting)
}

// protoKindType maps a field's kind to a SQL type: bool BOOLEAN; int32,
// sint32 and sfixed32 INTEGER; the other integers BIGINT; float and double
// DOUBLE; string, bytes (base64) and enum (the value's name) STRING;
// google.protobuf.Timestamp TIMESTAMP; a wrapper (Int64Value, ...) its
// value's type; google.protobuf.Value no type (ANY); another message ROW.
func protoKindType(fd protoreflect.FieldDescriptor, visiting map[protoreflect.FullName]bool) (record.Type, error) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return record.BooleanType, nil
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return record.IntegerType, nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return record.BigintType, nil
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return record.DoubleType, nil
	case protoreflect.StringKind, protoreflect.BytesKind, protoreflect.EnumKind:
		return record.StringType, nil
	case protoreflect.MessageKind:
		md := fd.Message()
		switch md.FullName() {
		case timestampName:
			return record.TimestampType, nil
		case valueName:
			return record.AnyType, nil
		case decimalName:
			return decimalType(fd)
		}
		if isWrapper(md) {
			return protoKindType(md.Fields().Get(0), visiting)
		}
		cols, err := protoColumns(md, visiting)
		if err != nil {
			return record.Type{}, err
		}
		return record.RowType(cols...), nil
	}
	return record.Type{}, fmt.Errorf("Protobuf %s fields are not supported", fd.Kind())
}

// The well-known messages read as TIMESTAMP and as a value of any type.
const (
	timestampName = "google.protobuf.Timestamp"
	valueName     = "google.protobuf.Value"
)

// isWrapper reports whether md is one of the well-known wrappers of a
// scalar (google.protobuf.Int64Value, StringValue, ...): a nullable scalar.
func isWrapper(md protoreflect.MessageDescriptor) bool {
	return md.ParentFile().Path() == "google/protobuf/wrappers.proto"
}

func (protoFormat) decoder(reg *registry, subject string, schema *record.Schema, text textDecoder) slotDecoder {
	return &protoDecoder{reg: reg, subject: subject, schema: schema, text: &protoText{text: text}, progs: map[int]*protoSchemaProgs{}}
}

// protoText reads string fields: repeated values without allocating,
// invalid UTF-8 as the source's invalid.utf8 says.
type protoText struct {
	text   textDecoder
	intern codec.Interner
}

// str returns b as a string.
func (t *protoText) str(b []byte) (string, error) {
	if s, ok := t.intern.String(b); ok {
		return s, nil
	}
	return t.text.str(b)
}

// protoDecoder decodes Confluent wire-format Protobuf values: the schema
// is fetched by the id each message carries and compiled once, and the
// message the header's indexes name fills the source's columns by field
// name. Each partition reader owns one: it keeps the scratch space of
// nested values.
//
// A column the writer's message lacks takes the value the subject's latest
// schema (the reader's) gives its field when a message lacks it (proto3:
// the zero value of a scalar, an empty list or map, NULL for a field with
// presence), so a message written before a field was added reads as one
// written after it without the field.
type protoDecoder struct {
	reg     *registry
	subject string
	schema  *record.Schema
	text    *protoText
	progs   map[int]*protoSchemaProgs
	latest  protoreflect.MessageDescriptor // the reader's message, once a writer lacked a column

	// the program of the previous value, reused while values keep their
	// schema id and message indexes (as they usually do)
	lastID   int
	lastPath []byte
	last     *protoMessage
}

// protoSchemaProgs are the decoding programs of one schema id, by the
// message indexes' bytes in the header.
type protoSchemaProgs struct {
	file   protoreflect.FileDescriptor
	byPath map[string]*protoMessage
}

// decodeInto implements slotDecoder.
func (d *protoDecoder) decodeInto(data []byte, dst []record.Value) error {
	id, body, err := wireID(data)
	if err != nil {
		return err
	}
	path, body, err := messageIndexes(body)
	if err != nil {
		return fmt.Errorf("protobuf (schema %d): %w", id, err)
	}
	m, err := d.program(id, path)
	if err != nil {
		return err
	}
	for _, def := range m.defaults {
		if def.slot < len(dst) {
			dst[def.slot] = def.value
		}
	}
	if err := m.decode(body, dst, d.text); err != nil {
		return fmt.Errorf("protobuf (schema %d, message %s): %w", id, m.name, err)
	}
	return nil
}

// messageIndexes returns the bytes of the message indexes that follow the
// schema id (zig-zag varints: a count, then the indexes; a count of 0 is
// the first message) and the bytes after them.
func messageIndexes(b []byte) (path, rest []byte, err error) {
	n, k := binary.Varint(b)
	if k <= 0 || n < 0 || n > 100 {
		return nil, nil, errors.New("bad message indexes after the schema id")
	}
	end := k
	for range n {
		i, k := binary.Varint(b[end:])
		if k <= 0 || i < 0 {
			return nil, nil, errors.New("bad message indexes after the schema id")
		}
		end += k
	}
	return b[:end], b[end:], nil
}

// program returns the decoding program of the message path names in schema
// id, compiling it once.
func (d *protoDecoder) program(id int, path []byte) (*protoMessage, error) {
	if d.last != nil && id == d.lastID && bytes.Equal(path, d.lastPath) {
		return d.last, nil
	}
	m, err := d.compiled(id, path)
	if err == nil {
		d.lastID, d.lastPath, d.last = id, append(d.lastPath[:0], path...), m
	}
	return m, err
}

// compiled returns the program of the message path names in schema id,
// compiling it once.
func (d *protoDecoder) compiled(id int, path []byte) (*protoMessage, error) {
	sp := d.progs[id]
	if sp == nil {
		fd, err := protoFile(context.Background(), d.reg, id)
		if err != nil {
			return nil, err
		}
		sp = &protoSchemaProgs{file: fd, byPath: map[string]*protoMessage{}}
		d.progs[id] = sp
	}
	if m, ok := sp.byPath[string(path)]; ok {
		return m, nil
	}
	md, err := messageAt(sp.file, path)
	if err != nil {
		return nil, fmt.Errorf("protobuf (schema %d): %w", id, err)
	}
	m, err := compileMessage(md, d.schema, map[protoreflect.FullName]bool{})
	if err != nil {
		return nil, fmt.Errorf("protobuf (schema %d, message %s): %w", id, md.FullName(), err)
	}
	if err := d.addDefaults(m); err != nil {
		return nil, fmt.Errorf("protobuf (schema %d, message %s): %w", id, md.FullName(), err)
	}
	sp.byPath[string(path)] = m
	return m, nil
}

// addDefaults gives m the values of the columns its message lacks that
// are fields of the reader's message (the first of the subject's latest
// schema, whose fields are the source's columns).
func (d *protoDecoder) addDefaults(m *protoMessage) error {
	missing := unfilled(d.schema.Len(), func(slot int) bool {
		return slices.ContainsFunc(m.fields, func(f protoField) bool { return f.slot == slot })
	})
	if len(missing) == 0 {
		return nil
	}
	if d.latest == nil {
		ctx := context.Background()
		ss, ok, err := d.reg.readerSchema(ctx, d.subject)
		if err != nil {
			return fmt.Errorf("the message lacks columns, and the reader schema for their values: %w", err)
		}
		if !ok {
			return nil // no reader schema: the columns stay NULL
		}
		fd, err := protoFile(ctx, d.reg, ss.ID)
		if err != nil {
			return err
		}
		if d.latest, err = firstMessage(fd); err != nil {
			return err
		}
	}
	for _, slot := range missing {
		if fd := d.latest.Fields().ByName(protoreflect.Name(d.schema.Name(slot))); fd != nil {
			m.defaults = append(m.defaults, slotDefault{slot: slot, value: absentValue(fd)})
		}
	}
	return nil
}

// absentValue is the value of a field a message lacks: an empty map or
// list, NULL for a field with presence, else the type's zero value.
func absentValue(fd protoreflect.FieldDescriptor) record.Value {
	switch {
	case fd.IsMap():
		return record.StringValue("{}")
	case fd.IsList():
		return record.StringValue("[]")
	case fd.HasPresence():
		return record.NullValue()
	}
	return protoZero(fd)
}

// messageAt returns the message the indexes name: the top-level message
// of the first index, its nested message of the second, and so on.
func messageAt(fd protoreflect.FileDescriptor, path []byte) (protoreflect.MessageDescriptor, error) {
	n, k := binary.Varint(path)
	if n == 0 {
		return firstMessage(fd)
	}
	msgs := fd.Messages()
	var md protoreflect.MessageDescriptor
	for range n {
		i, m := binary.Varint(path[k:])
		k += m
		if int(i) >= msgs.Len() {
			return nil, fmt.Errorf("message index %d: the schema has %d messages there", i, msgs.Len())
		}
		md = msgs.Get(int(i))
		msgs = md.Messages()
	}
	return md, nil
}

// protoMessage decodes one message type: its fields fill slots of the
// values it is given (a source's columns, or its own fields for a nested
// message, whose value is then its JSON text).
type protoMessage struct {
	name   protoreflect.FullName
	fields []protoField
	byNum  map[protowire.Number]int // field number -> index in fields
	dense  []int16                  // the same for numbers below denseFields (-1: none), without hashing
	vals   []record.Value           // a nested message's field values
	wkt    int                      // wktTimestamp, wktWrapper or 0

	defaults []slotDefault // the source's columns the message lacks, with the reader's values
}

// The well-known messages read as scalars.
const (
	wktTimestamp = 1 + iota
	wktWrapper
	wktValue
	wktDecimal
)

// protoField is one field of a message and the slot it fills (-1: read
// and skipped).
type protoField struct {
	name   string
	num    protowire.Number
	typ    string // its Protobuf type, for messages: int64, repeated string, shop.Addr, map<string, int64>
	kind   protoreflect.Kind
	wire   protowire.Type // the wire type of its values
	list   bool
	isMap  bool
	slot   int
	zero   record.Value  // the value when the message lacks the field
	msg    *protoMessage // a message field's (a map's entry's) program
	enum   protoreflect.EnumValueDescriptors
	nested bool // a ROW or ARRAY value: its JSON text is embedded as is

	// per message decoded
	seen bool
	raw  []byte // a message field's bytes (occurrences concatenated, which merges them)
	buf  []byte // a list's or map's JSON text
}

// compileMessage compiles the decoding of md into schema's slots (nil
// schema: into the message's own vals, for a nested message).
func compileMessage(md protoreflect.MessageDescriptor, schema *record.Schema, visiting map[protoreflect.FullName]bool) (*protoMessage, error) {
	if visiting[md.FullName()] {
		return nil, fmt.Errorf("message %s is recursive, which has no SQL type", md.FullName())
	}
	visiting[md.FullName()] = true
	defer delete(visiting, md.FullName())
	fds := md.Fields()
	m := &protoMessage{name: md.FullName(), byNum: make(map[protowire.Number]int, fds.Len())}
	switch {
	case md.FullName() == timestampName:
		m.wkt = wktTimestamp
	case isWrapper(md):
		m.wkt = wktWrapper
	case md.FullName() == valueName:
		// Read whole by anyValue: its Struct and ListValue contain
		// Values again.
		m.wkt = wktValue
		return m, nil
	case md.FullName() == decimalName:
		m.wkt = wktDecimal
		return m, nil
	}
	if schema == nil {
		m.vals = make([]record.Value, fds.Len())
	}
	for i := range fds.Len() {
		fd := fds.Get(i)
		f := protoField{name: string(fd.Name()), num: fd.Number(), typ: protoTypeName(fd), kind: fd.Kind(), wire: scalarWire(fd.Kind()),
			list: fd.IsList(), isMap: fd.IsMap(), slot: i}
		if schema != nil {
			if slot, ok := schema.Lookup(f.name); ok {
				f.slot = slot
			} else {
				f.slot = -1
			}
		}
		t, err := protoType(fd, visiting)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", fd.Name(), err)
		}
		f.nested = t.Nested() && !f.isMap
		if f.isMap {
			f.nested = true
		}
		if f.isMap {
			if f.msg, err = compileMessage(fd.Message(), nil, visiting); err != nil {
				return nil, err
			}
		}
		f.zero = absentValue(fd)
		if f.kind == protoreflect.EnumKind {
			f.enum = fd.Enum().Values()
		}
		if f.kind == protoreflect.MessageKind && !f.isMap {
			if f.msg, err = compileMessage(fd.Message(), nil, visiting); err != nil {
				return nil, err
			}
		}
		if f.kind == protoreflect.GroupKind {
			return nil, fmt.Errorf("field %s: groups are not supported", fd.Name())
		}
		m.byNum[f.num] = len(m.fields)
		if f.num < denseFields {
			for len(m.dense) <= int(f.num) {
				m.dense = append(m.dense, -1)
			}
			m.dense[f.num] = int16(len(m.fields))
		}
		m.fields = append(m.fields, f)
	}
	return m, nil
}

// protoTypeName names a field's Protobuf type, for messages: int64,
// repeated string, shop.Addr, map<string, int64>.
func protoTypeName(fd protoreflect.FieldDescriptor) string {
	if fd.IsMap() {
		return fmt.Sprintf("map<%s, %s>", protoTypeName(fd.MapKey()), protoTypeName(fd.MapValue()))
	}
	name := fd.Kind().String()
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		name = string(fd.Message().FullName())
	case protoreflect.EnumKind:
		name = string(fd.Enum().FullName())
	}
	if fd.IsList() {
		return "repeated " + name
	}
	return name
}

// failed returns the error of reading the field, naming it and its type.
func (f *protoField) failed(err error) error {
	return fmt.Errorf("field %s (%d, %s): %w", f.name, f.num, f.typ, err)
}

// wireNames names the wire types, for messages.
var wireNames = map[protowire.Type]string{
	protowire.VarintType:     "a varint (wire type 0)",
	protowire.Fixed64Type:    "a 64-bit value (wire type 1)",
	protowire.BytesType:      "a length-delimited value (wire type 2)",
	protowire.StartGroupType: "a group start (wire type 3)",
	protowire.EndGroupType:   "a group end (wire type 4)",
	protowire.Fixed32Type:    "a 32-bit value (wire type 5)",
}

// wireName names wire type typ.
func wireName(typ protowire.Type) string {
	if n, ok := wireNames[typ]; ok {
		return n
	}
	return fmt.Sprintf("wire type %d", typ)
}

// protoZero is the value of a proto3 scalar field the message lacks.
func protoZero(fd protoreflect.FieldDescriptor) record.Value {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return record.BoolValue(false)
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return record.FloatValue(0)
	case protoreflect.StringKind, protoreflect.BytesKind:
		return record.StringValue("")
	case protoreflect.EnumKind:
		if vs := fd.Enum().Values(); vs.Len() > 0 {
			return record.StringValue(string(vs.Get(0).Name()))
		}
		return record.StringValue("0")
	}
	return record.IntValue(0)
}

// denseFields bounds the field numbers looked up in a slice.
const denseFields = 128

// fieldIndex returns the index of the field numbered num.
func (m *protoMessage) fieldIndex(num protowire.Number) (int, bool) {
	if num < denseFields {
		if int(num) < len(m.dense) && m.dense[num] >= 0 {
			return int(m.dense[num]), true
		}
		return 0, false
	}
	i, ok := m.byNum[num]
	return i, ok
}

// decode reads one message into dst's slots.
func (m *protoMessage) decode(b []byte, dst []record.Value, text *protoText) error {
	for i := range m.fields {
		f := &m.fields[i]
		f.seen, f.raw, f.buf = false, f.raw[:0], f.buf[:0]
		if f.slot >= 0 && f.slot < len(dst) {
			dst[f.slot] = f.zero
		}
	}
	size := len(b)
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("the field tag at byte %d: %w", size-len(b), protowire.ParseError(n))
		}
		b = b[n:]
		i, ok := m.fieldIndex(num)
		if !ok {
			// A field the schema does not have (a newer writer's): skipped.
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return fmt.Errorf("field %d (not in the schema, %s): %w", num, wireName(typ), protowire.ParseError(n))
			}
			b = b[n:]
			continue
		}
		f := &m.fields[i]
		if !wireFits(f, typ) {
			// Protobuf's own decoders skip it as an unknown field, which
			// would read the field's default instead of its value.
			return f.failed(fmt.Errorf("expected %s, got %s", wireName(f.wire), wireName(typ)))
		}
		var err error
		if n, err = m.field(f, typ, b, dst, text); err != nil {
			return f.failed(err)
		}
		b = b[n:]
	}
	for i := range m.fields {
		f := &m.fields[i]
		if !f.seen || f.slot < 0 || f.slot >= len(dst) {
			continue
		}
		switch {
		case f.isMap:
			dst[f.slot] = record.StringValue("{" + string(f.buf) + "}")
		case f.list:
			dst[f.slot] = record.StringValue("[" + string(f.buf) + "]")
		case f.msg != nil:
			v, err := f.msg.value(f.raw, text)
			if err != nil {
				return f.failed(err)
			}
			dst[f.slot] = v
		}
	}
	return nil
}

// field reads one occurrence of f from b (after its tag) and returns the
// bytes it took.
func (m *protoMessage) field(f *protoField, typ protowire.Type, b []byte, dst []record.Value, text *protoText) (int, error) {
	f.seen = true
	switch {
	case f.isMap:
		entry, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return 0, protowire.ParseError(n)
		}
		if err := f.msg.decode(entry, f.msg.vals, text); err != nil {
			return 0, err
		}
		if len(f.buf) > 0 {
			f.buf = append(f.buf, ',')
		}
		key := f.msg.vals[0]
		if key.Kind() == record.String {
			f.buf = key.AppendJSON(f.buf)
		} else {
			f.buf = record.AppendJSONString(f.buf, key.String())
		}
		f.buf = append(f.buf, ':')
		f.buf = appendNestedJSON(f.buf, f.msg.vals[1], f.msg.fields[1].nested)
		return n, nil
	case f.list && typ == protowire.BytesType && f.kind != protoreflect.StringKind && f.kind != protoreflect.BytesKind && f.kind != protoreflect.MessageKind:
		// packed scalars
		packed, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return 0, protowire.ParseError(n)
		}
		for len(packed) > 0 {
			v, k, err := f.scalar(scalarWire(f.kind), packed, text)
			if err != nil {
				return 0, err
			}
			f.appendElem(v)
			packed = packed[k:]
		}
		return n, nil
	case f.kind == protoreflect.MessageKind:
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return 0, protowire.ParseError(n)
		}
		if f.list {
			e, err := f.msg.value(v, text)
			if err != nil {
				return 0, err
			}
			f.appendElem(e)
			return n, nil
		}
		// Repeated occurrences of a message field merge: decoding their
		// concatenation does that.
		f.raw = append(f.raw, v...)
		return n, nil
	}
	v, n, err := f.scalar(typ, b, text)
	if err != nil {
		return 0, err
	}
	if f.list {
		f.appendElem(v)
	} else if f.slot >= 0 && f.slot < len(dst) {
		dst[f.slot] = v
	}
	return n, nil
}

// appendElem appends one element to a list's JSON text.
func (f *protoField) appendElem(v record.Value) {
	if len(f.buf) > 0 {
		f.buf = append(f.buf, ',')
	}
	f.buf = appendNestedJSON(f.buf, v, f.msg != nil && f.msg.wkt == 0)
}

// appendNestedJSON appends v as JSON: the text of a nested value as is.
func appendNestedJSON(b []byte, v record.Value, nested bool) []byte {
	if nested && v.Kind() == record.String {
		return append(b, v.Str()...)
	}
	return v.AppendJSON(b)
}

// value decodes a nested message: a Timestamp's TIMESTAMP, a wrapper's
// value, another message's JSON object of all its fields.
func (m *protoMessage) value(b []byte, text *protoText) (record.Value, error) {
	switch m.wkt {
	case wktValue:
		return anyValue(b)
	case wktDecimal:
		return decimalValue(b)
	}
	if err := m.decode(b, m.vals, text); err != nil {
		return record.Value{}, err
	}
	switch m.wkt {
	case wktTimestamp:
		secs, nanos := m.vals[0].Int(), m.vals[1].Int()
		if secs > math.MaxInt64/1000 || secs < math.MinInt64/1000 {
			return record.Value{}, fmt.Errorf("timestamp of %d seconds is out of range", secs)
		}
		return record.TimestampValue(secs*1000 + floorDiv(nanos, 1e6)), nil
	case wktWrapper:
		return m.vals[0], nil
	}
	out := []byte{'{'}
	for i := range m.fields {
		if i > 0 {
			out = append(out, ',')
		}
		out = record.AppendJSONString(out, m.fields[i].name)
		out = append(out, ':')
		out = appendNestedJSON(out, m.vals[i], m.fields[i].nested)
	}
	return record.StringValue(string(append(out, '}'))), nil
}

// anyValue reads a google.protobuf.Value: null NULL, a bool BOOLEAN, a
// string STRING, a number an INTEGER when it is a whole number of at most
// 2^53 (as JSON numbers are read), else a FLOAT; a struct or list its JSON
// text.
func anyValue(b []byte) (record.Value, error) {
	var v structpb.Value
	if err := proto.Unmarshal(b, &v); err != nil {
		return record.Value{}, err
	}
	switch k := v.Kind.(type) {
	case *structpb.Value_BoolValue:
		return record.BoolValue(k.BoolValue), nil
	case *structpb.Value_StringValue:
		if !utf8.ValidString(k.StringValue) {
			return record.Value{}, errors.New("invalid UTF-8 in a google.protobuf.Value")
		}
		return record.StringValue(k.StringValue), nil
	case *structpb.Value_NumberValue:
		f := k.NumberValue
		if f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
			return record.IntValue(int64(f)), nil
		}
		return record.FloatValue(f), nil
	case *structpb.Value_StructValue, *structpb.Value_ListValue:
		text, err := protojson.Marshal(&v)
		if err != nil {
			return record.Value{}, err
		}
		return record.StringValue(string(text)), nil
	}
	return record.NullValue(), nil
}

// wireFits reports whether a field of f's kind may arrive in wire type typ
// (a repeated scalar also packed, as bytes).
func wireFits(f *protoField, typ protowire.Type) bool {
	return typ == f.wire || (f.list && typ == protowire.BytesType)
}

// scalarWire returns the wire type of a kind's values.
func scalarWire(k protoreflect.Kind) protowire.Type {
	switch k {
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
		return protowire.Fixed32Type
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
		return protowire.Fixed64Type
	case protoreflect.StringKind, protoreflect.BytesKind, protoreflect.MessageKind:
		return protowire.BytesType
	}
	return protowire.VarintType
}

// scalar reads one scalar of f's kind in wire type typ (its kind's, which
// the caller checked): the wire type's bits or bytes, then their value as
// the kind reads them.
func (f *protoField) scalar(typ protowire.Type, b []byte, text *protoText) (record.Value, int, error) {
	var (
		u     uint64
		bytes []byte
		n     int
	)
	switch typ {
	case protowire.VarintType:
		u, n = protowire.ConsumeVarint(b)
	case protowire.Fixed32Type:
		var x uint32
		x, n = protowire.ConsumeFixed32(b)
		u = uint64(x)
	case protowire.Fixed64Type:
		u, n = protowire.ConsumeFixed64(b)
	case protowire.BytesType:
		bytes, n = protowire.ConsumeBytes(b)
	default:
		return record.Value{}, 0, fmt.Errorf("unexpected %s", wireName(typ))
	}
	if n < 0 {
		return record.Value{}, 0, protowire.ParseError(n)
	}
	switch f.kind {
	case protoreflect.BoolKind:
		return record.BoolValue(u != 0), n, nil
	case protoreflect.Int32Kind, protoreflect.Sfixed32Kind:
		return record.IntValue(int64(int32(u))), n, nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return record.IntValue(int64(uint32(u))), n, nil
	case protoreflect.Sint32Kind:
		return record.IntValue(int64(int32(protowire.DecodeZigZag(u & math.MaxUint32)))), n, nil
	case protoreflect.Sint64Kind:
		return record.IntValue(protowire.DecodeZigZag(u)), n, nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		if u > math.MaxInt64 {
			return record.Value{}, 0, fmt.Errorf("%s %d exceeds BIGINT", f.kind, u)
		}
		return record.IntValue(int64(u)), n, nil
	case protoreflect.FloatKind:
		return record.FloatValue(float64(math.Float32frombits(uint32(u)))), n, nil
	case protoreflect.DoubleKind:
		return record.FloatValue(math.Float64frombits(u)), n, nil
	case protoreflect.EnumKind:
		if ev := f.enum.ByNumber(protoreflect.EnumNumber(int32(u))); ev != nil {
			return record.StringValue(string(ev.Name())), n, nil
		}
		return record.StringValue(strconv.FormatInt(int64(int32(u)), 10)), n, nil
	case protoreflect.BytesKind:
		return record.StringValue(base64.StdEncoding.EncodeToString(bytes)), n, nil
	case protoreflect.StringKind:
		s, err := text.str(bytes)
		if err != nil {
			return record.Value{}, 0, err
		}
		return record.StringValue(s), n, nil
	}
	return record.IntValue(int64(u)), n, nil // int64, sfixed64
}

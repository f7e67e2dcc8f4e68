package kafka

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bufbuild/protocompile"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/record"
)

// protoTradeSchema is a Protobuf schema with the types Sluice maps.
const protoTradeSchema = `syntax = "proto3";
package shop;

import "google/protobuf/timestamp.proto";
import "google/protobuf/wrappers.proto";
import "google/protobuf/struct.proto";

message Trade {
  int64 id = 1;
  int32 qty = 2;
  string trader = 3;
  double ratio = 4;
  bool ok = 5;
  google.protobuf.Timestamp ts = 6;
  optional string note = 7;
  Addr addr = 8;
  repeated string tags = 9;
  repeated int32 nums = 10;
  Side side = 11;
  map<string, int64> counts = 12;
  google.protobuf.Int64Value limit = 13;
  bytes blob = 14;
  uint32 u = 15;
  sint64 s = 16;
  repeated Addr stops = 17;
  float f = 18;
  fixed64 fx = 19;
  google.protobuf.Value any = 20;

  message Addr {
    string city = 1;
    int32 zip = 2;
  }
  enum Side {
    BUY = 0;
    SELL = 1;
  }
}

message Other {
  string name = 1;
}
`

// emptyRegistry returns a fake registry and a client of it.
func emptyRegistry(t testing.TB) (*srfake.Registry, *registry) {
	t.Helper()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	client, err := newRegistry(reg.URL(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return reg, client
}

// protoRegistry returns a fake registry with protoTradeSchema registered
// under subject, its id, and a client of it.
func protoRegistry(t testing.TB, subject string) (*srfake.Registry, int, *registry) {
	t.Helper()
	reg := srfake.New()
	t.Cleanup(reg.Close)
	id, _, err := reg.RegisterSchema(subject, sr.Schema{Schema: protoTradeSchema, Type: sr.TypeProtobuf})
	if err != nil {
		t.Fatal(err)
	}
	client, err := newRegistry(reg.URL(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	return reg, id, client
}

// compileProto compiles schema text (importing the well-known types) in a
// test.
func compileProto(t testing.TB, text string) protoreflect.FileDescriptor {
	t.Helper()
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
		Accessor: protocompile.SourceAccessorFromMap(map[string]string{"t.proto": text}),
	})}
	files, err := c.Compile(context.Background(), "t.proto")
	if err != nil {
		t.Fatal(err)
	}
	return files[0]
}

// protoWire returns m in the Confluent wire format of id with the message
// indexes (nil: the first message).
func protoWire(t testing.TB, id int, index []int, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if index == nil {
		index = []int{0}
	}
	h, _ := new(sr.ConfluentHeader).AppendEncode(nil, id, index)
	return append(h, b...)
}

// newTrade returns trade i as a dynamic message of the Trade schema.
func newTrade(fd protoreflect.FileDescriptor, i int) *dynamicpb.Message {
	md := fd.Messages().ByName("Trade")
	m := dynamicpb.NewMessage(md)
	f := md.Fields().ByName
	m.Set(f("id"), protoreflect.ValueOfInt64(int64(i)))
	m.Set(f("qty"), protoreflect.ValueOfInt32(int32(i*10)))
	m.Set(f("trader"), protoreflect.ValueOfString("T"+strconv.Itoa(i%3)))
	m.Set(f("ratio"), protoreflect.ValueOfFloat64(float64(i)/4))
	m.Set(f("ok"), protoreflect.ValueOfBool(i%2 == 0))
	ts := dynamicpb.NewMessage(f("ts").Message())
	ts.Set(ts.Descriptor().Fields().ByName("seconds"), protoreflect.ValueOfInt64(1705276800+int64(i)))
	ts.Set(ts.Descriptor().Fields().ByName("nanos"), protoreflect.ValueOfInt32(int32(i)*1000000+999))
	m.Set(f("ts"), protoreflect.ValueOfMessage(ts))
	if i == 0 {
		m.Set(f("note"), protoreflect.ValueOfString("first"))
	}
	addr := dynamicpb.NewMessage(f("addr").Message())
	addr.Set(addr.Descriptor().Fields().ByName("city"), protoreflect.ValueOfString("Paris"))
	addr.Set(addr.Descriptor().Fields().ByName("zip"), protoreflect.ValueOfInt32(int32(75000+i)))
	m.Set(f("addr"), protoreflect.ValueOfMessage(addr))
	tags := m.Mutable(f("tags")).List()
	tags.Append(protoreflect.ValueOfString("a"))
	tags.Append(protoreflect.ValueOfString("b\"c"))
	nums := m.Mutable(f("nums")).List()
	for k := range 3 {
		nums.Append(protoreflect.ValueOfInt32(int32(i + k)))
	}
	m.Set(f("side"), protoreflect.ValueOfEnum(protoreflect.EnumNumber(i%2)))
	m.Mutable(f("counts")).Map().Set(protoreflect.ValueOfString("x").MapKey(), protoreflect.ValueOfInt64(int64(i)))
	if i%2 == 1 {
		limit := dynamicpb.NewMessage(f("limit").Message())
		limit.Set(limit.Descriptor().Fields().ByName("value"), protoreflect.ValueOfInt64(int64(-i)))
		m.Set(f("limit"), protoreflect.ValueOfMessage(limit))
	}
	m.Set(f("blob"), protoreflect.ValueOfBytes([]byte{0, 1, 2, byte(i)}))
	m.Set(f("u"), protoreflect.ValueOfUint32(4000000000))
	m.Set(f("s"), protoreflect.ValueOfInt64(-int64(i)))
	stops := m.Mutable(f("stops")).List()
	stop := dynamicpb.NewMessage(f("stops").Message())
	stop.Set(stop.Descriptor().Fields().ByName("city"), protoreflect.ValueOfString("Lyon"))
	stops.Append(protoreflect.ValueOfMessage(stop))
	m.Set(f("f"), protoreflect.ValueOfFloat32(1.5))
	m.Set(f("fx"), protoreflect.ValueOfUint64(uint64(i)))
	var val *structpb.Value
	switch i % 4 {
	case 0:
		val = structpb.NewNumberValue(float64(i))
	case 1:
		val = structpb.NewStringValue("x")
	case 2:
		val = structpb.NewNumberValue(2.5)
	}
	if val != nil {
		b, _ := proto.Marshal(val)
		v := dynamicpb.NewMessage(f("any").Message())
		if err := proto.Unmarshal(b, v); err != nil {
			panic(err)
		}
		m.Set(f("any"), protoreflect.ValueOfMessage(v))
	}
	return m
}

// protoProps returns a Kafka endpoint's WITH properties in the protobuf
// format with the registry at url.
func protoProps(brokers []string, url, name string, kv ...string) map[string]string {
	p := map[string]string{name + ".bootstrap.servers": brokers[0], name + ".format": "protobuf", name + ".schema.registry.url": url}
	for i := 0; i+1 < len(kv); i += 2 {
		p[name+"."+kv[i]] = kv[i+1]
	}
	return p
}

// TestProtobufRoundTrip: a source in the protobuf format takes its columns
// from the registry (nested messages, repeated fields, maps, enums, the
// well-known Timestamp and wrappers), decodes the wire format, and a sink
// in the protobuf format registers a schema derived from the columns and
// writes values that read back identical.
func TestProtobufRoundTrip(t *testing.T) {
	brokers := startCluster(t, "trades", "copy")
	reg, id, _ := protoRegistry(t, "trades-value")
	fd := compileProto(t, protoTradeSchema)
	var msgs []Message
	for i := range 10 {
		msgs = append(msgs, Message{Value: protoWire(t, id, nil, newTrade(fd, i))})
	}
	produce(t, brokers, "trades", msgs)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	src, sch := openWithSchema(t, "trades", protoProps(brokers, reg.URL(), "trades", "stop.at", "end"))
	if d := sch.Describe(); d != "registry, subject trades-value version 1 id 1" {
		t.Errorf("EXPLAIN's schema origin %q", d)
	}
	wantTypes := []struct {
		col, typ string
		notNull  bool
	}{
		{"id", "BIGINT", true}, {"qty", "INTEGER", true}, {"trader", "STRING", true}, {"ratio", "DOUBLE", true},
		{"ok", "BOOLEAN", true}, {"ts", "TIMESTAMP", false}, {"note", "STRING", false},
		{"addr", "ROW<city STRING, zip INTEGER>", false}, {"tags", "ARRAY<STRING>", true}, {"nums", "ARRAY<INTEGER>", true},
		{"side", "STRING", true}, {"counts", "STRING", true}, {"limit", "BIGINT", false}, {"blob", "STRING", true},
		{"u", "BIGINT", true}, {"s", "BIGINT", true}, {"stops", "ARRAY<ROW<city STRING, zip INTEGER>>", true},
		{"f", "DOUBLE", true}, {"fx", "BIGINT", true}, {"any", "ANY", false},
	}
	if sch.Columns.Len() != len(wantTypes) {
		t.Fatalf("columns %s", sch.Columns)
	}
	for i, w := range wantTypes {
		f := sch.Columns.Field(i)
		if f.Name != w.col || f.Type.String() != w.typ || f.NotNull != w.notNull {
			t.Errorf("column %d: %s %s (NOT NULL %v), want %s %s (%v)", i, f.Name, f.Type, f.NotNull, w.col, w.typ, w.notNull)
		}
	}
	cols := record.NewSchemaOf(sch.Columns.Fields()...)
	first, byID := readByID(t, src, cols, 10)
	checks := []struct {
		id        int64
		col, want string
	}{
		{3, "qty", "30"}, {3, "trader", "T0"}, {3, "ratio", "0.75"}, {3, "ok", "false"},
		{3, "ts", "2024-01-15T00:00:03.003Z"}, {3, "note", "NULL"}, {0, "note", "first"},
		{3, "addr", `{"city":"Paris","zip":75003}`}, {3, "tags", `["a","b\"c"]`}, {3, "nums", "[3,4,5]"},
		{3, "side", "SELL"}, {2, "side", "BUY"}, {3, "counts", `{"x":3}`}, {3, "limit", "-3"}, {2, "limit", "NULL"},
		{3, "blob", "AAECAw=="}, {3, "u", "4000000000"}, {3, "s", "-3"}, {3, "stops", `[{"city":"Lyon","zip":0}]`},
		{3, "f", "1.5"}, {3, "fx", "3"}, {4, "any", "4"}, {5, "any", "x"}, {6, "any", "2.5"}, {7, "any", "NULL"},
	}
	for _, c := range checks {
		slot, _ := cols.Lookup(c.col)
		if s := byID[c.id][slot].String(); s != c.want {
			t.Errorf("record %d %s = %s, want %s", c.id, c.col, s, c.want)
		}
	}

	// Write what was read to "copy" in the protobuf format and read it back.
	sink, err := NewSink("copy", protoProps(brokers, reg.URL(), "copy"))
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, ctx, sink, cols, nil, first)
	// The sink's schema has the source's types: nested messages, repeated
	// fields, Timestamp, Value, optional scalars.
	back, backSchema := openWithSchema(t, "copy", protoProps(brokers, reg.URL(), "copy", "stop.at", "end"))
	if got, want := schemaText(backSchema.Columns), schemaText(sch.Columns); got != want {
		t.Errorf("the sink's schema reads back as\n %s\nwant\n %s", got, want)
	}
	readBack(t, back, backSchema, cols, first)
}

// TestProtobufMessageIndexes: a value whose header names the schema's
// second message is read as that message, its fields filling the columns
// of the same names.
func TestProtobufMessageIndexes(t *testing.T) {
	_, id, client := protoRegistry(t, "t-value")
	fd := compileProto(t, protoTradeSchema)
	cols := record.NewSchema("name", "city")
	d := protoFormat{}.decoder(client, "t-value", cols, textDecoder{})
	other := dynamicpb.NewMessage(fd.Messages().ByName("Other"))
	other.Set(other.Descriptor().Fields().ByName("name"), protoreflect.ValueOfString("o"))
	addr := dynamicpb.NewMessage(fd.Messages().ByName("Trade").Messages().ByName("Addr"))
	addr.Set(addr.Descriptor().Fields().ByName("city"), protoreflect.ValueOfString("Nice"))
	for _, c := range []struct {
		data []byte
		want string
	}{
		{protoWire(t, id, []int{1}, other), "o,NULL"},
		{protoWire(t, id, []int{0, 1}, addr), "NULL,Nice"}, // Trade.CountsEntry (of the map) is 0
	} {
		dst := make([]record.Value, 2)
		if err := d.decodeInto(c.data, dst); err != nil {
			t.Fatal(err)
		}
		if got := dst[0].String() + "," + dst[1].String(); got != c.want {
			t.Errorf("decoded %s, want %s", got, c.want)
		}
	}
	dst := make([]record.Value, 2)
	if err := d.decodeInto(protoWire(t, id, []int{5}, other), dst); err == nil || !strings.Contains(err.Error(), "message index 5") {
		t.Errorf("a message index out of range: %v", err)
	}
}

// TestProtobufReferences: a schema importing another subject's schema
// (a registry reference) compiles with it.
func TestProtobufReferences(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	if _, _, err := reg.RegisterSchema("money", sr.Schema{Type: sr.TypeProtobuf,
		Schema: "syntax = \"proto3\";\npackage common;\nmessage Money { string currency = 1; int64 cents = 2; }\n"}); err != nil {
		t.Fatal(err)
	}
	id, _, err := reg.RegisterSchema("orders-value", sr.Schema{Type: sr.TypeProtobuf,
		Schema:     "syntax = \"proto3\";\nimport \"common/money.proto\";\nmessage Order { string id = 1; common.Money total = 2; }\n",
		References: []sr.SchemaReference{{Name: "common/money.proto", Subject: "money", Version: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	client, err := newRegistry(reg.URL(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := client.latest(context.Background(), "orders-value")
	if err != nil {
		t.Fatal(err)
	}
	cols, err := protoFormat{}.columns(context.Background(), client, ss.Schema)
	if err != nil {
		t.Fatal(err)
	}
	if got := record.NewSchemaOf(cols...).String(); !strings.Contains(got, "total ROW<currency STRING, cents BIGINT>") {
		t.Errorf("columns %s", got)
	}
	// a value: id "o1", total {currency "EUR", cents 250}
	value := appendWireHeader(nil, id)
	value = append(value, 0, 0x0a, 2, 'o', '1', 0x12, 8, 0x0a, 3, 'E', 'U', 'R', 0x10, 0xfa, 0x01)
	dst := make([]record.Value, 2)
	if err := (protoFormat{}).decoder(client, "t-value", record.NewSchemaOf(cols...), textDecoder{}).decodeInto(value, dst); err != nil {
		t.Fatal(err)
	}
	if dst[1].String() != `{"currency":"EUR","cents":250}` {
		t.Errorf("total = %s", dst[1])
	}
}

// TestProtobufDeadLetters: a value that is not in the wire format, one
// that is truncated, one naming an unknown schema and one with invalid
// UTF-8 are dead letters with their original bytes and a reason; the
// others are read.
func TestProtobufDeadLetters(t *testing.T) {
	brokers := startCluster(t, "trades")
	reg, id, _ := protoRegistry(t, "trades-value")
	fd := compileProto(t, protoTradeSchema)
	good := protoWire(t, id, nil, newTrade(fd, 1))
	truncated := append(append([]byte(nil), good...), 0x1a, 10, 'x') // a string of 10 bytes with 1 left
	badUTF8 := append(appendWireHeader(nil, id), 0, 0x1a, 2, 0xff, 0xfe)
	unknownID := append(appendWireHeader(nil, 99), 0, 0x08, 1)
	header := append(appendWireHeader(nil, id), 0)
	wrongWire := append(header[:len(header):len(header)], 0x18, 7)                                                  // trader (3) as a varint
	nestedWrong := append(header[:len(header):len(header)], 0x42, 2, 0x12, 0)                                       // addr (8) with zip (2) as bytes
	bigUint := append(header[:len(header):len(header)], 0x99, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff) // fx (19) fixed64 2^64-1
	badTag := append(header[:len(header):len(header)], 0x08, 1, 0x80)                                               // a tag cut short after id
	unknownCut := append(header[:len(header):len(header)], 0xa2, 0x06, 5, 'a')                                      // field 100, 5 bytes with 1 there
	produce(t, brokers, "trades", []Message{
		{Value: good}, {Value: []byte(`{"id":2}`)}, {Value: truncated}, {Value: badUTF8}, {Value: unknownID},
		{Value: wrongWire}, {Value: nestedWrong}, {Value: bigUint}, {Value: badTag}, {Value: unknownCut},
		{Value: protoWire(t, id, nil, newTrade(fd, 5))},
	})
	src, err := NewSource("trades", protoProps(brokers, reg.URL(), "trades", "stop.at", "end"))
	if err != nil {
		t.Fatal(err)
	}
	var dlq mem.DeadLetters
	got := readAll(t, src, record.NewSchema("id", "trader", "addr"), &dlq)
	if len(got) != 2 {
		t.Errorf("read %d records, want 2", len(got))
	}
	letters := dlq.All()
	wants := []struct {
		raw    []byte
		reason string
	}{
		{[]byte(`{"id":2}`), "not Schema Registry wire format"},
		{truncated, "protobuf (schema 1, message shop.Trade): field trader (3, string): unexpected EOF"},
		{badUTF8, "field trader (3, string): invalid UTF-8"},
		{unknownID, "schema 99"},
		{wrongWire, "field trader (3, string): expected a length-delimited value (wire type 2), got a varint (wire type 0)"},
		{nestedWrong, "field addr (8, shop.Trade.Addr): field zip (2, int32): expected a varint (wire type 0), got a length-delimited value (wire type 2)"},
		{bigUint, "field fx (19, fixed64): fixed64 18446744073709551615 exceeds BIGINT"},
		{badTag, "the field tag at byte 2: unexpected EOF"},
		{unknownCut, "field 100 (not in the schema, a length-delimited value (wire type 2)): unexpected EOF"},
	}
	if len(letters) != len(wants) {
		t.Fatalf("dead letters %+v", letters)
	}
	for i, w := range wants {
		if string(letters[i].Raw) != string(w.raw) || !strings.Contains(letters[i].Reason, w.reason) {
			t.Errorf("dead letter %d: %q %q, want %q and a reason with %q", i, letters[i].Raw, letters[i].Reason, w.raw, w.reason)
		}
	}
}

// TestProtobufErrors: the options' errors and schemas without a SQL type.
func TestProtobufErrors(t *testing.T) {
	for _, c := range []struct {
		props map[string]string
		want  string
	}{
		{map[string]string{"t.format": "protobuf"}, `'t.schema.registry.url': not set: 't.format'='protobuf' reads its schemas`},
		{map[string]string{"t.key.format": "protobuf"}, `'t.schema.registry.url': not set: 't.key.format'='protobuf'`},
		{map[string]string{"t.format": "xml"}, `valid values: json, string, avro, protobuf`},
	} {
		if _, err := NewSource("t", c.props); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.props, err, c.want)
		}
	}
	_, client := emptyRegistry(t)
	for _, c := range []struct{ schema, want string }{
		{"syntax = \"proto3\";\nmessage Node { string v = 1; repeated Node kids = 2; }", "field kids: message Node is recursive"},
		{"syntax = \"proto3\";\nmessage M { strin v = 1; }", "compiling the Protobuf schema"},
		{"syntax = \"proto3\";\nenum E { A = 0; }", "defines no message"},
	} {
		_, err := protoFormat{}.columns(context.Background(), client, sr.Schema{Schema: c.schema, Type: sr.TypeProtobuf})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.schema, err, c.want)
		}
	}
}

// FuzzProtobufDecode: no input panics the decoder, and a value the
// reference implementation (dynamicpb) reads is read too, with the same
// scalar values.
func FuzzProtobufDecode(f *testing.F) {
	_, id, client := protoRegistry(f, "t-value")
	fd := compileProto(f, protoTradeSchema)
	for i := range 4 {
		b, _ := proto.Marshal(newTrade(fd, i))
		f.Add(b)
	}
	f.Add([]byte{0x0a, 0x80})
	f.Add([]byte{0x52, 3, 1, 2, 3, 0x50, 7})
	md := fd.Messages().ByName("Trade")
	cols, err := protoColumns(md, map[protoreflect.FullName]bool{})
	if err != nil {
		f.Fatal(err)
	}
	schema := record.NewSchemaOf(cols...)
	d := protoFormat{}.decoder(client, "t-value", schema, textDecoder{})
	header := append(appendWireHeader(nil, id), 0)
	f.Fuzz(func(t *testing.T, body []byte) {
		dst := make([]record.Value, schema.Len())
		err := d.decodeInto(append(header[:len(header):len(header)], body...), dst)
		m := dynamicpb.NewMessage(md)
		refErr := func() (err error) {
			// dynamicpb panics on some map entries (a map entry whose key
			// has the value's wire type): count that as refusing them.
			defer func() {
				if recover() != nil {
					err = errors.New("dynamicpb panicked")
				}
			}()
			return proto.Unmarshal(body, m)
		}()
		if err != nil {
			// dynamicpb skips a field of another wire type as unknown,
			// reading its default: Sluice refuses it.
			if refErr == nil && !strings.Contains(err.Error(), "exceeds") && !strings.Contains(err.Error(), "out of range") &&
				!strings.Contains(err.Error(), "(wire type") {
				t.Fatalf("dynamicpb reads %x, Sluice: %v", body, err)
			}
			return
		}
		if refErr != nil {
			return // Sluice reads it (dynamicpb refuses a required-field or similar check)
		}
		for _, name := range []string{"id", "qty", "trader", "ok", "u", "s"} {
			slot, _ := schema.Lookup(name)
			v := m.Get(md.Fields().ByName(protoreflect.Name(name)))
			var want string
			switch x := v.Interface().(type) {
			case string:
				want = x
			default:
				want = v.String()
			}
			if got := dst[slot].String(); got != want {
				t.Fatalf("%x: %s = %s, dynamicpb %s", body, name, got, want)
			}
		}
	})
}

// TestRegistryCompatibility: a sink whose schema the subject refuses (409)
// stops before writing, naming the subject, its compatibility level and the
// registry's reasons; with auto.register.schemas false a sink only looks its
// schema up, and one the subject lacks is an error.
func TestRegistryCompatibility(t *testing.T) {
	brokers := startCluster(t, "out")
	reg := srfake.New()
	defer reg.Close()
	owned := record.NewSchemaOf(record.Field{Name: "id", Type: record.StringType, NotNull: true})
	if _, _, err := reg.RegisterSchema("out-value", sr.Schema{Type: sr.TypeProtobuf, Schema: protoSchemaOf("out", owned)}); err != nil {
		t.Fatal(err)
	}
	reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/subjects/out-value/versions":
			w.WriteHeader(http.StatusConflict)
			w.Write([]byte(`{"error_code":409,"message":"Schema being registered is incompatible with an earlier schema for subject \"out-value\""}`))
			return true
		case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/compatibility/subjects/out-value/"):
			w.Write([]byte(`{"is_compatible":false,"messages":["field id: TYPE_CHANGED"]}`))
			return true
		}
		return false
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cols := record.NewSchemaOf(record.Field{Name: "id", Type: record.BigintType, NotNull: true})
	sink, err := NewSink("out", protoProps(brokers, reg.URL(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	err = sink.Open(ctx, cols, nil)
	for _, want := range []string{`subject "out-value" refuses the output's schema`, "compatibility BACKWARD", "field id: TYPE_CHANGED", "int64 id = 1;"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("an incompatible schema: %v, want %q", err, want)
		}
	}

	reg.ClearInterceptors()
	sink, err = NewSink("out", protoProps(brokers, reg.URL(), "out", "auto.register.schemas", "false"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Open(ctx, cols, nil); err == nil || !strings.Contains(err.Error(), "auto.register.schemas is false") {
		t.Errorf("an unregistered schema with auto.register.schemas false: %v", err)
	}
	if _, ok := reg.GetSchema("out-value", 2); ok {
		t.Error("auto.register.schemas false registered a version")
	}
	// The subject's own schema is found, and written with its id.
	cols = owned
	sink, err = NewSink("out", protoProps(brokers, reg.URL(), "out", "auto.register.schemas", "false"))
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, ctx, sink, cols, nil, []got{{values: []record.Value{record.StringValue("a")}}})
	if len(sink.subjects) != 1 || sink.subjects[0].ID != 1 || sink.subjects[0].Version != 1 {
		t.Errorf("wrote with %+v, want id 1 version 1", sink.subjects)
	}
}

// TestProtobufDecimals: confluent.type.Decimal (as Confluent's serializers
// and Kafka Connect write decimals) is DECIMAL(p, s) with the precision
// and scale of the field's confluent.field_meta params, else of no type
// (each value keeps its scale); a sink's DECIMAL column is written so and
// reads back as the same DECIMAL.
func TestProtobufDecimals(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	text := `syntax = "proto3";
import "confluent/meta.proto";
import "confluent/type/decimal.proto";
message Pay {
  confluent.type.Decimal amount = 1 [(confluent.field_meta) = { params: [ { key: "precision", value: "10" }, { key: "scale", value: "2" } ] }];
  confluent.type.Decimal free = 2;
}
`
	id, _, err := reg.RegisterSchema("pay-value", sr.Schema{Schema: text, Type: sr.TypeProtobuf})
	if err != nil {
		t.Fatal(err)
	}
	client, err := newRegistry(reg.URL(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ss, err := client.latest(ctx, "pay-value")
	if err != nil {
		t.Fatal(err)
	}
	cols, err := protoFormat{}.columns(ctx, client, ss.Schema)
	if err != nil {
		t.Fatal(err)
	}
	schema := record.NewSchemaOf(cols...)
	if got := schemaText(schema); got != "amount DECIMAL(10,2), free" {
		t.Errorf("columns %s", got)
	}
	// amount: 12345 at scale 2; free: -5 at scale 1.
	value := append(appendWireHeader(nil, id), 0, 0x0a, 8, 0x0a, 2, 0x30, 0x39, 0x10, 10, 0x18, 2, 0x12, 5, 0x0a, 1, 0xfb, 0x18, 1)
	dst := make([]record.Value, 2)
	if err := (protoFormat{}).decoder(client, "t-value", schema, textDecoder{}).decodeInto(value, dst); err != nil {
		t.Fatal(err)
	}
	if dst[0].String() != "123.45" || dst[0].Kind() != record.Decimal || dst[1].String() != "-0.5" {
		t.Errorf("decoded %v %v", dst[0], dst[1])
	}
	// The sink's schema of a DECIMAL column compiles, reads back as it,
	// and its values decode as written.
	out := record.NewSchemaOf(record.Field{Name: "amount", Type: record.DecimalType(10, 2)})
	enc, oss, err := protoFormat{}.encoder(ctx, client, "out-value", "out", out)
	if err != nil {
		t.Fatal(err)
	}
	back, err := protoFormat{}.columns(ctx, client, oss.Schema)
	if err != nil {
		t.Fatal(err)
	}
	if got := schemaText(record.NewSchemaOf(back...)); got != "amount DECIMAL(10,2)" {
		t.Errorf("the sink's schema reads back as %s", got)
	}
	for _, v := range []record.Value{record.DecimalValue(-12345, 2), record.DecimalValue(7, 1), record.IntValue(3)} {
		b, err := enc.AppendRow(nil, []record.Value{v})
		if err != nil {
			t.Fatal(err)
		}
		got := make([]record.Value, 1)
		if err := (protoFormat{}).decoder(client, "t-value", out, textDecoder{}).decodeInto(b, got); err != nil {
			t.Fatal(err)
		}
		if c, err := record.Compare(got[0], v); err != nil || c != 0 || got[0].Kind() != record.Decimal {
			t.Errorf("wrote %v, read %v (%s)", v, got[0], got[0].Kind())
		}
	}
}

// TestUseLatestVersion: with use.latest.version a sink registers nothing
// and writes with its subject's latest schema: an Avro record's fields by
// column name (a field without a column must be nullable, a column without
// a field is an error), a JSON Schema's id; Protobuf refuses it.
func TestUseLatestVersion(t *testing.T) {
	brokers := startCluster(t, "out", "js")
	reg := srfake.New()
	defer reg.Close()
	avroID, _, err := reg.RegisterSchema("out-value", sr.Schema{Type: sr.TypeAvro, Schema: `{"type":"record","name":"Out","fields":[
		{"name":"id","type":"long"},{"name":"extra","type":["null","int"],"default":null},{"name":"name","type":["null","string"],"default":null}]}`})
	if err != nil {
		t.Fatal(err)
	}
	jsID, _, err := reg.RegisterSchema("js-value", sr.Schema{Type: sr.TypeJSON, Schema: `{"type":"object","properties":{"id":{"type":"integer"}}}`})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	props := func(name, format string) map[string]string {
		return map[string]string{name + ".bootstrap.servers": brokers[0], name + ".format": format, name + ".schema.registry.url": reg.URL(),
			name + ".use.latest.version": "true", name + ".auto.register.schemas": "false"}
	}
	cols := record.NewSchemaOf(record.Field{Name: "name", Type: record.StringType}, record.Field{Name: "id", Type: record.BigintType, NotNull: true})
	sink, err := NewSink("out", props("out", "avro"))
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, ctx, sink, cols, nil, []got{{values: []record.Value{record.StringValue("a"), record.IntValue(1)}},
		{values: []record.Value{record.NullValue(), record.IntValue(2)}}})
	if sink.subjects[0].ID != avroID {
		t.Errorf("wrote with schema %d, want the latest, %d", sink.subjects[0].ID, avroID)
	}
	if _, ok := reg.GetSchema("out-value", 2); ok {
		t.Error("use.latest.version registered a version")
	}
	src, err := NewSource("out", map[string]string{"out.bootstrap.servers": brokers[0], "out.format": "avro", "out.schema.registry.url": reg.URL(), "out.stop.at": "end"})
	if err != nil {
		t.Fatal(err)
	}
	read := readAll(t, src, record.NewSchema("id", "extra", "name"), nil)
	var rows []string
	for _, g := range read {
		rows = append(rows, g.values[0].String()+","+g.values[1].String()+","+g.values[2].String())
	}
	slices.Sort(rows)
	if strings.Join(rows, ";") != "1,NULL,a;2,NULL,NULL" {
		t.Errorf("read back %v", rows)
	}
	for _, c := range []struct {
		cols *record.Schema
		want string
	}{
		{record.NewSchemaOf(record.Field{Name: "id", Type: record.BigintType}, record.Field{Name: "more", Type: record.StringType}),
			"output column more is not a field of the schema (fields: id, extra, name)"},
		{record.NewSchemaOf(record.Field{Name: "name", Type: record.StringType}), `field "id" is not nullable and no output column has its name`},
	} {
		sink, err := NewSink("out", props("out", "avro"))
		if err != nil {
			t.Fatal(err)
		}
		if err := sink.Open(ctx, c.cols, nil); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `subject "out-value" version 1`) {
			t.Errorf("%s: %v, want %q", c.cols, err, c.want)
		}
	}

	sink, err = NewSink("js", props("js", "json_sr"))
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, ctx, sink, record.NewSchema("id"), nil, []got{{values: []record.Value{record.IntValue(7)}}})
	if sink.subjects[0].ID != jsID {
		t.Errorf("json_sr wrote with schema %d, want %d", sink.subjects[0].ID, jsID)
	}
	sink, err = NewSink("out", props("out", "protobuf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Open(ctx, cols, nil); err == nil || !strings.Contains(err.Error(), "use.latest.version is not supported with the protobuf format") {
		t.Errorf("protobuf with use.latest.version: %v", err)
	}
}

// TestProtobufNestedSink: a sink writes ROW columns as nested messages and
// arrays as repeated fields (NULL as empty), so they read back with their
// types and values; an array of arrays is its JSON text.
func TestProtobufNestedSink(t *testing.T) {
	_, client := emptyRegistry(t)
	ctx := context.Background()
	addr := record.RowType(record.Field{Name: "zip", Type: record.IntegerType, NotNull: true}, record.Field{Name: "city", Type: record.StringType},
		record.Field{Name: "since", Type: record.TimestampType}, record.Field{Name: "fee", Type: record.DecimalType(5, 2)},
		record.Field{Name: "tags", Type: record.ArrayType(record.StringType), NotNull: true})
	cols := record.NewSchemaOf(
		record.Field{Name: "addr", Type: addr},
		record.Field{Name: "stops", Type: record.ArrayType(addr), NotNull: true},
		record.Field{Name: "maybe", Type: record.ArrayType(record.BigintType)},
		record.Field{Name: "grid", Type: record.ArrayType(record.ArrayType(record.BigintType)), NotNull: true},
	)
	enc, ss, err := protoFormat{}.encoder(ctx, client, "n-value", "n", cols)
	if err != nil {
		t.Fatal(err)
	}
	back, err := protoFormat{}.columns(ctx, client, ss.Schema)
	if err != nil {
		t.Fatalf("%v\n%s", err, ss.Schema.Schema)
	}
	want := "addr ROW<zip INTEGER, city STRING, since TIMESTAMP, fee DECIMAL(5,2), tags ARRAY<STRING>>, " +
		"stops ARRAY<ROW<zip INTEGER, city STRING, since TIMESTAMP, fee DECIMAL(5,2), tags ARRAY<STRING>>> NOT NULL, maybe ARRAY<BIGINT> NOT NULL, grid STRING NOT NULL"
	if got := schemaText(record.NewSchemaOf(back...)); got != want {
		t.Errorf("read back as\n %s\nwant\n %s\n%s", got, want, ss.Schema.Schema)
	}
	a := `{"zip":75001,"city":"Paris","since":"2024-01-15T00:00:00.003Z","fee":1.50,"tags":["x","y"]}`
	rows := [][]record.Value{
		{record.StringValue(a), record.StringValue("[" + a + `,{"zip":2,"city":null,"since":null,"fee":null,"tags":[]}]`),
			record.StringValue("[1,2]"), record.StringValue("[[1],[2,3]]")},
		{record.NullValue(), record.StringValue("[]"), record.NullValue(), record.StringValue("[]")},
	}
	wants := [][]string{
		{a, "[" + a + `,{"zip":2,"city":null,"since":null,"fee":null,"tags":[]}]`, "[1,2]", "[[1],[2,3]]"},
		{"NULL", "[]", "[]", "[]"},
	}
	dec := protoFormat{}.decoder(client, "t-value", record.NewSchemaOf(back...), textDecoder{})
	for i, row := range rows {
		b, err := enc.AppendRow(nil, row)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]record.Value, len(back))
		if err := dec.decodeInto(b, got); err != nil {
			t.Fatal(err)
		}
		for j, w := range wants[i] {
			if got[j].String() != w {
				t.Errorf("row %d column %s: %s, want %s", i, back[j].Name, got[j], w)
			}
		}
	}
	// A nested message longer than 127 bytes (a longer length prefix).
	long := `{"zip":1,"city":"` + strings.Repeat("x", 300) + `","since":null,"fee":null,"tags":[]}`
	b, err := enc.AppendRow(nil, []record.Value{record.StringValue(long), record.StringValue("[" + long + "]"), {}, record.StringValue("[]")})
	if err != nil {
		t.Fatal(err)
	}
	got := make([]record.Value, len(back))
	if err := dec.decodeInto(b, got); err != nil || got[0].String() != long || got[1].String() != "["+long+"]" {
		t.Errorf("a long nested message read back as %v, %v", got[0], err)
	}
	if _, err := enc.AppendRow(nil, []record.Value{record.StringValue(`{"zip":"x"}`), record.StringValue("[]"), {}, record.StringValue("[]")}); err == nil {
		t.Error("a ROW whose zip is not a number was written")
	}
}

// TestProtobufEvolution: a message written before fields were added to the
// subject reads them as a message of the latest schema without them does
// (proto3: a scalar's zero value, an empty list, NULL for an optional
// field); it was a dead letter (column m is NOT NULL and has no value).
func TestProtobufEvolution(t *testing.T) {
	_, src, schema := evolvedProtoTopic(t, 0, 1)
	var dlq mem.DeadLetters
	var rows []string
	for _, g := range readAll(t, src, schema.Columns, &dlq) {
		rows = append(rows, fmt.Sprintf("%d:%s/%q/%s/%s", g.offset, g.values[0], g.values[1].Str(), g.values[2], g.values[3]))
	}
	slices.Sort(rows)
	if want := []string{`0:1/""/[]/NULL`, `1:2/""/[]/NULL`}; !slices.Equal(rows, want) || len(dlq.All()) > 0 {
		t.Errorf("rows %v, dead letters %+v; want %v and none", rows, dlq.All(), want)
	}
}

// TestProtobufEvolutionRegistryDown: a registry that fails to give the
// subject's latest schema (the reader's, an error other than not found)
// when a message of an older writer schema comes makes that message a
// dead letter with the registry's error; the next one, the registry
// answering again, reads the added fields as the latest schema has them.
// The failure does not leave the columns NULL for the rest of the run.
func TestProtobufEvolutionRegistryDown(t *testing.T) {
	reg, src, schema := evolvedProtoTopic(t, 0, 0)
	var mu sync.Mutex
	down := 1
	reg.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if r.Method != http.MethodGet || r.URL.Path != "/subjects/ev-value/versions/latest" || down == 0 {
			return false
		}
		down--
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"error_code":50001,"message":"Error in the backend data store"}`))
		return true
	})
	var dlq mem.DeadLetters
	var rows []string
	for _, g := range readAll(t, src, schema.Columns, &dlq) {
		rows = append(rows, fmt.Sprintf("%d:%s/%q/%s/%s", g.offset, g.values[0], g.values[1].Str(), g.values[2], g.values[3]))
	}
	if want := []string{`1:2/""/[]/NULL`}; !slices.Equal(rows, want) {
		t.Errorf("rows %v, want %v", rows, want)
	}
	if dead := dlq.All(); len(dead) != 1 || dead[0].Offset != 0 || !strings.Contains(dead[0].Reason, "Error in the backend data store") {
		t.Errorf("dead letters %+v, want offset 0's, with the registry's error", dead)
	}
}

// evolvedProtoTopic registers two versions of subject ev-value (the second
// adds fields m, l and o), writes to topic ev, in one partition, a message
// of n = 1, 2, ... of each version given (0: the first), and returns the
// registry with a source of the topic (stop.at=end) and its schema (the
// latest version's).
func evolvedProtoTopic(t *testing.T, versions ...int) (*srfake.Registry, *Source, connector.Schema) {
	t.Helper()
	brokers := startCluster(t, "ev")
	reg := srfake.New()
	t.Cleanup(reg.Close)
	texts := []string{
		"syntax = \"proto3\";\npackage p;\nmessage R { int64 n = 1; }\n",
		"syntax = \"proto3\";\npackage p;\nmessage R { int64 n = 1; string m = 2; repeated int64 l = 3; optional string o = 4; }\n",
	}
	var ids []int
	for _, text := range texts {
		id, _, err := reg.RegisterSchema("ev-value", sr.Schema{Schema: text, Type: sr.TypeProtobuf})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	var msgs []Message
	for i, v := range versions {
		m := dynamicpb.NewMessage(compileProto(t, texts[v]).Messages().ByName("R"))
		m.Set(m.Descriptor().Fields().ByName("n"), protoreflect.ValueOfInt64(int64(i+1)))
		msgs = append(msgs, Message{Key: []byte("k"), Value: protoWire(t, ids[v], nil, m)})
	}
	produce(t, brokers, "ev", msgs)
	src, schema := openWithSchema(t, "ev", protoProps(brokers, reg.URL(), "ev", "stop.at", "end"))
	return reg, src, schema
}

package kafka

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/record"
)

// fakeRegistry is an in-process Schema Registry: the REST subset Sluice
// uses (register a subject's schema, its latest version, a schema by id).
type fakeRegistry struct {
	mu       sync.Mutex
	schemas  []string         // by id-1
	subjects map[string][]int // subject -> ids of its versions
	user     string           // basic auth "user:password", when set
	// latestDown is how many requests for a subject's latest schema
	// fail with 500 (a registry that does not answer for a while)
	latestDown int
}

func newFakeRegistry(t testing.TB, user string) (*fakeRegistry, string) {
	f := &fakeRegistry{subjects: map[string][]int{}, user: user}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func (f *fakeRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.user != "" {
		u, p, ok := r.BasicAuth()
		if !ok || u+":"+p != f.user {
			http.Error(w, `{"error_code":401,"message":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == http.MethodPost && len(parts) == 3 && parts[0] == "subjects" && parts[2] == "versions":
		var body struct {
			Schema string `json:"schema"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		json.NewEncoder(w).Encode(map[string]int{"id": f.add(parts[1], body.Schema)})
	case r.Method == http.MethodGet && len(parts) == 4 && parts[0] == "subjects" && parts[3] == "latest" && f.latestDown > 0:
		f.latestDown--
		w.WriteHeader(http.StatusInternalServerError)
		json.NewEncoder(w).Encode(map[string]any{"error_code": 50001, "message": "Error in the backend data store"})
	case r.Method == http.MethodGet && len(parts) == 4 && parts[0] == "subjects" && parts[3] == "latest":
		ids := f.subjects[parts[1]]
		if len(ids) == 0 {
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(map[string]any{"error_code": 40401, "message": "Subject '" + parts[1] + "' not found."})
			return
		}
		id := ids[len(ids)-1]
		json.NewEncoder(w).Encode(map[string]any{"subject": parts[1], "version": len(ids), "id": id, "schema": f.schemas[id-1]})
	case r.Method == http.MethodGet && len(parts) == 3 && parts[0] == "schemas" && parts[1] == "ids":
		id, _ := strconv.Atoi(parts[2])
		if id < 1 || id > len(f.schemas) {
			w.WriteHeader(http.StatusNotFound)
			json.NewEncoder(w).Encode(map[string]any{"error_code": 40403, "message": "Schema not found"})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"schema": f.schemas[id-1]})
	default:
		http.Error(w, "not implemented: "+r.Method+" "+r.URL.Path, http.StatusNotFound)
	}
}

// add registers schema under subject, returning its id (the existing one
// for a schema already registered).
func (f *fakeRegistry) add(subject, schema string) int {
	id := 0
	for i, s := range f.schemas {
		if s == schema {
			id = i + 1
		}
	}
	if id == 0 {
		f.schemas = append(f.schemas, schema)
		id = len(f.schemas)
	}
	for _, have := range f.subjects[subject] {
		if have == id {
			return id
		}
	}
	f.subjects[subject] = append(f.subjects[subject], id)
	return id
}

// avroTradeSchema is an Avro schema with the logical types Sluice maps.
const avroTradeSchema = `{"type":"record","name":"Trade","fields":[
 {"name":"id","type":"long"},
 {"name":"qty","type":"int"},
 {"name":"trader","type":"string"},
 {"name":"price","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},
 {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"ts_us","type":{"type":"long","logicalType":"timestamp-micros"}},
 {"name":"note","type":["null","string"],"default":null},
 {"name":"ok","type":"boolean"},
 {"name":"ratio","type":"double"},
 {"name":"addr","type":{"type":"record","name":"Addr","fields":[{"name":"city","type":"string"},{"name":"zip","type":"int"}]}},
 {"name":"extra","type":"string","default":""}
]}`

// wire returns v encoded with schema in the Confluent wire format of id.
func wire(t testing.TB, schema avro.Schema, id int, v any) []byte {
	t.Helper()
	b, err := avro.Marshal(schema, v)
	if err != nil {
		t.Fatal(err)
	}
	return append(binary.BigEndian.AppendUint32([]byte{0}, uint32(id)), b...)
}

// TestAvroRoundTrip: a source in the avro format takes its columns from
// the registry (decimal, timestamps, nullable, nested), decodes the wire
// format, and a sink in the avro format registers the output schema and
// writes values that read back identical.
func TestAvroRoundTrip(t *testing.T) {
	brokers := startCluster(t, "trades", "copy")
	reg, url := newFakeRegistry(t, "sr:secret")
	schema := avro.MustParse(avroTradeSchema)
	id := reg.add("trades-value", avroTradeSchema)
	note := "first"
	var msgs []Message
	for i := range 20 {
		rec := map[string]any{
			"id": int64(i), "qty": int32(i * 10), "trader": "T" + strconv.Itoa(i%3),
			"price": mustRat(t, strconv.Itoa(100+i)+".25"), "ts": time.UnixMilli(1705276800000 + int64(i)).UTC(),
			"ts_us": time.UnixMicro(1705276800000123 + int64(i)*1000).UTC(), "ok": i%2 == 0, "ratio": float64(i) / 4,
			"addr": map[string]any{"city": "Paris", "zip": int32(75000 + i)}, "extra": "x",
		}
		if i == 0 {
			rec["note"] = &note
		} else {
			rec["note"] = nil
		}
		msgs = append(msgs, Message{Key: []byte("T" + strconv.Itoa(i%3)), Value: wire(t, schema, id, rec)})
	}
	produce(t, brokers, "trades", msgs)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	avroProps := func(name string, kv ...string) map[string]string {
		p := map[string]string{name + ".bootstrap.servers": brokers[0], name + ".format": "avro",
			"kafka.schema.registry.url": url, "kafka.schema.registry.basic.auth.user.info": "sr:secret"}
		for i := 0; i+1 < len(kv); i += 2 {
			p[name+"."+kv[i]] = kv[i+1]
		}
		return p
	}
	src, got := openWithSchema(t, "trades", avroProps("trades", "stop.at", "end"))
	wantTypes := map[string]string{"id": "BIGINT", "qty": "INTEGER", "trader": "STRING", "price": "DECIMAL(10,2)",
		"ts": "TIMESTAMP", "ts_us": "TIMESTAMP", "note": "STRING", "ok": "BOOLEAN", "ratio": "DOUBLE"}
	for name, want := range wantTypes {
		slot, ok := got.Columns.Lookup(name)
		if !ok {
			t.Fatalf("column %s missing from %v", name, got.Columns.Names())
		}
		f := got.Columns.Fields()[slot]
		if f.Type.String() != want {
			t.Errorf("column %s: %s, want %s", name, f.Type, want)
		}
		if f.NotNull != (name != "note") {
			t.Errorf("column %s: NOT NULL %v", name, f.NotNull)
		}
	}
	if d := got.Describe(); d != "registry, subject trades-value version 1 id 1" {
		t.Errorf("EXPLAIN's schema origin %q", d)
	}
	cols := record.NewSchemaOf(got.Columns.Fields()...)
	first, byID := readByID(t, src, cols, 20)
	v := byID[3]
	checks := []struct{ col, want string }{
		{"price", "103.25"}, {"ts", "2024-01-15T00:00:00.003Z"}, {"ts_us", "2024-01-15T00:00:00.003Z"},
		{"note", "NULL"}, {"addr", `{"city":"Paris","zip":75003}`}, {"qty", "30"}, {"ok", "false"}, {"ratio", "0.75"},
	}
	for _, c := range checks {
		slot, _ := cols.Lookup(c.col)
		if s := v[slot].String(); s != c.want {
			t.Errorf("record 3 %s = %s, want %s", c.col, s, c.want)
		}
	}
	if slot, _ := cols.Lookup("note"); byID[0][slot].Str() != "first" {
		t.Errorf("record 0 note = %v", byID[0][slot])
	}

	// Write what was read to "copy" in the avro format and read it back.
	sink, err := NewSink("copy", avroProps("copy"))
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, ctx, sink, cols, nil, first)
	// The sink's schema has the source's types (a record stays a record).
	back, backSchema := openWithSchema(t, "copy", avroProps("copy", "stop.at", "end"))
	if got, want := schemaText(backSchema.Columns), schemaText(got.Columns); got != want {
		t.Errorf("the sink's schema reads back as\n %s\nwant\n %s", got, want)
	}
	readBack(t, back, backSchema, cols, first)
}

func connectorLimits() connector.InferLimits {
	return connector.InferLimits{Records: 100, Wait: 5 * time.Second}
}

// mustRat parses a decimal for hamba/avro's decimal encoding.
func mustRat(t testing.TB, s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		t.Fatalf("bad decimal %q", s)
	}
	return r
}

// TestAvroErrors: the option errors, a registry that refuses the
// credentials, and a message that is not in the wire format (a dead
// letter, the others read).
func TestAvroErrors(t *testing.T) {
	brokers := startCluster(t, "trades")
	reg, url := newFakeRegistry(t, "sr:secret")
	schema := avro.MustParse(`{"type":"record","name":"R","fields":[{"name":"n","type":"long"}]}`)
	id := reg.add("trades-value", schema.String())
	produce(t, brokers, "trades", []Message{
		{Value: wire(t, schema, id, map[string]any{"n": int64(1)})},
		{Value: []byte(`{"n":2}`)},
		{Value: wire(t, schema, id, map[string]any{"n": int64(3)})},
	})
	for _, c := range []struct {
		props map[string]string
		want  string
	}{
		{map[string]string{"t.format": "avro"}, `'t.schema.registry.url': not set`},
		{map[string]string{"t.schema.registry.url": url}, `set, but the format is json`},
		{map[string]string{"t.format": "xml"}, `valid values: json, string, avro, protobuf`},
	} {
		if _, err := NewSource("t", c.props); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.props, err, c.want)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	props := sourceProps(brokers, "format", "avro", "schema.registry.url", url, "stop.at", "end",
		"schema.registry.basic.auth.user.info", "sr:wrong")
	src, err := NewSource("trades", props)
	if err != nil {
		t.Fatal(err)
	}
	var ae *AuthError
	if _, err := src.SourceSchema(ctx, connectorLimits()); !errors.As(err, &ae) || !strings.Contains(err.Error(), "unauthorized") {
		t.Errorf("wrong credentials: %v, want an AuthError", err)
	}
	// a sink registering its schema with them: the user's error too
	sink, err := NewSink("out", map[string]string{"out.bootstrap.servers": strings.Join(brokers, ","), "out.format": "avro",
		"out.schema.registry.url": url, "out.schema.registry.basic.auth.user.info": "sr:wrong"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sink.Open(ctx, record.NewSchemaOf(record.Field{Name: "n", Type: record.BigintType}), nil); !errors.As(err, &ae) ||
		!strings.Contains(err.Error(), "authentication failed (schema registry user sr)") {
		t.Errorf("a sink with wrong credentials: %v, want an AuthError", err)
	}
	props["trades.schema.registry.basic.auth.user.info"] = "sr:secret"
	if src, err = NewSource("trades", props); err != nil {
		t.Fatal(err)
	}
	var dlq mem.DeadLetters
	got := readAll(t, src, record.NewSchema("n"), &dlq)
	if len(got) != 2 || len(dlq.All()) != 1 || !strings.Contains(dlq.All()[0].Reason, "not Schema Registry wire format") {
		t.Errorf("read %d, dead letters %+v; want 2 and the JSON message", len(got), dlq.All())
	}
}

// BenchmarkDecode decodes one trade value into four columns, as JSON, as
// Avro and as Protobuf in the wire format: compare ns/op and allocs/op.
func BenchmarkDecode(b *testing.B) {
	schema := avro.MustParse(`{"type":"record","name":"T","fields":[{"name":"trader_id","type":"string"},
		{"name":"symbol","type":"string"},{"name":"price","type":"double"},{"name":"quantity","type":"long"}]}`)
	reg, url := newFakeRegistry(b, "")
	id := reg.add("trades-value", schema.String())
	cols := record.NewSchema("trader_id", "symbol", "price", "quantity")
	values := map[string]any{"trader_id": "T42", "symbol": "SYM7", "price": 101.5, "quantity": int64(300)}
	pbReg := srfake.New()
	defer pbReg.Close()
	pbText := "syntax = \"proto3\";\nmessage T { string trader_id = 1; string symbol = 2; double price = 3; int64 quantity = 4; }\n"
	pbID, _, err := pbReg.RegisterSchema("trades-value", sr.Schema{Schema: pbText, Type: sr.TypeProtobuf})
	if err != nil {
		b.Fatal(err)
	}
	md := compileProto(b, pbText).Messages().Get(0)
	pb := dynamicpb.NewMessage(md)
	for name, v := range map[string]protoreflect.Value{"trader_id": protoreflect.ValueOfString("T42"), "symbol": protoreflect.ValueOfString("SYM7"),
		"price": protoreflect.ValueOfFloat64(101.5), "quantity": protoreflect.ValueOfInt64(300)} {
		pb.Set(md.Fields().ByName(protoreflect.Name(name)), v)
	}
	formats := []struct {
		name  string
		value []byte
		url   string
	}{
		{"json", []byte(`{"trader_id":"T42","symbol":"SYM7","price":101.5,"quantity":300}`), ""},
		{"avro", wire(b, schema, id, values), url},
		{"protobuf", protoWire(b, pbID, nil, pb), pbReg.URL()},
	}
	for _, f := range formats {
		b.Run(f.name, func(b *testing.B) {
			cfg, err := parseSourceConfig("t", map[string]string{"t.format": f.name, "t.schema.registry.url": f.url})
			if f.name == "json" {
				cfg, err = parseSourceConfig("t", map[string]string{})
			}
			if err != nil {
				b.Fatal(err)
			}
			d := newDecoder(&cfg, cols)
			kr := &kgo.Record{Topic: "t", Value: f.value}
			var rec record.Record
			if err := d.decode(&rec, kr); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if err := d.decode(&rec, kr); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestAvroKeys: with '<n>.key.format'='avro' a source's columns include the
// key subject's fields, filled from each message's key, and a sink writes
// its key columns as an Avro record registered under '<topic>-key'.
func TestAvroKeys(t *testing.T) {
	brokers := startCluster(t, "keyed", "keyed_out")
	reg, url := newFakeRegistry(t, "")
	keySchema := avro.MustParse(`{"type":"record","name":"K","fields":[{"name":"kid","type":"long"}]}`)
	valueSchema := avro.MustParse(`{"type":"record","name":"V","fields":[{"name":"v","type":"string"}]}`)
	kid, vid := reg.add("keyed-key", keySchema.String()), reg.add("keyed-value", valueSchema.String())
	var msgs []Message
	for i := range 6 {
		msgs = append(msgs, Message{Key: wire(t, keySchema, kid, map[string]any{"kid": int64(i)}),
			Value: wire(t, valueSchema, vid, map[string]any{"v": "v" + strconv.Itoa(i)})})
	}
	produce(t, brokers, "keyed", msgs)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	props := sourceProps(brokers, "format", "avro", "key.format", "avro", "schema.registry.url", url, "stop.at", "end")
	props["trades.topic.name"] = "keyed"
	src, sch := openWithSchema(t, "trades", props)
	if got := strings.Join(sch.Columns.Names(), ","); got != "v,kid" {
		t.Fatalf("columns %s, want v,kid", got)
	}
	cols := record.NewSchemaOf(sch.Columns.Fields()...)
	got := readAll(t, src, cols, nil)
	if len(got) != 6 {
		t.Fatalf("read %d", len(got))
	}
	for _, g := range got {
		if "v"+strconv.FormatInt(g.values[1].Int(), 10) != g.values[0].Str() {
			t.Errorf("row %v: the key's kid does not match the value", g.values)
		}
	}

	sink, err := NewSink("keyed_out", map[string]string{"keyed_out.bootstrap.servers": brokers[0], "keyed_out.format": "avro",
		"keyed_out.key.format": "avro", "keyed_out.schema.registry.url": url})
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, ctx, sink, cols, []int{1}, got)
	back, err := NewSource("back", map[string]string{"back.bootstrap.servers": brokers[0], "back.topic.name": "keyed_out",
		"back.format": "avro", "back.key.format": "avro", "back.schema.registry.url": url, "back.stop.at": "end"})
	if err != nil {
		t.Fatal(err)
	}
	again := readAll(t, back, record.NewSchema("v", "kid"), nil)
	if len(again) != 6 {
		t.Fatalf("read back %d", len(again))
	}
	for _, g := range again {
		if len(g.key) < wireHeader || g.key[0] != 0 || "v"+strconv.FormatInt(g.values[1].Int(), 10) != g.values[0].Str() {
			t.Errorf("read back key %q, row %v", g.key, g.values)
		}
	}
	if len(reg.subjects["keyed_out-key"]) != 1 {
		t.Errorf("subjects %v: no keyed_out-key", reg.subjects)
	}
	if _, err := NewSink("x", map[string]string{"x.key.format": "avro"}); err == nil || !strings.Contains(err.Error(), "'x.schema.registry.url': not set: 'x.key.format'='avro'") {
		t.Errorf("avro keys without a registry: %v", err)
	}
}

// TestAvroNestedSink: a sink writes ROW columns as records and ARRAY
// columns as arrays (nullable ones as unions with null), so they read back
// with their types and values; JSON that does not fit is an error.
func TestAvroNestedSink(t *testing.T) {
	_, client := emptyRegistry(t)
	ctx := context.Background()
	addr := record.RowType(record.Field{Name: "zip", Type: record.IntegerType, NotNull: true}, record.Field{Name: "city", Type: record.StringType},
		record.Field{Name: "fee", Type: record.DecimalType(5, 2)}, record.Field{Name: "tags", Type: record.ArrayType(record.StringType), NotNull: true})
	cols := record.NewSchemaOf(
		record.Field{Name: "addr", Type: addr},
		record.Field{Name: "stops", Type: record.ArrayType(addr), NotNull: true},
		record.Field{Name: "maybe", Type: record.ArrayType(record.BigintType)},
	)
	enc, ss, err := avroFormat{}.encoder(ctx, client, "n-value", "n", cols)
	if err != nil {
		t.Fatal(err)
	}
	back, err := avroFormat{}.columns(ctx, client, ss.Schema)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := schemaText(record.NewSchemaOf(back...)), schemaText(cols); got != want {
		t.Errorf("read back as\n %s\nwant\n %s", got, want)
	}
	a := `{"zip":75001,"city":"Paris","fee":1.50,"tags":["x","y"]}`
	b2 := `{"zip":2,"city":null,"fee":null,"tags":[]}`
	dec := avroFormat{}.decoder(client, "out-value", record.NewSchemaOf(back...), textDecoder{})
	for _, row := range [][]string{{a, "[" + a + "," + b2 + "]", "[1,2]"}, {"", "[]", ""}} {
		vals := make([]record.Value, 3)
		for i, s := range row {
			if s != "" {
				vals[i] = record.StringValue(s)
			}
		}
		b, err := enc.AppendRow(nil, vals)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]record.Value, 3)
		if err := dec.decodeInto(b, got); err != nil {
			t.Fatal(err)
		}
		for i := range vals {
			if got[i].String() != vals[i].String() {
				t.Errorf("column %s: read back %s, wrote %s", back[i].Name, got[i], vals[i])
			}
		}
	}
	for _, bad := range []string{`{"zip":"x","tags":[]}`, `{"zip":null,"tags":[]}`, `[1]`, `{"zip":1}`} {
		if _, err := enc.AppendRow(nil, []record.Value{record.StringValue(bad), record.StringValue("[]"), {}}); err == nil {
			t.Errorf("addr %s was written", bad)
		}
	}
}

// TestAvroEvolutionDefaults: a message written before a field with a
// default was added to the subject reads with that default (Avro's schema
// resolution, the reader schema being the subject's latest); it was a dead
// letter ("column m is NOT NULL and has no value"). A message with an
// unknown schema id, a bad magic byte, no schema id or a truncated body is a
// dead letter at its offset, with its bytes and the reason.
func TestAvroEvolutionDefaults(t *testing.T) {
	brokers := startCluster(t, "ev")
	reg, url := newFakeRegistry(t, "")
	v1 := avro.MustParse(`{"type":"record","name":"R","fields":[{"name":"n","type":"long"}]}`)
	// registered as written: String() is the canonical form, without defaults
	v2text := `{"type":"record","name":"R","fields":[{"name":"n","type":"long"},{"name":"m","type":"string","default":"dflt"}]}`
	v2 := avro.MustParse(v2text)
	old := wire(t, v1, reg.add("ev-value", v1.String()), map[string]any{"n": int64(1)})
	id2 := reg.add("ev-value", v2text)
	msgs := []Message{
		{Value: old},
		{Value: wire(t, v2, id2, map[string]any{"n": int64(2), "m": "x"})},
		{Value: wire(t, v2, 999, map[string]any{"n": int64(3), "m": "y"})},
		{Value: append([]byte{1}, old[1:]...)},
		{Value: old[:3]},
		{Value: append(slices.Clone(old[:5]), 0xff, 0xff)},
	}
	for i := range msgs {
		msgs[i].Key = []byte("k") // one partition: offsets 0 to 5
	}
	produce(t, brokers, "ev", msgs)
	props := sourceProps(brokers, "format", "avro", "schema.registry.url", url, "stop.at", "end", "topic.name", "ev")
	src, schema := openWithSchema(t, "trades", props)
	if got, want := schema.Columns.String(), "n BIGINT NOT NULL, m STRING NOT NULL"; got != want {
		t.Fatalf("columns %s, want %s", got, want)
	}
	var dlq mem.DeadLetters
	var rows []string
	for _, g := range readAll(t, src, schema.Columns, &dlq) {
		rows = append(rows, fmt.Sprintf("%d:%s/%s", g.offset, g.values[0], g.values[1]))
	}
	slices.Sort(rows)
	if want := []string{"0:1/dflt", "1:2/x"}; !slices.Equal(rows, want) {
		t.Errorf("rows %v, want %v", rows, want)
	}
	want := map[int64]string{2: "schema 999", 3: "magic byte", 4: "magic byte", 5: "the value ends before the field does"}
	dead := dlq.All()
	if len(dead) != len(want) {
		t.Fatalf("dead letters %+v, want %d", dead, len(want))
	}
	for _, d := range dead {
		if !strings.Contains(d.Reason, want[d.Offset]) || !bytes.Equal(d.Raw, msgs[d.Offset].Value) {
			t.Errorf("dead letter at offset %d: %q (raw %q), want %q and the message's bytes", d.Offset, d.Reason, d.Raw, want[d.Offset])
		}
	}
}

// TestAvroEvolutionRegistryDown: a registry that fails to give the
// subject's latest schema (the reader's) when a message of an older writer
// schema comes makes that message a dead letter with the registry's
// error; the next one, the registry answering again, reads with the
// default. The failure does not leave the column without its default for
// the rest of the run (only a subject the registry does not have does).
func TestAvroEvolutionRegistryDown(t *testing.T) {
	brokers := startCluster(t, "ev")
	reg, url := newFakeRegistry(t, "")
	v1 := avro.MustParse(`{"type":"record","name":"R","fields":[{"name":"n","type":"long"}]}`)
	v2text := `{"type":"record","name":"R","fields":[{"name":"n","type":"long"},{"name":"m","type":"string","default":"dflt"}]}`
	old := func(n int64) []byte { return wire(t, v1, 1, map[string]any{"n": n}) }
	reg.add("ev-value", v1.String())
	reg.add("ev-value", v2text)
	produce(t, brokers, "ev", []Message{{Key: []byte("k"), Value: old(1)}, {Key: []byte("k"), Value: old(2)}})
	src, schema := openWithSchema(t, "trades", sourceProps(brokers, "format", "avro", "schema.registry.url", url, "stop.at", "end", "topic.name", "ev"))
	reg.mu.Lock()
	reg.latestDown = 1
	reg.mu.Unlock()
	var dlq mem.DeadLetters
	var rows []string
	for _, g := range readAll(t, src, schema.Columns, &dlq) {
		rows = append(rows, fmt.Sprintf("%d:%s/%s", g.offset, g.values[0], g.values[1]))
	}
	if want := []string{"1:2/dflt"}; !slices.Equal(rows, want) {
		t.Errorf("rows %v, want %v", rows, want)
	}
	if dead := dlq.All(); len(dead) != 1 || dead[0].Offset != 0 || !strings.Contains(dead[0].Reason, "Error in the backend data store") {
		t.Errorf("dead letters %+v, want offset 0's, with the registry's error", dead)
	}
}

package kafka

import (
	"context"
	"encoding/pem"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/record"
)

// jsonTradeSchema is a JSON Schema with the types Sluice maps, a local
// reference and Connect's annotations.
const jsonTradeSchema = `{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "title": "Trade",
  "type": "object",
  "properties": {
    "id": {"type": "integer"},
    "qty": {"type": "integer", "connect.type": "int32"},
    "trader": {"type": "string"},
    "price": {"type": "number", "title": "org.apache.kafka.connect.data.Decimal", "connect.parameters": {"scale": "2", "connect.decimal.precision": "10"}},
    "ratio": {"type": "number"},
    "ok": {"type": "boolean"},
    "ts": {"type": "string", "format": "date-time"},
    "note": {"oneOf": [{"type": "null"}, {"type": "string"}]},
    "addr": {"$ref": "#/definitions/Addr"},
    "tags": {"type": "array", "items": {"type": "string"}},
    "side": {"enum": ["BUY", "SELL"]},
    "extra": {"type": ["string", "null"]},
    "anything": {}
  },
  "required": ["id", "qty", "trader", "price", "ratio", "ok", "ts", "addr", "tags", "note"],
  "definitions": {
    "Addr": {"type": "object", "properties": {"city": {"type": "string"}, "zip": {"type": "integer"}}, "required": ["city"]}
  }
}`

// TestJSONSchemaRoundTrip: a source in the json_sr format takes its
// columns from the registry's JSON Schema, reads the wire format, and a
// sink in json_sr registers a JSON Schema of its columns and writes values
// that read back identical.
func TestJSONSchemaRoundTrip(t *testing.T) {
	brokers := startCluster(t, "trades", "copy")
	reg := srfake.New()
	defer reg.Close()
	id, _, err := reg.RegisterSchema("trades-value", sr.Schema{Schema: jsonTradeSchema, Type: sr.TypeJSON})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []Message
	for i := range 10 {
		note := `null`
		if i == 0 {
			note = `"first"`
		}
		v := `{"id":` + strconv.Itoa(i) + `,"qty":` + strconv.Itoa(i*10) + `,"trader":"T` + strconv.Itoa(i%3) +
			`","price":10` + strconv.Itoa(i) + `.25,"ratio":` + strconv.FormatFloat(float64(i)/4, 'g', -1, 64) +
			`,"ok":` + strconv.FormatBool(i%2 == 0) + `,"ts":"2024-01-15T00:00:0` + strconv.Itoa(i) + `.003Z","note":` + note +
			`,"addr":{"city":"Paris","zip":7500` + strconv.Itoa(i) + `},"tags":["a","b"],"side":"SELL","anything":[1]}`
		msgs = append(msgs, Message{Value: append(appendWireHeader(nil, id), v...)})
	}
	produce(t, brokers, "trades", msgs)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	props := func(name string, kv ...string) map[string]string {
		p := map[string]string{name + ".bootstrap.servers": brokers[0], name + ".format": "json_sr", name + ".schema.registry.url": reg.URL()}
		for i := 0; i+1 < len(kv); i += 2 {
			p[name+"."+kv[i]] = kv[i+1]
		}
		return p
	}
	src, sch := openWithSchema(t, "trades", props("trades", "stop.at", "end"))
	want := "id BIGINT NOT NULL, qty INTEGER NOT NULL, trader STRING NOT NULL, price DECIMAL(10,2) NOT NULL, ratio DOUBLE NOT NULL, " +
		"ok BOOLEAN NOT NULL, ts TIMESTAMP NOT NULL, note STRING, addr ROW<city STRING, zip BIGINT> NOT NULL, " +
		"tags ARRAY<STRING> NOT NULL, side STRING, extra STRING, anything"
	if got := schemaText(sch.Columns); got != want {
		t.Errorf("columns\n %s\nwant\n %s", got, want)
	}
	if d := sch.Describe(); d != "registry, subject trades-value version 1 id 1" {
		t.Errorf("EXPLAIN's schema origin %q", d)
	}
	cols := record.NewSchemaOf(sch.Columns.Fields()...)
	first, byID := readByID(t, src, cols, 10)
	for _, c := range []struct{ col, want string }{
		{"price", "103.25"}, {"ts", "2024-01-15T00:00:03.003Z"}, {"note", "NULL"}, {"addr", `{"city":"Paris","zip":75003}`},
		{"tags", `["a","b"]`}, {"ok", "false"}, {"anything", "[1]"},
	} {
		slot, _ := cols.Lookup(c.col)
		if s := byID[3][slot].String(); s != c.want {
			t.Errorf("record 3 %s = %s, want %s", c.col, s, c.want)
		}
	}
	if k := byID[3][3].Kind(); k != record.Decimal {
		t.Errorf("price is a %s", k)
	}

	sink, err := NewSink("copy", props("copy"))
	if err != nil {
		t.Fatal(err)
	}
	writeAll(t, ctx, sink, cols, nil, first)
	back, backSchema := openWithSchema(t, "copy", props("copy", "stop.at", "end"))
	if got := schemaText(backSchema.Columns); got != want {
		t.Errorf("the sink's schema reads back as\n %s\nwant\n %s", got, want)
	}
	readBack(t, back, backSchema, cols, first)
}

// schemaText lists a schema's columns with their types and NOT NULL.
func schemaText(s *record.Schema) string {
	var parts []string
	for _, f := range s.Fields() {
		p := f.Name
		if f.Type.Kind != record.TypeAny {
			p += " " + f.Type.String()
		}
		if f.NotNull {
			p += " NOT NULL"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

// TestJSONSchemaKeysAndErrors: json_sr keys fill their columns after the
// value's; a value not in the wire format, or not JSON, is a dead letter;
// a schema that is not of an object is refused at plan time.
func TestJSONSchemaKeysAndErrors(t *testing.T) {
	brokers := startCluster(t, "keyed")
	reg := srfake.New()
	defer reg.Close()
	kid, _, err := reg.RegisterSchema("keyed-key", sr.Schema{Type: sr.TypeJSON,
		Schema: `{"type":"object","properties":{"k":{"type":"integer"}},"required":["k"]}`})
	if err != nil {
		t.Fatal(err)
	}
	vid, _, err := reg.RegisterSchema("keyed-value", sr.Schema{Type: sr.TypeJSON,
		Schema: `{"type":"object","properties":{"v":{"type":"string"}}}`})
	if err != nil {
		t.Fatal(err)
	}
	produce(t, brokers, "keyed", []Message{
		{Key: append(appendWireHeader(nil, kid), `{"k":1}`...), Value: append(appendWireHeader(nil, vid), `{"v":"one"}`...)},
		{Key: append(appendWireHeader(nil, kid), `{"k":2}`...), Value: []byte(`{"v":"plain"}`)},
		{Key: append(appendWireHeader(nil, kid), `{"k":3}`...), Value: append(appendWireHeader(nil, vid), `{"v":`...)},
	})
	src, sch := openWithSchema(t, "s", map[string]string{"s.bootstrap.servers": brokers[0], "s.topic.name": "keyed", "s.format": "json_sr",
		"s.key.format": "json_sr", "s.schema.registry.url": reg.URL(), "s.stop.at": "end"})
	if got := schemaText(sch.Columns); got != "v STRING, k BIGINT NOT NULL" {
		t.Errorf("columns %s", got)
	}
	if !strings.Contains(sch.Describe(), "key subject keyed-key version 1 id 1") {
		t.Errorf("EXPLAIN's schema origin %q", sch.Describe())
	}
	var dlq mem.DeadLetters
	got := readAll(t, src, record.NewSchemaOf(sch.Columns.Fields()...), &dlq)
	if len(got) != 1 || got[0].values[0].String() != "one" || got[0].values[1].String() != "1" {
		t.Errorf("read %+v", got)
	}
	// The keys put the messages in different partitions: the dead letters
	// come in any order.
	reasons := map[string]string{}
	for _, l := range dlq.All() {
		reasons[string(l.Raw)] = l.Reason
	}
	if len(reasons) != 2 || !strings.Contains(reasons[`{"v":"plain"}`], "not Schema Registry wire format") ||
		!strings.Contains(reasons[string(append(appendWireHeader(nil, vid), `{"v":`...))], "expected a value") {
		t.Errorf("dead letters %+v", dlq.All())
	}

	client, err := newRegistry(reg.URL(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ schema, want string }{
		{`{"type":"string"}`, `not of an object with "properties"`},
		{`{"type":"object","properties":{"n":{"$ref":"#/definitions/N"}},"definitions":{"N":{"type":"object","properties":{"n":{"$ref":"#/definitions/N"}}}}}`, "recursive"},
		{`{"type":"object","properties":{"n":{"$ref":"other.json"}}}`, "only references inside the schema"},
		{`{"type":"object",`, "the JSON Schema"},
	} {
		_, err := jsonSRFormat{}.columns(t.Context(), client, sr.Schema{Schema: c.schema, Type: sr.TypeJSON})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.schema, err, c.want)
		}
	}
}

// FuzzJSONSchemaColumns: no schema text panics the JSON Schema mapping
// (references included) or hangs it.
func FuzzJSONSchemaColumns(f *testing.F) {
	f.Add(jsonTradeSchema)
	f.Add(`{"type":"object","properties":{"a":{"$ref":"#/definitions/A"}},"definitions":{"A":{"$ref":"#/definitions/A"}}}`)
	f.Add(`{"type":"object","properties":{"a":{"type":["null","array"],"items":{"oneOf":[{"type":"null"},{"$ref":"#"}]}}}}`)
	f.Fuzz(func(t *testing.T, text string) {
		_, _ = jsonSRFormat{}.columns(context.Background(), nil, sr.Schema{Schema: text, Type: sr.TypeJSON})
	})
}

// TestRegistryTLS: a registry served over https with a private CA is
// reached with '<n>.schema.registry.ssl.ca.location', and refused without.
func TestRegistryTLS(t *testing.T) {
	reg := srfake.NewRegistry()
	srv := httptest.NewTLSServer(reg.Handler())
	defer srv.Close()
	if _, _, err := reg.RegisterSchema("t-value", sr.Schema{Type: sr.TypeJSON, Schema: `{"type":"object","properties":{"n":{"type":"integer"}}}`}); err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	props := map[string]string{"t.format": "json_sr", "t.schema.registry.url": srv.URL, "t.schema.registry.ssl.ca.location": ca}
	src, err := NewSource("t", props)
	if err != nil {
		t.Fatal(err)
	}
	sch, err := src.SourceSchema(ctx, connectorLimits())
	if err != nil || schemaText(sch.Columns) != "n BIGINT" {
		t.Fatalf("over TLS with the CA: %v, %v", sch.Columns, err)
	}
	delete(props, "t.schema.registry.ssl.ca.location")
	if src, err = NewSource("t", props); err != nil {
		t.Fatal(err)
	}
	if _, err := src.SourceSchema(ctx, connectorLimits()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("over TLS without the CA: %v, want a certificate error", err)
	}
	props["t.schema.registry.ssl.ca.location"] = filepath.Join(t.TempDir(), "missing.pem")
	if _, err := NewSource("t", props); err == nil || !strings.Contains(err.Error(), "'t.schema.registry.ssl.ca.location'") {
		t.Errorf("a missing CA file: %v", err)
	}
}

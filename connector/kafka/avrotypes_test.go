package kafka

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/sluicesql/sluice/connector/codec"
	"github.com/sluicesql/sluice/record"
)

// avroLogicalSchema has a field of each logical type (and plain bytes and
// fixed), nullable and not.
const avroLogicalSchema = `{"type":"record","name":"L","fields":[
 {"name":"day","type":{"type":"int","logicalType":"date"}},
 {"name":"t_ms","type":{"type":"int","logicalType":"time-millis"}},
 {"name":"t_us","type":{"type":"long","logicalType":"time-micros"}},
 {"name":"ts_ms","type":{"type":"long","logicalType":"timestamp-millis"}},
 {"name":"ts_us","type":{"type":"long","logicalType":"timestamp-micros"}},
 {"name":"lts_ms","type":{"type":"long","logicalType":"local-timestamp-millis"}},
 {"name":"lts_us","type":{"type":"long","logicalType":"local-timestamp-micros"}},
 {"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},
 {"name":"famount","type":{"type":"fixed","name":"F","size":5,"logicalType":"decimal","precision":9,"scale":3}},
 {"name":"id","type":{"type":"string","logicalType":"uuid"}},
 {"name":"raw","type":"bytes"},
 {"name":"hash","type":{"type":"fixed","name":"H","size":4}},
 {"name":"maybe_day","type":["null",{"type":"int","logicalType":"date"}]},
 {"name":"maybe_time","type":["null",{"type":"int","logicalType":"time-millis"}]}
]}`

// writeLogical writes one record of avroLogicalSchema, field by field.
func writeLogical(w *avro.Writer) {
	w.WriteInt(19737)                             // 2024-01-15
	w.WriteInt(37_230_045)                        // 10:20:30.045
	w.WriteLong(37_230_045_678)                   // 10:20:30.045678
	w.WriteLong(1705314030045)                    // 2024-01-15T10:20:30.045Z
	w.WriteLong(1705314030045678)                 // the same, in microseconds (floored to milliseconds)
	w.WriteLong(1705314030045)                    // local: read as UTC
	w.WriteLong(1705314030045678)                 //
	w.WriteBytes([]byte{0x30, 0x39})              // 123.45
	w.Write([]byte{0xff, 0xff, 0xff, 0xcf, 0xc7}) // -12.345
	w.WriteString("123e4567-e89b-12d3-a456-426614174000")
	w.WriteBytes([]byte{0, 1, 2, 0xff})
	w.Write([]byte("abcd"))
	w.WriteLong(1)
	w.WriteInt(-1) // 1969-12-31
	w.WriteLong(0) // null
}

// TestAvroLogicalTypes: each Avro logical type reads as the SQL type an
// experienced Flink or ksqlDB user expects, given Sluice's types (no DATE
// or TIME): a date is a TIMESTAMP at midnight UTC (as Kafka Connect's
// Date), a time-millis or time-micros the STRING 'HH:MM:SS.fff(fff)', the
// timestamps TIMESTAMP (local ones as UTC; microseconds floor to
// milliseconds), a decimal an exact DECIMAL, a uuid a STRING, bytes and
// fixed without a logical type their base64 text. A sink writing with the
// subject's schema (use.latest.version) writes the values back as they
// were; a duration is refused, naming the field.
func TestAvroLogicalTypes(t *testing.T) {
	s := avro.MustParse(avroLogicalSchema)
	cols, err := avroColumns(s)
	if err != nil {
		t.Fatal(err)
	}
	schema := record.NewSchemaOf(cols...)
	want := "day TIMESTAMP NOT NULL, t_ms STRING NOT NULL, t_us STRING NOT NULL, ts_ms TIMESTAMP NOT NULL, ts_us TIMESTAMP NOT NULL, " +
		"lts_ms TIMESTAMP NOT NULL, lts_us TIMESTAMP NOT NULL, amount DECIMAL(9,2) NOT NULL, famount DECIMAL(9,3) NOT NULL, " +
		"id STRING NOT NULL, raw STRING NOT NULL, hash STRING NOT NULL, maybe_day TIMESTAMP, maybe_time STRING"
	if got := schema.String(); got != want {
		t.Errorf("columns\n %s\nwant\n %s", got, want)
	}
	prog, _, err := newAvroProgram(s, schema, textDecoder{})
	if err != nil {
		t.Fatal(err)
	}
	w := avro.NewWriter(nil, 0)
	writeLogical(w)
	body := append([]byte(nil), w.Buffer()...)
	decode := func(body []byte) []record.Value {
		t.Helper()
		r := avro.NewReader(nil, 0).Reset(body)
		row := make([]record.Value, schema.Len())
		for _, f := range prog.fields {
			row[f.slot] = f.dec(r)
		}
		if r.Error != nil {
			t.Fatalf("decoding: %v", r.Error)
		}
		return row
	}
	row := decode(body)
	wantValues := []string{"2024-01-15T00:00:00.000Z", "10:20:30.045", "10:20:30.045678", "2024-01-15T10:20:30.045Z", "2024-01-15T10:20:30.045Z",
		"2024-01-15T10:20:30.045Z", "2024-01-15T10:20:30.045Z", "123.45", "-12.345", "123e4567-e89b-12d3-a456-426614174000",
		base64.StdEncoding.EncodeToString([]byte{0, 1, 2, 0xff}), base64.StdEncoding.EncodeToString([]byte("abcd")),
		"1969-12-31T00:00:00.000Z", "NULL"}
	for i, v := range row {
		if v.String() != wantValues[i] {
			t.Errorf("%s = %s, want %s", schema.Name(i), v, wantValues[i])
		}
	}

	// Written back with the same schema, the values are those read (the
	// microseconds past the millisecond aside).
	enc, err := newAvroEncoderByName(1, s, schema)
	if err != nil {
		t.Fatal(err)
	}
	out, err := enc.AppendRow(nil, row)
	if err != nil {
		t.Fatal(err)
	}
	again := decode(out[5:])
	for i := range row {
		if again[i].String() != row[i].String() {
			t.Errorf("%s written back reads %s, was %s", schema.Name(i), again[i], row[i])
		}
	}
	// A value that is no date or time stops the write, naming the column.
	for _, c := range []struct {
		col  string
		v    record.Value
		want string
	}{
		{"day", record.TimestampValue(1705314030045), "is not a date (midnight UTC)"},
		{"t_ms", record.StringValue("25:00:00"), `"25:00:00" is not a time of day`},
		{"maybe_time", record.StringValue("10:20:30.0456"), `"10:20:30.0456" is not a time of day`},
		{"raw", record.StringValue("not base64!"), "base64"},
	} {
		bad := append([]record.Value(nil), row...)
		slot, _ := schema.Lookup(c.col)
		bad[slot] = c.v
		if _, err := enc.AppendRow(nil, bad); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.col) {
			t.Errorf("%s = %v: %v, want %q naming the column", c.col, c.v, err, c.want)
		}
	}
	dur := avro.MustParse(`{"type":"record","name":"D","fields":[{"name":"wait","type":{"type":"fixed","name":"Dur","size":12,"logicalType":"duration"}}]}`)
	if _, err := avroColumns(dur); err == nil || !strings.Contains(err.Error(), `field "wait": fixed with the duration logical type is not supported`) {
		t.Errorf("a duration: %v", err)
	}
}

// TestAvroDecodeReasons: the reason a value does not decode names the
// field, its Avro type and what was found instead.
func TestAvroDecodeReasons(t *testing.T) {
	text := `{"type":"record","name":"R","fields":[{"name":"id","type":"long"},{"name":"side","type":{"type":"enum","name":"Side","symbols":["BUY","SELL"]}},
{"name":"note","type":["null","string"]},{"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},{"name":"name","type":"string"}]}`
	reg, client := emptyRegistry(t)
	id, _, err := reg.RegisterSchema("t-value", sr.Schema{Schema: text, Type: sr.TypeAvro})
	if err != nil {
		t.Fatal(err)
	}
	cols, err := avroColumns(avro.MustParse(text))
	if err != nil {
		t.Fatal(err)
	}
	schema := record.NewSchemaOf(cols...)
	d := newAvroValueDecoder(client, "t-value", schema, textDecoder{option: "t.invalid.utf8"})
	value := func(write func(w *avro.Writer)) []byte {
		w := avro.NewWriter(nil, 0)
		write(w)
		return append(appendWireHeader(nil, id), w.Buffer()...)
	}
	upToAmount := func(w *avro.Writer) { w.WriteLong(1); w.WriteInt(1); w.WriteLong(0) }
	good := func(w *avro.Writer) { upToAmount(w); w.WriteBytes([]byte{1}) }
	for _, c := range []struct {
		value []byte
		want  string
	}{
		{value(func(w *avro.Writer) { w.WriteLong(1); w.WriteInt(7) }), "field side (enum Side): avro: enum: symbol index 7 is not one of its 2 symbols"},
		{value(func(w *avro.Writer) { w.WriteLong(1); w.WriteInt(0); w.WriteLong(4) }), "field note (union [null, string]): avro: union: branch index 4 is not one of its 2 branches"},
		{value(func(w *avro.Writer) { upToAmount(w); w.WriteBytes([]byte{0x7f, 0, 0, 0, 0, 0, 0, 0, 0}) }), "field amount (bytes decimal(9,2)): avro: decimal: an unscaled value of 9 bytes exceeds 64 bits"},
		{value(good), "field name (string): the value ends before the field does"},
		{value(func(w *avro.Writer) { good(w); w.WriteLong(-3) }), "field name (string): avro: ReadSTRING: invalid string length"},
		{value(func(w *avro.Writer) { good(w); w.WriteBytes([]byte("a\xffb")) }),
			"field name (string): avro: string: invalid UTF-8 (byte 0xff at byte 1); set 't.invalid.utf8'='replace'"},
	} {
		err := d.decodeInto(c.value, make([]record.Value, schema.Len()))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%x: %v, want %q", c.value, err, c.want)
		}
	}
	// 'replace' reads each bad byte as U+FFFD.
	d = newAvroValueDecoder(client, "t-value", schema, textDecoder{mode: codec.ReplaceInvalidUTF8})
	row := make([]record.Value, schema.Len())
	if err := d.decodeInto(value(func(w *avro.Writer) { good(w); w.WriteBytes([]byte("a\xffb")) }), row); err != nil || row[4].Str() != "a\uFFFDb" {
		t.Errorf("replace: %q, %v", row[4], err)
	}
}

package kafka

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connector/codec"
	"github.com/sluicesql/sluice/record"
)

// repartSchema has a column of every type a statement's input may have.
func repartSchema() *record.Schema {
	return record.NewSchemaOf(
		record.Field{Name: "b", Type: record.BooleanType},
		record.Field{Name: "i", Type: record.IntegerType},
		record.Field{Name: "n", Type: record.BigintType},
		record.Field{Name: "d", Type: record.DecimalType(18, 4)},
		record.Field{Name: "f", Type: record.DoubleType},
		record.Field{Name: "s", Type: record.StringType},
		record.Field{Name: "ts", Type: record.TimestampType},
		record.Field{Name: "r", Type: record.RowType(record.Field{Name: "city", Type: record.StringType}, record.Field{Name: "zip", Type: record.IntegerType})},
		record.Field{Name: "a", Type: record.ArrayType(record.StringType)},
		record.Field{Name: "any", Type: record.AnyType},
	)
}

// repartRows are rows of repartSchema with the values that are easy to
// get wrong: NULLs, extremes, NaN and -0, a decimal of 18 digits, times
// before 1970, strings with any bytes.
func repartRows() [][]record.Value {
	return [][]record.Value{
		make([]record.Value, 10), // all NULL
		{record.BoolValue(true), record.IntValue(math.MaxInt32), record.IntValue(math.MinInt64), record.DecimalValue(999999999999999999, 4),
			record.FloatValue(math.NaN()), record.StringValue(""), record.TimestampValue(-1), record.StringValue(`{"city":"Paris","zip":75000}`),
			record.StringValue(`["a","b"]`), record.FloatValue(1.5)},
		{record.BoolValue(false), record.IntValue(math.MinInt32), record.IntValue(math.MaxInt64), record.DecimalValue(-999999999999999999, 4),
			record.FloatValue(math.Copysign(0, -1)), record.StringValue("a\x00b\xff\xfe é \"quoted\"\n"), record.TimestampValue(1705276800123),
			record.StringValue(`{"city":"\u00e9","zip":null}`), record.StringValue("[]"), record.StringValue("x")},
		{record.NullValue(), record.IntValue(0), record.NullValue(), record.DecimalValue(1, 4),
			record.FloatValue(math.Inf(-1)), record.StringValue(strings.Repeat("long ", 200)), record.TimestampValue(math.MinInt64),
			record.NullValue(), record.NullValue(), record.DecimalValue(-5, 18)},
		{record.NullValue(), record.NullValue(), record.IntValue(-1), record.DecimalValue(0, 4), record.FloatValue(math.SmallestNonzeroFloat64),
			record.StringValue("\xff"), record.TimestampValue(math.MaxInt64), record.NullValue(), record.NullValue(), record.TimestampValue(7)},
	}
}

// same reports whether a and b are the same value: the same kind and the
// same bits (a NaN is the same NaN, -0 is not 0, a decimal keeps its scale).
func same(a, b record.Value) bool {
	if a.Kind() != b.Kind() {
		return false
	}
	switch a.Kind() {
	case record.Bool:
		return a.Bool() == b.Bool()
	case record.Int:
		return a.Int() == b.Int()
	case record.Float:
		return math.Float64bits(a.Float()) == math.Float64bits(b.Float())
	case record.Decimal:
		au, as := a.Decimal()
		bu, bs := b.Decimal()
		return au == bu && as == bs
	case record.String:
		return a.Str() == b.Str()
	case record.Timestamp:
		return a.Millis() == b.Millis()
	}
	return true
}

func checkRow(t *testing.T, got, want []record.Value) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d values, want %d", len(got), len(want))
	}
	for i := range want {
		if !same(got[i], want[i]) {
			t.Errorf("column %d: got %s %v, want %s %v", i, got[i].Kind(), got[i], want[i].Kind(), want[i])
		}
	}
}

func TestRepartRowRoundTrip(t *testing.T) {
	schema := repartSchema()
	enc := newRepartEncoder(schema)
	dec := newRepartRowDecoder(schema, textDecoder{})
	for _, row := range repartRows() {
		data := enc.appendRow([]byte("prefix"), row)[len("prefix"):]
		if data[0] != rowBinary {
			t.Fatalf("version byte %#x", data[0])
		}
		got := make([]record.Value, schema.Len())
		if err := dec.Decode(data, got); err != nil {
			t.Fatalf("decode %q: %v", data, err)
		}
		checkRow(t, got, row)
	}
}

// TestRepartMessageRoundTrip: a row goes through the Shuffle's message and
// the repartition topic's reader with its values, its source timestamp
// (the message's timestamp is its event time), the watermark of its source
// partition and its source position, keyed and partitioned by its routing
// key.
func TestRepartMessageRoundTrip(t *testing.T) {
	schema := repartSchema()
	sh := &Shuffle{cfg: ShuffleConfig{Partitions: 32, Key: func(r *record.Record, buf []record.Value) []record.Value {
		return append(buf[:0], r.Values[5])
	}}, enc: newRepartEncoder(schema), srcs: []*Source{{}}, nums: sourceNumbers{base: []int32{0}, count: []int32{8}}}
	cfg := sourceConfig{name: "t", topic: "g-out-repartition"}
	dec := newRepartDecoder(&cfg, schema)
	up := newUpstream(8, false)
	var buf []byte
	for i, vals := range repartRows() {
		row := record.Record{Values: vals, Timestamp: 1705276800000 + int64(i), Partition: int32(i), Offset: int64(100 + i), Watermark: int64(i) - 1}
		ts := row.Timestamp
		if et := vals[6]; et.Kind() == record.Timestamp && et.Millis() >= 0 {
			ts = et.Millis() // the event time, as Write sets it
		}
		var m kgo.Record
		var err error
		if buf, _, err = sh.message(buf, &row, ts, &m, make([]kgo.RecordHeader, 1)); err != nil {
			t.Fatal(err)
		}
		m.Offset, m.Topic = int64(i), cfg.topic
		if want := Partition(AppendMessageKey(nil, []record.Value{vals[5]}), 32); m.Partition != want || m.Timestamp.UnixMilli() != ts {
			t.Fatalf("message in partition %d at %v, want %d at %d", m.Partition, m.Timestamp, want, ts)
		}
		keep, err := up.admit(&m)
		if err != nil || !keep {
			t.Fatalf("admit: %v %v", keep, err)
		}
		var rec record.Record
		if err := dec.decode(&rec, &m); err != nil {
			t.Fatal(err)
		}
		checkRow(t, rec.Values, vals)
		if rec.Timestamp+up.shift != row.Timestamp || up.carried != row.Watermark || !bytes.Equal(rec.Key, m.Key) {
			t.Errorf("row %d: timestamp %d watermark %d key %q, want %d %d %q", i, rec.Timestamp+up.shift, up.carried, rec.Key, row.Timestamp, row.Watermark, m.Key)
		}
		if o, err := parseOrigin(m.Headers[0].Value); err != nil || o.partition != row.Partition || o.offset != row.Offset {
			t.Errorf("row %d: origin %+v %v, want %d@%d", i, o, err, row.Partition, row.Offset)
		}
	}
}

// TestRepartRowJSON: the JSON rows Sluice wrote to a repartition topic
// before the binary encoding are still read, by name, with the schema's
// types.
func TestRepartRowJSON(t *testing.T) {
	schema := repartSchema()
	dec := newRepartRowDecoder(schema, textDecoder{})
	row := []record.Value{record.BoolValue(true), record.IntValue(7), record.IntValue(-8), record.DecimalValue(12345, 4),
		record.FloatValue(2.5), record.StringValue("é"), record.TimestampValue(1705276800123), record.StringValue(`{"city":"Paris","zip":75000}`),
		record.StringValue(`["a"]`), record.StringValue("x")}
	data := codec.NewJSONEncoder(schema).AppendRow(nil, row)
	got := make([]record.Value, schema.Len())
	if err := dec.Decode(data, got); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	for i, v := range row {
		if i == 7 || i == 8 {
			continue // nested values keep their JSON, not necessarily its spacing
		}
		if !same(got[i], v) {
			t.Errorf("column %s: got %v, want %v", schema.Name(i), got[i], v)
		}
	}
}

// TestRepartRowOtherSchema: a row written for other columns (a process
// that inferred its schema from another sample, a statement changed while
// the topic held records) is read by name, its values converted to the
// reader's types, the reader's other columns NULL; one written for the
// same columns of other types takes the reader's types.
func TestRepartRowOtherSchema(t *testing.T) {
	old := record.NewSchemaOf(record.Field{Name: "id", Type: record.AnyType}, record.Field{Name: "qty", Type: record.AnyType},
		record.Field{Name: "gone", Type: record.AnyType})
	data := newRepartEncoder(old).appendRow(nil, []record.Value{record.IntValue(1), record.IntValue(42), record.StringValue("x")})

	other := record.NewSchemaOf(record.Field{Name: "price", Type: record.DoubleType}, record.Field{Name: "QTY", Type: record.DecimalType(10, 2)},
		record.Field{Name: "id", Type: record.StringType})
	dec := newRepartRowDecoder(other, textDecoder{})
	for range 2 { // the second time from the decoder's cache
		got := make([]record.Value, 3)
		if err := dec.Decode(data, got); err != nil {
			t.Fatal(err)
		}
		checkRow(t, got, []record.Value{record.NullValue(), record.DecimalValue(4200, 2), record.StringValue("1")})
	}

	retyped := record.NewSchemaOf(record.Field{Name: "id", Type: record.StringType}, record.Field{Name: "qty", Type: record.DecimalType(10, 2)},
		record.Field{Name: "gone", Type: record.StringType})
	got := make([]record.Value, 3)
	if err := newRepartRowDecoder(retyped, textDecoder{}).Decode(data, got); err != nil {
		t.Fatal(err)
	}
	checkRow(t, got, []record.Value{record.StringValue("1"), record.DecimalValue(4200, 2), record.StringValue("x")})

	misfit := record.NewSchemaOf(record.Field{Name: "qty", Type: record.BooleanType})
	if err := newRepartRowDecoder(misfit, textDecoder{}).Decode(data, make([]record.Value, 1)); err == nil || !strings.Contains(err.Error(), "qty") {
		t.Errorf("a value that does not fit the reader's type: %v, want an error naming the column", err)
	}
}

// TestRepartRowCorrupt: every prefix of a valid row and every byte
// flipped gives an error or a row, never a panic; a cut row is an error.
func TestRepartRowCorrupt(t *testing.T) {
	schema := repartSchema()
	dec := newRepartRowDecoder(schema, textDecoder{})
	dst := make([]record.Value, schema.Len())
	for _, row := range repartRows() {
		data := newRepartEncoder(schema).appendRow(nil, row)
		for n := range len(data) {
			clear(dst)
			if err := dec.Decode(data[:n], dst); err == nil {
				t.Errorf("%d of %d bytes decoded without an error", n, len(data))
			}
		}
		for i := range data {
			bad := bytes.Clone(data)
			bad[i] ^= 0xa5
			clear(dst)
			_ = dec.Decode(bad, dst)
		}
		long := append(bytes.Clone(data), 0)
		if err := dec.Decode(long, dst); !errors.Is(err, errRowCorrupt) {
			t.Errorf("a byte after the row: %v, want %v", err, errRowCorrupt)
		}
	}
	for _, data := range [][]byte{nil, {0x7f}, {rowBinary}} {
		if err := dec.Decode(data, dst); !errors.Is(err, errRowCorrupt) {
			t.Errorf("%q: %v, want %v", data, err, errRowCorrupt)
		}
	}
}

// FuzzRepartRow: no value read from a repartition topic panics its
// decoder; a row it accepts encodes to a row that decodes to the same
// values.
func FuzzRepartRow(f *testing.F) {
	schema := repartSchema()
	enc := newRepartEncoder(schema)
	for _, row := range repartRows() {
		f.Add(enc.appendRow(nil, row))
	}
	other := record.NewSchemaOf(record.Field{Name: "s"}, record.Field{Name: "gone"}, record.Field{Name: "D"})
	f.Add(newRepartEncoder(other).appendRow(nil, []record.Value{record.StringValue("x"), record.IntValue(1), record.StringValue("1.5")}))
	f.Add([]byte(`{"b":true,"s":"x","ts":"2024-01-15T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		dec := newRepartRowDecoder(schema, textDecoder{})
		got := make([]record.Value, schema.Len())
		if err := dec.Decode(data, got); err != nil {
			return
		}
		again := make([]record.Value, schema.Len())
		if err := dec.Decode(enc.appendRow(nil, got), again); err != nil {
			t.Fatalf("re-encoded row: %v", err)
		}
		checkRow(t, again, got)
	})
}

// FuzzRepartRecord: no record read from a repartition topic panics its
// reader, whatever its value and repartition header (an origin, or a
// control record's reports); a record it cannot read is an error (the
// record goes to the dead-letter queue with it).
func FuzzRepartRecord(f *testing.F) {
	schema := repartSchema()
	enc := newRepartEncoder(schema)
	for i, row := range repartRows() {
		f.Add(enc.appendRow(nil, row), appendOrigin(nil, int32(i), int64(i), int64(i)-1, int64(i), 0), false)
	}
	f.Add([]byte(nil), appendProgress(nil, []partProgress{{partition: 1, watermark: 5, committed: 3, flags: progressEnded}}), true)
	f.Add([]byte(nil), appendDone(nil, []partProgress{{partition: 7, watermark: noWatermark, committed: -1}}), true)
	f.Fuzz(func(t *testing.T, value, header []byte, control bool) {
		cfg := sourceConfig{name: "t", topic: "g-out-repartition"}
		dec := newRepartDecoder(&cfg, schema)
		up := newUpstream(8, true)
		key := originHeader
		if control {
			key = controlHeader
		}
		kr := &kgo.Record{Value: value, Topic: cfg.topic, Headers: []kgo.RecordHeader{{Key: key, Value: header}}}
		keep, err := up.admit(kr)
		if err != nil || !keep {
			return
		}
		var rec record.Record
		if err := dec.decode(&rec, kr); err != nil && err.Error() == "" {
			t.Fatal("an error without a message")
		}
		up.watermark()
		up.publish(1)
	})
}

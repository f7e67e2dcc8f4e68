package codec

import (
	"testing"

	"github.com/sluicesql/sluice/record"
)

func TestInferJSON(t *testing.T) {
	for _, tt := range []struct {
		name  string
		lines []string
		time  []string
		want  string
	}{
		{"scalars", []string{`{"id":1,"big":3000000000,"price":185.20,"ratio":1e3,"ok":true,"sym":"AAPL","ts":"2024-01-15T10:00:05Z"}`},
			nil, "id INTEGER, big BIGINT, price DECIMAL(5,2), ratio DOUBLE, ok BOOLEAN, sym STRING, ts TIMESTAMP"},
		{"integer widens to bigint", []string{`{"n":1}`, `{"n":30000000000}`}, nil, "n BIGINT"},
		{"integer and decimal", []string{`{"p":1500}`, `{"p":2.25}`}, nil, "p DECIMAL(6,2)"},
		{"decimals widen", []string{`{"p":1.5}`, `{"p":123.25}`}, nil, "p DECIMAL(5,2)"},
		{"decimal and double", []string{`{"p":1.5}`, `{"p":2e10}`}, nil, "p DOUBLE"},
		{"number and string", []string{`{"v":1}`, `{"v":"x"}`}, nil, "v STRING"},
		{"timestamp and string", []string{`{"t":"2024-01-15T10:00:05Z"}`, `{"t":"soon"}`}, nil, "t STRING"},
		{"nulls give no type", []string{`{"a":null,"b":null}`, `{"b":7}`}, nil, "a, b INTEGER"},
		{"columns in first-seen order", []string{`{"b":1}`, `{"a":"x","b":2}`}, nil, "b INTEGER, a STRING"},
		{"nested object", []string{`{"payload":{"user":{"id":7,"name":"ann"}}}`, `{"payload":{"user":{"id":8},"score":1.5}}`},
			nil, "payload ROW<user ROW<id INTEGER, name STRING>, score DECIMAL(2,1)>"},
		{"array", []string{`{"tags":["a","b"]}`, `{"tags":[]}`}, nil, "tags ARRAY<STRING>"},
		{"array of numbers widens", []string{`{"xs":[1,2.5]}`}, nil, "xs ARRAY<DECIMAL(2,1)>"},
		{"object and scalar", []string{`{"o":{"a":1}}`, `{"o":3}`}, nil, "o STRING"},
		{"epoch in a time column", []string{`{"ts":1705312805000,"n":1705312805000}`}, []string{"TS"}, "ts TIMESTAMP, n BIGINT"},
		{"epoch and ISO text in a time column", []string{`{"ts":1705312805000}`, `{"ts":"2024-01-15T10:00:05Z"}`, `{"ts":"1705312806000"}`},
			[]string{"ts"}, "ts TIMESTAMP"},
		{"odd values in a time column", []string{`{"ts":"2024-01-15T10:00:05Z"}`, `{"ts":"soon"}`, `{"ts":true}`}, []string{"ts"}, "ts TIMESTAMP"},
		{"no time in a time column", []string{`{"ts":"soon"}`, `{"ts":"later"}`}, []string{"ts"}, "ts STRING"},
		{"ISO in any column", []string{`{"at":"2024-01-15 10:00:05"}`}, nil, "at TIMESTAMP"},
		{"odd text makes a file's column a string", append(repeat(`{"q":5}`, 99), `{"q":"lots"}`), nil, "q STRING"},
		{"digits are not a date", []string{`{"code":"20240115"}`}, nil, "code STRING"},
		{"a JSON string is no boolean", []string{`{"s":"true","b":false}`, `{"s":"false","b":true}`}, nil, "s STRING, b BOOLEAN"},
		{"boolean and string", []string{`{"b":true}`, `{"b":"yes"}`}, nil, "b STRING"},
		{"all null", []string{`{"n":null}`, `{"n":null}`}, nil, "n"},
		{"missing in some records", []string{`{"a":1}`, `{"b":"x"}`, `{"a":2,"b":"y"}`}, nil, "a INTEGER, b STRING"},
		{"bigint and double", []string{`{"x":3000000000}`, `{"x":1.5e3}`}, nil, "x DOUBLE"},
		{"integer, bigint, decimal, double, string", []string{`{"x":1}`, `{"x":3000000000}`, `{"x":0.25}`, `{"x":1e300}`, `{"x":"many"}`, `{"x":"more"}`}, nil, "x STRING"},
		{"too many digits for a decimal", []string{`{"x":123456789012345678}`, `{"x":0.125}`}, nil, "x DOUBLE"},
		{"array of objects", []string{`{"items":[{"sku":"x","qty":1},{"sku":"y","qty":2.5}]}`, `{"items":[{"sku":"z","note":null}]}`}, nil, "items ARRAY<ROW<sku STRING, qty DECIMAL(2,1), note ANY>>"},
		{"array and scalar", []string{`{"a":[1]}`, `{"a":1}`}, nil, "a STRING"},
		{"ISO with offset and fraction", []string{`{"t":"2024-01-15T10:00:05.123+01:00"}`, `{"t":"2024-01-15"}`}, nil, "t TIMESTAMP"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := NewInferrer(tt.time...)
			for _, l := range tt.lines {
				if err := in.AddJSON([]byte(l)); err != nil {
					t.Fatalf("AddJSON(%s): %v", l, err)
				}
			}
			if got := in.Schema().String(); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if in.Records() != len(tt.lines) {
				t.Errorf("Records() = %d, want %d", in.Records(), len(tt.lines))
			}
		})
	}
}

// TestInferStream checks that a stream's column keeps its type when at
// most 1% of its values are odd text.
func TestInferStream(t *testing.T) {
	for _, tt := range []struct {
		lines []string
		want  string
	}{
		{append(repeat(`{"q":5}`, 99), `{"q":"lots"}`), "q INTEGER"},
		{append(repeat(`{"q":5}`, 98), `{"q":"lots"}`, `{"q":"many"}`), "q STRING"},
	} {
		in := NewInferrer().ForStream()
		for _, l := range tt.lines {
			if err := in.AddJSON([]byte(l)); err != nil {
				t.Fatal(err)
			}
		}
		if got := in.Schema().String(); got != tt.want {
			t.Errorf("%d lines: got %s, want %s", len(tt.lines), got, tt.want)
		}
	}
}

func TestInferJSONErrors(t *testing.T) {
	for _, l := range []string{`[1,2]`, `{"a":`, `{"a":1} x`, `"s"`} {
		if err := NewInferrer().AddJSON([]byte(l)); err == nil {
			t.Errorf("AddJSON(%s): no error", l)
		}
	}
}

func TestInferCSV(t *testing.T) {
	cols := []string{"station", "temp", "code", "ok", "at"}
	schema := record.NewSchema(cols...)
	dec, err := NewCSVDecoder(schema, cols, ';')
	if err != nil {
		t.Fatal(err)
	}
	in := NewInferrer()
	vals := make([]record.Value, len(cols))
	for _, l := range []string{`Hamburg;12.0;"007";true;2024-01-15T10:00:00Z`, `Oslo;-3;;false;`, `Bergen;4.25;12;TRUE;2024-01-16T00:00:00Z`} {
		if err := dec.Decode([]byte(l), vals); err != nil {
			t.Fatal(err)
		}
		in.AddValues(cols, vals)
	}
	want := "station STRING, temp DECIMAL(4,2), code STRING, ok BOOLEAN, at TIMESTAMP"
	if got := in.Schema().String(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	for _, f := range in.Schema().Fields() {
		if !f.Inferred {
			t.Errorf("column %s is not marked inferred", f.Name)
		}
	}
}

func repeat(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

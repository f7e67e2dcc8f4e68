package codec

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/sluicesql/sluice/record"
)

// show renders values as "KIND:text" for comparisons.
func show(vals []record.Value) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = v.Kind().String() + ":" + v.String()
	}
	return strings.Join(parts, " ")
}

func TestJSONDecoder(t *testing.T) {
	schema := record.NewSchema("a", "b", "c")
	tests := []struct {
		name, in, want string
	}{
		{"typing", `{"a": 1, "b": 0.1, "c": 2.5e1}`, "INTEGER:1 DECIMAL:0.1 FLOAT:25"},
		{"decimal keeps scale", `{"a":12.50,"b":-0.05,"c":-7}`, "DECIMAL:12.50 DECIMAL:-0.05 INTEGER:-7"},
		{"strings bools null", `{"a":"x","b":true,"c":null}`, "STRING:x BOOLEAN:true NULL:NULL"},
		{"false", `{"c":false}`, "NULL:NULL NULL:NULL BOOLEAN:false"},
		{"absent fields are null", `{"b":"only"}`, "NULL:NULL STRING:only NULL:NULL"},
		{"case-insensitive names", `{"A":1,"B":2,"C":3}`, "INTEGER:1 INTEGER:2 INTEGER:3"},
		{"unknown fields ignored", `{"z":{"q":[1,2]},"a":1,"y":[true,"]"],"w":-1.5e-3}`, "INTEGER:1 NULL:NULL NULL:NULL"},
		{"nested kept as JSON text", `{"a":{"x": [1, {"y":"}"}]},"b":[1,2]}`, `STRING:{"x": [1, {"y":"}"}]} STRING:[1,2] NULL:NULL`},
		{"escapes", `{"a":"q\"b\\s\/\n\t\u00e9\ud83d\ude00"}`, "STRING:q\"b\\s/\n\té😀 NULL:NULL NULL:NULL"},
		{"lone surrogate", `{"a":"\ud800x"}`, "STRING:\uFFFDx NULL:NULL NULL:NULL"},
		{"escaped field name", `{"\u0061":5}`, "INTEGER:5 NULL:NULL NULL:NULL"},
		{"white space", " \t{ \"a\" : 1 ,\r\n\"b\":\"y\" } \r\n", "INTEGER:1 STRING:y NULL:NULL"},
		{"empty object", `{}`, "NULL:NULL NULL:NULL NULL:NULL"},
		{"duplicate field: last wins", `{"a":1,"a":2}`, "INTEGER:2 NULL:NULL NULL:NULL"},
		{"big integer", `{"a":123456789012345678}`, "INTEGER:123456789012345678 NULL:NULL NULL:NULL"},
		{"19-digit integer", `{"a":-9223372036854775808}`, "INTEGER:-9223372036854775808 NULL:NULL NULL:NULL"},
	}
	d := NewJSONDecoder(schema)
	dst := make([]record.Value, schema.Len())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst[0] = record.IntValue(99) // must be reset
			if err := d.Decode([]byte(tt.in), dst); err != nil {
				t.Fatalf("Decode(%s): %v", tt.in, err)
			}
			if got := show(dst); got != tt.want {
				t.Errorf("Decode(%s)\n got %s\nwant %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestJSONDecoderFieldOrderChanges(t *testing.T) {
	schema := record.NewSchema("a", "b")
	d := NewJSONDecoder(schema)
	dst := make([]record.Value, 2)
	lines := []struct{ in, want string }{
		{`{"a":1,"b":2}`, "INTEGER:1 INTEGER:2"},
		{`{"b":3,"a":4}`, "INTEGER:4 INTEGER:3"},
		{`{"x":0,"b":5}`, "NULL:NULL INTEGER:5"},
		{`{"a":6,"b":7}`, "INTEGER:6 INTEGER:7"},
	}
	for _, l := range lines {
		if err := d.Decode([]byte(l.in), dst); err != nil {
			t.Fatalf("Decode(%s): %v", l.in, err)
		}
		if got := show(dst); got != l.want {
			t.Errorf("Decode(%s) = %s, want %s", l.in, got, l.want)
		}
	}
}

func TestJSONDecoderErrors(t *testing.T) {
	schema := record.NewSchema("a")
	tests := []struct{ in, msg string }{
		{``, "empty input"},
		{`   `, "empty input"},
		{`[1]`, "expected a JSON object"},
		{`{"a":1`, "unterminated object"},
		{`{"a" 1}`, "expected ':'"},
		{`{a:1}`, "expected a field name"},
		{`{"a":1,}`, "expected a field name"},
		{`{"a":}`, "expected a value"},
		{`{"a":tru}`, "expected a value"},
		{`{"a":1}x`, "unexpected text after the object"},
		{`{"a":"x}`, "unterminated string"},
		{`{"a":"\x"}`, "invalid escape"},
		{`{"a":"\u12"}`, `invalid \u escape`},
		{`{"a":1.2.3}`, "invalid number"},
		{`{"a":-}`, "invalid number"},
		{`{"a":99999999999999999999}`, "out of range"},
		{`{"a":1.0000000000000000000001}`, "decimal"},
		{`{"z":01}`, "invalid number"},
		{`{"z":[1,`, "unterminated nested value"},
		{`{"z":[1}]}`, "unexpected '}'"},
		{`{"a":{"b":1]}`, "unexpected ']'"},
	}
	d := NewJSONDecoder(schema)
	dst := make([]record.Value, 1)
	for _, tt := range tests {
		err := d.Decode([]byte(tt.in), dst)
		if err == nil {
			t.Errorf("Decode(%s): want error containing %q", tt.in, tt.msg)
			continue
		}
		if !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("Decode(%s) = %v, want it to contain %q", tt.in, err, tt.msg)
		}
	}
}

func TestParseNumberMatchesRecord(t *testing.T) {
	for _, in := range []string{
		"0", "-0", "150", "+7", "12.50", "-0.05", ".5", "-.5", "1.", "1e3", "2.5E-1", "1e+2",
		"123456789012345678", "1234567890123456789", "9223372036854775807", "9223372036854775808",
		"-9223372036854775808", "0.000000000000000001", "0.0000000000000000001", "922337203685477580.7",
		"9223372036854775808.0", "1.2.3", "abc", "", "-", "1e", "e1", "1-2", "1e5e5", ".", "+",
	} {
		checkParseNumber(t, in)
	}
}

// checkParseNumber checks that parseNumber accepts exactly what
// record.ParseNumber accepts, with the same kind and value.
func checkParseNumber(t *testing.T, in string) {
	t.Helper()
	want, werr := record.ParseNumber(in)
	got, gerr := parseNumber([]byte(in))
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("parseNumber(%q): err %v, record.ParseNumber err %v", in, gerr, werr)
	}
	if werr == nil && (got.Kind() != want.Kind() || got.String() != want.String()) {
		t.Fatalf("parseNumber(%q) = %v %s, record.ParseNumber = %v %s", in, got.Kind(), got, want.Kind(), want)
	}
}

func TestDecimalScale(t *testing.T) {
	// SUM over money relies on "0.1" being exactly 1 × 10^-1.
	v, err := parseNumber([]byte("0.1"))
	if err != nil {
		t.Fatal(err)
	}
	if u, s := v.Decimal(); v.Kind() != record.Decimal || u != 1 || s != 1 {
		t.Errorf(`"0.1" = %v %d scale %d, want DECIMAL 1 scale 1`, v.Kind(), u, s)
	}
}

func TestInternerReturnsEqualStrings(t *testing.T) {
	in := newInterner()
	words := []string{"a", "SYM1", "SYM2", "Hamburg", strings.Repeat("x", 100), ""}
	for round := 0; round < 3; round++ {
		for _, w := range words {
			if got := in.str([]byte(w)); got != w {
				t.Fatalf("str(%q) = %q", w, got)
			}
		}
	}
	// Many distinct strings evict without growing or confusing entries.
	for i := 0; i < 20000; i++ {
		w := strings.Repeat("k", i%50) + string(rune('a'+i%26))
		if got := in.str([]byte(w)); got != w {
			t.Fatalf("str(%q) = %q", w, got)
		}
	}
}

func validUTF8(s string) bool { return utf8.ValidString(s) }

// TestJSONEncoderLeavesOutInternalColumns: an internal column
// (record.Field.Internal) is no field of the object, first, last or alone.
func TestJSONEncoderLeavesOutInternalColumns(t *testing.T) {
	side := record.Field{Name: " side", Internal: true}
	one := record.IntValue(1)
	for _, tc := range []struct {
		schema *record.Schema
		row    []record.Value
		want   string
	}{
		{record.NewSchemaOf(side, record.Field{Name: "a"}, record.Field{Name: "b"}), []record.Value{one, record.StringValue("x"), {}}, `{"a":"x","b":null}`},
		{record.NewSchemaOf(record.Field{Name: "a"}, side), []record.Value{one, one}, `{"a":1}`},
		{record.NewSchemaOf(side), []record.Value{one}, `{}`},
	} {
		if got := string(NewJSONEncoder(tc.schema).AppendRow(nil, tc.row)); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.schema, got, tc.want)
		}
	}
}

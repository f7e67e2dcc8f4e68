package codec

import (
	"strings"
	"testing"

	"github.com/sluicesql/sluice/record"
)

func TestCSVDecoder(t *testing.T) {
	schema := record.NewSchema("station", "temperature", "note")
	tests := []struct {
		name    string
		columns []string
		delim   byte
		in      string
		want    string
	}{
		{"1brc", []string{"station", "temperature"}, ';', "Hamburg;12.0", "STRING:Hamburg DECIMAL:12.0 NULL:NULL"},
		{"negative", []string{"station", "temperature"}, ';', "St. John's;-3.7", "STRING:St. John's DECIMAL:-3.7 NULL:NULL"},
		{"typing", []string{"station", "temperature", "note"}, ',', "1,0.1,2e3", "INTEGER:1 DECIMAL:0.1 FLOAT:2000"},
		{"empty is null", []string{"station", "temperature", "note"}, ',', ",,", "NULL:NULL NULL:NULL NULL:NULL"},
		{"quoted stays string", []string{"station", "temperature", "note"}, ',', `"12","","x"`, "STRING:12 STRING: STRING:x"},
		{"quoted delimiter and quotes", []string{"station", "note"}, ',', `"a,b","say ""hi"", ok"`, `STRING:a,b NULL:NULL STRING:say "hi", ok`},
		{"not a number", []string{"station", "temperature"}, ',', "1.2.3,12abc", "STRING:1.2.3 STRING:12abc NULL:NULL"},
		{"unknown columns ignored", []string{"x", "temperature", "y"}, '\t', "a\t5\tb", "NULL:NULL INTEGER:5 NULL:NULL"},
		{"case-insensitive", []string{"STATION", "Temperature"}, ',', "Oslo,1", "STRING:Oslo INTEGER:1 NULL:NULL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := NewCSVDecoder(schema, tt.columns, tt.delim)
			if err != nil {
				t.Fatal(err)
			}
			dst := make([]record.Value, schema.Len())
			if err := d.Decode([]byte(tt.in), dst); err != nil {
				t.Fatalf("Decode(%q): %v", tt.in, err)
			}
			if got := show(dst); got != tt.want {
				t.Errorf("Decode(%q)\n got %s\nwant %s", tt.in, got, tt.want)
			}
		})
	}
}

// TestCSVDecoderReusesDst checks that decoding into storage holding an
// earlier record's values sets every slot: the slots no column fills are
// NULL, whatever the length of dst.
func TestCSVDecoderReusesDst(t *testing.T) {
	schema := record.NewSchema("station", "temperature", "note")
	stale := []record.Value{record.StringValue("old"), record.IntValue(7), record.StringValue("stale"), record.IntValue(9)}
	tests := []struct {
		name    string
		columns []string
		in      string
		width   int
		want    string
	}{
		{"unfilled slot", []string{"station", "temperature"}, "Oslo;-1.5", 3, "STRING:Oslo DECIMAL:-1.5 NULL:NULL"},
		{"unfilled first slot", []string{"temperature", "note"}, "3;x", 3, "NULL:NULL INTEGER:3 STRING:x"},
		{"ignored column", []string{"x", "station", "y"}, "1;Rome;2", 3, "STRING:Rome NULL:NULL NULL:NULL"},
		{"longer dst", []string{"station", "temperature"}, "Oslo;2", 4, "STRING:Oslo INTEGER:2 NULL:NULL NULL:NULL"},
		{"shorter dst", []string{"station", "note"}, "Oslo;z", 2, "STRING:Oslo NULL:NULL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := NewCSVDecoder(schema, tt.columns, ';')
			if err != nil {
				t.Fatal(err)
			}
			dst := append([]record.Value(nil), stale[:tt.width]...)
			if err := d.Decode([]byte(tt.in), dst); err != nil {
				t.Fatalf("Decode(%q): %v", tt.in, err)
			}
			if got := show(dst); got != tt.want {
				t.Errorf("Decode(%q)\n got %s\nwant %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestCSVDecoderErrors(t *testing.T) {
	schema := record.NewSchema("a", "b")
	d, err := NewCSVDecoder(schema, []string{"a", "b"}, ',')
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ in, msg string }{
		{"1", "line has 1 fields, want 2"},
		{"1,2,3", "line has 3 fields, want 2"},
		{`"a,1`, "unterminated quoted field"},
		{`"a"x,1`, `unexpected 'x' after a quoted field`},
		{"99999999999999999999,1", "column 1: integer"},
	}
	dst := make([]record.Value, 2)
	for _, tt := range tests {
		err := d.Decode([]byte(tt.in), dst)
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("Decode(%q) = %v, want error containing %q", tt.in, err, tt.msg)
		}
	}
	if _, err := NewCSVDecoder(schema, []string{"a", "A"}, ','); err == nil {
		t.Error("duplicate column: want error")
	}
	if _, err := NewCSVDecoder(schema, []string{"a"}, '"'); err == nil {
		t.Error(`delimiter '"': want error`)
	}
}

func TestParseCSVHeader(t *testing.T) {
	tests := []struct {
		in   string
		want string
		err  bool
	}{
		{"a,b,c", "a|b|c", false},
		{"\xEF\xBB\xBFa, b ,\"c,d\"", "a|b|c,d", false},
		{"a,,c", "", true},
		{`"a`, "", true},
	}
	for _, tt := range tests {
		got, err := ParseCSVHeader([]byte(tt.in), ',')
		if tt.err {
			if err == nil {
				t.Errorf("ParseCSVHeader(%q) = %q, want error", tt.in, got)
			}
			continue
		}
		if err != nil || strings.Join(got, "|") != tt.want {
			t.Errorf("ParseCSVHeader(%q) = %q, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func TestEncodersRoundTrip(t *testing.T) {
	schema := record.NewSchema("s", "n", "d", "f", "b", "z", "t")
	row := []record.Value{
		record.StringValue("a,\"b\"\n\t\x01é\xff"),
		record.IntValue(-42),
		record.DecimalValue(1250, 2),
		record.FloatValue(0.25),
		record.BoolValue(true),
		record.NullValue(),
		record.TimestampValue(1705276800000),
	}
	js := string(NewJSONEncoder(schema).AppendRow(nil, row))
	wantJS := `{"s":"a,\"b\"\n\t\u0001é\ufffd","n":-42,"d":12.50,"f":0.25,"b":true,"z":null,"t":"2024-01-15T00:00:00.000Z"}`
	if js != wantJS {
		t.Errorf("JSON\n got %s\nwant %s", js, wantJS)
	}
	dst := make([]record.Value, schema.Len())
	if err := NewJSONDecoder(schema).Decode([]byte(js), dst); err != nil {
		t.Fatal(err)
	}
	// A FLOAT written without an exponent comes back as a DECIMAL of the same value.
	want := show(row[1:3]) + " DECIMAL:0.25 " + show(row[4:6])
	if got := show(dst[1:6]); got != want {
		t.Errorf("JSON round trip\n got %s\nwant %s", got, want)
	}

	enc, err := NewCSVEncoder(',')
	if err != nil {
		t.Fatal(err)
	}
	if h := string(enc.AppendHeader(nil, record.NewSchema("a", "b,c"))); h != `a,"b,c"` {
		t.Errorf("header = %s", h)
	}
	csvRow := []record.Value{record.StringValue("12"), record.StringValue(""), record.NullValue(),
		record.StringValue(`x"y`), record.DecimalValue(-5, 1), record.StringValue("plain"), record.FloatValue(1.2345678901234568e20)}
	line := string(enc.AppendRow(nil, csvRow))
	if wantLine := `"12","",,"x""y",-0.5,plain,1.2345678901234568e+20`; line != wantLine {
		t.Errorf("CSV = %s, want %s", line, wantLine)
	}
	names := []string{"a", "b", "c", "d", "e", "f", "g"}
	dec, err := NewCSVDecoder(record.NewSchema(names...), names, ',')
	if err != nil {
		t.Fatal(err)
	}
	back := make([]record.Value, len(names))
	if err := dec.Decode([]byte(line), back); err != nil {
		t.Fatal(err)
	}
	if got, want := show(back), show(csvRow); got != want {
		t.Errorf("CSV round trip\n got %s\nwant %s", got, want)
	}
}

package codec

import (
	"bytes"
	"testing"

	"github.com/sluicesql/sluice/record"
)

// checkDecodeFirst decodes the first line of buf with DecodeFirst and, when
// it applies, checks the result against Decode on the line cut as a reader
// cuts it (up to "\n", without a trailing "\r"). It returns DecodeFirst's
// length.
func checkDecodeFirst(t *testing.T, d *CSVDecoder, width int, buf []byte) int {
	t.Helper()
	dst := make([]record.Value, width)
	for i := range dst {
		dst[i] = record.StringValue("stale")
	}
	n := d.DecodeFirst(buf, dst)
	if n == 0 {
		return 0
	}
	nl := bytes.IndexByte(buf, '\n')
	if nl < 0 || n != nl+1 {
		t.Fatalf("DecodeFirst(%q) = %d, want the line break at %d", buf, n, nl)
	}
	line := bytes.TrimSuffix(buf[:nl], []byte("\r"))
	if len(line) == 0 {
		t.Fatalf("DecodeFirst(%q) decoded an empty line", buf)
	}
	want := make([]record.Value, width)
	if err := d.Decode(line, want); err != nil {
		t.Fatalf("DecodeFirst(%q) decoded a line Decode rejects: %v", buf, err)
	}
	for i := range want {
		if want[i].Kind() != dst[i].Kind() || want[i].String() != dst[i].String() {
			t.Fatalf("DecodeFirst(%q) slot %d = %v %q, Decode gives %v %q", buf, i, dst[i].Kind(), dst[i], want[i].Kind(), want[i])
		}
	}
	return n
}

func TestCSVDecodeFirst(t *testing.T) {
	schema := record.NewSchema("station", "temperature", "note")
	two := []string{"station", "temperature"}
	tests := []struct {
		name    string
		columns []string
		in      string
		want    int    // DecodeFirst's length; 0: the caller falls back to Decode
		values  string // when want > 0
	}{
		{"1brc", two, "Hamburg;12.0\nOslo;1.0\n", 13, "STRING:Hamburg DECIMAL:12.0 NULL:NULL"},
		{"negative", two, "St. John's;-3.7\n", 16, "STRING:St. John's DECIMAL:-3.7 NULL:NULL"},
		{"crlf", two, "Oslo;-1.5\r\nx", 11, "STRING:Oslo DECIMAL:-1.5 NULL:NULL"},
		{"crlf after a string", []string{"temperature", "station"}, "7;Oslo\r\n", 8, "STRING:Oslo INTEGER:7 NULL:NULL"},
		{"cr inside a field", two, "a\rb;1\r\n", 7, "STRING:a\rb INTEGER:1 NULL:NULL"},
		{"cr after a number not at the end", two, "x;1\r2\n", 6, "STRING:x STRING:1\r2 NULL:NULL"},
		{"integer", two, "Rome;12\n", 8, "STRING:Rome INTEGER:12 NULL:NULL"},
		{"number first", []string{"temperature", "station"}, "-0.5;Rome\n", 10, "STRING:Rome DECIMAL:-0.5 NULL:NULL"},
		{"general numbers", []string{"station", "temperature", "note"}, "+1;.5;2e3\n", 10, "INTEGER:1 DECIMAL:0.5 FLOAT:2000"},
		{"not numbers", two, "1.2.3;12abc\n", 12, "STRING:1.2.3 STRING:12abc NULL:NULL"},
		{"trailing dot", two, "a;1.\n", 5, "STRING:a DECIMAL:1 NULL:NULL"},
		{"empty fields", []string{"station", "temperature", "note"}, ";;\n", 3, "NULL:NULL NULL:NULL NULL:NULL"},
		{"ignored column", []string{"x", "station", "y"}, "1;Rome;2\n", 9, "STRING:Rome NULL:NULL NULL:NULL"},
		{"no line break", two, "Hamburg;12.0", 0, ""},
		{"line break after a number missing", two, "Hamburg;12.0\r", 0, ""},
		{"empty line", two, "\nHamburg;1\n", 0, ""},
		{"empty crlf line", []string{"station"}, "\r\nHamburg\n", 0, ""},
		{"quoted", two, "\"a;b\";1\n", 0, ""},
		{"quoted second", two, "a;\"1\"\n", 0, ""},
		{"too few fields", two, "Hamburg\n", 0, ""},
		{"too few fields after a number", []string{"temperature", "station"}, "1\n", 0, ""},
		{"too many fields", two, "a;1;2\n", 0, ""},
		{"out of range", two, "a;99999999999999999999\n", 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := NewCSVDecoder(schema, tt.columns, ';')
			if err != nil {
				t.Fatal(err)
			}
			n := checkDecodeFirst(t, d, schema.Len(), []byte(tt.in))
			if n != tt.want {
				t.Fatalf("DecodeFirst(%q) = %d, want %d", tt.in, n, tt.want)
			}
			if n == 0 {
				return
			}
			dst := make([]record.Value, schema.Len())
			d.DecodeFirst([]byte(tt.in), dst)
			if got := show(dst); got != tt.values {
				t.Errorf("DecodeFirst(%q)\n got %s\nwant %s", tt.in, got, tt.values)
			}
		})
	}
}

// FuzzCSVDecodeFirst checks that the one-pass path decodes every line it
// accepts exactly as Decode does.
func FuzzCSVDecodeFirst(f *testing.F) {
	for _, s := range []string{"Hamburg;12.0\n", "a\r;-1.5\r\n", "\"a;b\";1\n", "1;2;3\n", ";\n", "-;.5\n", "x;1.\n", "\r\n"} {
		f.Add([]byte(s))
	}
	schema := record.NewSchema("a", "b")
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, cols := range [][]string{{"a", "b"}, {"b", "x", "a"}, {"a"}} {
			d, err := NewCSVDecoder(schema, cols, ';')
			if err != nil {
				t.Fatal(err)
			}
			checkDecodeFirst(t, d, schema.Len(), data)
		}
	})
}

package codec

import (
	"strings"
	"testing"

	"github.com/sluicesql/sluice/record"
)

// TestInvalidUTF8 checks that a string value that is not valid UTF-8 fails
// the record by default (so it reaches the dead-letter queue with its
// bytes), is read with U+FFFD per bad byte under ReplaceInvalidUTF8, and
// that neither outcome is cached for the next record with the same bytes.
func TestInvalidUTF8(t *testing.T) {
	schema := record.NewSchema("a", "b")
	long := strings.Repeat("y", 100)
	type decoder interface {
		Decode([]byte, []record.Value) error
		SetInvalidUTF8(InvalidUTF8, string)
	}
	csv := func() decoder {
		d, err := NewCSVDecoder(schema, []string{"a", "b"}, ',')
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	json := func() decoder { return NewJSONDecoder(schema) }
	tests := []struct {
		name    string
		dec     func() decoder
		in      string
		replace string // the decoded values under ReplaceInvalidUTF8
		at      string // the error's position under RejectInvalidUTF8
	}{
		{"json", json, "{\"a\":\"\xff\xfe bad\",\"b\":1}", "STRING:\ufffd\ufffd bad INTEGER:1", "byte 0xff at byte 6"},
		{"json escaped", json, "{\"a\":\"\\n\xc3\",\"b\":1}", "STRING:\n\ufffd INTEGER:1", "byte 0xc3 at byte 8"},
		{"json long", json, "{\"a\":\"" + long + "\xe2\x82\",\"b\":1}", "STRING:" + long + "\ufffd\ufffd INTEGER:1", "at byte 106"},
		{"json nested", json, "{\"a\":[\"\xff\"],\"b\":1}", "STRING:[\"\ufffd\"] INTEGER:1", "at byte 7"},
		{"csv", csv, "\xff\xfe bad,1", "STRING:\ufffd\ufffd bad INTEGER:1", "at byte 0"},
		{"csv quoted", csv, "x,\"a\xffb\"", "STRING:x STRING:a\ufffdb", "at byte 4"},
		{"csv number-like", csv, "1\xff,2", "STRING:1\ufffd INTEGER:2", "at byte 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := make([]record.Value, 2)
			d := tt.dec()
			for range 2 { // the second time the bytes could come from a cache
				err := d.Decode([]byte(tt.in), dst)
				if err == nil || !strings.Contains(err.Error(), "invalid UTF-8") || !strings.Contains(err.Error(), tt.at) ||
					!strings.Contains(err.Error(), "'<source>.invalid.utf8'='replace'") {
					t.Fatalf("Decode(%q) = %v, want an invalid UTF-8 error %s", tt.in, err, tt.at)
				}
				if cd, ok := d.(*CSVDecoder); ok {
					if n := cd.DecodeFirst([]byte(tt.in+"\n"), dst); n != 0 {
						t.Fatalf("DecodeFirst accepted %q", tt.in)
					}
				}
			}
			// A valid record after the bad one decodes.
			good := `{"a":"ok","b":1}`
			if _, ok := d.(*CSVDecoder); ok {
				good = "ok,1"
			}
			if err := d.Decode([]byte(good), dst); err != nil || show(dst) != "STRING:ok INTEGER:1" {
				t.Fatalf("then Decode(%q) = %v, %s", good, err, show(dst))
			}
			d = tt.dec()
			d.SetInvalidUTF8(ReplaceInvalidUTF8, "t.invalid.utf8")
			for range 2 {
				if err := d.Decode([]byte(tt.in), dst); err != nil || show(dst) != tt.replace {
					t.Fatalf("replace: Decode(%q) = %v, %q; want %q", tt.in, err, show(dst), tt.replace)
				}
			}
		})
	}
	d := NewJSONDecoder(schema)
	d.SetInvalidUTF8(RejectInvalidUTF8, "t.invalid.utf8")
	if err := d.Decode([]byte("{\"a\":\"\xff\"}"), make([]record.Value, 2)); err == nil || !strings.Contains(err.Error(), "'t.invalid.utf8'='replace'") {
		t.Errorf("the error names the option: %v", err)
	}
	if _, err := ParseInvalidUTF8("ignore"); err == nil || !strings.Contains(err.Error(), "valid: error, replace") {
		t.Errorf("ParseInvalidUTF8(ignore) = %v", err)
	}
}

// TestErrorsQuoteLittle checks that a decode error quotes a bounded part of
// a huge field.
func TestErrorsQuoteLittle(t *testing.T) {
	digits := strings.Repeat("9", 1<<20)
	schema := record.NewSchema("a")
	csv, err := NewCSVDecoder(schema, []string{"a"}, ',')
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		err  error
	}{
		{"json integer", NewJSONDecoder(schema).Decode([]byte(`{"a":`+digits+`}`), make([]record.Value, 1))},
		{"json decimal", NewJSONDecoder(schema).Decode([]byte(`{"a":`+digits+`.5}`), make([]record.Value, 1))},
		{"json bad number", NewJSONDecoder(schema).Decode([]byte(`{"a":-`+digits+`e}`), make([]record.Value, 1))},
		{"csv integer", csv.Decode([]byte(digits), make([]record.Value, 1))},
	} {
		if tt.err == nil || len(tt.err.Error()) > 200 {
			t.Errorf("%s: %.300v", tt.name, tt.err)
		}
	}
}

package codec

import (
	"strconv"
	"testing"

	"github.com/sluicesql/sluice/record"
)

func FuzzJSONDecoder(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":0.1,"c":"x"}`, `{"a":{"n":[1,"]",{}]},"b":true,"c":null}`, `{"A":"\u00e9\ud83d\ude00"}`,
		`{"a":1e5,"z":-0.5e-3}`, `[`, `{"a":"\`, `{"a":99999999999999999999}`,
	} {
		f.Add([]byte(s))
	}
	schema := record.NewSchema("a", "b", "c")
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewJSONDecoder(schema)
		dst := make([]record.Value, schema.Len())
		if err := d.Decode(data, dst); err != nil {
			return
		}
		// A decoded object re-encodes to JSON that decodes to the same values.
		out := NewJSONEncoder(schema).AppendRow(nil, dst)
		again := make([]record.Value, schema.Len())
		if err := NewJSONDecoder(schema).Decode(out, again); err != nil {
			t.Fatalf("re-decoding %s (from %q): %v", out, data, err)
		}
		for i := range dst {
			if dst[i].Kind() == record.String && !validUTF8(dst[i].Str()) {
				t.Fatalf("slot %d: %q is not UTF-8 (from %q)", i, dst[i].Str(), data)
			}
			if !sameValue(dst[i], again[i]) {
				t.Fatalf("slot %d: %v %q became %v %q", i, dst[i].Kind(), dst[i], again[i].Kind(), again[i])
			}
		}
		// Replacing invalid UTF-8 changes nothing in valid input.
		r := NewJSONDecoder(schema)
		r.SetInvalidUTF8(ReplaceInvalidUTF8, "")
		if err := r.Decode(data, again); err != nil {
			t.Fatalf("replace mode refuses %q: %v", data, err)
		}
		for i := range dst {
			if !sameValue(dst[i], again[i]) {
				t.Fatalf("replace mode: slot %d: %v became %v", i, dst[i], again[i])
			}
		}
	})
}

func FuzzCSVDecoder(f *testing.F) {
	for _, s := range []string{"Hamburg;12.0", `"a;b";1`, `"x""y";`, "1;2;3", `"`, ";", "-;.5"} {
		f.Add([]byte(s))
	}
	schema := record.NewSchema("a", "b")
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := NewCSVDecoder(schema, []string{"a", "b"}, ';')
		if err != nil {
			t.Fatal(err)
		}
		dst := make([]record.Value, 2)
		if err := d.Decode(data, dst); err != nil {
			return
		}
		enc, err := NewCSVEncoder(';')
		if err != nil {
			t.Fatal(err)
		}
		out := enc.AppendRow(nil, dst)
		again := make([]record.Value, 2)
		if err := d.Decode(out, again); err != nil {
			t.Fatalf("re-decoding %q (from %q): %v", out, data, err)
		}
		for i := range dst {
			if !sameValue(dst[i], again[i]) {
				t.Fatalf("slot %d: %v %q became %v %q (line %q, re-encoded %q)", i, dst[i].Kind(), dst[i], again[i].Kind(), again[i], data, out)
			}
		}
	})
}

func FuzzParseNumber(f *testing.F) {
	for _, s := range []string{"1", "-0.05", "1e3", "12345678901234567890", ".5", "1."} {
		f.Add(s)
	}
	f.Fuzz(checkParseNumber)
}

// sameValue reports whether b is a's value after an encode/decode round trip:
// equal kind and text, or numbers of the same value (a FLOAT written without
// an exponent, or a DECIMAL of scale 0 such as "1.", comes back as another
// numeric kind).
func sameValue(a, b record.Value) bool {
	if a.Kind() == b.Kind() {
		return a.String() == b.String()
	}
	if !isNumeric(a) || !isNumeric(b) {
		return false
	}
	if a.Kind() != record.Float {
		return a.String() == b.String()
	}
	f, err := strconv.ParseFloat(b.String(), 64)
	return err == nil && f == a.Float()
}

func isNumeric(v record.Value) bool {
	k := v.Kind()
	return k == record.Int || k == record.Decimal || k == record.Float
}

// FuzzInferJSON: no sample panics schema inference, and a record always
// fits the schema inferred from it alone: decoded over that schema, its
// values conform to their columns' types (inference never picks a type its
// own sample would send to the dead-letter queue).
func FuzzInferJSON(f *testing.F) {
	for _, s := range []string{
		`{"id":1,"big":3000000000,"price":185.20,"ratio":1e3,"ok":true,"sym":"AAPL","ts":"2024-01-15T10:00:05Z"}`,
		`{"payload":{"user":{"id":7,"name":"ann"}},"tags":["a","b"],"xs":[1,2.5],"n":null}`,
		`{"ts":1705312805000,"p":-0.001,"q":1e400,"r":99999999999999999999}`, `{"a":"2024-01-15 10:00:05","b":"20240115"}`,
		`[1]`, `{"a":`, `{"A":1,"a":"x"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		in := NewInferrer("ts")
		if err := in.AddJSON(data); err != nil {
			return
		}
		schema := in.Schema()
		dst := make([]record.Value, schema.Len())
		if err := NewJSONDecoder(schema).Decode(data, dst); err != nil {
			return // the decoder is stricter than inference about the JSON itself
		}
		if c := record.NewConformer(schema); c != nil {
			if err := c.Apply(dst); err != nil {
				t.Fatalf("%s: the record does not fit the schema inferred from it, %s: %v", data, schema, err)
			}
		}
	})
}

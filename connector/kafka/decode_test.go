package kafka

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/record"
)

// TestDecodeInvalidUTF8 checks that a message whose value or key field is
// not UTF-8 fails to decode (it goes to the dead-letter queue) unless
// '<n>.invalid.utf8'='replace'.
func TestDecodeInvalidUTF8(t *testing.T) {
	schema := record.NewSchema("a", "value", "k")
	msgs := []*kgo.Record{
		{Value: []byte("{\"a\":\"\xff bad\"}"), Key: []byte("k")},
		{Value: []byte(`{"a":"ok"}`), Key: []byte("\xfe")},
	}
	for _, format := range []string{"json", "string"} {
		for _, mode := range []string{"", "error", "replace"} {
			props := map[string]string{"ev.type": "kafka_source", "ev.format": format, "ev.key.field": "k"}
			if mode != "" {
				props["ev.invalid.utf8"] = mode
			}
			cfg, err := parseSourceConfig("ev", props)
			if err != nil {
				t.Fatal(err)
			}
			d := newDecoder(&cfg, schema)
			for _, m := range msgs {
				var rec record.Record
				err := d.decode(&rec, m)
				if mode == "replace" {
					if err != nil {
						t.Errorf("%s %s: %v", format, mode, err)
						continue
					}
					for _, v := range rec.Values {
						if v.Kind() == record.String && !strings.Contains(v.Str(), "\ufffd") && v.Str() != "ok" && v.Str() != "k" && v.Str() != `{"a":"ok"}` {
							t.Errorf("%s %s: value %q", format, mode, v.Str())
						}
					}
					continue
				}
				if err == nil || !strings.Contains(err.Error(), "invalid UTF-8") || !strings.Contains(err.Error(), "'ev.invalid.utf8'='replace'") {
					t.Errorf("%s %q: decode(%q, key %q) = %v", format, mode, m.Value, m.Key, err)
				}
			}
		}
	}
	if _, err := parseSourceConfig("ev", map[string]string{"ev.type": "kafka_source", "ev.invalid.utf8": "drop"}); err == nil ||
		!strings.Contains(err.Error(), "ev.invalid.utf8") {
		t.Errorf("bad value: %v", err)
	}
}

// TestOptionErrorNamesSourceOnce checks that a bad option's error names the
// source once (it read `kafka source "ev": kafka source "ev": ...`).
func TestOptionErrorNamesSourceOnce(t *testing.T) {
	for _, props := range []map[string]string{
		{"ev.auto.offset.reset": "never"},
		{"ev.nope": "x"},
		{"ev.security.protocol": "PLAINTEXT", "ev.sasl.mechanism": "PLAIN"},
	} {
		props["ev.type"] = "kafka_source"
		_, err := NewSource("ev", props)
		if err == nil || strings.Count(err.Error(), `kafka source "ev"`) != 1 {
			t.Errorf("%v: %v", props, err)
		}
	}
}

// TestStringFormatTombstone: a '<n>.format'='string' message with no value
// (a tombstone) fails to decode as a JSON one does, so a table takes it as
// the deletion of its key and a stream dead-letters it; it was read as the
// empty string, and a table kept the key with the value "". An empty value
// is the empty string.
func TestStringFormatTombstone(t *testing.T) {
	cfg, err := parseSourceConfig("tb", map[string]string{"tb.type": "kafka_source", "tb.format": "string", "tb.key.field": "k"})
	if err != nil {
		t.Fatal(err)
	}
	d := newDecoder(&cfg, record.NewSchema("value", "k"))
	var rec record.Record
	if err := d.decode(&rec, &kgo.Record{Key: []byte("k1")}); err == nil || !strings.Contains(err.Error(), "tombstone") {
		t.Errorf("a message with no value: got %v (values %v), want a tombstone error", err, rec.Values)
	}
	if err := d.decode(&rec, &kgo.Record{Key: []byte("k1"), Value: []byte{}}); err != nil {
		t.Fatalf("an empty value: %v", err)
	}
	if v := rec.Values[0]; v.IsNull() || v.Str() != "" {
		t.Errorf("an empty value: got %v, want the empty string", v)
	}
}

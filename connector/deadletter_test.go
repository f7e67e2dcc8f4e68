package connector

import (
	"encoding/json"
	"testing"
	"time"
)

// TestDeadLetterJSON checks the shared JSON form: raw bytes as text when
// they are UTF-8, base64 otherwise, the time in UTC, and Bytes giving back
// the original bytes.
func TestDeadLetterJSON(t *testing.T) {
	at := time.Date(2024, 1, 15, 11, 0, 0, 0, time.FixedZone("CET", 3600))
	tests := []struct {
		raw      []byte
		want     string
		encoding string
	}{
		{[]byte(`{"id":`), `{"source":"orders","partition":3,"offset":17,"raw":"{\"id\":","raw_encoding":"text","reason":"bad","time":"2024-01-15T10:00:00Z"}`, RawText},
		{[]byte{0xff, 0xfe, 'x'}, `{"source":"orders","partition":3,"offset":17,"raw":"//54","raw_encoding":"base64","reason":"bad","time":"2024-01-15T10:00:00Z"}`, RawBase64},
		{nil, `{"source":"orders","partition":3,"offset":17,"raw":"","raw_encoding":"text","reason":"bad","time":"2024-01-15T10:00:00Z"}`, RawText},
	}
	for _, tt := range tests {
		d := DeadLetter{Source: "orders", Partition: 3, Offset: 17, Raw: tt.raw, Reason: "bad", Time: at, Key: []byte("k")}
		b, err := d.AppendJSON([]byte("> "))
		if err != nil {
			t.Fatal(err)
		}
		if got := string(b); got != "> "+tt.want {
			t.Errorf("AppendJSON(%q) = %s, want %s", tt.raw, got, tt.want)
		}
		var j DeadLetterJSON
		if err := json.Unmarshal(b[2:], &j); err != nil {
			t.Fatal(err)
		}
		raw, err := j.Bytes()
		if err != nil || string(raw) != string(tt.raw) || j.RawEncoding != tt.encoding {
			t.Errorf("Bytes of %+v = %q, %v; want %q", j, raw, err, tt.raw)
		}
	}
	if _, err := (DeadLetterJSON{RawEncoding: "hex"}).Bytes(); err == nil {
		t.Error("Bytes with raw_encoding hex: no error")
	}
}

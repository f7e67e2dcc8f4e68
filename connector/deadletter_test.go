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

// TestDeadLetterJSONVia: a record read through a repartition topic keeps
// its source's partition and offset, its place in the topic under
// "repartition", and ReadAt gives the place the job read it at.
func TestDeadLetterJSONVia(t *testing.T) {
	at := time.Date(2024, 1, 15, 10, 0, 0, 0, time.UTC)
	d := DeadLetter{Source: "trades", Partition: 5, Offset: 1207, Raw: []byte(`{"qty":0}`), Reason: "WHERE: division by zero", Time: at,
		Via: &Place{Topic: "g-s-repartition", Partition: 12, Offset: 88}}
	b, err := d.AppendJSON(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"source":"trades","partition":5,"offset":1207,"raw":"{\"qty\":0}","raw_encoding":"text","reason":"WHERE: division by zero",` +
		`"time":"2024-01-15T10:00:00Z","repartition":{"topic":"g-s-repartition","partition":12,"offset":88}}`
	if string(b) != want {
		t.Errorf("AppendJSON = %s, want %s", b, want)
	}
	if p, o := d.ReadAt(); p != 12 || o != 88 {
		t.Errorf("ReadAt = %d, %d; want the topic's 12, 88", p, o)
	}
	d.Via = nil
	if p, o := d.ReadAt(); p != 5 || o != 1207 {
		t.Errorf("ReadAt without Via = %d, %d; want 5, 1207", p, o)
	}
}

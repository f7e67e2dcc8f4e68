package connector

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
	"unicode/utf8"
)

// Raw encodings of DeadLetterJSON.
const (
	RawText   = "text"   // Raw is the original bytes as a string (valid UTF-8)
	RawBase64 = "base64" // Raw is the original bytes in standard base64
)

// DeadLetterJSON is the JSON object every dead-letter queue writes for one
// dead letter (a line of the dead-letter file, the value of a message in the
// dead-letter topic):
//
//	{"source":"orders","partition":0,"offset":17,"raw":"{\"id\":","raw_encoding":"text",
//	 "reason":"decode: unexpected end of JSON input","time":"2024-01-15T10:00:00Z"}
//
// Raw holds the record's original bytes: as a string when they are valid
// UTF-8 (RawEncoding "text"), otherwise in standard base64 (RawEncoding
// "base64").
//
// A record read through a repartition topic (stage 2 of a statement
// repartitioned across processes) has its source's partition and offset
// all the same, and its place in the topic under "repartition"; its raw is
// the row stage 1 decoded, as a JSON object of the statement's input
// columns (its original bytes are in the source, at partition and offset):
//
//	{"source":"trades","partition":5,"offset":1207,"raw":"{\"symbol\":\"ACME\",\"qty\":0}","raw_encoding":"text",
//	 "reason":"WHERE: division by zero","time":"2024-01-15T10:00:00Z",
//	 "repartition":{"topic":"g-per_symbol-repartition","partition":12,"offset":88}}
type DeadLetterJSON struct {
	Source      string    `json:"source"`
	Partition   int32     `json:"partition"`
	Offset      int64     `json:"offset"`
	Raw         string    `json:"raw"`
	RawEncoding string    `json:"raw_encoding"`
	Reason      string    `json:"reason"`
	Time        time.Time `json:"time"`
	Repartition *Place    `json:"repartition,omitempty"`
}

// JSON returns d's JSON form, its time in UTC.
func (d DeadLetter) JSON() DeadLetterJSON {
	j := DeadLetterJSON{Source: d.Source, Partition: d.Partition, Offset: d.Offset, Reason: d.Reason, Time: d.Time.UTC(), Repartition: d.Via}
	if utf8.Valid(d.Raw) {
		j.Raw, j.RawEncoding = string(d.Raw), RawText
	} else {
		j.Raw, j.RawEncoding = base64.StdEncoding.EncodeToString(d.Raw), RawBase64
	}
	return j
}

// AppendJSON appends d's JSON object (see DeadLetterJSON), with no newline,
// to b.
func (d DeadLetter) AppendJSON(b []byte) ([]byte, error) {
	v, err := json.Marshal(d.JSON())
	if err != nil {
		return b, fmt.Errorf("dead letter of %s partition %d offset %d: %w", d.Source, d.Partition, d.Offset, err)
	}
	return append(b, v...), nil
}

// Bytes returns the original bytes Raw holds.
func (j DeadLetterJSON) Bytes() ([]byte, error) {
	switch j.RawEncoding {
	case RawText:
		return []byte(j.Raw), nil
	case RawBase64:
		return base64.StdEncoding.DecodeString(j.Raw)
	}
	return nil, fmt.Errorf("dead letter raw_encoding %q: want %q or %q", j.RawEncoding, RawText, RawBase64)
}

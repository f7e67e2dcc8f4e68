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
type DeadLetterJSON struct {
	Source      string    `json:"source"`
	Partition   int32     `json:"partition"`
	Offset      int64     `json:"offset"`
	Raw         string    `json:"raw"`
	RawEncoding string    `json:"raw_encoding"`
	Reason      string    `json:"reason"`
	Time        time.Time `json:"time"`
}

// JSON returns d's JSON form, its time in UTC.
func (d DeadLetter) JSON() DeadLetterJSON {
	j := DeadLetterJSON{Source: d.Source, Partition: d.Partition, Offset: d.Offset, Reason: d.Reason, Time: d.Time.UTC()}
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

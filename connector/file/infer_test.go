package file

import (
	"strings"
	"testing"

	"github.com/sluicesql/sluice/connector/mem"
)

// TestInferSkipsLongLine: a line longer than the sampler reads is left out
// of the sample instead of failing the job before it starts; the job then
// reads it like any other line (here: a good record).
func TestInferSkipsLongLine(t *testing.T) {
	long := `{"k":"` + strings.Repeat("x", maxSampleLine+10) + `","n":3}`
	for _, tc := range []struct {
		name, content, schema string
		records               int
	}{
		{"t.jsonl", `{"k":"a","n":1}` + "\n" + long + "\n" + `{"k":"b","n":2}` + "\n", "k STRING, n INTEGER", 3},
		{"t.jsonl", long + "\n" + `{"k":"b","n":2}`, "k STRING, n INTEGER", 2},
		{"t.csv", "k,n\na,1\n" + strings.Repeat("y", maxSampleLine+10) + ",3\nb,2\n", "k STRING, n INTEGER", 3},
	} {
		src, s := inferSource(t, tc.name, tc.content)
		if got := s.Columns.String(); got != tc.schema {
			t.Errorf("%s: schema %s, want %s", tc.name, got, tc.schema)
		}
		dlq := &mem.DeadLetters{}
		recs := readAll(t, src, s.Columns, dlq)
		if len(recs) != tc.records || len(dlq.All()) != 0 {
			t.Errorf("%s: %d records and %d dead letters", tc.name, len(recs), len(dlq.All()))
		}
		var long int
		for _, r := range recs {
			if len(r.Values[0].Str()) > maxSampleLine {
				long++
			}
		}
		if long != 1 {
			t.Errorf("%s: the long line was read %d times, want once", tc.name, long)
		}
	}
}

// TestInferReadsMultilineCSVRecords: the sampler reads a CSV record whose
// quoted field holds a line break whole, not its lines as records of their
// own (the second line of this one would sample id as a DECIMAL).
func TestInferReadsMultilineCSVRecords(t *testing.T) {
	_, s := inferSource(t, "t.csv", "id,s\n1,\"x\r\n2.5,y\"\r\n3,z\n")
	if got, want := s.Columns.String(), "id INTEGER, s STRING"; got != want || s.Records != 2 {
		t.Errorf("schema %s from %d records, want %s from 2", got, s.Records, want)
	}
}

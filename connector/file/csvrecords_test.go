package file

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/record"
)

// readCSV reads the CSV file at path (columns id, s; no header) with the
// given split size and returns its records and dead letters, each as
// "offset raw -> values" or "offset raw: reason", in offset order.
func readCSV(t *testing.T, path string, splitSize int) []string {
	t.Helper()
	src, err := NewSource("t", map[string]string{"t.path": path, "t.format": "csv",
		"t.has_header": "false", "t.columns": "id, s", "t.split.size": fmt.Sprint(splitSize)})
	if err != nil {
		t.Fatal(err)
	}
	schema := record.NewSchema("id", "s")
	dlq := &mem.DeadLetters{}
	type entry struct {
		off  int64
		text string
	}
	var got []entry
	for _, r := range readAll(t, src, schema, dlq) {
		got = append(got, entry{r.Offset, fmt.Sprintf("%d %q -> %v %q", r.Offset, r.Raw, r.Values[0], r.Values[1])})
	}
	for _, d := range dlq.All() {
		got = append(got, entry{d.Offset, fmt.Sprintf("%d %q: %s", d.Offset, d.Raw, strings.TrimPrefix(d.Reason, path+" "))})
	}
	sort.Slice(got, func(i, j int) bool { return got[i].off < got[j].off })
	out := make([]string, len(got))
	for i, e := range got {
		out[i] = e.text
	}
	return out
}

// TestCSVQuotedLineBreaks reads quoted fields that hold line breaks (LF
// and CRLF), doubled quotes and a quoted field that never closes, at every
// split size from 1 byte to the whole file: each record is read once,
// whole, at the offset of its first line, and the unclosed field is one
// dead letter holding the rest of the file.
func TestCSVQuotedLineBreaks(t *testing.T) {
	text := "1,\"foo\n2,bar\"\n" +
		"3,\"a \"\"quoted\"\"\r\nline\"\r\n" +
		"4,plain\n" +
		"5,x\"y\n" + // a quote inside an unquoted field is text
		"6,\"\"\"\n\"\"\"\n" +
		"7,\"open\n8,never closed\n"
	path := writeFile(t, t.TempDir(), "ml.csv", text)
	want := []string{
		`0 "1,\"foo\n2,bar\"" -> 1 "foo\n2,bar"`,
		`14 "3,\"a \"\"quoted\"\"\r\nline\"" -> 3 "a \"quoted\"\r\nline"`,
		`38 "4,plain" -> 4 "plain"`,
		`46 "5,x\"y" -> 5 "x\"y"`,
		`52 "6,\"\"\"\n\"\"\"" -> 6 "\"\n\""`,
		`62 "7,\"open\n8,never closed\n": line 9: at byte 2: unterminated quoted field`,
	}
	for size := 1; size <= len(text); size++ {
		if got := readCSV(t, path, size); !reflect.DeepEqual(got, want) {
			t.Fatalf("split size %d:\n got %q\nwant %q", size, got, want)
		}
	}
}

// TestCSVSinkRoundTrip writes strings with line breaks, quotes and
// delimiters through the CSV sink and reads the file back, whole and cut
// into small splits: every row comes back as written.
func TestCSVSinkRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.csv")
	s, err := NewSink("out", map[string]string{"out.path": path})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Open(ctx, record.NewSchema("id", "s"), nil); err != nil {
		t.Fatal(err)
	}
	texts := []string{"one\nline break", "crlf\r\nand \"quotes\"", "\n", "\"", "a,b", "", "plain", "\r\n\r\n", "x\"\ny"}
	var rows []record.Record
	var want []string
	for i, text := range texts {
		rows = append(rows, record.Record{Values: []record.Value{record.IntValue(int64(i)), record.StringValue(text)}})
		want = append(want, fmt.Sprintf("%d %q", i, text))
	}
	if err := s.Write(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(raw), "\n") <= len(texts)+1 {
		t.Fatalf("the sink wrote no field over several lines:\n%s", raw)
	}
	for _, size := range []int{1, 2, 3, 5, 8, 13, len(raw)} {
		src, err := NewSource("t", map[string]string{"t.path": path, "t.columns": "id INT, s STRING", "t.split.size": fmt.Sprint(size)})
		if err != nil {
			t.Fatal(err)
		}
		dlq := &mem.DeadLetters{}
		var got []string
		for _, r := range readAll(t, src, record.NewSchema("id", "s"), dlq) {
			got = append(got, fmt.Sprintf("%v %q", r.Values[0], r.Values[1].Str()))
		}
		sort.Strings(got)
		sort.Strings(want)
		if !reflect.DeepEqual(got, want) || len(dlq.All()) != 0 {
			t.Fatalf("split size %d: read back\n%q\nwant\n%q\ndead letters %+v", size, got, want, dlq.All())
		}
	}
}

// FuzzCSVSplits checks that reading a CSV file cut into splits of any size
// gives the same records and dead letters, at the same offsets, as reading
// it whole, and that the records are the file cut by cutRecords.
func FuzzCSVSplits(f *testing.F) {
	for _, s := range []string{"1,\"foo\n2,bar\"\n3,x\n", "1,a\"b\n\"2\",\"\"\"\n\"\n", "\"\n\n\"x\"y,\"\n1,2\r\n", "1,\"open\n2,b\n"} {
		f.Add([]byte(s), uint8(3))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, size uint8) {
		path := filepath.Join(dir, "f.csv")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		whole := readCSV(t, path, len(data)+1)
		if got := readCSV(t, path, int(size)+1); !reflect.DeepEqual(got, whole) {
			t.Fatalf("split size %d:\n got %q\nwant %q", int(size)+1, got, whole)
		}
		var starts []string
		first := 0
		if strings.HasPrefix(string(data), string(bom)) {
			first = len(bom)
		}
		for _, sp := range cutRecords(string(data), first, ',') {
			if strings.TrimSuffix(string(data[sp[0]:sp[1]]), "\r") != "" {
				starts = append(starts, fmt.Sprint(sp[0]))
			}
		}
		var got []string
		for _, e := range whole {
			got = append(got, e[:strings.IndexByte(e, ' ')])
		}
		if !reflect.DeepEqual(got, starts) {
			t.Fatalf("records start at %q, want %q", got, starts)
		}
	})
}

// TestQuoteScanChunks runs the pre-scan that finds each split's first CSV
// record over random files read a few bytes at a time (a chunk may end
// inside a quoted field, or between a quote and the one that doubles it)
// and checks every start against the records cutRecords finds.
func TestQuoteScanChunks(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for trial := 0; trial < 200; trial++ {
		var sb strings.Builder
		if trial%7 == 0 {
			sb.Write(bom)
		}
		for i := rng.IntN(30); i > 0; i-- {
			sb.WriteString(csvLine(rng, 0.2))
			sb.WriteString([]string{"\n", "\r\n", "\n\n"}[rng.IntN(3)])
		}
		text := sb.String()
		from := 0
		if trial%7 == 0 {
			from = len(bom)
		}
		var recStarts []int64
		for _, sp := range cutRecords(text, from, ';') {
			recStarts = append(recStarts, int64(sp[0]))
		}
		var bounds, want []int64
		for b := int64(1); b < int64(len(text)); b += 1 + rng.Int64N(9) {
			bounds = append(bounds, b)
			i, _ := slices.BinarySearch(recStarts, b)
			want = append(want, append(recStarts, int64(len(text)))[i])
		}
		for _, size := range []int{1, 2, 3, 7, 64} {
			c := &csvStarts{path: "t", from: int64(from), bounds: bounds, delim: ';'}
			got, err := c.scanFrom(strings.NewReader(text), size)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("trial %d, %d-byte chunks: starts %v, want %v\nbounds %v\nfile %q", trial, size, got, want, bounds, text)
			}
		}
	}
}

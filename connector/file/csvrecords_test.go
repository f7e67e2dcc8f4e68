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
func readCSV(t *testing.T, path string, splitSize int, kv ...string) []string {
	t.Helper()
	props := map[string]string{"t.path": path, "t.format": "csv",
		"t.has_header": "false", "t.columns": "id, s", "t.split.size": fmt.Sprint(splitSize)}
	for i := 0; i+1 < len(kv); i += 2 {
		props["t."+kv[i]] = kv[i+1]
	}
	src, err := NewSource("t", props)
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

// TestCSVQuotedFieldBound: a quoted field holding line breaks that runs
// past 'max.field.bytes' (a stray quote that closes far below, or never)
// costs only the line it opens on: that line is a dead letter with its
// line number and why, and the lines after it are read as records, at
// every split size. A quoted field within the bound is read whole.
func TestCSVQuotedFieldBound(t *testing.T) {
	text := "1,a\n" +
		"2,\"open\n3,b\n4,\"x\"\n" + // the quote of 2 closes at 4's, 12 bytes on
		"5,\"c\nd\"\n" +
		"6,\"never\n7,e\n8,f\n" // it never closes
	path := writeFile(t, t.TempDir(), "q.csv", text)
	at := func(s string) int { return strings.Index(text, s) }
	cut := ": a quoted field holding line breaks runs past 't.max.field.bytes' (8 bytes; a quote that never closes?): the record is cut at the field's first line break, and reading goes on after it"
	want := []string{
		`0 "1,a" -> 1 "a"`,
		fmt.Sprintf(`%d "2,\"open": line 2`, at("2,")) + cut,
		fmt.Sprintf(`%d "3,b" -> 3 "b"`, at("3,")),
		fmt.Sprintf(`%d "4,\"x\"" -> 4 "x"`, at("4,")),
		fmt.Sprintf(`%d "5,\"c\nd\"" -> 5 "c\nd"`, at("5,")),
		fmt.Sprintf(`%d "6,\"never": line 7`, at("6,")) + cut,
		fmt.Sprintf(`%d "7,e" -> 7 "e"`, at("7,")),
		fmt.Sprintf(`%d "8,f" -> 8 "f"`, at("8,")),
	}
	for size := 1; size <= len(text); size++ {
		if got := readCSV(t, path, size, "max.field.bytes", "8"); !reflect.DeepEqual(got, want) {
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
// it whole, and that the records are the file cut by cutRecordsMax, with
// 'max.field.bytes' at its default (maxField 0) or maxField.
func FuzzCSVSplits(f *testing.F) {
	for _, s := range []string{"1,\"foo\n2,bar\"\n3,x\n", "1,a\"b\n\"2\",\"\"\"\n\"\n", "\"\n\n\"x\"y,\"\n1,2\r\n", "1,\"open\n2,b\n"} {
		f.Add([]byte(s), uint8(3), uint8(0))
		f.Add([]byte(s), uint8(3), uint8(4))
	}
	f.Add([]byte("1,\"a\n2,\"\"b\n3,c\"\n4,\"\"\"\n5,\"open\n6,x\n7,y"), uint8(2), uint8(5))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, size, maxField uint8) {
		path := filepath.Join(dir, "f.csv")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		var opts []string
		if maxField > 0 {
			opts = []string{"max.field.bytes", fmt.Sprint(maxField)}
		}
		whole := readCSV(t, path, len(data)+1, opts...)
		if got := readCSV(t, path, int(size)+1, opts...); !reflect.DeepEqual(got, whole) {
			t.Fatalf("split size %d:\n got %q\nwant %q", int(size)+1, got, whole)
		}
		var starts []string
		first := 0
		if strings.HasPrefix(string(data), string(bom)) {
			first = len(bom)
		}
		for _, sp := range cutRecordsMax(string(data), first, ',', int(maxField)) {
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
// inside a quoted field, or between a quote and the one that doubles it),
// with and without a bound on quoted fields, and checks every start against
// the records cutRecordsMax finds.
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
		maxField := []int{0, 3, 8, 20}[trial%4]
		var recStarts []int64
		for _, sp := range cutRecordsMax(text, from, ';', maxField) {
			recStarts = append(recStarts, int64(sp[0]))
		}
		var bounds, want []int64
		for b := int64(1); b < int64(len(text)); b += 1 + rng.Int64N(9) {
			bounds = append(bounds, b)
			i, _ := slices.BinarySearch(recStarts, b)
			want = append(want, append(recStarts, int64(len(text)))[i])
		}
		for _, size := range []int{1, 2, 3, 7, 64} {
			c := &csvStarts{path: "t", from: int64(from), bounds: bounds, delim: ';', maxField: maxField}
			got, err := c.scanFrom(strings.NewReader(text), size)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("trial %d, %d-byte chunks, max field %d: starts %v, want %v\nbounds %v\nfile %q", trial, size, maxField, got, want, bounds, text)
			}
		}
	}
}

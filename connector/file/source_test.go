package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/record"
)

// readAll opens src and reads every partition to the end, with small batches.
func readAll(t *testing.T, src *Source, schema *record.Schema, dlq connector.DeadLetters) []record.Record {
	t.Helper()
	ch, err := src.Open(context.Background(), schema, dlq)
	if err != nil {
		t.Fatal(err)
	}
	var all []record.Record
	for r := range ch {
		var b record.Batch
		for {
			err := r.Next(context.Background(), &b, 7)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if b.Partition != r.Partition() {
				t.Fatalf("batch partition %d from reader %d", b.Partition, r.Partition())
			}
			for _, rec := range b.Records {
				rec.Values = append([]record.Value(nil), rec.Values...)
				all = append(all, rec)
			}
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return all
}

// inferSource writes content to the file name in a new directory and
// returns the source t reading it, with the schema it infers from at most
// 10 records.
func inferSource(t *testing.T, name, content string) (*Source, connector.Schema) {
	t.Helper()
	src, err := NewSource("t", map[string]string{"t.path": writeFile(t, t.TempDir(), name, content)})
	if err != nil {
		t.Fatal(err)
	}
	s, err := src.SourceSchema(context.Background(), connector.InferLimits{Records: 10})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return src, s
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSplitsReadEveryLineOnce cuts random files into random split sizes and
// checks that every line is read exactly once, at its byte offset.
func TestSplitsReadEveryLineOnce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dir := t.TempDir()
	schema := record.NewSchema("i")
	for trial := 0; trial < 60; trial++ {
		var sb strings.Builder
		type line struct {
			off int64
			i   int
			raw string
		}
		var want []line
		n := rng.IntN(40)
		for i := 0; i < n; i++ {
			if rng.IntN(8) == 0 {
				sb.WriteString("\n") // blank lines are skipped
			}
			text := fmt.Sprintf(`{"i":%d,"pad":"%s"}`, i, strings.Repeat("x", rng.IntN(3)*rng.IntN(60)))
			want = append(want, line{int64(sb.Len()), i, text})
			sb.WriteString(text)
			if rng.IntN(4) == 0 {
				sb.WriteString("\r")
			}
			if i < n-1 || rng.IntN(2) == 0 {
				sb.WriteString("\n") // the last line may have no line break
			}
		}
		path := writeFile(t, dir, fmt.Sprintf("t%d.jsonl", trial), sb.String())
		splitSize := 1 + rng.IntN(120)
		src, err := NewSource("s", map[string]string{"s.path": path, "s.split.size": fmt.Sprint(splitSize)})
		if err != nil {
			t.Fatal(err)
		}
		dlq := &mem.DeadLetters{}
		recs := readAll(t, src, schema, dlq)
		if len(dlq.All()) > 0 {
			t.Fatalf("trial %d: dead letters %v", trial, dlq.All())
		}
		var got []line
		for _, r := range recs {
			// Raw must still hold the line after the reader went on.
			got = append(got, line{r.Offset, int(r.Values[0].Int()), string(r.Raw)})
		}
		sort.Slice(got, func(a, b int) bool { return got[a].off < got[b].off })
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("trial %d (split size %d, %d splits):\n got %v\nwant %v\nfile %q",
				trial, splitSize, src.Facts().Partitions, got, want, sb.String())
		}
		if wantSplits := max(1, (sb.Len()+splitSize-1)/splitSize); src.Facts().Partitions != wantSplits {
			t.Fatalf("trial %d: %d partitions, want %d", trial, src.Facts().Partitions, wantSplits)
		}
	}
}

func TestRecordMetadata(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "a.jsonl", "{\"x\":\"a\"}\n{\"x\":\"b\"}\n")
	src, err := NewSource("s", map[string]string{"s.path": path})
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	recs := readAll(t, src, record.NewSchema("x"), &mem.DeadLetters{})
	if len(recs) != 2 {
		t.Fatalf("%d records", len(recs))
	}
	r := recs[1]
	if r.Offset != 10 || r.Partition != 0 || r.Topic != path || string(r.Raw) != `{"x":"b"}` ||
		r.Timestamp != fi.ModTime().UnixMilli() || r.Values[0].Str() != "b" {
		t.Errorf("record = %+v", r)
	}
}

func TestGlobOfSeveralFiles(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "b.csv", "station,temperature\nOslo,1.5\nRome,20.25\n")
	writeFile(t, dir, "a.csv", "temperature,station\n-3,Hamburg\n")
	writeFile(t, dir, "c.txt", "not matched\n")
	src, err := NewSource("m", map[string]string{"m.path": filepath.Join(dir, "*.csv"), "m.split.size": "16"})
	if err != nil {
		t.Fatal(err)
	}
	if p := src.Facts().Partitions; p != 5 { // a.csv: 31 bytes, 2 splits; b.csv: 40 bytes, 3 splits
		t.Errorf("partitions = %d, want 5", p)
	}
	recs := readAll(t, src, record.NewSchema("station", "temperature"), &mem.DeadLetters{})
	var got []string
	for _, r := range recs {
		got = append(got, fmt.Sprintf("%s %s %s", filepath.Base(r.Topic), r.Values[0], r.Values[1]))
	}
	sort.Strings(got)
	want := []string{"a.csv Hamburg -3", "b.csv Oslo 1.5", "b.csv Rome 20.25"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestMalformedLinesGoToDLQ(t *testing.T) {
	dir := t.TempDir()
	content := "{\"a\":1}\n{\"a\":\n{\"a\":2}\nnot json\r\n{\"a\":3}\n"
	path := writeFile(t, dir, "bad.json", content)
	for _, splitSize := range []string{"64MiB", "9", "1"} {
		src, err := NewSource("s", map[string]string{"s.path": path, "s.split.size": splitSize})
		if err != nil {
			t.Fatal(err)
		}
		dlq := &mem.DeadLetters{}
		recs := readAll(t, src, record.NewSchema("a"), dlq)
		if len(recs) != 3 {
			t.Errorf("split %s: %d records, want 3", splitSize, len(recs))
		}
		dead := dlq.All()
		sort.Slice(dead, func(i, j int) bool { return dead[i].Offset < dead[j].Offset })
		want := []struct {
			off  int64
			raw  string
			line string
		}{{8, `{"a":`, "line 2:"}, {22, "not json", "line 4:"}}
		if len(dead) != len(want) {
			t.Fatalf("split %s: dead letters %+v", splitSize, dead)
		}
		for i, w := range want {
			d := dead[i]
			if d.Offset != w.off || string(d.Raw) != w.raw || d.Source != "s" ||
				!strings.Contains(d.Reason, path+" "+w.line) || d.Time.IsZero() {
				t.Errorf("split %s: dead letter %d = %+v (reason %q), want offset %d raw %q reason with %q",
					splitSize, i, d, d.Reason, w.off, w.raw, w.line)
			}
		}
	}
}

func TestCSVOptions(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "measurements.txt", "Hamburg;12.0\n\"St. John's; NL\";-3.7\n\"say \"\"hi\"\"\";5\n")
	src, err := NewSource("m", map[string]string{
		"m.path": path, "m.format": "csv", "m.delimiter": ";", "m.has_header": "false", "m.columns": "station, temperature",
	})
	if err != nil {
		t.Fatal(err)
	}
	recs := readAll(t, src, record.NewSchema("temperature", "station"), &mem.DeadLetters{})
	var got []string
	for _, r := range recs {
		got = append(got, r.Values[1].Str()+"|"+r.Values[0].Kind().String()+" "+r.Values[0].String())
	}
	want := []string{"Hamburg|DECIMAL 12.0", "St. John's; NL|DECIMAL -3.7", `say "hi"|INTEGER 5`}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestSourceOptionErrors(t *testing.T) {
	dir := t.TempDir()
	csvPath := writeFile(t, dir, "x.csv", "a,b\n1,2\n")
	tests := []struct {
		props map[string]string
		want  string
	}{
		{map[string]string{}, "option 's.path': required"},
		{map[string]string{"s.path": csvPath, "s.bogus": "1"}, "unknown option 's.bogus' (valid options: 's.type', 's.path'"},
		{map[string]string{"s.path": csvPath, "s.format": "xml"}, "invalid value \"xml\" (valid values: json, jsonl, ndjson, csv)"},
		{map[string]string{"s.path": filepath.Join(dir, "x.dat")}, "option 's.format': not set"},
		{map[string]string{"s.path": csvPath, "s.delimiter": ";;"}, "option 's.delimiter': invalid delimiter"},
		{map[string]string{"s.path": csvPath, "s.has_header": "false"}, "option 's.columns': required when 's.has_header' is false"},
		{map[string]string{"s.path": csvPath, "s.split.size": "0"}, "option 's.split.size': invalid size"},
		{map[string]string{"s.path": filepath.Join(dir, "none*.csv")}, "no file matches"},
		{map[string]string{"s.path": filepath.Join(dir, "x.csv"), "s.format": "json", "s.delimiter": ";"}, "applies only to format csv"},
	}
	for _, tt := range tests {
		_, err := NewSource("s", tt.props)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewSource(%v) = %v, want error containing %q", tt.props, err, tt.want)
		}
	}
}

func TestCSVHeaderErrorsAtOpen(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "x.csv", "a,a\n1,2\n")
	src, err := NewSource("s", map[string]string{"s.path": path})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Open(context.Background(), record.NewSchema("a"), &mem.DeadLetters{}); err == nil || !strings.Contains(err.Error(), "appears twice") {
		t.Errorf("Open = %v, want duplicate column error", err)
	}
}

// TestInvalidUTF8 checks that a JSON or CSV line with a field that is not
// UTF-8 goes to the dead-letter queue with its bytes, and that
// '<n>.invalid.utf8'='replace' reads it with U+FFFD instead.
func TestInvalidUTF8(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"in.jsonl": "{\"a\":\"ok\"}\n{\"a\":\"\xff\xfe bad\"}\n",
		"in.csv":   "a\nok\n\xff\xfe bad\n",
	}
	for name, data := range files {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		bad := strings.Split(data, "\n")[len(strings.Split(data, "\n"))-2]
		t.Run(name, func(t *testing.T) {
			src, err := NewSource("s", map[string]string{"s.path": path})
			if err != nil {
				t.Fatal(err)
			}
			dlq := &mem.DeadLetters{}
			recs := readAll(t, src, record.NewSchema("a"), dlq)
			if len(recs) != 1 || recs[0].Values[0].Str() != "ok" {
				t.Errorf("records %v", recs)
			}
			if len(dlq.All()) != 1 || string(dlq.All()[0].Raw) != bad || !strings.Contains(dlq.All()[0].Reason, "invalid UTF-8") ||
				!strings.Contains(dlq.All()[0].Reason, "'s.invalid.utf8'='replace'") {
				t.Fatalf("dead letters %+v", dlq.All())
			}
			src, err = NewSource("s", map[string]string{"s.path": path, "s.invalid.utf8": "replace"})
			if err != nil {
				t.Fatal(err)
			}
			dlq = &mem.DeadLetters{}
			recs = readAll(t, src, record.NewSchema("a"), dlq)
			if len(recs) != 2 || len(dlq.All()) != 0 || recs[1].Values[0].Str() != "\ufffd\ufffd bad" {
				t.Errorf("replace: records %v, dead letters %v", recs, dlq.All())
			}
		})
	}
	_, err := NewSource("s", map[string]string{"s.path": filepath.Join(dir, "in.csv"), "s.invalid.utf8": "skip"})
	if err == nil || !strings.Contains(err.Error(), "s.invalid.utf8") || !strings.Contains(err.Error(), "error, replace") {
		t.Errorf("bad option value: %v", err)
	}
}

// TestProgress checks that Progress counts the bytes read up to the files'
// total size.
func TestProgress(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.jsonl")
	data := strings.Repeat("{\"a\":1}\n", 1000)
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := NewSource("s", map[string]string{"s.path": path, "s.split.size": "1000"})
	if err != nil {
		t.Fatal(err)
	}
	if read, total := src.Progress(); read != 0 || total != int64(len(data)) {
		t.Errorf("before reading: %d of %d", read, total)
	}
	readAll(t, src, record.NewSchema("a"), &mem.DeadLetters{})
	if read, total := src.Progress(); read != total || total != int64(len(data)) {
		t.Errorf("after reading: %d of %d, want %d", read, total, len(data))
	}
}

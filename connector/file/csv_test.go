package file

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/connector/codec"
	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/record"
)

// csvLine returns a random CSV record for the columns station;temperature:
// mostly plain, sometimes quoted (over several lines, with doubled quotes),
// empty-fielded, or undecodable.
func csvLine(rng *rand.Rand, quoted float64) string {
	station := []string{"Hamburg", "St. John's", "Ho Chi Minh City", "Łódź", "A", "ab\rc"}[rng.IntN(6)]
	temp := fmt.Sprintf("%d.%d", rng.IntN(199)-99, rng.IntN(10))
	if rng.Float64() < quoted {
		return fmt.Sprintf("%q;%s", station+"; x", temp)
	}
	switch rng.IntN(30) {
	case 6:
		return `"` + station + "\n;" + station + `";` + temp // a line break in a quoted field
	case 7:
		return `"a ""` + station + "\"\"\r\n\n\";" + temp // doubled quotes, CRLF and LF in a field
	case 8:
		return "ab\"" + station + ";" + temp // a quote inside an unquoted field is text
	case 9:
		return `"` + station + `"x;` + temp // text after a closing quote
	case 10:
		return `"` + station + ";\n" // a quoted field that closes on a later line, or never
	case 0:
		return station + ";" + temp + ";extra" // too many fields
	case 1:
		return station // too few
	case 2:
		return `"` + station + ";" + temp // unterminated quote
	case 3:
		return station + ";" // empty temperature: NULL
	case 4:
		return station + ";99999999999999999999" // out of range
	case 5:
		return station + ";" + temp + "e1" // a FLOAT
	}
	return station + ";" + temp
}

// TestCSVSplitsMatchRecordDecode reads random CSV files, with quoted fields
// over several lines, with random split sizes and checks every record and
// dead letter against the file cut into records by hand (cutRecords) and
// decoded record by record with Decode.
func TestCSVSplitsMatchRecordDecode(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	dir := t.TempDir()
	schema := record.NewSchema("temperature", "station")
	columns := []string{"station", "temperature"}
	for trial := 0; trial < 80; trial++ {
		header := trial%3 == 0
		quoted := []float64{0, 0.1, 1}[trial%3]
		var sb strings.Builder
		if header {
			sb.WriteString("station;temperature\n")
		}
		type entry struct {
			off    int64
			lineNo int
			raw    string
			values string // "" for a dead letter
		}
		var want []entry
		dec, err := codec.NewCSVDecoder(schema, columns, ';')
		if err != nil {
			t.Fatal(err)
		}
		first := sb.Len()
		n := rng.IntN(120)
		for i := 0; i < n; i++ {
			if rng.IntN(10) == 0 {
				sb.WriteString([]string{"\n", "\r\n"}[rng.IntN(2)]) // empty lines are skipped
			}
			text := csvLine(rng, quoted)
			if trial%5 == 1 && i > n/2 {
				text = csvLine(rng, 1) // a long run of quoted lines after plain ones
			}
			sb.WriteString(text)
			if i < n-1 || rng.IntN(2) == 0 {
				sb.WriteString([]string{"\n", "\r\n"}[rng.IntN(2)]) // the last line may have no line break
			}
		}
		for _, sp := range cutRecords(sb.String(), first, ';') {
			text := strings.TrimSuffix(sb.String()[sp[0]:sp[1]], "\r")
			if text == "" {
				continue
			}
			e := entry{off: int64(sp[0]), lineNo: strings.Count(sb.String()[:sp[0]], "\n") + 1, raw: text}
			vals := make([]record.Value, 2)
			if err := dec.Decode([]byte(text), vals); err == nil {
				e.values = fmt.Sprint(vals[0].Kind(), vals[0], vals[1].Kind(), vals[1])
			}
			want = append(want, e)
		}
		path := writeFile(t, dir, fmt.Sprintf("t%d.txt", trial), sb.String())
		splitSize := 1 + rng.IntN(300)
		src, err := NewSource("s", map[string]string{"s.path": path, "s.split.size": fmt.Sprint(splitSize),
			"s.format": "csv", "s.delimiter": ";", "s.has_header": fmt.Sprint(header), "s.columns": "station,temperature"})
		if err != nil {
			t.Fatal(err)
		}
		dlq := &mem.DeadLetters{}
		var got []entry
		for _, r := range readAll(t, src, schema, dlq) {
			got = append(got, entry{off: r.Offset, raw: string(r.Raw),
				values: fmt.Sprint(r.Values[0].Kind(), r.Values[0], r.Values[1].Kind(), r.Values[1])})
		}
		for _, d := range dlq.All() {
			var no int
			if _, err := fmt.Sscanf(d.Reason[len(path):], " line %d:", &no); err != nil {
				t.Fatalf("trial %d: dead letter reason %q has no line number", trial, d.Reason)
			}
			got = append(got, entry{off: d.Offset, lineNo: no, raw: string(d.Raw)})
		}
		sort.Slice(got, func(a, b int) bool { return got[a].off < got[b].off })
		for i := range want {
			if want[i].values != "" {
				want[i].lineNo = 0 // records carry no line number
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("trial %d (split size %d, header %v):\n got %+v\nwant %+v\nfile %q",
				trial, splitSize, header, got, want, sb.String())
		}
	}
}

// cutRecords cuts text from start into CSV records, one byte at a time, as
// RFC 4180 has them and codec.Decode reads them: a '"' that starts a field
// opens a quoted field, which a '"' not followed by another closes; a '\n'
// outside a quoted field ends a record. It returns each record's start and
// end (before its line break; the last record may run to the end).
func cutRecords(text string, start int, delim byte) [][2]int {
	return cutRecordsMax(text, start, delim, 0)
}

// cutRecordsMax is cutRecords with the bound of codec.CSVRecordEndMax
// (maxField > 0): a quoted field whose closing quote (the end of the text
// when it never closes) is more than maxField bytes after its opening one
// ends its record at its first line break, if it holds one.
func cutRecordsMax(text string, start int, delim byte, maxField int) [][2]int {
	var recs [][2]int
	recStart, fieldStart, quoted := start, true, false
	for i := start; i < len(text); i++ {
		c := text[i]
		if c == '"' && fieldStart && !quoted && maxField > 0 {
			end := len(text)
			for j := i + 1; j < len(text); j++ {
				if text[j] == '"' {
					if j+1 < len(text) && text[j+1] == '"' {
						j++
						continue
					}
					end = j
					break
				}
			}
			if lb := strings.IndexByte(text[i:end], '\n'); end-i > maxField && lb >= 0 {
				recs = append(recs, [2]int{recStart, i + lb})
				recStart, fieldStart, i = i+lb+1, true, i+lb
				continue
			}
		}
		switch {
		case quoted:
			if c == '"' {
				if i+1 < len(text) && text[i+1] == '"' {
					i++
				} else {
					quoted = false
				}
			}
		case c == '"' && fieldStart:
			quoted, fieldStart = true, false
		case c == delim:
			fieldStart = true
		case c == '\n':
			recs = append(recs, [2]int{recStart, i})
			recStart, fieldStart = i+1, true
		default:
			fieldStart = false
		}
	}
	if recStart < len(text) {
		recs = append(recs, [2]int{recStart, len(text)})
	}
	return recs
}

// TestSetRecordResetsEveryField checks that setRecord leaves no field of a
// reused record from its earlier use: every field is set to a non-zero value
// first, so a field added to record.Record and not handled fails here.
func TestSetRecordResetsEveryField(t *testing.T) {
	var rec record.Record
	v := reflect.ValueOf(&rec).Elem()
	for i := 0; i < v.NumField(); i++ {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
			f.SetInt(7)
		case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
			f.SetUint(7)
		case reflect.Bool:
			f.SetBool(true)
		case reflect.String:
			f.SetString("stale")
		case reflect.Slice:
			f.Set(reflect.MakeSlice(f.Type(), 1, 1))
		default:
			t.Fatalf("record.Record.%s: kind %v not handled by this test", v.Type().Field(i).Name, f.Kind())
		}
	}
	r := &splitReader{partition: 3, split: split{file: &inputFile{path: "p", modTime: 11}}}
	vals := []record.Value{record.IntValue(1)}
	r.setRecord(&rec, vals, []byte("raw"), 42)
	want := record.Record{Values: vals, Timestamp: 11, Partition: 3, Offset: 42, Topic: "p", Raw: []byte("raw")}
	if !reflect.DeepEqual(rec, want) {
		t.Errorf("setRecord left\n%+v\nwant\n%+v", rec, want)
	}
}

// TestCSVLongQuotedRun checks a file whose lines the one-pass path does not
// take for a long run: the reader gives up on that path and decodes every
// line, quoted or not, line by line.
func TestCSVLongQuotedRun(t *testing.T) {
	var sb strings.Builder
	for i := 0; i < 2*maxFastMisses; i++ {
		fmt.Fprintf(&sb, "\"S;%d\";%d.5\n", i, i)
	}
	for i := 0; i < 10; i++ {
		fmt.Fprintf(&sb, "P%d;%d\n", i, i)
	}
	path := writeFile(t, t.TempDir(), "q.txt", sb.String())
	src, err := NewSource("s", map[string]string{"s.path": path, "s.format": "csv", "s.delimiter": ";",
		"s.has_header": "false", "s.columns": "station,temperature"})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := src.Open(t.Context(), record.NewSchema("station", "temperature"), &mem.DeadLetters{})
	if err != nil {
		t.Fatal(err)
	}
	r := (<-ch).(*splitReader)
	var b record.Batch
	var got []string
	for r.Next(t.Context(), &b, 16) == nil {
		for _, rec := range b.Records {
			got = append(got, rec.Values[0].Str()+"="+rec.Values[1].String())
		}
	}
	if len(got) != 2*maxFastMisses+10 || got[0] != "S;0=0.5" || got[len(got)-1] != "P9=9" {
		t.Errorf("read %d records: first %q, last %q", len(got), got[0], got[len(got)-1])
	}
	if r.fast != nil {
		t.Error("the reader kept trying the one-pass path")
	}
}

package file

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/sluicesql/sluice/connector/codec"
	"github.com/sluicesql/sluice/record"
)

// headerSample is how many lines after the first one header detection
// reads to learn the types of the columns declared without one.
const headerSample = 20

// fileHeader tells how the CSV file f starts: whether its first line is a
// header, and the column names its fields are read by: the declared
// columns; or the header's, when none are declared or when the header
// names every declared column; or column0, column1, ... when none are
// declared, 'has_header' is not set and the first line is data (see
// dataNames). schema gives the declared columns' types (a column it lacks,
// or an ANY one, is typed from the lines after the first; see isHeader).
func (s *Source) fileHeader(f *inputFile, schema *record.Schema) (header bool, columns []string, err error) {
	if !s.format.hasHeader && !s.sniffHeader {
		return false, s.columns, nil
	}
	if !s.sniffHeader {
		if s.columns == nil && !s.headerSet {
			if names, ok := dataNames(f.path, s.format.delim); ok {
				return false, names, nil
			}
		}
		names, err := readHeader(f.path, s.format.delim)
		if err != nil {
			return false, nil, err
		}
		if s.columns == nil {
			return true, names, nil
		}
		return true, headerOrder(names, s.columns), nil
	}
	first, rest, err := headLines(f.path, headerSample, s.format.delim)
	if err != nil || first == nil {
		return false, s.columns, err
	}
	if !isHeader(first, rest, s.columns, schema, s.format.delim) {
		return false, s.columns, nil
	}
	names, _ := codec.ParseCSVHeader(first, s.format.delim)
	return true, headerOrder(names, s.columns), nil
}

// dataNames returns the names of the columns of the CSV file at path when
// its first line is data, not a header: a field of it is a number or a
// time, which no column name is. The columns are then named column0,
// column1, ... as DuckDB names a header-less file's.
func dataNames(path string, delim byte) ([]string, bool) {
	first, _, err := headLines(path, 0, delim)
	if err != nil || first == nil {
		return nil, false
	}
	fields, err := codec.SplitCSVLine(first, delim)
	if err != nil || !slices.ContainsFunc(fields, isValue) {
		return nil, false
	}
	names := make([]string, len(fields))
	for i := range names {
		names[i] = fmt.Sprintf("column%d", i)
	}
	return names, true
}

// isValue reports whether the text of a field is a number or a time, which
// a column name is not.
func isValue(text string) bool {
	if _, err := record.ParseNumber(text); err == nil {
		return true
	}
	_, err := record.ToTimestamp(record.StringValue(text))
	return text != "" && err == nil
}

// headerOrder returns the header's names when they name every declared
// column (so each field is read by its name, in any order, and a field
// not declared is skipped), else the declared columns (the header's names
// are then ignored, and the fields are read by position).
func headerOrder(header, declared []string) []string {
	if namesAll(header, declared) {
		return header
	}
	return declared
}

// namesAll reports whether header, a list of distinct names, holds every
// name of declared, ignoring case and order.
func namesAll(header, declared []string) bool {
	seen := make(map[string]bool, len(header))
	for _, n := range header {
		k := strings.ToLower(n)
		if seen[k] {
			return false
		}
		seen[k] = true
	}
	for _, n := range declared {
		if !seen[strings.ToLower(strings.TrimSpace(n))] {
			return false
		}
	}
	return true
}

// isHeader decides, as DuckDB's CSV sniffer does, whether first (the first
// line of a CSV file whose columns are declared and whose
// has_header is not set) is a header; rest are the lines after it. It is a
// header when its fields name every declared column (ignoring case and
// order; a file may have more columns than are declared), or when its
// fields look like names (distinct text, none empty, a number or a time),
// none of them fits the type of its column where that is not a STRING, and
// every line of rest fits those types. A column's type is its declared one,
// or, declared without a type, the type inferred from rest. A first line
// that is neither is the first record: when every column is a STRING and
// the names differ, nothing tells a header from data, so set 'has_header'.
func isHeader(first []byte, rest [][]byte, columns []string, schema *record.Schema, delim byte) bool {
	names, err := codec.ParseCSVHeader(first, delim)
	if err != nil {
		return false
	}
	if namesAll(names, columns) {
		return true
	}
	if len(names) != len(columns) || !lookLikeNames(names) {
		return false
	}
	typed := columnTypes(columns, schema, rest, delim)
	dec, err := codec.NewCSVDecoder(typed, columns, delim)
	if err != nil {
		return false
	}
	vals := make([]record.Value, typed.Len())
	if dec.Decode(first, vals) != nil {
		return false
	}
	fits := func(i int) bool {
		_, err := record.Conform(vals[i], typed.Field(i))
		return err == nil
	}
	// The typed columns: a header's names fit none of them, a record
	// (even a bad one) most.
	var cols []int
	for i := range columns {
		if t := typed.Type(i); t.Kind != record.TypeString && t.Kind != record.TypeAny {
			if fits(i) {
				return false
			}
			cols = append(cols, i)
		}
	}
	for _, line := range rest {
		if dec.Decode(line, vals) == nil && slices.ContainsFunc(cols, func(i int) bool { return !fits(i) }) {
			return false
		}
	}
	return len(cols) > 0
}

// lookLikeNames reports whether fields could be column names: none empty,
// none a number or a time, no two the same.
func lookLikeNames(fields []string) bool {
	seen := make(map[string]bool, len(fields))
	for _, f := range fields {
		f = strings.TrimSpace(f)
		k := strings.ToLower(f)
		if f == "" || seen[k] {
			return false
		}
		seen[k] = true
		if isValue(f) {
			return false
		}
	}
	return true
}

// columnTypes returns the schema of columns in order, each with its type
// in schema, or the type inferred from the sample lines when schema lacks
// it or has it as ANY.
func columnTypes(columns []string, schema *record.Schema, sample [][]byte, delim byte) *record.Schema {
	var inferred *record.Schema
	fields := make([]record.Field, len(columns))
	for i, c := range columns {
		fields[i] = record.Field{Name: c, Type: record.AnyType}
		if schema != nil {
			if slot, ok := schema.Lookup(c); ok {
				fields[i].Type = schema.Type(slot)
			}
		}
		if fields[i].Type.Kind != record.TypeAny {
			continue
		}
		if inferred == nil {
			inferred = inferLines(columns, sample, delim)
		}
		if slot, ok := inferred.Lookup(c); ok {
			fields[i] = inferred.Field(slot)
		}
	}
	return record.NewSchemaOf(fields...)
}

// inferLines infers the types of columns from CSV lines.
func inferLines(columns []string, lines [][]byte, delim byte) *record.Schema {
	in := codec.NewInferrer()
	dec, err := codec.NewCSVDecoder(record.NewSchema(columns...), columns, delim)
	if err != nil {
		return record.NewSchema()
	}
	vals := make([]record.Value, len(columns))
	for _, l := range lines {
		if dec.Decode(l, vals) == nil {
			in.AddValues(columns, vals)
		}
	}
	return in.Schema()
}

// headLines returns the first CSV record of the file at path (nil when the
// file is empty), which a quoted field may carry over several lines, and
// up to n non-blank records after it.
func headLines(path string, n int, delim byte) (first []byte, rest [][]byte, err error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer file.Close()
	r := bufio.NewReaderSize(file, 64<<10)
	skipBOM(r)
	for first == nil || len(rest) < n {
		line, err := readCSVRecord(r, delim)
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, errLongRecord) && first != nil {
			break // a record too long to sample ends the sample (its rest is not read)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		line = append([]byte(nil), line...)
		switch {
		case first == nil:
			first = line
		case len(bytes.TrimSpace(line)) > 0:
			rest = append(rest, line)
		}
	}
	return first, rest, nil
}

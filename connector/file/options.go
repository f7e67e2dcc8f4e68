package file

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/sluicesql/sluice/connector/internal/props"
)

// DefaultSplitSize is the default size of a source split.
const DefaultSplitSize = 64 << 20

// DefaultMaxFieldBytes is the default of '<n>.max.field.bytes': the most a
// CSV quoted field holding line breaks may run from its opening quote
// before its record is cut at its first line break (codec.CSVRecordEndMax).
const DefaultMaxFieldBytes = 16 << 20

// Formats.
const (
	formatJSON = "json"
	formatCSV  = "csv"
)

// format is a file's encoding.
type format struct {
	kind      string // formatJSON or formatCSV
	delim     byte
	hasHeader bool
	maxField  int // CSV: '<n>.max.field.bytes'
}

// parseFormat reads the format options, defaulting from path's extension.
func parseFormat(o *props.Options, path string) (format, error) {
	ext := strings.ToLower(filepath.Ext(path))
	def := ""
	switch ext {
	case ".json", ".jsonl", ".ndjson":
		def = formatJSON
	case ".csv", ".tsv":
		def = formatCSV
	}
	kind, err := o.Enum("format", def, "json", "jsonl", "ndjson", "csv")
	if err != nil {
		return format{}, err
	}
	switch kind {
	case "":
		return format{}, o.Errorf("format", "not set, and the extension of %q does not tell (valid values: json, jsonl, csv)", path)
	case "jsonl", "ndjson":
		kind = formatJSON
	}
	f := format{kind: kind, delim: ','}
	if ext == ".tsv" {
		f.delim = '\t'
	}
	if o.Has("delimiter") {
		if kind != formatCSV {
			return format{}, o.Errorf("delimiter", "applies only to format csv")
		}
		if f.delim, err = parseDelimiter(o.String("delimiter", "")); err != nil {
			return format{}, o.Errorf("delimiter", "%v", err)
		}
	}
	if f.hasHeader, err = o.Bool("has_header", kind == formatCSV); err != nil {
		return format{}, err
	}
	if f.hasHeader && kind != formatCSV {
		return format{}, o.Errorf("has_header", "applies only to format csv")
	}
	if o.Has("max.field.bytes") && kind != formatCSV {
		return format{}, o.Errorf("max.field.bytes", "applies only to format csv")
	}
	maxField, err := o.Size("max.field.bytes", DefaultMaxFieldBytes)
	if err != nil {
		return format{}, err
	}
	f.maxField = int(min(maxField, 1<<40))
	return f, nil
}

// parseDelimiter accepts one single-byte character, or "tab" / "\t".
func parseDelimiter(s string) (byte, error) {
	switch strings.ToLower(s) {
	case "tab", `\t`, "\t":
		return '\t', nil
	}
	if len(s) != 1 {
		return 0, fmt.Errorf("invalid delimiter %q: want one character such as , ; | or tab", s)
	}
	switch s[0] {
	case '"', '\n', '\r':
		return 0, fmt.Errorf("invalid delimiter %q", s)
	}
	return s[0], nil
}

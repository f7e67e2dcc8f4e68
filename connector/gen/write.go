package gen

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/sluicesql/sluice/connector/codec"
	"github.com/sluicesql/sluice/record"
)

// WriteFile writes opts.Count records of opts.Generator to w, in record order
// (the union of all partitions), as JSON lines ("jsonl" or "json") or CSV
// ("csv", or "tsv" with tabs). CSV has a header row and commas, except for
// measurements, which is written in the One Billion Row Challenge's format:
// "station;temperature" lines without a header. It returns the number of records written.
func WriteFile(w io.Writer, opts Options, format string) (int64, error) {
	if opts.Count <= 0 {
		return 0, fmt.Errorf("generator %q: writing a file needs a count", opts.Generator)
	}
	g, err := newState(opts)
	if err != nil {
		return 0, err
	}
	schema := record.NewSchema(g.kind.columns...)
	var appendRow func(b []byte, row []record.Value) []byte
	bw := bufio.NewWriterSize(w, 1<<20)
	var buf []byte
	switch strings.ToLower(format) {
	case "jsonl", "json", "":
		appendRow = codec.NewJSONEncoder(schema).AppendRow
	case "csv", "tsv":
		delim := byte(',')
		switch {
		case strings.EqualFold(format, "tsv"):
			delim = '\t'
		case g.kind == kinds["measurements"]:
			delim = ';'
		}
		enc, err := codec.NewCSVEncoder(delim)
		if err != nil {
			return 0, err
		}
		appendRow = enc.AppendRow
		if delim != ';' {
			buf = append(enc.AppendHeader(buf, schema), '\n')
		}
	default:
		return 0, fmt.Errorf("unknown format %q (valid: jsonl, csv, tsv)", format)
	}
	row := make([]record.Value, len(g.kind.columns))
	for i := uint64(0); i < uint64(opts.Count); i++ {
		g.kind.row(g, i, row)
		buf = append(appendRow(buf, row), '\n')
		if len(buf) >= 64<<10 {
			if _, err := bw.Write(buf); err != nil {
				return 0, err
			}
			buf = buf[:0]
		}
	}
	if _, err := bw.Write(buf); err != nil {
		return 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	return opts.Count, nil
}

package file

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/codec"
	"github.com/sluicesql/sluice/connector/internal/props"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// sourceOptions are the options a file source accepts after its name.
var sourceOptions = []string{"type", "path", "format", "delimiter", "has_header", "columns", "split.size", "primary.key", "infer.records", codec.InvalidUTF8Option, "max.field.bytes"}

// Source reads the files matching a path or glob, each cut into splits that
// are read in parallel. See the package documentation for its options.
type Source struct {
	name        string
	format      format
	invalidUTF8 codec.InvalidUTF8
	columns     []string // given CSV column names, if any
	// sniffHeader says that each CSV file's first line is a header only
	// when it reads as one (see isHeader): the columns are declared and
	// 'has_header' is not set.
	sniffHeader bool
	headerSet   bool // 'has_header' is set
	files       []*inputFile
	splits      []split
	opened      bool
	read        atomic.Int64 // bytes the readers have read
}

// inputFile is one file the source reads.
type inputFile struct {
	path    string
	size    int64
	modTime int64 // Unix milliseconds
}

// split is one source partition: the lines of file that begin in [start, end).
type split struct {
	file       *inputFile
	start, end int64
}

// NewSource returns the file source called name, configured by the
// '<name>.'-prefixed keys of props. It never reads the files in written
// (the job's own outputs: its file sink, its dead-letter file) nor a file
// sink's temporary files next to them, even when its glob matches them.
func NewSource(name string, props map[string]string, written ...string) (*Source, error) {
	s, o, err := parseSource(name, props)
	if err != nil {
		return nil, err
	}
	pattern := o.String("path", "")
	splitSize, err := o.Size("split.size", DefaultSplitSize)
	if err != nil {
		return nil, err
	}
	if s.files, err = findFiles(pattern, written); err != nil {
		return nil, o.Errorf("path", "%v", err)
	}
	s.splits = planSplits(s.files, splitSize)
	return s, nil
}

// SourceOptions returns the options a file source accepts as '<name>.<option>'.
func SourceOptions() []string { return append([]string(nil), sourceOptions...) }

// CheckSource checks the options of the file source called name as
// NewSource does, without looking for its files (an earlier statement of
// the same file may write them).
func CheckSource(name string, props map[string]string) error {
	_, o, err := parseSource(name, props)
	if err == nil {
		_, err = o.Size("split.size", DefaultSplitSize)
	}
	return err
}

// parseSource reads the options of the file source called name.
func parseSource(name string, all map[string]string) (*Source, *props.Options, error) {
	o, err := propsFor("file source", name, all, sourceOptions)
	if err != nil {
		return nil, nil, err
	}
	pattern := o.String("path", "")
	if pattern == "" {
		return nil, nil, o.Errorf("path", "required: the file or glob to read")
	}
	s := &Source{name: name}
	if s.format, err = parseFormat(o, pattern); err != nil {
		return nil, nil, err
	}
	if cols := o.String("columns", ""); cols != "" {
		defs, err := sql.ParseColumns(name+".columns", cols)
		if err != nil {
			msg, at := sql.ValueError(err, cols)
			pe := o.Errorf("columns", "%s", msg)
			pe.Offset = at
			return nil, nil, pe
		}
		for _, c := range defs {
			s.columns = append(s.columns, c.Name)
		}
	}
	if s.format.kind == formatCSV && !s.format.hasHeader && s.columns == nil {
		return nil, nil, o.Errorf("columns", "required when '%s.has_header' is false: the CSV column names, e.g. 'station,temperature'", name)
	}
	s.headerSet = o.Has("has_header")
	if s.format.kind == formatCSV && s.columns != nil && !s.headerSet {
		s.sniffHeader, s.format.hasHeader = true, false
	}
	utf, err := o.Enum(codec.InvalidUTF8Option, codec.InvalidUTF8Values[0], codec.InvalidUTF8Values...)
	if err != nil {
		return nil, nil, err
	}
	if s.invalidUTF8, err = codec.ParseInvalidUTF8(utf); err != nil {
		return nil, nil, o.Errorf(codec.InvalidUTF8Option, "%v", err)
	}
	return s, o, nil
}

// propsFor extracts a connector's options.
func propsFor(kind, name string, all map[string]string, valid []string) (*props.Options, error) {
	return props.Extract(kind, name, all, valid...)
}

// findFiles returns the regular files matching pattern, sorted by name,
// except the job's own outputs (see ownOutput).
func findFiles(pattern string, written []string) ([]*inputFile, error) {
	paths, err := filepath.Glob(pattern)
	if err != nil {
		return nil, fmt.Errorf("path %q: %w", pattern, err)
	}
	if len(paths) == 0 {
		if _, err := os.Stat(pattern); err != nil {
			return nil, fmt.Errorf("no file matches path %q", pattern)
		}
		paths = []string{pattern}
	}
	sort.Strings(paths)
	var files []*inputFile
	var own []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		if ownOutput(p, fi, written) {
			own = append(own, p)
			continue
		}
		files = append(files, &inputFile{path: p, size: fi.Size(), modTime: fi.ModTime().UnixMilli()})
	}
	if len(files) == 0 {
		if len(own) > 0 {
			return nil, fmt.Errorf("path %q matches only files the job writes (%s): a source never reads its job's sink or dead-letter file", pattern, strings.Join(own, ", "))
		}
		return nil, fmt.Errorf("no regular file matches path %q", pattern)
	}
	return files, nil
}

// ownOutput reports whether the file at path (with info fi) is one of the
// written files, or a file sink's temporary file for one of them.
func ownOutput(path string, fi os.FileInfo, written []string) bool {
	abs, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	for _, w := range written {
		wabs, err := filepath.Abs(w)
		if err != nil {
			continue
		}
		if abs == wabs || isTempFile(abs, wabs) {
			return true
		}
		if wfi, err := os.Stat(w); err == nil && os.SameFile(fi, wfi) {
			return true // the same file by another name (a link)
		}
	}
	return false
}

// planSplits cuts every file into splits of at most size bytes (at least one
// split per file, even when it is empty).
func planSplits(files []*inputFile, size int64) []split {
	var splits []split
	for _, f := range files {
		start := int64(0)
		for {
			end := min(start+size, f.size)
			splits = append(splits, split{file: f, start: start, end: end})
			if end >= f.size {
				break
			}
			start = end
		}
	}
	return splits
}

// Progress reports how many bytes of its files the source has read and
// their total size, for a progress display. (A split reads the end of
// the line that crosses into the next one, so read is capped at total.)
func (s *Source) Progress() (read, total int64) {
	for _, f := range s.files {
		total += f.size
	}
	return min(s.read.Load(), total), total
}

// Name returns the source's name.
func (s *Source) Name() string { return s.name }

// Bounded reports true: files end.
func (s *Source) Bounded() bool { return true }

// Sequenced reports true: the source's partitions are its files' splits,
// numbered in file and offset order (connector.Sequenced).
func (s *Source) Sequenced() bool { return true }

// Facts reports no partition key and one partition per split.
func (s *Source) Facts() connector.Facts {
	return connector.Facts{Partitions: len(s.splits)}
}

// Open returns a closed channel holding one reader per split. Each decodes
// into the slots of schema and sends undecodable lines to dlq.
func (s *Source) Open(ctx context.Context, schema *record.Schema, dlq connector.DeadLetters) (<-chan connector.PartitionReader, error) {
	if s.opened {
		return nil, fmt.Errorf("file source %q: already open", s.name)
	}
	if dlq == nil {
		return nil, fmt.Errorf("file source %q: no dead-letter queue", s.name)
	}
	columns := make(map[*inputFile][]string, len(s.files))
	header := make(map[*inputFile]bool, len(s.files))
	if s.format.kind == formatCSV {
		for _, f := range s.files {
			h, cols, err := s.fileHeader(f, schema)
			if err != nil {
				return nil, fmt.Errorf("file source %q: %w", s.name, err)
			}
			// Check the columns now, so that a bad header fails the job at once.
			if _, err := codec.NewCSVDecoder(schema, cols, s.format.delim); err != nil {
				return nil, fmt.Errorf("file source %q: %s: %w", s.name, f.path, err)
			}
			columns[f], header[f] = cols, h
		}
	}
	starts, err := s.csvStarts()
	if err != nil {
		return nil, err
	}
	ch := make(chan connector.PartitionReader, len(s.splits))
	for i, sp := range s.splits {
		r := &splitReader{
			source:    s.name,
			partition: int32(i),
			split:     sp,
			skipFirst: sp.start > 0 && s.format.kind != formatCSV || sp.start == 0 && header[sp.file],
			schema:    schema,
			conform:   record.NewConformer(schema),
			dlq:       dlq,
			read:      &s.read,
		}
		if s.format.kind == formatCSV {
			dec, err := codec.NewCSVDecoder(schema, columns[sp.file], s.format.delim)
			if err != nil {
				return nil, fmt.Errorf("file source %q: %w", s.name, err)
			}
			dec.SetInvalidUTF8(s.invalidUTF8, s.name+"."+codec.InvalidUTF8Option)
			r.decode, r.fast = dec.Decode, dec
			r.csv, r.delim, r.maxField = true, s.format.delim, s.format.maxField
			if sp.start > 0 {
				r.starts = starts[sp.file]
				r.startIdx, _ = slices.BinarySearch(r.starts.bounds, sp.start)
			}
		} else {
			dec := codec.NewJSONDecoder(schema)
			dec.SetInvalidUTF8(s.invalidUTF8, s.name+"."+codec.InvalidUTF8Option)
			r.decode = dec.Decode
			r.skipBlank = true
		}
		ch <- r
	}
	close(ch)
	s.opened = true
	return ch, nil
}

// csvStarts returns, for each CSV file cut into more than one split, what
// finds where its splits' first records begin.
func (s *Source) csvStarts() (map[*inputFile]*csvStarts, error) {
	if s.format.kind != formatCSV {
		return nil, nil
	}
	starts := make(map[*inputFile]*csvStarts)
	for _, sp := range s.splits {
		if sp.start == 0 {
			continue
		}
		c := starts[sp.file]
		if c == nil {
			f, err := os.Open(sp.file.path)
			if err != nil {
				return nil, fmt.Errorf("file source %q: %w", s.name, err)
			}
			c = &csvStarts{path: sp.file.path, from: bomEnd(f), delim: s.format.delim, maxField: s.format.maxField}
			f.Close()
			starts[sp.file] = c
		}
		c.bounds = append(c.bounds, sp.start)
	}
	return starts, nil
}

// maxHeader bounds the length of a CSV header line.
const maxHeader = 1 << 20

// readHeader reads and parses the first record of the CSV file at path,
// which a quoted field may carry over several lines (RFC 4180).
func readHeader(path string, delim byte) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	line, err := readCSVRecord(bufio.NewReader(io.LimitReader(f, maxHeader+1)), delim)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(line) > maxHeader {
		return nil, fmt.Errorf("%s: header line longer than %d bytes", path, maxHeader)
	}
	if len(bytes.TrimSpace(line)) == 0 {
		return nil, fmt.Errorf("%s: no header line (set has_header to false and give the columns)", path)
	}
	cols, err := codec.ParseCSVHeader(line, delim)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cols, nil
}

// Commit does nothing: a file source reads its files whole on every run.
func (s *Source) Commit(context.Context, map[int32]int64) error { return nil }

// Close does nothing; each reader closes its own file.
func (s *Source) Close() error { return nil }

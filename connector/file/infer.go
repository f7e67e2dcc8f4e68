package file

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/codec"
	"github.com/sluicesql/sluice/record"
)

// maxSampleLine bounds a line read for inference.
const maxSampleLine = 16 << 20

// SourceSchema infers the source's schema from the head of each file: up to
// limits.Records records in all, shared over the files (a CSV record may
// span lines). Records that do not decode are skipped (the job sends them
// to the dead-letter queue). A source whose files hold no record has no
// known schema (Columns nil, Origin inferred).
func (s *Source) SourceSchema(ctx context.Context, limits connector.InferLimits) (connector.Schema, error) {
	if limits.NoSample {
		return connector.Schema{Origin: connector.SchemaNotInferred}, nil
	}
	in := codec.NewInferrer(limits.TimeColumns...)
	per := max(1, (limits.Records+len(s.files)-1)/len(s.files))
	for _, f := range s.files {
		if err := ctx.Err(); err != nil {
			return connector.Schema{}, err
		}
		if err := s.sampleFile(f, in, min(per, limits.Records-in.Records())); err != nil {
			return connector.Schema{}, fmt.Errorf("file source %q: inferring the schema: %w", s.name, err)
		}
		if in.Records() >= limits.Records {
			break
		}
	}
	if in.Records() == 0 {
		return connector.Schema{Origin: connector.SchemaInferred}, nil
	}
	return connector.Schema{Columns: in.Schema(), Origin: connector.SchemaInferred, Records: in.Records()}, nil
}

// sampleFile adds up to n records from the start of f to in.
func (s *Source) sampleFile(f *inputFile, in *codec.Inferrer, n int) error {
	if n <= 0 {
		return nil
	}
	file, err := os.Open(f.path)
	if err != nil {
		return err
	}
	defer file.Close()
	r := bufio.NewReaderSize(file, 64<<10)
	skipBOM(r)
	var columns []string
	var dec *codec.CSVDecoder
	var vals []record.Value
	next := readLine
	if s.format.kind == formatCSV {
		next = func(r *bufio.Reader) ([]byte, error) { return readCSVRecord(r, s.format.delim) }
		if size, err := file.Stat(); err != nil || size.Size() == 0 {
			return err // no header: no record
		}
		header, cols, err := s.fileHeader(f, nil)
		if err != nil {
			return err
		}
		if header {
			if _, err := next(r); err != nil {
				return nil
			}
		}
		columns = cols
		if dec, err = codec.NewCSVDecoder(record.NewSchema(columns...), columns, s.format.delim); err != nil {
			return fmt.Errorf("%s: %w", f.path, err)
		}
		vals = make([]record.Value, len(columns))
	}
	for added := 0; added < n; {
		line, err := next(r)
		if errors.Is(err, io.EOF) || errors.Is(err, errLongRecord) {
			return nil
		}
		if errors.Is(err, errLongLine) {
			continue // not sampled; the job reads it like any other line
		}
		if err != nil {
			return fmt.Errorf("%s: %w", f.path, err)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if dec != nil {
			if dec.Decode(line, vals) != nil {
				continue
			}
			in.AddValues(columns, vals)
		} else if in.AddJSON(line) != nil {
			continue
		}
		added++
	}
	return nil
}

// bom is the UTF-8 byte order mark some tools write at the start of a
// file; it is not part of the first line.
var bom = []byte("\xEF\xBB\xBF")

// skipBOM discards a byte order mark at the start of r.
func skipBOM(r *bufio.Reader) {
	if head, err := r.Peek(len(bom)); err == nil && bytes.Equal(head, bom) {
		_, _ = r.Discard(len(bom))
	}
}

// errLongLine is readLine's error for a line longer than maxSampleLine; the
// line is consumed, so the next call reads the line after it.
var errLongLine = fmt.Errorf("line longer than %d bytes", maxSampleLine)

// readLine returns the next line without its line break; io.EOF after the
// last one, errLongLine (having skipped it) for a line too long to sample.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		buf := append([]byte(nil), line...)
		for errors.Is(err, bufio.ErrBufferFull) && len(buf) < maxSampleLine {
			line, err = r.ReadSlice('\n')
			buf = append(buf, line...)
		}
		line = buf
	}
	if errors.Is(err, bufio.ErrBufferFull) {
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = r.ReadSlice('\n')
		}
		if err == nil || errors.Is(err, io.EOF) {
			err = errLongLine
		}
		return nil, err
	}
	if err != nil && !(errors.Is(err, io.EOF) && len(line) > 0) {
		return nil, err
	}
	return bytes.TrimRight(line, "\r\n"), nil
}

// errLongRecord is readCSVRecord's error for a record longer than
// maxSampleLine; the rest of the record is not consumed, so nothing after
// it can be sampled.
var errLongRecord = fmt.Errorf("CSV record longer than %d bytes", maxSampleLine)

// readCSVRecord returns the next CSV record, which a quoted field may carry
// over several lines (codec.CSVRecordEnd), without its line break; io.EOF
// after the last one.
func readCSVRecord(r *bufio.Reader, delim byte) ([]byte, error) {
	var rec []byte
	for {
		line, err := r.ReadSlice('\n')
		rec = append(rec, line...)
		if len(rec) > maxSampleLine {
			return nil, errLongRecord
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if err != nil && !(errors.Is(err, io.EOF) && len(rec) > 0) {
			return nil, err
		}
		if err != nil || codec.CSVRecordEnd(rec, delim) >= 0 {
			rec = bytes.TrimSuffix(rec, []byte{'\n'})
			return bytes.TrimSuffix(rec, []byte{'\r'}), nil
		}
	}
}

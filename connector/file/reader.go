package file

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/codec"
	"github.com/sluicesql/sluice/record"
)

const (
	// chunkSize is the most a reader reads at once.
	chunkSize = 1 << 20
	// minRead is the least a reader reads at once, e.g. for the rest of the
	// line that crosses its split's end.
	minRead = 64 << 10
	// maxFastMisses is how many lines in a row the one-pass decoder may
	// leave to the line-by-line path before the reader stops trying it.
	maxFastMisses = 64
	// slabRecords bounds how many records' values are allocated at once.
	slabRecords = 1024
)

// splitReader reads and decodes the lines of one split.
//
// Every refill reads into a fresh buffer and never writes to a buffer it has
// handed out, so a record's Raw bytes stay valid after later calls to Next.
type splitReader struct {
	source    string
	partition int32
	split     split
	skipFirst bool // the first record read is not this split's (a partial line or the header)
	// csv, when set, cuts CSV records (which a quoted field may carry over
	// several lines) separated by delim, not lines; starts finds where the
	// split's first record begins when the split does not start the file
	// (startIdx indexes its bounds).
	csv       bool
	delim     byte
	maxField  int  // '<n>.max.field.bytes': see codec.CSVRecordEndMax
	cut       bool // the record nextLine returned last was cut at maxField
	starts    *csvStarts
	startIdx  int
	skipBlank bool // white-space-only lines are skipped too, not only empty ones
	schema    *record.Schema
	dlq       connector.DeadLetters
	read      *atomic.Int64 // bytes read by all the source's readers
	decode    func(line []byte, dst []record.Value) error
	conform   *record.Conformer // makes values fit the schema's types; nil when untyped
	// fast, when set, decodes the first line of a buffer in one pass
	// (DecodeFirst); the lines it leaves go through nextLine and decode.
	fast       *codec.CSVDecoder
	fastMisses int // lines in a row fast did not take

	f       *os.File
	buf     []byte // buf[pos:lim] is unread; buf[0] is at file offset bufOff
	pos     int
	lim     int
	bufOff  int64
	readOff int64 // the next file offset to read
	eof     bool  // the file has no more data after buf[:lim]
	done    bool  // the split has no more lines

	// Line numbers for dead letters are counted lazily: countOff bytes of
	// the file hold countLines line breaks.
	countOff, countLines int64
	countBuf             []byte
}

// Partition returns the split's partition number.
func (r *splitReader) Partition() int32 { return r.partition }

// Next decodes up to max lines into b. It returns io.EOF once the split is
// exhausted and no records are left.
func (r *splitReader) Next(ctx context.Context, b *record.Batch, max int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.Source, b.Partition = r.source, r.partition
	b.Reset()
	recs := b.Records
	defer func() { b.Records = recs }()
	if r.done {
		return io.EOF
	}
	if r.f == nil {
		if err := r.open(); err != nil {
			return err
		}
	}
	n := r.schema.Len()
	var slab []record.Value
	for len(recs) < max {
		if r.fast != nil && !r.skipFirst {
			if recs = r.fastLines(recs, &slab, n, max); len(recs) == max || r.done {
				break
			}
		}
		var vals []record.Value
		recs, vals = grow(recs, &slab, n, max)
		rec := &recs[len(recs)-1]
		line, off, ok, err := r.nextLine()
		if err != nil {
			recs = unreserve(recs, vals)
			return err
		}
		if !ok {
			recs = unreserve(recs, vals)
			r.finish()
			break
		}
		if len(line) == 0 || r.skipBlank && blank(line) {
			recs = unreserve(recs, vals)
			continue
		}
		if r.cut {
			recs = unreserve(recs, vals)
			r.deadLetter(line, off, fmt.Errorf("a quoted field holding line breaks runs past '%s.max.field.bytes' (%d bytes; a quote that never closes?): the record is cut at the field's first line break, and reading goes on after it", r.source, r.maxField))
			continue
		}
		err = r.decode(line, vals)
		if err == nil && r.conform != nil {
			err = r.conform.Apply(vals)
		}
		if err != nil {
			recs = unreserve(recs, vals)
			r.deadLetter(line, off, err)
			continue
		}
		r.setRecord(rec, vals, line, off)
	}
	if len(recs) == 0 && r.done {
		return io.EOF
	}
	return nil
}

// fastLines decodes whole lines of the buffer with the one-pass decoder
// into recs, up to max records, the split's end (then the split is done), or
// a line the decoder leaves to the line-by-line path (then r.pos is at it).
func (r *splitReader) fastLines(recs []record.Record, slab *[]record.Value, n, max int) []record.Record {
	buf, pos := r.buf[:r.lim], r.pos
	for len(recs) < max {
		off := r.bufOff + int64(pos)
		if off >= r.split.end {
			r.finish()
			break
		}
		var vals []record.Value
		recs, vals = grow(recs, slab, n, max)
		k := r.fast.DecodeFirst(buf[pos:], vals)
		if k == 0 {
			recs = unreserve(recs, vals)
			if r.fastMisses++; r.fastMisses == maxFastMisses {
				r.fast = nil // lines this path does not take, e.g. quoted fields
			}
			break
		}
		line := buf[pos : pos+k-1]
		pos += k
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if r.conform != nil {
			if err := r.conform.Apply(vals); err != nil {
				recs = unreserve(recs, vals)
				r.deadLetter(line, off, err)
				continue
			}
		}
		r.setRecord(&recs[len(recs)-1], vals, line, off)
		r.fastMisses = 0
	}
	r.pos = pos
	return recs
}

// grow appends a record to recs and returns it with storage for its n
// values: the record's own from an earlier batch, else a piece of *slab,
// allocated for up to slabRecords records at once.
func grow(recs []record.Record, slab *[]record.Value, n, max int) ([]record.Record, []record.Value) {
	recs = record.Extend(recs)
	vals := recs[len(recs)-1].Values
	if cap(vals) < n {
		if len(*slab) < n {
			*slab = make([]record.Value, n*min(max-len(recs)+1, slabRecords))
		}
		vals, *slab = (*slab)[:n:n], (*slab)[n:]
	}
	return recs, vals[:n]
}

// unreserve drops the record grow added last, keeping its value storage for
// the next record.
func unreserve(recs []record.Record, vals []record.Value) []record.Record {
	recs[len(recs)-1].Values = vals
	return recs[:len(recs)-1]
}

// setRecord fills rec, decoded into vals from line at file offset off. It
// sets every field of rec one by one, which costs less than assigning a
// whole record (a bulk copy with write barriers); recordFields in the tests
// keeps the list complete.
func (r *splitReader) setRecord(rec *record.Record, vals []record.Value, line []byte, off int64) {
	rec.Values = vals
	rec.Timestamp = r.split.file.modTime
	rec.EventTime, rec.HasEventTime, rec.Watermark, rec.WindowStart, rec.Settled, rec.Replay, rec.Reread, rec.HasOrigin, rec.Retract = 0, false, 0, 0, false, false, false, false, false
	rec.Partition, rec.OriginPartition = r.partition, 0
	rec.Offset, rec.OriginOffset, rec.Sub, rec.Input = off, 0, 0, 0
	rec.Topic = r.split.file.path
	if rec.Key != nil {
		rec.Key = nil
	}
	if rec.Headers != nil {
		rec.Headers = nil
	}
	rec.Raw = line
}

// blank reports whether a non-empty line holds only white space, and so no
// JSON record.
func blank(line []byte) bool {
	switch line[0] {
	case ' ', '\t', '\r':
		return len(bytes.TrimSpace(line)) == 0
	}
	return false
}

// open opens the file, positioned to read the split's first record: a CSV
// split that does not start the file starts where r.starts found its first
// record; a JSON one starts reading one byte early, so that the discarded
// first line ends exactly where the split's first line begins; the first
// split starts after a UTF-8 byte order mark.
func (r *splitReader) open() error {
	off := r.split.start
	if r.starts != nil {
		var err error
		if off, err = r.starts.start(r.startIdx); err != nil {
			return fmt.Errorf("file source %q: %w", r.source, err)
		}
	}
	f, err := os.Open(r.split.file.path)
	if err != nil {
		return fmt.Errorf("file source %q: %w", r.source, err)
	}
	r.f = f
	switch {
	case r.starts != nil:
		// off is a record's start, or the file's end.
	case off > 0:
		off--
	default:
		off = bomEnd(f)
	}
	r.bufOff, r.readOff = off, off
	return nil
}

// nextLine returns the next line of the split (for CSV, the next record,
// which may span lines) without its line break (\n or \r\n) and the file
// offset where it begins; ok is false at the split's end.
func (r *splitReader) nextLine() (line []byte, off int64, ok bool, err error) {
	for {
		off = r.bufOff + int64(r.pos)
		if !r.skipFirst && off >= r.split.end {
			return nil, 0, false, nil
		}
		i := -1
		if r.csv {
			i, r.cut = codec.CSVRecordEndMax(r.buf[r.pos:r.lim], r.delim, r.maxField)
		} else {
			i = bytes.IndexByte(r.buf[r.pos:r.lim], '\n')
		}
		if i >= 0 {
			line = r.buf[r.pos : r.pos+i]
			r.pos += i + 1
		} else if r.eof {
			if r.pos == r.lim {
				return nil, 0, false, nil
			}
			// The last line has no line break; a CSV record with a quoted
			// field that never closes runs to the end of the file.
			line = r.buf[r.pos:r.lim]
			r.pos = r.lim
		} else {
			if err := r.fill(); err != nil {
				return nil, 0, false, err
			}
			continue
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if r.skipFirst {
			r.skipFirst = false
			continue
		}
		return line, off, true, nil
	}
}

// fill moves the unread partial line into a new buffer and reads more.
func (r *splitReader) fill() error {
	rest := r.lim - r.pos
	want := min(max(r.split.end-r.readOff, minRead), chunkSize)
	size := max(rest+int(want), 2*rest)
	nb := make([]byte, size)
	copy(nb, r.buf[r.pos:r.lim])
	r.bufOff += int64(r.pos)
	r.buf, r.pos, r.lim = nb, 0, rest
	for r.lim < len(r.buf) {
		n, err := r.f.ReadAt(r.buf[r.lim:], r.readOff)
		r.read.Add(int64(n))
		r.lim += n
		r.readOff += int64(n)
		if errors.Is(err, io.EOF) {
			r.eof = true
			break
		}
		if err != nil {
			return fmt.Errorf("file source %q: %w", r.source, err)
		}
	}
	return nil
}

// deadLetter sends an undecodable line to the dead-letter queue.
func (r *splitReader) deadLetter(line []byte, off int64, err error) {
	path := r.split.file.path
	reason := fmt.Sprintf("%s byte %d: %v", path, off, err)
	if n, cerr := r.lineNumber(off); cerr == nil {
		reason = fmt.Sprintf("%s line %d: %v", path, n, err)
	}
	r.dlq.Add(connector.DeadLetter{
		Source:    r.source,
		Partition: r.partition,
		Offset:    off,
		Raw:       bytes.Clone(line),
		Reason:    reason,
		Time:      time.Now(),
	})
}

// lineNumber returns the 1-based number of the line starting at file offset
// off, counting line breaks from where the previous count stopped.
func (r *splitReader) lineNumber(off int64) (int64, error) {
	if off < r.countOff {
		r.countOff, r.countLines = 0, 0
	}
	if r.countBuf == nil {
		r.countBuf = make([]byte, minRead)
	}
	for r.countOff < off {
		buf := r.countBuf[:min(int64(len(r.countBuf)), off-r.countOff)]
		n, err := r.f.ReadAt(buf, r.countOff)
		r.countLines += int64(bytes.Count(buf[:n], []byte{'\n'}))
		r.countOff += int64(n)
		if err != nil && r.countOff < off {
			return 0, err
		}
	}
	return r.countLines + 1, nil
}

// bomEnd returns the offset where the first line of f begins: after a
// UTF-8 byte order mark, if f starts with one.
func bomEnd(f *os.File) int64 {
	head := make([]byte, len(bom))
	if n, _ := f.ReadAt(head, 0); n == len(bom) && bytes.Equal(head, bom) {
		return int64(len(bom))
	}
	return 0
}

// finish marks the split done and closes its file.
func (r *splitReader) finish() {
	r.done = true
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}

// Close closes the reader's file.
func (r *splitReader) Close() error {
	r.done = true
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

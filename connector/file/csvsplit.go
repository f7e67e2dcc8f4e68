package file

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// csvStarts finds, once for all the readers of a CSV file's splits, where
// the first record of each split begins: a split holds the records that
// begin in it, and a quoted field may hold line breaks, so a line break
// after a split's start need not end a record. One sequential pass from the
// start of the file follows its quoted fields (quoteScan, with the rule of
// codec.CSVRecordEnd): two byte searches per quoted field, and a stretch
// with no quote goes at the speed of one.
type csvStarts struct {
	path     string
	from     int64   // where the first record begins (after a byte order mark)
	bounds   []int64 // the starts of the file's splits after the first, ascending
	delim    byte
	maxField int // '<n>.max.field.bytes': see codec.CSVRecordEndMax

	once   sync.Once
	starts []int64 // by bound: the offset of the first record at or after it
	err    error
}

// start returns the offset of the first record at or after bounds[i], the
// file's size when no record begins there.
func (c *csvStarts) start(i int) (int64, error) {
	c.once.Do(func() {
		c.starts, c.err = c.scan()
		if c.err != nil {
			c.err = fmt.Errorf("finding the CSV records of %s: %w", c.path, c.err)
		}
	})
	if c.err != nil {
		return 0, c.err
	}
	return c.starts[i], nil
}

// scan reads the file from c.from up to the record that holds its last
// bound.
func (c *csvStarts) scan() ([]int64, error) {
	f, err := os.Open(c.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return c.scanFrom(f, chunkSize)
}

// scanFrom is scan reading r, the file, size bytes at a time (at least 2:
// the quote a chunk may keep and one more).
func (c *csvStarts) scanFrom(r io.ReaderAt, size int) ([]int64, error) {
	q := quoteScan{delim: c.delim, bounds: c.bounds, prev: '\n', maxField: int64(c.maxField), restart: -1}
	for len(q.starts) < len(q.bounds) && q.bounds[len(q.starts)] <= c.from {
		q.starts = append(q.starts, c.from) // the file's first record
	}
	buf := make([]byte, max(size, 2))
	base, readOff, keep := c.from, c.from, 0
	for len(q.starts) < len(q.bounds) {
		n, err := r.ReadAt(buf[keep:], readOff)
		readOff += int64(n)
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, err
		}
		b := buf[:keep+n]
		used := 0
		if n == 0 && keep == 0 {
			// the end of the file closes a quoted field still open
			if !q.quoted || !q.cuts(readOff) {
				break
			}
		} else {
			used = q.chunk(b, base, n == 0)
		}
		if q.restart >= 0 {
			// a quoted field cut at maxField: the record ends at the
			// field's first line break, read again from it
			base, readOff, keep = q.restart, q.restart, 0
			q.restart, q.quoted, q.prev = -1, false, '\n'
			continue
		}
		if n == 0 {
			break
		}
		keep = copy(buf, b[used:])
		base += int64(used)
	}
	for len(q.starts) < len(q.bounds) {
		q.starts = append(q.starts, readOff) // no record begins after the last
	}
	return q.starts, nil
}

// quoteScan follows the quoted fields of a CSV file chunk by chunk, with
// the rule of codec.CSVRecordEnd, to find the first record at or after
// each of its bounds.
type quoteScan struct {
	delim  byte
	bounds []int64
	starts []int64 // by bound, those found so far
	prev   byte    // the byte before the chunk, when it starts outside a quoted field
	quoted bool    // the chunk starts inside a quoted field

	// The quoted field being read: where its opening quote and its first
	// line break (-1: none yet) are, for the bound on its length
	// (maxField, 0 for none). When the bound cuts it, restart is the
	// offset of that line break, to scan again from (else -1).
	open, lineBreak   int64
	maxField, restart int64
}

// chunk scans b, the file from offset base on, and returns how many of its
// bytes it used: all but a last '"' in a quoted field, which the next byte
// tells from a doubled one (at the file's end, last, that quote closes).
// When the bound on quoted fields cuts one, it sets s.restart and returns.
func (s *quoteScan) chunk(b []byte, base int64, last bool) int {
	p := 0
	for p < len(b) && len(s.starts) < len(s.bounds) {
		if s.quoted {
			c := bytes.IndexByte(b[p:], '"')
			end := len(b) // the field closes at base+end or later
			if c >= 0 {
				end = p + c
			}
			if s.lineBreak < 0 {
				if lb := bytes.IndexByte(b[p:end], '\n'); lb >= 0 {
					s.lineBreak = base + int64(p+lb)
				}
			}
			if s.cuts(base + int64(end)) {
				return 0
			}
			if c < 0 {
				return len(b)
			}
			j := end
			switch {
			case j+1 == len(b) && !last:
				return j
			case j+1 < len(b) && b[j+1] == '"':
				p = j + 2 // a doubled quote
			default:
				s.quoted, p = false, j+1
			}
			continue
		}
		end := len(b)
		if c := bytes.IndexByte(b[p:], '"'); c >= 0 {
			end = p + c
		}
		s.lineBreaks(b[:end], p, base)
		if end == len(b) {
			break
		}
		prev := s.prev
		if end > 0 {
			prev = b[end-1]
		}
		// A quote opens a quoted field where a field starts.
		s.quoted = prev == s.delim || prev == '\n'
		s.open, s.lineBreak = base+int64(end), -1
		p = end + 1
	}
	if !s.quoted && len(b) > 0 {
		s.prev = b[len(b)-1]
	}
	return len(b)
}

// cuts reports whether the bound on quoted fields cuts the one being read,
// which closes at offset closes or later, and then sets s.restart.
func (s *quoteScan) cuts(closes int64) bool {
	if s.maxField > 0 && s.lineBreak >= 0 && closes-s.open > s.maxField {
		s.restart = s.lineBreak
		return true
	}
	return false
}

// lineBreaks finds the records that start after a line break in b[p:], a
// stretch outside any quoted field, for the bounds not yet found.
func (s *quoteScan) lineBreaks(b []byte, p int, base int64) {
	for len(s.starts) < len(s.bounds) {
		from := max(s.bounds[len(s.starts)]-1-base, int64(p))
		if from >= int64(len(b)) {
			return
		}
		nl := bytes.IndexByte(b[from:], '\n')
		if nl < 0 {
			return
		}
		s.starts = append(s.starts, base+from+int64(nl)+1)
	}
}

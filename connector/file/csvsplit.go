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
	path   string
	from   int64   // where the first record begins (after a byte order mark)
	bounds []int64 // the starts of the file's splits after the first, ascending
	delim  byte

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
	q := quoteScan{delim: c.delim, bounds: c.bounds, prev: '\n'}
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
		if n == 0 {
			break
		}
		b := buf[:keep+n]
		used := q.chunk(b, base)
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
}

// chunk scans b, the file from offset base on, and returns how many of its
// bytes it used: all but a last '"' in a quoted field, which the next byte
// tells from a doubled one.
func (s *quoteScan) chunk(b []byte, base int64) int {
	p := 0
	for p < len(b) && len(s.starts) < len(s.bounds) {
		if s.quoted {
			c := bytes.IndexByte(b[p:], '"')
			if c < 0 {
				return len(b)
			}
			j := p + c
			switch {
			case j+1 == len(b):
				return j
			case b[j+1] == '"':
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
		p = end + 1
	}
	if !s.quoted && len(b) > 0 {
		s.prev = b[len(b)-1]
	}
	return len(b)
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

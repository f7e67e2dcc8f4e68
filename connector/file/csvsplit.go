package file

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/sluicesql/sluice/connector/codec"
)

// csvStarts finds, once for all the readers of a CSV file's splits, where
// the first record of each split begins: a split holds the records that
// begin in it, and a quoted field may hold line breaks, so a line break
// after a split's start need not end a record. One sequential pass from the
// start of the file cuts it into records (codec.CSVRecordEnd); the lines of
// a run with no quote are records as they are, found at the speed of a
// byte search.
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

// scan reads the file from c.from up to the record that holds its last bound.
func (c *csvStarts) scan() ([]int64, error) {
	f, err := os.Open(c.path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	starts := make([]int64, 0, len(c.bounds))
	buf := make([]byte, chunkSize)
	pos, lim := 0, 0  // buf[pos:lim] holds the file from rec on
	rec := c.from     // the start of the record at buf[pos]
	readOff := c.from // the next offset to read
	eof := false
	for {
		for len(starts) < len(c.bounds) && c.bounds[len(starts)] <= rec {
			starts = append(starts, rec)
		}
		if len(starts) == len(c.bounds) {
			return starts, nil
		}
		b := buf[pos:lim]
		// The lines before the first quote are records as they are.
		plain := b
		if q := bytes.IndexByte(b, '"'); q >= 0 {
			plain = b[:q]
		}
		if last := bytes.LastIndexByte(plain, '\n'); last >= 0 {
			for len(starts) < len(c.bounds) && c.bounds[len(starts)] <= rec+int64(last)+1 {
				from := int(c.bounds[len(starts)] - 1 - rec)
				starts = append(starts, rec+int64(from+bytes.IndexByte(plain[from:], '\n')+1))
			}
			rec += int64(last) + 1
			pos += last + 1
			continue
		}
		if len(plain) < len(b) {
			if end := codec.CSVRecordEnd(b, c.delim); end >= 0 {
				rec += int64(end) + 1
				pos += end + 1
				continue
			}
		}
		if eof {
			// The last record runs to the end of the file: no record
			// begins after it.
			for len(starts) < len(c.bounds) {
				starts = append(starts, rec+int64(len(b)))
			}
			return starts, nil
		}
		// Keep the record's bytes read so far and read more after them.
		if len(b) > len(buf)/2 {
			buf = make([]byte, 2*len(buf))
		}
		lim = copy(buf, b)
		pos = 0
		n, err := f.ReadAt(buf[lim:], readOff)
		lim += n
		readOff += int64(n)
		if errors.Is(err, io.EOF) {
			eof = true
		} else if err != nil {
			return nil, err
		}
	}
}

package job

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/sluicesql/sluice/connector"
)

// FileDLQ is a dead-letter queue in a JSON-lines file. The file is created
// on the first entry, so a run without failures leaves no file. Each line is
// one object:
//
//	{"source":"orders","partition":0,"offset":17,"raw":"{\"id\":","raw_encoding":"text",
//	 "reason":"decode: unexpected end of JSON input","time":"2024-01-15T10:00:00Z"}
//
// raw holds the record's original bytes: as a string when they are valid
// UTF-8 (raw_encoding "text"), otherwise in standard base64 (raw_encoding
// "base64"). A FileDLQ is safe for concurrent use.
type FileDLQ struct {
	path string

	mu    sync.Mutex
	f     *os.File
	w     *bufio.Writer
	err   error
	count atomic.Int64
	buf   []byte
}

// NewFileDLQ returns a dead-letter queue that appends to path once it gets
// its first entry.
func NewFileDLQ(path string) *FileDLQ { return &FileDLQ{path: path} }

// Path returns the file's path.
func (q *FileDLQ) Path() string { return q.path }

// Count returns the number of entries added.
func (q *FileDLQ) Count() int64 { return q.count.Load() }

// dlqLine is the JSON form of one entry.
type dlqLine struct {
	Source      string    `json:"source"`
	Partition   int32     `json:"partition"`
	Offset      int64     `json:"offset"`
	Raw         string    `json:"raw"`
	RawEncoding string    `json:"raw_encoding"`
	Reason      string    `json:"reason"`
	Time        time.Time `json:"time"`
}

// Add appends d as one line. A write error is kept and returned by Flush
// and Close.
func (q *FileDLQ) Add(d connector.DeadLetter) {
	q.count.Add(1)
	line := dlqLine{Source: d.Source, Partition: d.Partition, Offset: d.Offset, Reason: d.Reason, Time: d.Time.UTC()}
	if utf8.Valid(d.Raw) {
		line.Raw, line.RawEncoding = string(d.Raw), "text"
	} else {
		line.Raw, line.RawEncoding = base64.StdEncoding.EncodeToString(d.Raw), "base64"
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return
	}
	if q.f == nil {
		f, err := os.OpenFile(q.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			q.err = fmt.Errorf("dead-letter file: %w", err)
			return
		}
		q.f, q.w = f, bufio.NewWriter(f)
	}
	b, err := json.Marshal(line)
	if err != nil {
		q.err = fmt.Errorf("dead-letter file %s: %w", q.path, err)
		return
	}
	q.buf = append(append(q.buf[:0], b...), '\n')
	if _, err := q.w.Write(q.buf); err != nil {
		q.err = fmt.Errorf("dead-letter file %s: %w", q.path, err)
	}
}

// Flush writes buffered entries to the file.
func (q *FileDLQ) Flush() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err == nil && q.w != nil {
		if err := q.w.Flush(); err != nil {
			q.err = fmt.Errorf("dead-letter file %s: %w", q.path, err)
		}
	}
	return q.err
}

// Close flushes and closes the file, if it was created.
func (q *FileDLQ) Close() error {
	err := q.Flush()
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.f != nil {
		if cerr := q.f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("dead-letter file %s: %w", q.path, cerr)
		}
		q.f, q.w = nil, nil
	}
	return err
}

// flusher is a dead-letter queue that can make its entries durable.
type flusher interface{ Flush() error }

// dlqGuard counts dead letters across the job, forwards them to the queue
// and stops the job when their number exceeds the configured maximum.
type dlqGuard struct {
	next  connector.DeadLetters
	max   int64
	total atomic.Int64
	stop  func(error)
}

// add forwards d and enforces the maximum.
func (g *dlqGuard) add(d connector.DeadLetter) {
	g.next.Add(d)
	if n := g.total.Add(1); g.max > 0 && n == g.max+1 {
		g.stop(fmt.Errorf("more than %d records dead-lettered (dlq.max_errors); last: source %q partition %d offset %d: %s",
			g.max, d.Source, d.Partition, d.Offset, d.Reason))
	}
}

// sourceDLQ is the DeadLetters a source gets: it counts decode failures of
// that source.
type sourceDLQ struct {
	g     *dlqGuard
	count atomic.Int64
}

// Add implements connector.DeadLetters.
func (s *sourceDLQ) Add(d connector.DeadLetter) {
	s.count.Add(1)
	d.Raw = append([]byte(nil), d.Raw...)
	s.g.add(d)
}

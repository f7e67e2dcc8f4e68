package job

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/secret"
)

// FileDLQ is a dead-letter queue in a JSON-lines file. The file (and its
// directory) is created on the first entry, so a run without failures
// leaves no file. Each line is
// one connector.DeadLetterJSON object. A FileDLQ is safe for concurrent use.
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

// Add appends d as one line. A write error is kept and returned by Flush
// and Close.
func (q *FileDLQ) Add(d connector.DeadLetter) {
	q.count.Add(1)
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return
	}
	if q.f == nil {
		err := os.MkdirAll(filepath.Dir(q.path), 0o777) // the umask applies
		var f *os.File
		if err == nil {
			f, err = os.OpenFile(q.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o666)
		}
		if err != nil {
			q.err = fmt.Errorf("dead-letter file: %w", err)
			return
		}
		q.f, q.w = f, bufio.NewWriter(f)
	}
	b, err := d.AppendJSON(q.buf[:0])
	if err != nil {
		q.err = fmt.Errorf("dead-letter file %s: %w", q.path, err)
		return
	}
	q.buf = append(b, '\n')
	if _, err := q.w.Write(q.buf); err != nil {
		q.err = fmt.Errorf("dead-letter file %s: %w", q.path, err)
	}
}

// Flush writes buffered entries to the file (it does not wait on ctx).
func (q *FileDLQ) Flush(context.Context) error {
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
	err := q.Flush(context.Background())
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

// Flusher is implemented by a dead-letter queue (Config.DLQ) that buffers
// entries: the job calls Flush before every offset commit, so that no
// source offset is committed before the dead letters of the records before
// it are durable (written, or acknowledged by a broker).
type Flusher interface {
	Flush(ctx context.Context) error
}

// TopicNamer is implemented by a dead-letter queue that writes to a Kafka
// topic: the summary names the topic when the job dead-lettered records.
type TopicNamer interface {
	Topic() string
}

// ContextAdder is implemented by a dead-letter queue whose Add may wait
// (for room in a Kafka producer's buffer): the job adds through AddContext
// with its context for its sinks, which it cancels when a stop does not
// drain within Config.DrainTimeout, so that a letter waiting for a cluster
// that no longer answers fails then instead of holding the stop.
type ContextAdder interface {
	AddContext(ctx context.Context, d connector.DeadLetter)
}

// dlqGuard counts dead letters across the job, forwards them to the queue
// and, with limit, stops the job when their number exceeds max. ctx bounds
// the wait of a ContextAdder queue (the job's context for its sinks).
type dlqGuard struct {
	next  connector.DeadLetters
	ctx   context.Context
	limit bool
	max   int64
	total atomic.Int64
	stop  func(error)
}

// add forwards d, its reason without secrets (an error may quote a
// registry URL with its password), and enforces the maximum.
func (g *dlqGuard) add(d connector.DeadLetter) {
	d.Reason = secret.Redact(d.Reason)
	if ca, ok := g.next.(ContextAdder); ok && g.ctx != nil {
		ca.AddContext(g.ctx, d)
	} else {
		g.next.Add(d)
	}
	if n := g.total.Add(1); g.limit && n == g.max+1 {
		g.stop(fmt.Errorf("more than %d records dead-lettered (dlq.max_errors); last: source %q partition %d offset %d: %s",
			g.max, d.Source, d.Partition, d.Offset, d.Reason))
	}
}

// sourceDLQ is the DeadLetters a source gets: it counts decode failures of
// that source, and the tombstones it skips.
type sourceDLQ struct {
	g       *dlqGuard
	count   atomic.Int64
	skipped atomic.Int64
}

// Add implements connector.DeadLetters. A tombstone (a Kafka message with
// no value) is no row of a stream: it is counted, not dead-lettered.
func (s *sourceDLQ) Add(d connector.DeadLetter) {
	if d.Tombstone {
		s.skipped.Add(1)
		return
	}
	s.count.Add(1)
	d.Raw = append([]byte(nil), d.Raw...)
	if d.Key != nil {
		d.Key = append([]byte(nil), d.Key...)
	}
	s.g.add(d)
}

package file

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/sluicesql/sluice/connector/codec"
	"github.com/sluicesql/sluice/record"
)

// sinkOptions are the options a file sink accepts after its name.
var sinkOptions = []string{"type", "path", "format", "delimiter", "has_header"}

// Sink writes rows as JSON lines or CSV to a file, through a temporary file
// that Close renames into place. It is safe for concurrent use.
type Sink struct {
	name   string
	path   string
	format format

	mu     sync.Mutex
	tmp    *os.File
	w      *bufio.Writer
	row    func(b []byte, row []record.Value) []byte
	buf    []byte
	closed bool
	err    error // the write error that discarded the output
}

// SinkOptions returns the options a file sink accepts as '<name>.<option>'.
func SinkOptions() []string { return append([]string(nil), sinkOptions...) }

// NewSink returns the file sink called name, configured by the
// '<name>.'-prefixed keys of props.
func NewSink(name string, props map[string]string) (*Sink, error) {
	o, err := propsFor("file sink", name, props, sinkOptions)
	if err != nil {
		return nil, err
	}
	path := o.String("path", "")
	if path == "" {
		return nil, o.Errorf("path", "required: the file to write")
	}
	// Clean lexically, as a shell user reads new/dir/../../sub/o.jsonl: the
	// system would need new/dir to exist.
	s := &Sink{name: name, path: filepath.Clean(path)}
	if fi, err := os.Stat(s.path); err == nil && fi.IsDir() {
		// Found now, not when Close renames the output onto it.
		return nil, o.Errorf("path", "%q is a directory: give the file to write", path)
	}
	if s.format, err = parseFormat(o, path); err != nil {
		return nil, err
	}
	return s, nil
}

// Open creates the temporary file next to the sink's path and, for CSV with
// a header, writes the header. It first removes the temporary files that
// sinks of the same path killed while writing left behind.
func (s *Sink) Open(_ context.Context, schema *record.Schema, _ []int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tmp != nil || s.closed {
		return fmt.Errorf("file sink %q: already opened", s.name)
	}
	switch s.format.kind {
	case formatCSV:
		enc, err := codec.NewCSVEncoder(s.format.delim)
		if err != nil {
			return fmt.Errorf("file sink %q: %w", s.name, err)
		}
		s.row = enc.AppendRow
		if s.format.hasHeader {
			s.buf = append(enc.AppendHeader(s.buf[:0], schema), '\n')
		}
	default:
		s.row = codec.NewJSONEncoder(schema).AppendRow
	}
	dir, base := filepath.Split(s.path)
	if dir == "" {
		dir = "."
	}
	removeLeftovers(dir, tempPrefix(base))
	tmp, err := createTemp(dir, tempPrefix(base))
	if err != nil {
		return fmt.Errorf("file sink %q: %w", s.name, err)
	}
	s.tmp = tmp
	s.w = bufio.NewWriterSize(tmp, chunkSize)
	if _, err := s.w.Write(s.buf); err != nil {
		return s.fail(err)
	}
	return nil
}

// Write encodes rows, one line each.
func (s *Sink) Write(_ context.Context, rows []record.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ready(); err != nil {
		return err
	}
	buf := s.buf[:0]
	for i := range rows {
		buf = append(s.row(buf, rows[i].Values), '\n')
		if len(buf) >= minRead {
			if _, err := s.w.Write(buf); err != nil {
				return s.fail(err)
			}
			buf = buf[:0]
		}
	}
	s.buf = buf
	if _, err := s.w.Write(buf); err != nil {
		return s.fail(err)
	}
	return nil
}

// ready reports why the sink cannot take writes, if it cannot.
func (s *Sink) ready() error {
	switch {
	case s.err != nil:
		return s.err
	case s.w == nil:
		return fmt.Errorf("file sink %q: not open", s.name)
	}
	return nil
}

// Flush hands everything written so far to the operating system. The output
// becomes visible, and durable, only when Close renames it into place.
func (s *Sink) Flush(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ready(); err != nil {
		return err
	}
	if err := s.w.Flush(); err != nil {
		return s.fail(err)
	}
	return nil
}

// Close flushes and syncs the temporary file and renames it to the path.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.tmp == nil {
		return s.err // never opened, or failed (the temporary file is gone)
	}
	name := s.tmp.Name()
	err := s.w.Flush()
	if err == nil {
		err = s.tmp.Sync()
	}
	if cerr := s.tmp.Close(); err == nil {
		err = cerr
	}
	s.tmp, s.w = nil, nil
	if err == nil {
		err = os.Rename(name, s.path)
	}
	if err != nil {
		os.Remove(name)
		return fmt.Errorf("file sink %q: %w", s.name, err)
	}
	return nil
}

// Abort removes the temporary file; the path is left as it was.
func (s *Sink) Abort() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.discard()
}

// discard closes and removes the temporary file.
func (s *Sink) discard() {
	if s.tmp == nil {
		return
	}
	name := s.tmp.Name()
	s.tmp.Close()
	os.Remove(name)
	s.tmp, s.w = nil, nil
}

// fail discards the output after a write error and returns the error, which
// Close returns too.
func (s *Sink) fail(err error) error {
	s.discard()
	s.err = fmt.Errorf("file sink %q: %w", s.name, err)
	return s.err
}

// createTemp creates a new file in dir whose name starts with prefix, with
// mode 0666 less the umask (the mode the final file keeps), unlike
// os.CreateTemp's 0600. The file is locked (tryLock) until it is closed.
func createTemp(dir, prefix string) (*os.File, error) {
	for range 100 {
		name := filepath.Join(dir, prefix+strconv.FormatUint(rand.Uint64(), 36))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		// Another sink's removeLeftovers may have locked and removed the
		// file between its creation and the lock: then take another name.
		if tryLock(f) && sameFile(f, name) {
			return f, nil
		}
		f.Close()
	}
	return nil, fmt.Errorf("cannot create a temporary file in %s", dir)
}

// sameFile reports whether name still names the open file f.
func sameFile(f *os.File, name string) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	ni, err := os.Stat(name)
	return err == nil && os.SameFile(fi, ni)
}

// removeLeftovers removes the temporary files in dir, named with prefix,
// that sinks killed while writing (kill -9, a crash, a power cut) left
// behind. A live sink, in this process or another, holds its file locked,
// so it is never one of them. It is best effort: a file that cannot be
// removed stays, as it would without it.
func removeLeftovers(dir, prefix string) {
	if !locks {
		return
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !isTempName(e.Name(), prefix) {
			continue
		}
		name := filepath.Join(dir, e.Name())
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		if tryLock(f) && sameFile(f, name) {
			os.Remove(name)
		}
		f.Close()
	}
}

// isTempName reports whether the file name base is a temporary file's
// name that starts with prefix: prefix and a random base-36 number.
func isTempName(base, prefix string) bool {
	n, ok := strings.CutPrefix(base, prefix)
	if !ok || n == "" {
		return false
	}
	_, err := strconv.ParseUint(n, 36, 64)
	return err == nil
}

// tempPrefix begins the name of a sink's temporary file for the file base.
func tempPrefix(base string) string { return "." + base + ".tmp-" }

// isTempFile reports whether path names a temporary file of a sink writing
// to the file sinkPath (both cleaned, absolute).
func isTempFile(path, sinkPath string) bool {
	dir, base := filepath.Split(sinkPath)
	pdir, pbase := filepath.Split(path)
	return pdir == dir && strings.HasPrefix(pbase, tempPrefix(base))
}

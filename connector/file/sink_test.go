package file

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sluicesql/sluice/record"
)

func sinkRows() []record.Record {
	return []record.Record{
		{Values: []record.Value{record.StringValue("SYM1"), record.DecimalValue(10050, 2), record.IntValue(3)}},
		{Values: []record.Value{record.StringValue("a,\"b\""), record.NullValue(), record.IntValue(-1)}},
	}
}

// openSink returns sink out writing path, opened with sinkRows's columns.
func openSink(t *testing.T, path string) *Sink {
	t.Helper()
	s, err := NewSink("out", map[string]string{"out.path": path})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open(context.Background(), record.NewSchema("symbol", "avg_price", "n"), nil); err != nil {
		t.Fatal(err)
	}
	return s
}

// writeFlushed writes sinkRows to s and flushes them to its temporary file.
func writeFlushed(t *testing.T, s *Sink) {
	t.Helper()
	ctx := context.Background()
	if err := s.Write(ctx, sinkRows()); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestSinkWritesThroughTempAndRename(t *testing.T) {
	schema := record.NewSchema("symbol", "avg_price", "n")
	tests := []struct {
		name  string
		file  string
		props map[string]string
		want  string
	}{
		{"jsonl", "out.jsonl", nil,
			`{"symbol":"SYM1","avg_price":100.50,"n":3}` + "\n" + `{"symbol":"a,\"b\"","avg_price":null,"n":-1}` + "\n"},
		{"csv", "out.csv", nil, "symbol,avg_price,n\nSYM1,100.50,3\n\"a,\"\"b\"\"\",,-1\n"},
		{"csv without header", "out.txt", map[string]string{"format": "csv", "delimiter": ";", "has_header": "false"},
			"SYM1;100.50;3\n\"a,\"\"b\"\"\";;-1\n"},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, tt.file)
			props := map[string]string{"out.path": path, "out.type": "file_sink"}
			for k, v := range tt.props {
				props["out."+k] = v
			}
			s, err := NewSink("out", props)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Open(ctx, schema, nil); err != nil {
				t.Fatal(err)
			}
			if err := s.Write(ctx, sinkRows()[:1]); err != nil {
				t.Fatal(err)
			}
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			if err := s.Write(ctx, sinkRows()[1:]); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(path); !os.IsNotExist(err) {
				t.Fatalf("the path exists before Close: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("file =\n%s\nwant\n%s", got, tt.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("directory holds %d entries, want only the output", len(entries))
			}
		})
	}
}

func TestSinkAbortLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.jsonl")
	if err := os.WriteFile(path, []byte("previous\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := openSink(t, path)
	writeFlushed(t, s)
	s.Abort()
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries after Abort, want only the previous file", len(entries))
	}
	if got, _ := os.ReadFile(path); string(got) != "previous\n" {
		t.Errorf("Abort changed the existing file: %q", got)
	}
	if err := s.Write(context.Background(), sinkRows()); err == nil {
		t.Error("Write after Abort: want error")
	}
}

func TestSinkOptionErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		props map[string]string
		want  string
	}{
		{map[string]string{}, "option 'out.path': required"},
		{map[string]string{"out.path": "x.parquet"}, "option 'out.format': not set"},
		{map[string]string{"out.path": "x.csv", "out.split.size": "1"}, "unknown option 'out.split.size'"},
		// a directory is refused before the job runs, not when the output is renamed onto it
		{map[string]string{"out.path": dir, "out.format": "jsonl"}, "option 'out.path': \"" + dir + "\" is a directory: give the file to write"},
	}
	for _, tt := range tests {
		if _, err := NewSink("out", tt.props); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewSink(%v) = %v, want %q", tt.props, err, tt.want)
		}
	}
}

// TestSinkRespectsUmask checks that the output file gets mode 0666 less the
// umask (0600 under umask 077, 0644 under 022), like a file the shell
// creates, and that a path with .. is cleaned lexically.
func TestSinkRespectsUmask(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		umask int
		want  os.FileMode
	}{{0o077, 0o600}, {0o022, 0o644}, {0o002, 0o664}} {
		old := syscall.Umask(tt.umask)
		dir := t.TempDir()
		if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "new", "dir", "..", "..", "sub", "o.jsonl")
		s, err := NewSink("out", map[string]string{"out.path": path, "out.type": "file_sink"})
		if err == nil {
			err = s.Open(ctx, record.NewSchema("a"), nil)
		}
		if err == nil {
			err = s.Write(ctx, []record.Record{{Values: []record.Value{record.IntValue(1)}}})
		}
		if err == nil {
			err = s.Close()
		}
		syscall.Umask(old)
		if err != nil {
			t.Fatalf("umask %03o: %v", tt.umask, err)
		}
		fi, err := os.Stat(filepath.Join(dir, "sub", "o.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != tt.want {
			t.Errorf("umask %03o: mode %v, want %v", tt.umask, fi.Mode().Perm(), tt.want)
		}
	}
}

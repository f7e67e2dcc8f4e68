package runner

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestFileSinkPathWithDotDot checks that a sink path through directories
// that do not exist and back out (new/dir/../../sub/o.jsonl) is cleaned
// before its directory is created, as a shell user reads it.
func TestFileSinkPathWithDotDot(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	if err := os.WriteFile(in, []byte("{\"x\":1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := dir + "/new/dir/../../sub/o.jsonl"
	runStatement(t, context.Background(), "CREATE STREAM o AS SELECT x FROM t WITH ('t.type'='file_source', 't.path'='"+in+
		"', 'o.type'='file_sink', 'o.path'='"+out+"')", io.Discard)
	got, err := os.ReadFile(filepath.Join(dir, "sub", "o.jsonl"))
	if err != nil || string(got) != "{\"x\":1}\n" {
		t.Errorf("output %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); err == nil {
		t.Errorf("the directory new was created")
	}
}

// TestCSVStringKeepsText checks that a CSV column inferred as STRING keeps
// each field's text: 01234 is "01234", not 1234.
func TestCSVStringKeepsText(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.csv")
	if err := os.WriteFile(in, []byte("code,n\n01234,1\nABC,2\n1e3,3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.jsonl")
	runStatement(t, context.Background(), "CREATE STREAM o AS SELECT code, n FROM t WITH ('t.type'='file_source', 't.path'='"+in+
		"', 'o.type'='file_sink', 'o.path'='"+out+"')", io.Discard)
	got, _ := os.ReadFile(out)
	want := `{"code":"01234","n":1}` + "\n" + `{"code":"ABC","n":2}` + "\n" + `{"code":"1e3","n":3}` + "\n"
	if string(got) != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}

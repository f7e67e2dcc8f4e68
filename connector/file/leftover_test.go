//go:build unix

package file

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// sinkHelperEnv names the path the helper process writes (TestSinkHelperProcess).
const sinkHelperEnv = "SLUICE_TEST_SINK_PATH"

// TestSinkHelperProcess is not a test: run by TestSinkRemovesKilledSinksLeftover
// as a process of its own, it opens a sink, writes, says so on stdout and
// waits to be killed.
func TestSinkHelperProcess(t *testing.T) {
	path := os.Getenv(sinkHelperEnv)
	if path == "" {
		t.Skip("run by TestSinkRemovesKilledSinksLeftover")
	}
	writeFlushed(t, openSink(t, path))
	os.Stdout.WriteString("open\n")
	bufio.NewReader(os.Stdin).ReadString('\n') // killed before any line comes
}

// A sink killed with kill -9 leaves its temporary file; the next sink that
// writes the same path removes it, but not the file of a sink still
// writing nor a temporary file of another path.
func TestSinkRemovesKilledSinksLeftover(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.jsonl")
	cmd := exec.Command(os.Args[0], "-test.run=^TestSinkHelperProcess$")
	cmd.Env = append(os.Environ(), sinkHelperEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "open\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper process said %q, %v", line, err)
	}
	cmd.Process.Kill() // SIGKILL: the sink cannot clean up
	cmd.Wait()
	killed := tempFiles(t, dir)
	if len(killed) != 1 {
		t.Fatalf("temporary files after kill -9: %v, want the killed sink's one", killed)
	}
	other := filepath.Join(dir, tempPrefix("other.jsonl")+"abc")
	if err := os.WriteFile(other, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	live := openSink(t, path)
	defer live.Abort()
	liveTemp := tempFiles(t, dir)
	s := openSink(t, path)
	defer s.Abort()
	got := tempFiles(t, dir)
	if slices.Contains(got, killed[0]) {
		t.Errorf("the killed sink's temporary file %s is still there: %v", killed[0], got)
	}
	for _, f := range liveTemp {
		if f != killed[0] && !slices.Contains(got, f) {
			t.Errorf("the live sink's temporary file %s was removed: %v", f, got)
		}
	}
	if len(got) != 2 {
		t.Errorf("temporary files %v, want the two live sinks' ones", got)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another path's temporary file: %v", err)
	}
	if err := s.Write(context.Background(), sinkRows()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || strings.Count(string(b), "\n") != 2 {
		t.Errorf("output %q, %v", b, err)
	}
}

// tempFiles returns the temporary files of sinks writing out.jsonl in dir.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if isTempName(e.Name(), tempPrefix("out.jsonl")) {
			names = append(names, e.Name())
		}
	}
	return names
}

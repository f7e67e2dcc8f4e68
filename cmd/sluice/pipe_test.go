package main

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain runs the real main, signals and all, when a test starts this
// test binary as a sluice process (the environment says so).
func TestMain(m *testing.M) {
	if os.Getenv("SLUICE_TEST_MAIN") == "1" {
		main()
	}
	os.Exit(m.Run())
}

// sluiceProcess returns the command running sluice with args in a child
// process, with stderr collected in the returned buffer.
func sluiceProcess(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "SLUICE_TEST_MAIN=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	return cmd, &stderr
}

// waitExit waits for cmd and returns its exit code; a process killed by a
// signal fails the test. It gives up after a minute, which only a hang
// reaches.
func waitExit(t *testing.T, cmd *exec.Cmd, stderr *bytes.Buffer) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		switch {
		case err == nil:
			return 0
		case errors.As(err, &exit):
			if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				t.Fatalf("killed by %v; stderr:\n%s", ws.Signal(), stderr)
			}
			return exit.ExitCode()
		default:
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("still running after a minute; stderr:\n%s", stderr)
	}
	return -1
}

// endless is an unbounded query whose rows go to stdout; with an hour's
// commit interval, rows reach the pipe only if they are written as they
// are produced.
func endless(rate string) string {
	return "SELECT trader_id, price FROM g WITH ('g.type'='generator', 'g.generator'='trades', 'g.rate'='" + rate +
		"', 'commit.interval'='1h', 'drain.timeout'='300ms')"
}

// TestStdoutReachesThePipeAsProduced: a slow unbounded stream's rows reach
// a pipe long before the commit interval.
func TestStdoutReachesThePipeAsProduced(t *testing.T) {
	cmd, stderr := sluiceProcess(t, "run", "-q", "-e", endless("20"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	for i := 0; i < 3; i++ {
		select {
		case l, ok := <-lines:
			if !ok || !strings.Contains(l, `"trader_id"`) {
				t.Fatalf("line %d: %q (open %v); stderr:\n%s", i, l, ok, stderr)
			}
		case <-time.After(time.Minute):
			t.Fatalf("no row on the pipe after a minute; stderr:\n%s", stderr)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	go func() {
		for range lines {
		}
	}()
	if code := waitExit(t, cmd, stderr); code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0; stderr:\n%s", code, stderr)
	}
}

// TestStdoutReaderGoesAway: when the reader of stdout exits (`| head -1`),
// sluice is not killed by SIGPIPE: it stops like a job whose sink failed,
// with a message and a summary that says so, and exit code 2.
func TestStdoutReaderGoesAway(t *testing.T) {
	cmd, stderr := sluiceProcess(t, "run", "-e", endless("0"))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := bufio.NewReader(out).ReadString('\n'); err != nil {
		t.Fatalf("%v; stderr:\n%s", err, stderr)
	}
	out.Close()
	if code := waitExit(t, cmd, stderr); code != exitRuntime {
		t.Errorf("exit %d, want %d; stderr:\n%s", code, exitRuntime, stderr)
	}
	for _, want := range []string{"broken pipe", " failed: "} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

// TestSigtermWithBlockedStdout: a SIGTERM stops the job within the drain
// timeout even when nobody reads stdout and every write blocks.
func TestSigtermWithBlockedStdout(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd, stderr := sluiceProcess(t, "run", "-e", endless("0"))
	cmd.Stdout = w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	// wait until the pipe is full: the first row arrived and sluice is
	// still running, so its writes must by now block on the full pipe
	if _, err := bufio.NewReader(r).ReadString('\n'); err != nil {
		t.Fatalf("%v; stderr:\n%s", err, stderr)
	}
	time.Sleep(200 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd, stderr); code != exitRuntime {
		t.Errorf("exit %d, want %d; stderr:\n%s", code, exitRuntime, stderr)
	}
	if !strings.Contains(stderr.String(), "drain.timeout") {
		t.Errorf("stderr does not say the drain timed out:\n%s", stderr)
	}
}

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sluice runs the command line in-process and returns its exit code,
// stdout and stderr.
func sluice(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut strings.Builder
	code := execute(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// writeFile writes content to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "in.jsonl", "{\"k\":\"a\",\"x\":1}\n{\"k\":\"b\",\"x\":2}\nnot json\n{\"k\":\"a\",\"x\":3}\n")
	src := "WITH ('t.type'='file_source','t.path'='" + in + "')"
	bad := writeFile(t, dir, "bad.sql", "SELECT k FROM t\nWHERE x >\n")
	cases := []struct {
		name   string
		args   []string
		code   int
		stdout string // substring expected on stdout
		stderr string // substring expected on stderr
	}{
		{"version", []string{"version"}, 0, "sluice dev", ""},
		{"--version", []string{"--version"}, 0, "sluice dev", ""},
		{"help", []string{"help"}, 0, "Usage: sluice <command>", ""},
		{"help: exit codes", []string{"--help"}, 0, "Exit codes: 0 success", ""},
		{"help run", []string{"help", "run"}, 0, "Usage: sluice run", ""},
		{"help of an unknown command", []string{"help", "nope"}, 1, "", "nope"},
		{"run -e", []string{"run", "-q", "-e", "SELECT k, x FROM t WHERE x > 1 " + src}, 0, `{"k":"a","x":3}`, ""},
		{"summary", []string{"run", "-e", "SELECT k FROM t " + src}, 0, `{"k":"b"}`, "dead-lettered 1"},
		{"parse error", []string{"run", bad}, 1, "", "bad.sql:3:1:"},
		{"no such file", []string{"run", filepath.Join(dir, "nope.sql")}, 1, "", "no such file"},
		{"unknown flag", []string{"run", "--bogus", bad}, 1, "", "unknown flag --bogus (see sluice run --help)"},
		{"no command", nil, 1, "", "sluice: no command given (commands: run, explain, "},
		{"unknown command", []string{"frobnicate"}, 1, "", `sluice: unknown command "frobnicate" (commands: run, explain, `},
		{"misspelt command", []string{"rn", bad}, 1, "", `unknown command "rn"; did you mean one of "run", "gen"?`},
		{"empty file", []string{"run", writeFile(t, dir, "empty.sql", "")}, 1, "", "empty.sql: no statements"},
		{"only comments", []string{"explain", writeFile(t, dir, "comments.sql", "-- nothing\n/* here */\n")}, 1, "", "comments.sql: no statements"},
		{"a directory", []string{"run", dir}, 1, "", "is a directory"},
		{"empty -e", []string{"run", "-e", ""}, 1, "", "nothing to do: give a FILE or -e SQL"},
		{"blank -e", []string{"explain", "-e", "  \n"}, 1, "", "no statements"},
		{"file and -e", []string{"run", "-e", "SELECT 1 FROM t", bad}, 1, "", "not both"},
		{"refused strategy", []string{"run", "--strategy", "round_robin", "-e", "SELECT k, COUNT(*) FROM t GROUP BY k " + src}, 1, "", "would split the groups"},
		{"unknown strategy", []string{"run", "--strategy", "nope", "-e", "SELECT k FROM t " + src}, 1, "", "nope"},
		{"no source type", []string{"run", "-e", "SELECT k FROM t"}, 1, "", `source "t" has no type`},
		{"unset variable", []string{"run", "-e", "SELECT k FROM t WITH ('t.type'='file_source','t.path'='${SLUICE_TEST_UNSET}')"}, 1, "", "SLUICE_TEST_UNSET is not set"},
		{"too many errors", []string{"run", "-e", "SELECT k FROM t WITH ('t.type'='file_source','t.path'='" + in + "','dlq.max_errors'='0.5')"}, 1, "", "dlq.max_errors"},
		{"dlq topic without brokers", []string{"run", "-e", "SELECT k FROM t WITH ('t.type'='file_source','t.path'='" + in + "','dlq.topic'='dead')"}, 1, "", `set 'dlq.bootstrap.servers'`},
		{"dlq path and topic", []string{"run", "-e", "SELECT k FROM t WITH ('t.type'='file_source','t.path'='" + in + "','dlq.topic'='dead','dlq.path'='d.jsonl')"}, 1, "", `'dlq.path' and 'dlq.topic'`},
		{"bad log format", []string{"--log-format", "xml", "version"}, 1, "", "log-format"},
		{"bench: unknown scenario", []string{"bench", "-q", "--scenarios", "9", "--dir", dir}, 1, "", `--scenarios: unknown scenario "9" (valid: 0, 1, 2`},
		{"bench: unknown mode", []string{"bench", "-q", "--modes", "disk", "--dir", dir}, 1, "", `--modes: unknown mode "disk" (valid: memory, jsonl, text, kafka`},
		{"bench: no partitions", []string{"bench", "-q", "--partitions", "0", "--dir", dir}, 1, "", "--partitions 0: out of range [1, 256]"},
		{"gen: negative keys", []string{"gen", "trades", "--keys=-1", "--out", filepath.Join(dir, "g.jsonl")}, 1, "", "--keys must be zero or more"},
		{"gen: no topic partitions", []string{"gen", "trades", "--topic", "t", "--brokers", "127.0.0.1:1", "--partitions", "0"}, 1, "", "--partitions must be at least 1"},
		{"gen: unknown key column", []string{"gen", "trades", "--topic", "t", "--brokers", "127.0.0.1:1", "--key", "nope"}, 1, "", `--key "nope" is not a column of trades; columns: trader_id,`},
		{"demo: negative trades", []string{"demo", "--trades=-5"}, 1, "", "--trades must be zero or more"},
		{"demo: no rate", []string{"demo", "--rate", "0"}, 1, "", "--rate must be positive"},
		{"bench: bad strategies", []string{"bench", "-q", "--strategies", "some", "--dir", dir}, 1, "", `"auto","all"`},
	}
	t.Chdir(dir) // dead-letter files land here
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := sluice(t, c.args...)
			if code != c.code || !strings.Contains(out, c.stdout) || !strings.Contains(errOut, c.stderr) {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, c.code, out, errOut)
			}
			if strings.Contains(errOut, "goroutine ") || strings.Contains(errOut, "panic") {
				t.Errorf("stack trace on stderr:\n%s", errOut)
			}
		})
	}
}

func TestRuntimeFailureExitCode(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	in := writeFile(t, dir, "in.jsonl", "{\"x\":1}\nbad\nbad\nbad\n")
	code, _, errOut := sluice(t, "run", "-q", "-e", "SELECT x FROM t WITH ('t.type'='file_source','t.path'='"+in+"','dlq.max_errors'='1')")
	if code != exitRuntime {
		t.Fatalf("exit %d, want %d; stderr: %s", code, exitRuntime, errOut)
	}
}

func TestHelpHasExamples(t *testing.T) {
	for _, cmd := range []string{"run", "explain", "gen", "version", "demo"} {
		code, out, errOut := sluice(t, cmd, "--help")
		if code != 0 || !strings.Contains(out, "Example") || !strings.Contains(out, "sluice "+cmd) {
			t.Errorf("%s --help: exit %d, stdout:\n%s\nstderr: %s", cmd, code, out, errOut)
		}
	}
}

func TestRunCreatesSinkDirectory(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, dir, "in.jsonl", "{\"x\":1}\n{\"x\":2}\n")
	outPath := filepath.Join(dir, "a", "b", "out.jsonl")
	code, _, errOut := sluice(t, "run", "-q", "-e", "CREATE STREAM o AS SELECT x FROM t WHERE x > 1 WITH ('t.type'='file_source','t.path'='"+in+"','o.type'='file_sink','o.path'='"+outPath+"')")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	got, err := os.ReadFile(outPath)
	if err != nil || string(got) != "{\"x\":2}\n" {
		t.Fatalf("output %q, %v", got, err)
	}
}

func TestExplainSeparatesStatements(t *testing.T) {
	dir := t.TempDir()
	data := writeFile(t, dir, "ab.jsonl", `{"x":2,"k":"a"}`+"\n")
	f := writeFile(t, dir, "two.sql", "CREATE STREAM a WITH ('type'='file_source', 'path'='"+data+"');\n"+
		"CREATE STREAM b (x BIGINT, k STRING) WITH ('type'='file_source', 'path'='"+data+"');\n"+
		"SELECT * FROM a WHERE x > 1;\nSELECT k, COUNT(*) FROM b GROUP BY k;\n")
	code, out, errOut := sluice(t, "explain", "--partitions", "4", f)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.HasSuffix(out, "\n") || !strings.Contains(out, "-- statement 1: a\n") || !strings.Contains(out, "\n\n-- statement 2: b\n") {
		t.Errorf("explain output:\n%q", out)
	}
}

// TestGenFormatFromExtension checks that gen --out takes the format from the
// extension, as the file source reads it, so the file reads back the same.
func TestGenFormatFromExtension(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	query := "SELECT trader_id, COUNT(*) AS n FROM t GROUP BY trader_id ORDER BY trader_id WITH ('t.type'='file_source', 't.path'='%s')"
	var results []string
	for _, name := range []string{"x.jsonl", "x.csv", "x.tsv", "x.txt"} {
		if code, _, errOut := sluice(t, "gen", "trades", "--count", "50", "--out", name); code != 0 {
			t.Fatalf("gen --out %s: exit %d: %s", name, code, errOut)
		}
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		json := strings.HasPrefix(string(data), "{")
		if want := name == "x.jsonl" || name == "x.txt"; json != want {
			t.Errorf("%s starts %.40q", name, data)
		}
		if name == "x.txt" {
			continue
		}
		code, out, errOut := sluice(t, "run", "-q", "-e", strings.Replace(query, "%s", name, 1))
		if code != 0 {
			t.Fatalf("reading %s: exit %d: %s", name, code, errOut)
		}
		results = append(results, out)
	}
	if results[0] == "" || results[1] != results[0] || results[2] != results[0] {
		t.Errorf("the formats read back differently:\n%s", strings.Join(results, "\n--\n"))
	}
}

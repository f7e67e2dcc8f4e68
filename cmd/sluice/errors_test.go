package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/runner"
)

var updateErrors = flag.Bool("update-errors", false, "rewrite the golden files of testdata/errors")

// TestErrorGolden runs every testdata/errors/*.sql with run and with
// explain, from that directory so paths are relative as a user types them.
// Both must exit 1 with the same message, which must equal the .golden
// file beside it: the position, the source line, the caret and the hint.
func TestErrorGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "errors", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	dir, err := filepath.Abs(filepath.Join("testdata", "errors"))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(strings.TrimSuffix(name, ".sql"), func(t *testing.T) {
			code, out, runErr := sluice(t, "run", "-q", name)
			if code != exitUser || out != "" {
				t.Fatalf("run: exit %d, want %d; stdout %q\nstderr:\n%s", code, exitUser, out, runErr)
			}
			code, out, explainErr := sluice(t, "explain", name)
			if code != exitUser || out != "" {
				t.Fatalf("explain: exit %d, want %d; stdout %q\nstderr:\n%s", code, exitUser, out, explainErr)
			}
			if runErr != explainErr {
				t.Errorf("run and explain differ:\nrun:\n%s\nexplain:\n%s", runErr, explainErr)
			}
			if strings.Contains(runErr, "goroutine ") || strings.Contains(runErr, "panic") {
				t.Fatalf("stack trace:\n%s", runErr)
			}
			// The job properties grow with the engine: the golden files
			// hold a placeholder for their list.
			runErr = strings.ReplaceAll(runErr, jobPropertyList(), "<job properties>")
			golden := strings.TrimSuffix(name, ".sql") + ".golden"
			if *updateErrors {
				if err := os.WriteFile(golden, []byte(runErr), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./cmd/sluice -run TestErrorGolden -update-errors)", err)
			}
			if runErr != string(want) {
				t.Errorf("stderr differs from %s:\ngot:\n%s\nwant:\n%s", golden, runErr, want)
			}
		})
	}
}

// jobPropertyList is the list of job properties as errors quote it.
func jobPropertyList() string {
	keys := runner.JobProperties()
	for i, k := range keys {
		keys[i] = "'" + k + "'"
	}
	return strings.Join(keys, ", ")
}

// TestErrorsOnTheCommandLine checks that SQL given with -e is named
// <command line> in errors, and that explain -e works like run -e.
func TestErrorsOnTheCommandLine(t *testing.T) {
	t.Chdir(t.TempDir())
	q := "SELECT a FROM t WITH ('t.type'='file_source', 't.pth'='x.jsonl')"
	want := "sluice: <command line>:1:47: file source \"t\": unknown option 't.pth'; did you mean 't.path'?"
	for _, cmd := range []string{"run", "explain"} {
		code, _, errOut := sluice(t, cmd, "-e", q)
		if code != exitUser || !strings.HasPrefix(errOut, want) || !strings.Contains(errOut, "\n"+q+"\n") {
			t.Errorf("%s -e: exit %d\n%s", cmd, code, errOut)
		}
	}
}

// TestExplainIsALinter checks that explain exits 0 where run would start,
// without opening the source's files (a file an earlier statement writes
// need not exist yet) or connecting to a broker.
func TestExplainIsALinter(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeFile(t, dir, "t.jsonl", "{\"a\":1}\n")
	f := writeFile(t, dir, "ok.sql", `CREATE STREAM mid AS SELECT a FROM t
WITH ('t.type'='file_source', 't.path'='t.jsonl', 'mid.type'='file_sink', 'mid.path'='mid.jsonl');
SELECT a FROM mid;
SELECT a FROM k WITH ('k.type'='kafka_source', 'k.bootstrap.servers'='127.0.0.1:1', 'k.columns'='a BIGINT');
`)
	code, out, errOut := sluice(t, "explain", "--no-infer", f)
	if code != exitOK || !strings.Contains(out, "statement 3") {
		t.Fatalf("explain: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "mid.jsonl")); err == nil {
		t.Error("explain wrote the sink's file")
	}
}

// TestExplainNoInferStar checks that explain --no-infer explains a
// SELECT * over a source whose columns it does not read, and a statement
// reading that one's output, where run (which infers them) succeeds.
func TestExplainNoInferStar(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeFile(t, dir, "t.jsonl", "{\"a\":1,\"b\":2}\n")
	f := writeFile(t, dir, "star.sql", `CREATE STREAM t WITH ('type'='file_source', 'path'='t.jsonl');
CREATE STREAM mid AS SELECT * FROM t WHERE a > 0;
SELECT b, COUNT(*) AS n FROM mid GROUP BY b;
`)
	if code, out, errOut := sluice(t, "run", "-q", f); code != exitOK || out != `{"b":2,"n":1}`+"\n" {
		t.Fatalf("run: exit %d, stdout %q\nstderr:\n%s", code, out, errOut)
	}
	code, out, errOut := sluice(t, "explain", "--no-infer", f)
	if code != exitOK || !strings.Contains(out, "t (unknown: not inferred (--no-infer))") || !strings.Contains(out, "statement 2") {
		t.Fatalf("explain --no-infer: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
}

// TestHugeInputGivesAShortMessage checks that a megabyte-long line with a
// huge key and value quotes a window of the line and clipped names.
func TestHugeInputGivesAShortMessage(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeFile(t, dir, "t.jsonl", "{\"a\":1}\n")
	for _, with := range []string{
		"'o.format'='" + strings.Repeat("x", 1<<20) + "'",
		"'" + strings.Repeat("k", 1<<20) + "'='1'",
		"'o.path'='x.jsonl', 'o.pth" + strings.Repeat("h", 1<<20) + "'='1'",
	} {
		f := writeFile(t, dir, "huge.sql", "CREATE STREAM o AS SELECT a FROM t WITH ('t.type'='file_source', 't.path'='t.jsonl', 'o.type'='file_sink', 'o.path'='x.jsonl', "+with+");")
		code, _, errOut := sluice(t, "explain", f)
		if code != exitUser || len(errOut) > 2000 || !strings.Contains(errOut, "^") {
			t.Errorf("exit %d, %d bytes:\n%.3000s", code, len(errOut), errOut)
		}
	}
}

// TestSetKeys checks that a --set key applies to the statements that have
// its name and is refused when no statement of the file has it.
func TestSetKeys(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeFile(t, dir, "t.jsonl", "{\"a\":1}\n")
	f := writeFile(t, dir, "two.sql", `CREATE STREAM mid AS SELECT a FROM t WITH ('t.type'='file_source', 't.path'='missing.jsonl');
SELECT a FROM mid;
`)
	if code, out, errOut := sluice(t, "run", "-q", "--set", "t.path=t.jsonl", f); code != exitOK || out != "{\"a\":1}\n" {
		t.Errorf("--set t.path: exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	for _, c := range []struct{ set, want string }{
		{"tt.path=t.jsonl", "sluice: --set tt.path: unknown property; did you mean 't.path'?"},
		{"late.data.stratgy=drop", "sluice: --set late.data.stratgy: unknown property; did you mean 'late.data.strategy'?"},
	} {
		for _, cmd := range []string{"run", "explain"} {
			code, _, errOut := sluice(t, cmd, "--set", c.set, f)
			if code != exitUser || !strings.HasPrefix(errOut, c.want) {
				t.Errorf("%s --set %s: exit %d\n%s", cmd, c.set, code, errOut)
			}
		}
	}
}

// TestSetStrategy: --set partitioning_strategy=NAME chooses the strategy as
// the WITH property does (it was ignored), overriding the statement's, and
// an unknown or refused name is an error naming the flag, with no caret.
func TestSetStrategy(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeFile(t, dir, "t.jsonl", "{\"a\":1}\n{\"a\":2}\n")
	stateless := writeFile(t, dir, "filter.sql", "SELECT a FROM t WITH ('t.type'='file_source', 't.path'='t.jsonl', 'partitioning_strategy'='round_robin')")
	grouped := writeFile(t, dir, "group.sql", "SELECT a, COUNT(*) AS n FROM t GROUP BY a WITH ('t.type'='file_source', 't.path'='t.jsonl')")
	code, out, errOut := sluice(t, "explain", "--set", "partitioning_strategy=fan_in", stateless)
	if code != exitOK || !strings.Contains(out, "strategy:     fan_in\n") || !strings.Contains(out, "chosen by --set partitioning_strategy=fan_in") {
		t.Errorf("explain --set partitioning_strategy=fan_in: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := sluice(t, "run", "--set", "partitioning_strategy=fan_in", stateless); code != exitOK || !strings.HasPrefix(errOut, "job t done: fan_in (chosen by with)") {
		t.Errorf("run --set partitioning_strategy=fan_in: exit %d\n%s", code, errOut)
	}
	for _, c := range []struct{ set, file, want string }{
		{"partitioning_strategy=bad", stateless, `sluice: --set partitioning_strategy=bad: unknown partitioning strategy "bad" (valid: always_hash,`},
		{"partitioning_strategy=round_robin", grouped, "sluice: --set partitioning_strategy=round_robin: strategy round_robin would split the groups of GROUP BY a across partitions; valid here:"},
	} {
		for _, cmd := range []string{"run", "explain"} {
			code, _, errOut := sluice(t, cmd, "--set", c.set, c.file)
			if code != exitUser || !strings.HasPrefix(errOut, c.want) || strings.Contains(errOut, "^") {
				t.Errorf("%s --set %s: exit %d\n%s", cmd, c.set, code, errOut)
			}
		}
	}
}

// TestSetOptionOfDeclaredSource checks that a bad --set option of a source
// a DDL declares names the flag, its key and the valid options, once for
// the file, with no caret into the DDL (the SQL text is not at fault).
func TestSetOptionOfDeclaredSource(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeFile(t, dir, "t.jsonl", "{\"a\":1}\n")
	f := writeFile(t, dir, "ddl.sql", `CREATE STREAM t (a INT) WITH ('type'='file_source', 'path'='t.jsonl');
SELECT a FROM t;
SELECT a + 1 AS b FROM t;
`)
	for _, c := range []struct{ set, want string }{
		{"t.pth=x", "sluice: --set t.pth: file source \"t\": unknown option 't.pth'; did you mean 't.path'? (valid options: 't.type', 't.path',"},
		{"t.format=xml", "sluice: --set t.format: file source \"t\": option 't.format': invalid value \"xml\""},
	} {
		for _, cmd := range []string{"run", "explain"} {
			code, _, errOut := sluice(t, cmd, "--set", c.set, f)
			if code != exitUser || !strings.HasPrefix(errOut, c.want) || strings.Contains(errOut, "^") || strings.Count(errOut, "--set") != 1 {
				t.Errorf("%s --set %s: exit %d\n%s", cmd, c.set, code, errOut)
			}
		}
	}
}

// TestNothingRunsBeforeAllAreChecked checks that a mistake in the last
// statement of a file stops the whole file before the first statement
// writes anything.
func TestNothingRunsBeforeAllAreChecked(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeFile(t, dir, "t.jsonl", "{\"a\":1}\n")
	f := writeFile(t, dir, "app.sql", `CREATE STREAM o AS SELECT a FROM t
WITH ('t.type'='file_source', 't.path'='t.jsonl', 'o.type'='file_sink', 'o.path'='out.jsonl');

SELECT a FROM t WITH ('t.type'='file_source', 't.path'='t.jsonl', 'late.data.stratgy'='drop');
`)
	code, _, errOut := sluice(t, "run", "-q", f)
	if code != exitUser || !strings.Contains(errOut, "app.sql:4:67: unknown WITH property 'late.data.stratgy'") {
		t.Fatalf("exit %d:\n%s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "out.jsonl")); err == nil {
		t.Error("the first statement ran")
	}
}

// TestFlagErrorsHaveNoCaret: a bad --strategy or --partitions names the
// flag and is not pointed at in the SQL text, which is not at fault.
func TestFlagErrorsHaveNoCaret(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeFile(t, dir, "t.jsonl", "{\"a\":1}\n")
	q := "SELECT a, COUNT(*) AS n FROM t GROUP BY a WITH ('t.type'='file_source', 't.path'='t.jsonl')"
	for _, c := range []struct {
		flags []string
		want  string
	}{
		{[]string{"--strategy", "fastest"}, `sluice: --strategy fastest: unknown partitioning strategy "fastest" (valid: always_hash,`},
		{[]string{"--strategy", "round_robin"}, "sluice: --strategy round_robin: strategy round_robin would split the groups of GROUP BY a across partitions; valid here:"},
		{[]string{"--partitions=-3"}, "sluice: --partitions -3: must be at least 1\n"},
		{[]string{"--partitions", "0"}, "sluice: --partitions 0: must be at least 1\n"},
	} {
		for _, cmd := range []string{"run", "explain"} {
			code, _, errOut := sluice(t, append(append([]string{cmd}, c.flags...), "-e", q)...)
			if code != exitUser || !strings.HasPrefix(errOut, c.want) || strings.Contains(errOut, "^") {
				t.Errorf("%s %v: exit %d\n%s", cmd, c.flags, code, errOut)
			}
		}
	}
}

// TestDLQTopicWithoutBrokers: a Kafka dead-letter topic whose brokers
// nothing gives is refused by explain as by run, at the WITH entry.
func TestDLQTopicWithoutBrokers(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	writeFile(t, dir, "t.jsonl", "{\"a\":1}\n")
	q := "SELECT a FROM t WITH ('t.type'='file_source', 't.path'='t.jsonl', 'dlq.topic'='dead')"
	for _, cmd := range []string{"run", "explain"} {
		code, _, errOut := sluice(t, cmd, "-e", q)
		want := `sluice: <command line>:1:79: WITH 'dlq.topic'='dead': no Kafka brokers known for the dead-letter topic: set 'dlq.bootstrap.servers'`
		if code != exitUser || !strings.HasPrefix(errOut, want) {
			t.Errorf("%s: exit %d\n%s", cmd, code, errOut)
		}
	}
}

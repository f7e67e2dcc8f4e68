package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/sql"
)

// sqlBlock is a ```sql block of a document, with the line it starts on.
type sqlBlock struct {
	doc  string
	line int
	text string
}

var (
	// sqlFence matches a ```sql block; one whose info string goes on
	// (```sql fragment) is a piece of a statement or a template, not run.
	sqlFence = regexp.MustCompile("(?ms)^[ \t]*```sql([^\n]*)\n(.*?)^[ \t]*```")
	// pathValue matches a path option's value: 'path' = 'x', 'trades.path' = 'x'.
	pathValue = regexp.MustCompile(`'(?:[\w-]+\.)?path'\s*=\s*'([^'$]+)'`)
	// envVar matches ${VAR} and ${VAR:-default}.
	envVar = regexp.MustCompile(`\$\{(\w+)`)
	// noType is the error of a source no statement of the block declares.
	noType = regexp.MustCompile(`source "(\w+)" has no type and no statement writes it`)
)

// docBlocks returns the ```sql blocks of README.md and docs/*.md that are
// whole statements.
func docBlocks(t *testing.T) []sqlBlock {
	t.Helper()
	docs, err := filepath.Glob(filepath.Join("..", "..", "docs", "*.md"))
	if err != nil || len(docs) == 0 {
		t.Fatalf("no docs: %v", err)
	}
	docs = append(docs, filepath.Join("..", "..", "README.md"))
	var out []sqlBlock
	for _, d := range docs {
		src, err := os.ReadFile(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range sqlFence.FindAllSubmatchIndex(src, -1) {
			if strings.TrimSpace(string(src[m[2]:m[3]])) != "" {
				continue // ```sql fragment
			}
			out = append(out, sqlBlock{doc: filepath.Base(d), line: 1 + strings.Count(string(src[:m[0]]), "\n"), text: string(src[m[4]:m[5]])})
		}
	}
	return out
}

// TestDocStatementsExplain checks that every SQL block of the docs (the
// ones not marked ```sql fragment) passes `sluice explain --no-infer`: its
// statements parse and pass every check that needs no data. A block is
// explained as written, in a directory holding an empty file at each path
// it names, with its ${VAR}s set (a certificate file at an absolute path,
// which is opened by the check, is the one error let through); a source it reads without declaring it
// (declared in an earlier block of the page) is declared as a file source.
func TestDocStatementsExplain(t *testing.T) {
	blocks := docBlocks(t)
	if len(blocks) < 10 {
		t.Fatalf("%d SQL blocks in the docs: the fence pattern is wrong", len(blocks))
	}
	for _, b := range blocks {
		t.Run(b.doc+":"+strconv.Itoa(b.line), func(t *testing.T) {
			dir := t.TempDir()
			t.Chdir(dir)
			for _, m := range pathValue.FindAllStringSubmatch(b.text, -1) {
				p := strings.ReplaceAll(m[1], "*", "x")
				if filepath.IsAbs(p) || strings.HasPrefix(filepath.Clean(p), "..") {
					continue
				}
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				writeFile(t, dir, p, "")
			}
			for _, m := range envVar.FindAllStringSubmatch(b.text, -1) {
				if _, ok := os.LookupEnv(m[1]); !ok {
					t.Setenv(m[1], "x")
				}
			}
			writeFile(t, dir, "undeclared.jsonl", "")
			text := b.text
			for range 5 {
				f := writeFile(t, dir, "block.sql", text)
				code, _, errOut := sluice(t, "explain", "--no-infer", f)
				if code == exitOK {
					return
				}
				if strings.Contains(errOut, ": open /") && strings.Contains(errOut, "no such file or directory") {
					return // a certificate of the reader's machine (/etc/kafka/ca.pem), opened by the check
				}
				m := noType.FindStringSubmatch(errOut)
				if m == nil {
					t.Fatalf("%s line %d: explain exit %d:\n%s\nthe block:\n%s", b.doc, b.line, code, errOut, text)
				}
				text = "CREATE STREAM " + m[1] + " WITH ('type'='file_source', 'path'='undeclared.jsonl');\n" + text
			}
			t.Fatalf("%s line %d: too many undeclared sources:\n%s", b.doc, b.line, text)
		})
	}
}

// TestExamplesExplain checks that `sluice explain` passes on every
// examples/*.sql, from the repository root as the examples name their
// data: with the schemas inferred from the example data, and with
// --no-infer for those reading Kafka (no broker is running).
func TestExamplesExplain(t *testing.T) {
	t.Chdir(filepath.Join("..", ".."))
	files, err := filepath.Glob(filepath.Join("examples", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		args := []string{"explain", f}
		if strings.Contains(string(src), "kafka_") {
			args = []string{"explain", "--no-infer", f}
		}
		if code, _, errOut := sluice(t, args...); code != exitOK {
			t.Errorf("%s: exit %d:\n%s", f, code, errOut)
		}
	}
}

// TestDocFragmentsAreFragments keeps ```sql fragment blocks honest: a fragment
// must fail to parse as statements (else it should be checked as one).
func TestDocFragmentsAreFragments(t *testing.T) {
	docs, _ := filepath.Glob(filepath.Join("..", "..", "docs", "*.md"))
	docs = append(docs, filepath.Join("..", "..", "README.md"))
	for _, d := range docs {
		src, err := os.ReadFile(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range sqlFence.FindAllSubmatchIndex(src, -1) {
			if strings.TrimSpace(string(src[m[2]:m[3]])) == "" {
				continue
			}
			line := 1 + strings.Count(string(src[:m[0]]), "\n")
			if _, err := sql.Parse("block.sql", string(src[m[4]:m[5]])); err == nil {
				t.Errorf("%s line %d: a ```sql fragment block that parses: mark it ```sql", filepath.Base(d), line)
			}
		}
	}
}

// TestDocErrorMessages checks that each message the error tables of
// docs/sql.md quote is one the golden tests pin (cmd/sluice's
// testdata/errors and runner's schema_errors.golden): the docs show the
// messages a user gets. In a quoted message "..." stands for any text; a
// quoted piece of SQL (the query at fault) is not a message.
func TestDocErrorMessages(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "sql.md"))
	if err != nil {
		t.Fatal(err)
	}
	var golden strings.Builder
	files, _ := filepath.Glob(filepath.Join("testdata", "errors", "*.golden"))
	files = append(files, filepath.Join("..", "..", "runner", "testdata", "schema_errors.golden"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		golden.Write(b)
	}
	text := string(doc)
	var tables []string
	for _, sec := range [][2]string{{"### Errors found before running", "\n## "}, {"## Checked before running", "\n## "}} {
		i := strings.Index(text, sec[0])
		if i < 0 {
			t.Fatalf("docs/sql.md has no section %q", sec[0])
		}
		body := text[i+len(sec[0]):]
		if j := strings.Index(body, sec[1]); j >= 0 {
			body = body[:j]
		}
		tables = append(tables, body)
	}
	quoted := regexp.MustCompile("`([^`]+)`")
	n := 0
	for _, body := range tables {
		for _, line := range strings.Split(body, "\n") {
			cells := strings.Split(line, " | ")
			if !strings.HasPrefix(line, "| ") || len(cells) < 2 {
				continue
			}
			for _, m := range quoted.FindAllStringSubmatch(cells[1], -1) {
				msg := strings.ReplaceAll(m[1], `\|`, "|") // a | in a table cell is written \|
				if len(msg) < 25 {
					continue // a name or a value, not a message
				}
				if _, err := sql.ParseExpr(msg); err == nil {
					continue // SQL, not a message
				}
				rx := regexp.QuoteMeta(msg)
				rx = strings.ReplaceAll(rx, regexp.QuoteMeta("..."), ".*")
				rx = strings.ReplaceAll(rx, regexp.QuoteMeta("<job properties>"), ".*")
				if !regexp.MustCompile(rx).MatchString(golden.String()) {
					t.Errorf("docs/sql.md quotes a message no golden file has: %s", msg)
				}
				n++
			}
		}
	}
	if n < 30 {
		t.Errorf("%d messages found in the error tables of docs/sql.md: the tables moved", n)
	}
}

// consoleFence matches a ```console block: commands after "$ " and what
// they print.
var consoleFence = regexp.MustCompile("(?ms)^```console\n(.*?)^```")

// TestDocConsoleBlocks runs the one-line `$ go run ./cmd/sluice ...` commands
// of the ```console blocks of the docs from the repository root and checks
// they print what the block shows after them (stdout and stderr together).
func TestDocConsoleBlocks(t *testing.T) {
	t.Chdir(filepath.Join("..", ".."))
	docs, _ := filepath.Glob(filepath.Join("docs", "*.md"))
	docs = append(docs, "README.md")
	n := 0
	for _, d := range docs {
		src, err := os.ReadFile(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range consoleFence.FindAllSubmatch(src, -1) {
			lines := strings.Split(strings.TrimRight(string(m[1]), "\n"), "\n")
			for i := 0; i < len(lines); i++ {
				cmd, ok := strings.CutPrefix(lines[i], "$ go run ./cmd/sluice ")
				if !ok {
					continue
				}
				var want []string
				for i+1 < len(lines) && !strings.HasPrefix(lines[i+1], "$ ") {
					i++
					want = append(want, lines[i])
				}
				n++
				_, out, errOut := sluice(t, strings.Fields(cmd)...)
				got := strings.TrimRight(out+errOut, "\n")
				if got != strings.Join(want, "\n") {
					t.Errorf("%s: sluice %s printed:\n%s\nthe doc shows:\n%s", filepath.Base(d), cmd, got, strings.Join(want, "\n"))
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no console command found in the docs")
	}
}

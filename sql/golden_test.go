package sql

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/parse")

// corpus returns the .sql files of testdata/parse with their contents.
func corpus(t testing.TB) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "parse", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus files: %v", err)
	}
	out := map[string]string{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = string(src)
	}
	return out
}

// TestGolden parses every corpus file and compares, per statement, the
// canonical print and the AST dump with the .golden file beside it.
func TestGolden(t *testing.T) {
	total := 0
	for file, src := range corpus(t) {
		t.Run(filepath.Base(file), func(t *testing.T) {
			stmts, err := Parse(file, src)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			total += len(stmts)
			var b strings.Builder
			for i, s := range stmts {
				fmt.Fprintf(&b, "== %d (line %d)\n%s\n-- ast: %s\n\n", i+1, s.Pos.Line, s, dump(s))
			}
			golden := strings.TrimSuffix(file, ".sql") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./sql -run TestGolden -update)", err)
			}
			if got := b.String(); got != string(want) {
				t.Errorf("output differs from %s (run with -update to accept):\n%s", golden, diffLines(string(want), got))
			}
		})
	}
	if total < 40 {
		t.Errorf("corpus has %d statements, want at least 40", total)
	}
}

// diffLines shows the first differing line of want and got.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return fmt.Sprintf("line %d:\nwant: %s\ngot:  %s", i+1, wl, gl)
		}
	}
	return "(no line differs)"
}

// TestRoundTrip checks parse -> print -> parse gives the same AST, and
// that printing is stable, for every statement of the corpus.
func TestRoundTrip(t *testing.T) {
	for file, src := range corpus(t) {
		stmts, err := Parse(file, src)
		if err != nil {
			t.Fatalf("Parse: %v", err)
		}
		for _, s := range stmts {
			checkRoundTrip(t, s)
		}
	}
}

// checkRoundTrip asserts that s prints to text that parses back to s and
// prints identically again.
func checkRoundTrip(t *testing.T, s *Statement) {
	t.Helper()
	printed := s.String()
	again, err := Parse("printed.sql", printed)
	if err != nil {
		t.Fatalf("printed statement does not parse: %v\n%s", err, printed)
	}
	if len(again) != 1 {
		t.Fatalf("printed statement parses to %d statements:\n%s", len(again), printed)
	}
	if !equalAST(s, again[0]) {
		t.Fatalf("round trip changed the AST\nprinted: %s\nbefore: %s\nafter:  %s", printed, dump(s), dump(again[0]))
	}
	if p2 := again[0].String(); p2 != printed {
		t.Fatalf("printing is not stable:\n%s\n---\n%s", printed, p2)
	}
}

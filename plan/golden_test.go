package plan

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/sql"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestExplainGolden plans testdata/explain.sql and compares EXPLAIN's text
// and JSON with the golden files.
func TestExplainGolden(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("testdata", "explain.sql"))
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := sql.Parse("explain.sql", string(src))
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{CPUs: 2, Sources: map[string]connector.Facts{"trades": {Partitions: 3}}}
	var plans []*Plan
	for _, s := range stmts {
		p, err := Build(s, opts)
		if err != nil {
			t.Fatal(err)
		}
		plans = append(plans, p)
	}
	var text, js bytes.Buffer
	if err := Explain(&text, plans); err != nil {
		t.Fatal(err)
	}
	if err := ExplainJSON(&js, plans); err != nil {
		t.Fatal(err)
	}
	var parsed struct {
		Statements []map[string]any `json:"statements"`
	}
	if err := json.Unmarshal(js.Bytes(), &parsed); err != nil || len(parsed.Statements) != len(plans) {
		t.Fatalf("ExplainJSON output does not parse back: %v", err)
	}
	for _, field := range []string{"name", "strategy", "routing_keys", "choice_source", "reason", "requirement", "partitions", "rejected"} {
		if _, ok := parsed.Statements[0][field]; !ok {
			t.Errorf("ExplainJSON: field %q missing", field)
		}
	}
	golden(t, "explain.golden.txt", text.Bytes())
	golden(t, "explain.golden.json", js.Bytes())
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./plan -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; run go test ./plan -update and review the diff.\ngot:\n%s", name, got)
	}
}

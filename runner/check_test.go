package runner

import (
	"context"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/plan"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// prepareOne parses text and prepares its only statement.
func prepareOne(t *testing.T, text string, opts Options) (*Job, error) {
	t.Helper()
	stmts, err := sql.Parse("q.sql", text)
	if err != nil {
		t.Fatal(err)
	}
	return Prepare(context.Background(), stmts[0], opts)
}

// TestPrepareSinkErrors checks that a bad sink is a positioned ConfigError
// like a bad source, never a panic (a failed sink used to leave a nil
// *Sink in an interface that the cleanup then called).
func TestPrepareSinkErrors(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	if err := os.WriteFile(in, []byte(`{"a":1}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	src := "'t.type'='file_source', 't.path'='" + in + "', 'dlq.path'='" + filepath.Join(dir, "dlq.jsonl") + "'"
	tests := []struct{ sink, want string }{
		{"'o.type'='file_sink', 'o.pth'='x.jsonl'", "2:31: file sink \"o\": unknown option 'o.pth'; did you mean 'o.path'?"},
		{"'o.type'='file_sink'", "2:9: file sink \"o\": option 'o.path': required"},
		{"'o.type'='file_sink', 'o.path'='x.jsonl', 'o.format'='xml'", `2:62: file sink "o": option 'o.format': invalid value "xml"`},
		{"'o.type'='kafka_sink', 'o.topic'='x'", "2:32: kafka sink \"o\": unknown option 'o.topic'; did you mean 'o.topic.name'?"},
		{"'o.type'='kafka_sink', 'o.key.format'='avro', 'o.schema.registry.url'='http://127.0.0.1:1'",
			"2:32: kafka sink \"o\": option 'o.key.format' is set, but the statement's rows have no key columns"},
		{"'o.type'='stdout', 'o.path'='x'", "2:28: stdout sink \"o\": unknown option 'o.path' (valid options: 'o.type')"},
		{"'o.pth'='x'", "2:9: stdout sink \"o\": unknown option 'o.pth'"},
		{"'o.type'='fil_sink'", `2:18: WITH 'o.type': unknown sink type "fil_sink"; did you mean "file_sink"?`},
		// The options are right, the directory cannot be made: found when
		// the sink opens, after every check.
		{"'o.type'='file_sink', 'o.path'='" + filepath.Join(blocker, "sub", "x.jsonl") + "'", "1:1: file sink \"o\""},
	}
	for _, tt := range tests {
		t.Run(tt.sink, func(t *testing.T) {
			_, err := prepareOne(t, "CREATE STREAM o AS SELECT a FROM t WITH ("+src+",\n        "+tt.sink+")", Options{})
			var ce *ConfigError
			if !errors.As(err, &ce) || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error %v, want a ConfigError starting %q", err, tt.want)
			}
		})
	}
}

// TestCheckKeys checks which WITH keys are accepted: the job's, the Kafka
// connection and dead-letter families, and '<name>.<option>' of the names
// the statement has; any other key is refused with the closest valid one.
func TestCheckKeys(t *testing.T) {
	in := filepath.Join(t.TempDir(), "in.jsonl")
	if err := os.WriteFile(in, []byte(`{"a":1}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := "'t.type'='file_source', 't.path'='" + in + "'"
	tests := []struct{ with, want string }{
		{"'commit.interval'='1s', 'late.data.strategy'='drop', 'partitioning_strategy'='round_robin', 'kafka.security.protocol'='PLAINTEXT', 'dlq.path'='d.jsonl'", ""},
		{"'T.FORMAT'='json'", ""}, // names match case-insensitively
		{"'late.data.stratgy'='drop'", "unknown WITH property 'late.data.stratgy'; did you mean 'late.data.strategy'?"},
		{"'tt.path'='x'", "unknown WITH property 'tt.path'; did you mean 't.path'?"},
		{"'kafka.bootstrap.server'='x'", "did you mean 'kafka.bootstrap.servers'?"},
		{"'dlq.pth'='x'", "did you mean 'dlq.path'?"},
		{"'zzz'='1'", "unknown WITH property 'zzz' (valid: the job properties"},
		{"'out.type'='file_sink', 'out.path'='o.jsonl'", "WITH 'out.type' declares the sink out, but this SELECT has no name, so nothing writes to it " +
			"(its rows go to stdout): write CREATE STREAM out AS SELECT ..."},
	}
	for _, tt := range tests {
		stmts, err := sql.Parse("q.sql", "SELECT a FROM t WITH ("+base+", "+tt.with+")")
		if err != nil {
			t.Fatal(err)
		}
		_, err = Check(context.Background(), stmts[0], Options{})
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.with, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: error %v, want %q", tt.with, err, tt.want)
		}
	}
}

// TestSetOverrideHasNoPosition checks that a bad value given with --set is
// not blamed on the WITH entry it overrides.
func TestSetOverrideHasNoPosition(t *testing.T) {
	in := filepath.Join(t.TempDir(), "in.jsonl")
	if err := os.WriteFile(in, []byte(`{"a":1}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stmts, err := sql.Parse("q.sql", "SELECT a FROM t WITH ('t.type'='file_source', 't.path'='"+in+"', 'late.data.strategy'='drop')")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Check(context.Background(), stmts[0], Options{Set: map[string]string{"late.data.strategy": "sometimes"}})
	var se *sql.Error
	if err == nil || errors.As(err, &se) || !strings.Contains(err.Error(), `unknown strategy "sometimes"`) {
		t.Errorf("got %v (positioned: %v)", err, se != nil)
	}
}

// TestEveryPropIsAKey guards the unknown-key check against drift: every
// string constant named Prop* in the packages that read job-level WITH
// keys must be accepted as a key (or be an option of a source).
func TestEveryPropIsAKey(t *testing.T) {
	perSource := map[string]bool{plan.PropBroadcast: true, plan.PropBootstrap: true, plan.PropPrimaryKey: true}
	valid := map[string]bool{}
	for _, k := range jobKeys() {
		valid[k] = true
	}
	fset := token.NewFileSet()
	for _, dir := range []string{"../job", "../exec", "../plan"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			file, err := parser.ParseFile(fset, f, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(file, func(n ast.Node) bool {
				vs, ok := n.(*ast.ValueSpec)
				if !ok {
					return true
				}
				for i, name := range vs.Names {
					if !strings.HasPrefix(name.Name, "Prop") || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					key, _ := strconv.Unquote(lit.Value)
					if !valid[key] && !perSource[key] {
						t.Errorf("%s: %s = %q is read but not in the job-level keys (add it to its package's PropertyKeys)", f, name.Name, key)
					}
				}
				return true
			})
		}
	}
}

// countingSource is a source whose schema is inferred by counting calls.
type countingSource struct {
	*mem.Source
	calls int
}

func (s *countingSource) SourceSchema(context.Context, connector.InferLimits) (connector.Schema, error) {
	s.calls++
	return connector.Schema{Columns: record.NewSchema("a"), Origin: "inferred", Records: 1}, nil
}

// TestSchemasInferOnce checks that a Schemas infers a source's schema once
// for the same properties, and again when they differ.
func TestSchemasInferOnce(t *testing.T) {
	stmts, err := sql.Parse("q.sql", "SELECT a FROM t")
	if err != nil {
		t.Fatal(err)
	}
	sel := stmts[0].Select()
	src := &countingSource{Source: mem.NewSource("t", nil)}
	s := NewSchemas()
	props := map[string]string{"t.type": "kafka_source", "t.topic.name": "x"}
	for range 3 {
		if sch, err := s.find(context.Background(), sel, "t", nil, props, src, false); err != nil || sch.Columns == nil {
			t.Fatalf("find: %v, %v", sch, err)
		}
	}
	if src.calls != 1 {
		t.Errorf("inferred %d times, want 1", src.calls)
	}
	props["t.topic.name"] = "y"
	if _, err := s.find(context.Background(), sel, "t", nil, props, src, false); err != nil || src.calls != 2 {
		t.Errorf("other properties: %d calls, %v", src.calls, err)
	}
	var none *Schemas
	if _, err := none.find(context.Background(), sel, "t", nil, props, src, false); err != nil || src.calls != 3 {
		t.Errorf("nil Schemas: %d calls, %v", src.calls, err)
	}
}

// TestNoInferStar: explain --no-infer plans a SELECT * over a source it
// read no sample of (the columns stand as *, and the plan says the schema
// was not inferred) where run, which infers, succeeds; an unknown
// qualifier stays an error.
func TestNoInferStar(t *testing.T) {
	in := filepath.Join(t.TempDir(), "in.jsonl")
	if err := os.WriteFile(in, []byte(`{"a":1,"b":2}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stmts, err := sql.Parse("q.sql", "SELECT * FROM t WITH ('t.type'='file_source', 't.path'='"+in+"');\n"+
		"SELECT t.* EXCEPT (a) FROM t WITH ('t.type'='file_source', 't.path'='"+in+"');\n"+
		"SELECT x.* FROM t WITH ('t.type'='file_source', 't.path'='"+in+"')")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range stmts[:2] {
		if _, err := Check(context.Background(), s, Options{}); err != nil {
			t.Fatal(err)
		}
		c, err := Check(context.Background(), s, Options{NoInfer: true})
		if err != nil {
			t.Fatalf("--no-infer: %v", err)
		}
		if !c.ColumnsUnknown || c.Plan.Inputs[0].Schema.Origin != connector.SchemaNotInferred {
			t.Errorf("--no-infer: columns unknown %v, schema %+v", c.ColumnsUnknown, c.Plan.Inputs[0].Schema)
		}
	}
	if _, err := Check(context.Background(), stmts[2], Options{NoInfer: true}); err == nil || !strings.Contains(err.Error(), `unknown qualifier "x"`) {
		t.Errorf("--no-infer, unknown qualifier: %v", err)
	}
}

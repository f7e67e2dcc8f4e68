package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/internal/kafkatest"
	"github.com/sluicesql/sluice/sql"
)

// runFile runs every statement of a SQL file through Prepare and Run, and
// returns what they wrote to stdout and the jobs.
func runFile(t *testing.T, path string, opts Options) (string, []*Job) {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := sql.Parse(path, string(src))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	opts.Stdout = &out
	if opts.Catalog, err = NewCatalog(stmts); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var jobs []*Job
	for _, s := range stmts {
		if s.IsDDL() {
			continue
		}
		j, err := Prepare(ctx, s, opts)
		if err != nil {
			t.Fatalf("%s: prepare: %v", path, err)
		}
		if _, err := j.Run(ctx); err != nil {
			t.Fatalf("%s: run: %v", path, err)
		}
		jobs = append(jobs, j)
	}
	return out.String(), jobs
}

// sortedLines returns the non-empty lines of s, sorted.
func sortedLines(s string) []string {
	lines := strings.FieldsFunc(s, func(r rune) bool { return r == '\n' })
	slices.Sort(lines)
	return lines
}

// compareOutput checks got against the example's expected file, ignoring
// row order (no example has an ORDER BY).
func compareOutput(t *testing.T, example, got string) {
	t.Helper()
	want, err := os.ReadFile(strings.TrimSuffix(example, ".sql") + ".expected.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if g, w := sortedLines(got), sortedLines(string(want)); !slices.Equal(g, w) {
		t.Errorf("%s output (sorted):\n%s\nwant:\n%s", example, strings.Join(g, "\n"), strings.Join(w, "\n"))
	}
}

// TestFileExamples runs every example that has an expected output and reads
// only files, at every partition count of the invariant and twice at one of
// them: a bounded input gives the same answer on every run. The Kafka example
// (TestKafkaExample) and the application (app.TestExampleApplication) have
// their own tests.
func TestFileExamples(t *testing.T) {
	t.Chdir("..") // the examples name their data relative to the repository root
	expected, err := filepath.Glob("examples/*.expected.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	ownTest := map[string]bool{"kafka_pipeline": true, "pipeline_app": true}
	var names []string
	for _, e := range expected {
		if name := strings.TrimSuffix(filepath.Base(e), ".expected.jsonl"); !ownTest[name] {
			names = append(names, name)
		}
	}
	if len(names) < 9 {
		t.Fatalf("found %d file examples with expected output (%v), want at least 9", len(names), names)
	}
	for _, name := range names {
		for i, n := range []int{1, 2, 3, 4, 8, 2} {
			t.Run(fmt.Sprintf("%s/p%d/%d", name, n, i), func(t *testing.T) {
				example := filepath.Join("examples", name+".sql")
				got, _ := runFile(t, example, Options{Partitions: n, Set: map[string]string{"dlq.path": filepath.Join(t.TempDir(), "dlq.jsonl")}})
				compareOutput(t, example, got)
			})
		}
	}
}

func TestQuickstart(t *testing.T) {
	t.Chdir("..")
	out := filepath.Join(t.TempDir(), "out", "trader_minutes.jsonl")
	_, jobs := runFile(t, "examples/quickstart.sql", Options{Set: map[string]string{"trader_minutes.path": out}})
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// 200,000 trades, one per millisecond from midnight: minutes 0-3 (the last
	// one partial), 100 traders each.
	lines := sortedLines(string(data))
	if len(lines) != 400 {
		t.Fatalf("%d rows, want 400 (4 minutes x 100 traders)", len(lines))
	}
	if got := jobs[0].Plan.Strategy.Name(); got != "always_hash" {
		t.Errorf("strategy %s, want always_hash", got)
	}
}

func TestKafkaExample(t *testing.T) {
	t.Chdir("..")
	// trades only: the sink creates trader_volume with the source's 8 partitions.
	cluster := kafkatest.Cluster(t, kfake.NumBrokers(3), kfake.SeedTopics(8, "trades"))
	brokers := cluster.ListenAddrs()
	produceFile(t, brokers, "trades", "examples/data/trades.jsonl", "trader_id")

	servers := strings.Join(brokers, ",")
	got, jobs := runFile(t, "examples/kafka_pipeline.sql", Options{UntilEnd: true, Partitions: 2, Set: map[string]string{
		"trades.bootstrap.servers":        servers,
		"trader_volume.bootstrap.servers": servers,
	}})
	if got != "" {
		t.Errorf("the pipeline wrote to stdout: %s", got)
	}
	if s := jobs[0].Plan.Strategy.Name(); s != "smart_repartition" {
		t.Errorf("strategy %s, want smart_repartition (declared and verified partition key)", s)
	}
	// The sink created its topic with the source's partition count.
	if facts := jobs[0].Facts; facts.Partitions != 8 {
		t.Errorf("source partitions %d, want 8", facts.Partitions)
	}
	// Read the output topic back with a second job.
	readBack := "SELECT trader_id, window_start, trades, volume FROM trader_volume WITH (" +
		"'trader_volume.type'='kafka_source','trader_volume.stop.at'='end','trader_volume.bootstrap.servers'='" + servers + "')"
	stmts, err := sql.Parse("-e", readBack)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	j, err := Prepare(context.Background(), stmts[0], Options{Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	if n := j.Facts.Partitions; n != 8 {
		t.Errorf("created topic trader_volume has %d partitions, want the source's 8", n)
	}
	if _, err := j.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	compareOutput(t, "examples/kafka_pipeline.sql", out.String())
}

// produceFile writes each line of a JSON-lines file to topic, keyed by the
// text of its key column, so it lands on Kafka's default partition of the key.
func produceFile(t *testing.T, brokers []string, topic, path, key string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []kafka.Message
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		k := jsonString(t, line, key)
		msgs = append(msgs, kafka.Message{Key: []byte(k), Value: []byte(line)})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := kafka.Produce(ctx, brokers, topic, msgs...); err != nil {
		t.Fatal(err)
	}
}

// jsonString returns the text of a string field of a JSON object.
func jsonString(t *testing.T, line, field string) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatal(err)
	}
	v, ok := m[field].(string)
	if !ok {
		t.Fatalf("%s: no string field %q", line, field)
	}
	return v
}

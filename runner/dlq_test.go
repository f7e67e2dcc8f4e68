package runner

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/internal/kafkatest"
	"github.com/sluicesql/sluice/job"
	"github.com/sluicesql/sluice/sql"
)

// TestDLQTopicOptions covers 'dlq.topic': its brokers from
// 'dlq.bootstrap.servers' or the job's Kafka sink, the option errors (no
// brokers known, together with 'dlq.path', brokers without a topic, a topic
// that does not exist), and the dead letters of a file source reaching the
// topic with the summary naming it.
func TestDLQTopicOptions(t *testing.T) {
	servers := kafkaCluster(t, "dead", "dead2", "out")
	in := filepath.Join(t.TempDir(), "in.jsonl")
	if err := os.WriteFile(in, []byte("{\"x\":1}\nnot json\n{\"x\":2}\n{\"x\":\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const source = "'t.type'='file_source', 't.path'='"
	tests := []struct {
		name    string
		sql     string
		wantErr []string // each in the error
		config  bool     // the error is a *ConfigError
		topic   string   // the topic that gets the 2 dead letters
	}{
		{name: "no brokers known", sql: "SELECT x FROM t WITH (" + source + in + "', 'dlq.topic'='dead')",
			wantErr: []string{`'dlq.topic'`, `'dlq.bootstrap.servers'`, "no Kafka brokers"}, config: true},
		{name: "path and topic", sql: "SELECT x FROM t WITH (" + source + in + "', 'dlq.topic'='dead', 'dlq.path'='x.jsonl', 'dlq.bootstrap.servers'='" + servers + "')",
			wantErr: []string{`'dlq.path'`, `'dlq.topic'`}, config: true},
		{name: "brokers without topic", sql: "SELECT x FROM t WITH (" + source + in + "', 'dlq.bootstrap.servers'='" + servers + "')",
			wantErr: []string{`'dlq.bootstrap.servers'`, `'dlq.topic'`}, config: true},
		{name: "missing topic", sql: "SELECT x FROM t WITH (" + source + in + "', 'dlq.topic'='nope', 'dlq.create.topic'='false', 'dlq.bootstrap.servers'='" + servers + "')",
			wantErr: []string{`"dlq.topic"`, `"nope"`, "does not exist"}},
		{name: "bad partitions", sql: "SELECT x FROM t WITH (" + source + in + "', 'dlq.topic'='nope', 'dlq.partitions'='none', 'dlq.bootstrap.servers'='" + servers + "')",
			wantErr: []string{`'dlq.partitions'`}, config: true},
		{name: "created topic", sql: "SELECT x FROM t WITH (" + source + in + "', 'dlq.topic'='dead3', 'dlq.partitions'='3', 'dlq.bootstrap.servers'='" + servers + "')",
			topic: "dead3"},
		{name: "own brokers", sql: "SELECT x FROM t WITH (" + source + in + "', 'dlq.topic'='dead', 'dlq.bootstrap.servers'='" + servers + "')",
			topic: "dead"},
		{name: "the sink's brokers", sql: "CREATE STREAM out AS SELECT x FROM t WITH (" + source + in +
			"', 'out.type'='kafka_sink', 'out.bootstrap.servers'='" + servers + "', 'dlq.topic'='dead2')", topic: "dead2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			stmts, err := sql.Parse("dlq.sql", tt.sql)
			if err != nil {
				t.Fatal(err)
			}
			var mu sync.Mutex
			var clients []string
			opts := Options{Stdout: io.Discard, KafkaOpts: func(_, client string) []kgo.Opt {
				mu.Lock()
				defer mu.Unlock()
				clients = append(clients, client)
				return nil
			}}
			j, err := Prepare(ctx, stmts[0], opts)
			if tt.wantErr != nil {
				var ce *ConfigError
				if err == nil || errors.As(err, &ce) != tt.config {
					t.Fatalf("Prepare = %v, want an error (config error: %v)", err, tt.config)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not name %s", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sum, err := j.Run(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if sum.DeadLetters != 2 || sum.DLQTopic != tt.topic || sum.DLQPath != "" {
				t.Errorf("summary: %d dead letters, topic %q, path %q; want 2 in topic %q", sum.DeadLetters, sum.DLQTopic, sum.DLQPath, tt.topic)
			}
			mu.Lock()
			if !slices.Contains(clients, "dlq:"+tt.topic) {
				t.Errorf("KafkaOpts called for %q, want dlq:%s among them", clients, tt.topic)
			}
			mu.Unlock()
			if n, err := kafkatest.TopicEnd(ctx, []string{servers}, tt.topic); err != nil || n != 2 {
				t.Errorf("topic %s holds %d messages (%v), want the 2 dead letters", tt.topic, n, err)
			}
		})
	}
}

// TestSourceSkipsOwnOutputs runs a statement whose glob matches its own
// sink, dead-letter file and a sink's leftover temporary file twice: the
// second run reads exactly what the first did (issue: the DLQ read back).
func TestSourceSkipsOwnOutputs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a.jsonl", "{\"x\":1}\nnot json\n{\"x\":2}\n")
	write(".out.jsonl.tmp-123", "{\"x\":100}\n")
	src := "CREATE STREAM out AS SELECT x FROM t WITH ('t.type'='file_source', 't.format'='json', 't.path'='" + filepath.Join(dir, "*") +
		"', 'out.type'='file_sink', 'out.path'='" + filepath.Join(dir, "out.jsonl") + "', 'dlq.path'='" + filepath.Join(dir, "errors.jsonl") + "')"
	run := func() (string, string) {
		t.Helper()
		stmts, err := sql.Parse("own.sql", src)
		if err != nil {
			t.Fatal(err)
		}
		j, err := Prepare(context.Background(), stmts[0], Options{Stdout: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		sum, err := j.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if sum.Total.In != 3 || sum.DeadLetters != 1 {
			t.Errorf("in %d, dead-lettered %d; want 3 and 1", sum.Total.In, sum.DeadLetters)
		}
		out, _ := os.ReadFile(filepath.Join(dir, "out.jsonl"))
		dlq, _ := os.ReadFile(filepath.Join(dir, "errors.jsonl"))
		return string(out), string(dlq)
	}
	out1, _ := run()
	out2, dlq2 := run()
	if out1 != "{\"x\":1}\n{\"x\":2}\n" || out2 != out1 {
		t.Errorf("outputs %q then %q", out1, out2)
	}
	if strings.Count(dlq2, "\n") != 2 { // one dead letter per run, appended
		t.Errorf("dead-letter file after two runs:\n%s", dlq2)
	}
	// A path naming only the job's own output is refused.
	stmts, err := sql.Parse("own.sql", strings.Replace(src, filepath.Join(dir, "*"), filepath.Join(dir, "out.jsonl"), 1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Prepare(context.Background(), stmts[0], Options{Stdout: io.Discard}); err == nil ||
		!strings.Contains(err.Error(), "matches only files the job writes") {
		t.Errorf("reading the sink's own file: %v", err)
	}
}

// TestDefaultDLQPathOutOfGlobs checks that the default dead-letter file is
// out of reach of the globs a source usually reads.
func TestDefaultDLQPathOutOfGlobs(t *testing.T) {
	p := job.DefaultDLQPath("trades")
	for _, glob := range []string{"*", "*.jsonl", "*.dlq.jsonl", "*/*.jsonl", "*/*", "data/*.jsonl", "trades*"} {
		if ok, _ := filepath.Match(glob, p); ok {
			t.Errorf("glob %q matches the default dead-letter file %s", glob, p)
		}
	}
}

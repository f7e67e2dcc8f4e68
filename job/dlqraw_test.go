package job

import (
	"context"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// TestDeadLetterWithoutRawBytes: a record from a source that keeps no
// original bytes (in-memory records, the generator) and fails to evaluate
// reaches the DLQ as its decoded record in JSON.
func TestDeadLetterWithoutRawBytes(t *testing.T) {
	prog, _ := compileQuery(t, "SELECT k, CAST(v AS INTEGER) AS n FROM t", nil)
	schema := record.NewSchema("k", "v")
	recs := [][]record.Record{{
		{Values: []record.Value{record.StringValue("a"), record.StringValue("12")}},
		{Values: []record.Value{record.StringValue("b"), record.StringValue("twelve")}},
	}}
	dlq := &mem.DeadLetters{}
	cfg := baseConfig(t, FromExec(prog), "sticky", 1, mem.FromRecords("t", schema, recs), &mem.Sink{})
	cfg.DLQ = dlq
	sum, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkBalance(t, sum, 2)
	dead := dlq.All()
	if len(dead) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dead))
	}
	if d := dead[0]; string(d.Raw) != `{"k":"b","v":"twelve"}` || d.Offset != 1 || d.Reason == "" {
		t.Errorf("dead letter raw %s, offset %d, reason %q", d.Raw, d.Offset, d.Reason)
	}
}

// TestDeadLetterRowShowsNoInternalColumn: the JSON of a dead record
// without original bytes leaves out the input's internal columns (a
// stream-stream join's side slot, record.Field.Internal).
func TestDeadLetterRowShowsNoInternalColumn(t *testing.T) {
	stmts, err := sql.Parse("test.sql", "SELECT k, CAST(v AS INTEGER) AS n FROM t")
	if err != nil {
		t.Fatal(err)
	}
	schema := record.NewSchemaOf(record.Field{Name: "k"}, record.Field{Name: " side", Internal: true}, record.Field{Name: "v"})
	prog, err := exec.Compile(stmts[0].Select(), exec.Options{Schema: schema, ExternalWatermark: true})
	if err != nil {
		t.Fatal(err)
	}
	recs := [][]record.Record{{{Values: []record.Value{record.StringValue("b"), record.IntValue(1), record.StringValue("twelve")}}}}
	dlq := &mem.DeadLetters{}
	cfg := baseConfig(t, FromExec(prog), "sticky", 1, mem.FromRecords("t", schema, recs), &mem.Sink{})
	cfg.DLQ = dlq
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	dead := dlq.All()
	if len(dead) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dead))
	}
	if raw := string(dead[0].Raw); raw != `{"k":"b","v":"twelve"}` {
		t.Errorf("dead letter raw %s, want {\"k\":\"b\",\"v\":\"twelve\"}", raw)
	}
}

// upstreamMem is an in-memory source whose records an upstream stage read
// from two sources of 8 partitions each (connector.Upstream).
type upstreamMem struct{ *mem.Source }

// Origin implements connector.Upstream.
func (upstreamMem) Origin(p int32) (string, int32) {
	if p < 8 {
		return "orders", p
	}
	return "payments", p - 8
}

// TestDeadLetterThroughRepartition: a record read through a repartition
// topic that fails to evaluate is dead-lettered at its place in its
// source (the source the upstream stage read it from, its partition and
// offset there), with its place in the topic as Via and no message key
// (the topic's is the routing key's); one read from its source has none.
func TestDeadLetterThroughRepartition(t *testing.T) {
	prog, _ := compileQuery(t, "SELECT k, CAST(v AS INTEGER) AS n FROM t", nil)
	schema := record.NewSchema("k", "v")
	recs := [][]record.Record{{
		{Values: []record.Value{record.StringValue("a"), record.StringValue("one")}, Key: []byte("routing"),
			HasOrigin: true, OriginPartition: 10, OriginOffset: 1207},
		{Values: []record.Value{record.StringValue("b"), record.StringValue("two")}, Key: []byte("b")},
	}}
	dlq := &mem.DeadLetters{}
	cfg := baseConfig(t, FromExec(prog), "sticky", 1, upstreamMem{mem.FromRecords("t", schema, recs)}, &mem.Sink{})
	cfg.DLQ = dlq
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	dead := dlq.All()
	if len(dead) != 2 {
		t.Fatalf("%d dead letters, want 2", len(dead))
	}
	d, o := dead[0], dead[1]
	if d.Via == nil {
		d, o = o, d
	}
	if d.Source != "payments" || d.Partition != 2 || d.Offset != 1207 || d.Key != nil ||
		d.Via == nil || *d.Via != (connector.Place{Topic: "t", Partition: 0, Offset: 0}) {
		t.Errorf("dead letter through the topic: %s %d/%d key %q via %+v; want payments 2/1207, no key, via t 0/0", d.Source, d.Partition, d.Offset, d.Key, d.Via)
	}
	if o.Source != "t" || o.Partition != 0 || o.Offset != 1 || o.Via != nil || string(o.Key) != "b" {
		t.Errorf("dead letter from the source: %s %d/%d key %q via %+v; want t 0/1, key b, no via", o.Source, o.Partition, o.Offset, o.Key, o.Via)
	}
}

// TestDeadLetterReasonHasNoSecrets: a reason quoting a URL with its
// password (a Schema Registry's, in a decode error) reaches the DLQ, which
// leaves the process, with the password masked.
func TestDeadLetterReasonHasNoSecrets(t *testing.T) {
	var dlq mem.DeadLetters
	g := &dlqGuard{next: &dlq}
	g.add(connector.DeadLetter{Source: "t", Reason: "schema registry http://sr:reg-pw-31@localhost:8081: schema 9: not found"})
	if got := dlq.All()[0].Reason; strings.Contains(got, "reg-pw-31") || !strings.Contains(got, "sr:[redacted]@localhost") {
		t.Fatalf("reason %q", got)
	}
}

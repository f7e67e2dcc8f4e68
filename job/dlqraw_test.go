package job

import (
	"context"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/record"
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

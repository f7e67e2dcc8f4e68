package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/partition"
	"github.com/sluicesql/sluice/runner"
)

// TestClaimContradictedWhileRunning declares partition.key=trader_id on a
// topic that honours it in the records sampled before planning but not in
// one record read later: trader X's record at partition 0 offset 500,
// although X's default partition is 3. Aligned routing may already have
// split X's group when the running check finds it, so the job must stop with
// an error naming the contradiction and leave no output that looks complete.
func TestClaimContradictedWhileRunning(t *testing.T) {
	t.Parallel()
	brokers := startCluster(t, "trades")
	var p0, x string // traders whose default partition is 0, and one whose is 3
	for i := 0; p0 == "" || x == ""; i++ {
		k := fmt.Sprintf("T%d", i)
		switch kafka.Partition([]byte(k), kafkaPartitions) {
		case 0:
			if p0 == "" {
				p0 = k
			}
		case 3:
			if x == "" {
				x = k
			}
		}
	}
	msg := func(trader string, part int32) *kgo.Record {
		return &kgo.Record{Topic: "trades", Partition: part, Key: []byte(trader),
			Value: []byte(fmt.Sprintf(`{"trader_id":%q,"quantity":1}`, trader))}
	}
	var recs []*kgo.Record
	for i := 0; i < 1000; i++ {
		if i == 500 {
			recs = append(recs, msg(x, 0)) // the lie
			continue
		}
		recs = append(recs, msg(p0, 0))
	}
	for i := 0; i < 10; i++ {
		recs = append(recs, msg(x, 3))
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := testContext(t)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()

	out := filepath.Join(t.TempDir(), "out.jsonl")
	ctx, cancel = testContext(t)
	defer cancel()
	j := prepare(t, ctx, fmt.Sprintf(`CREATE STREAM per_trader AS
SELECT trader_id, COUNT(*) AS n FROM trades GROUP BY trader_id EMIT FINAL
WITH (%s, 'per_trader.type'='file_sink', 'per_trader.path'='%s')`, kafkaTrades(brokers, "partition.key", "trader_id"), out),
		runner.Options{UntilEnd: true, Partitions: 4})
	if j.Plan.Strategy.Name() != partition.SmartRepartition {
		t.Fatalf("strategy %s: the sample before planning should have trusted the claim", j.Plan.Strategy.Name())
	}
	_, err = runJob(t, ctx, j)
	if err == nil || !strings.Contains(err.Error(), "contradicted") || !strings.Contains(err.Error(), "offset 500") {
		t.Fatalf("run error %v: want the contradiction at partition 0 offset 500", err)
	}
	if _, statErr := os.Stat(out); !os.IsNotExist(statErr) {
		t.Errorf("output %s exists after a failed run (stat: %v)", out, statErr)
	}
}

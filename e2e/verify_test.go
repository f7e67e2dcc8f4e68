package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/partition"
)

// runtimeContradictionGap is why TestClaimContradictedWhileRunning is skipped.
const runtimeContradictionGap = "known gap (reported to the lead): a contradiction found while running only warns; " +
	"routing stays aligned, so trader X's records meet in two workers and X gets two rows. " +
	"Remove this Skip once the job falls back to hashing (or holds aligned routing until the key is verified)."

// TestClaimContradictedWhileRunning declares partition.key=trader_id on a
// topic that honours it in the records sampled before planning but not in
// one record read later: trader X's record at partition 0 offset 500,
// although X's default partition is 3. The running source's check finds it
// (within its first VerifyRecords records), and the result must still be
// one row per trader.
func TestClaimContradictedWhileRunning(t *testing.T) {
	t.Skip(runtimeContradictionGap)
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
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()

	out := filepath.Join(t.TempDir(), "out.jsonl")
	j, _ := runToEnd(t, fmt.Sprintf(`CREATE STREAM per_trader AS
SELECT trader_id, COUNT(*) AS n FROM trades GROUP BY trader_id EMIT FINAL
WITH (%s, 'per_trader.type'='file_sink', 'per_trader.path'='%s')`, kafkaTrades(brokers, "partition.key", "trader_id"), out))
	if j.Plan.Strategy.Name() != partition.SmartRepartition {
		t.Fatalf("strategy %s: the sample before planning should have trusted the claim", j.Plan.Strategy.Name())
	}
	if !strings.Contains(j.FactsNote(), "contradicted") {
		t.Errorf("facts note %q: the running check should have found the record at partition 0 offset 500", j.FactsNote())
	}
	want := []string{fmt.Sprintf(`{"trader_id":%q,"n":999}`, p0), fmt.Sprintf(`{"trader_id":%q,"n":11}`, x)}
	sameLines(t, "per-trader counts", readLines(t, out), sortedCopy(want))
}

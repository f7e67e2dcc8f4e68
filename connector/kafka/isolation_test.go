package kafka

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/record"
)

// TestReadCommitted: a source reads read_committed by default (records of
// an aborted transaction are skipped) and, with stop.at=end, ends on a
// topic whose last records are transaction markers; read_uncommitted
// reads the aborted records too.
func TestReadCommitted(t *testing.T) {
	brokers := startCluster(t, "trades")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID("writer"), kgo.DefaultProduceTopic("trades"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	write := func(msgs []Message, commit bool) {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if err := cl.ProduceSync(ctx, &kgo.Record{Key: m.Key, Value: m.Value}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	write(trades(40, 8), true)
	write(trades(30, 8), false)
	write(trades(20, 8), true)
	for _, tc := range []struct {
		level string
		want  int
	}{{"", 60}, {"read_uncommitted", 90}} {
		props := sourceProps(brokers, "stop.at", "end")
		if tc.level != "" {
			props["trades.isolation.level"] = tc.level
		}
		src, err := NewSource("trades", props)
		if err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, src, record.NewSchema("trader_id"), nil); len(got) != tc.want {
			t.Errorf("isolation %q: read %d records, want %d", tc.level, len(got), tc.want)
		}
	}
}

// TestSampleTransactional: the partition-key check samples a topic written
// in transactions (markers and aborted records between the data) and
// finds its key.
func TestSampleTransactional(t *testing.T) {
	brokers := startCluster(t, "trades")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID("writer"), kgo.DefaultProduceTopic("trades"),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i, commit := range []bool{true, false, true} {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, m := range trades(10+i, 4) {
			if err := cl.ProduceSync(ctx, &kgo.Record{Key: m.Key, Value: m.Value}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	src, err := NewSource("trades", sourceProps(brokers))
	if err != nil {
		t.Fatal(err)
	}
	facts, err := src.CheckFacts(ctx, []string{"trader_id"})
	if err != nil {
		t.Fatal(err)
	}
	if len(facts.Key) != 1 || facts.Key[0] != "trader_id" {
		t.Errorf("facts %+v, want the observed key trader_id", facts)
	}
}

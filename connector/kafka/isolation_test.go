package kafka

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connector"
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
	cl := transactionalWriter(t, brokers)
	write := func(msgs []Message, commit bool) { writeTransaction(ctx, t, cl, msgs, commit) }
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

// TestPositionPastMarkers: a topic written in transactions ends each
// partition with a commit marker, no record; a reader that read every
// record is past it (its lag is zero, and a table over the topic reaches
// the end offsets it bootstraps to), reading on from the end or not.
func TestPositionPastMarkers(t *testing.T) {
	brokers := startCluster(t, "trades")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	msgs := trades(40, 8)
	writeTransaction(ctx, t, transactionalWriter(t, brokers), msgs, true)
	for _, stop := range []string{"", "end"} {
		props := sourceProps(brokers)
		if stop != "" {
			props = sourceProps(brokers, "stop.at", stop)
		}
		src, err := NewSource("trades", props)
		if err != nil {
			t.Fatal(err)
		}
		ch, err := src.Open(ctx, record.NewSchema("trader_id"), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, ends := src.Offsets()
		want := perPartition(msgs)
		for rd := range ch {
			if ends[rd.Partition()] == 0 {
				continue // no record, no marker
			}
			drain(ctx, t, rd, want[rd.Partition()])
			pos := rd.(connector.Positioner)
			for pos.Position() < ends[rd.Partition()] {
				var b record.Batch
				err := rd.Next(ctx, &b, 100)
				if ctx.Err() != nil {
					break // the position is checked below
				}
				if err != nil && !errors.Is(err, io.EOF) {
					t.Fatal(err)
				}
				if len(b.Records) > 0 {
					t.Fatalf("stop.at=%q partition %d: %d records past the %d produced", stop, rd.Partition(), len(b.Records), want[rd.Partition()])
				}
			}
			if got, end := pos.Position(), ends[rd.Partition()]; got != end {
				t.Errorf("stop.at=%q partition %d: position %d, want the end offset %d (past the commit marker)", stop, rd.Partition(), got, end)
			}
		}
		src.Close()
	}
}

// TestSampleTransactional: the partition-key check samples a topic written
// in transactions (markers and aborted records between the data) and
// finds its key.
func TestSampleTransactional(t *testing.T) {
	brokers := startCluster(t, "trades")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl := transactionalWriter(t, brokers)
	for i, commit := range []bool{true, false, true} {
		writeTransaction(ctx, t, cl, trades(10+i, 4), commit)
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

// transactionalWriter returns a transactional producer to topic trades,
// partitioning as produce does; the test closes it.
func transactionalWriter(t *testing.T, brokers []string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID("writer"), kgo.DefaultProduceTopic("trades"),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// writeTransaction writes msgs with cl in one transaction, committed or
// aborted.
func writeTransaction(ctx context.Context, t *testing.T, cl *kgo.Client, msgs []Message, commit bool) {
	t.Helper()
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

package kafka

import (
	"context"
	"fmt"
	"maps"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/record"
)

// perPartition counts msgs by the partition Kafka's default partitioner
// gives their keys, with every partition present.
func perPartition(msgs []Message) map[int32]int64 {
	n := map[int32]int64{}
	for p := range int32(testPartitions) {
		n[p] = 0
	}
	for _, m := range msgs {
		n[Partition(m.Key, testPartitions)]++
	}
	return n
}

// TestSourceLag checks Lag before reading (the high watermarks listed at
// Open), after reading everything (zero) and after more records arrive
// (the high watermarks of later fetches), while extra kgo options reach
// the consuming client; and that each reader says records wait
// (connector.Backlog, which keeps the job from taking its partition for
// idle) exactly when its lag is above 0.
func TestSourceLag(t *testing.T) {
	brokers := startCluster(t, "trades")
	first, more := trades(300, 17), trades(50, 5)
	produce(t, brokers, "trades", first)
	var fetched hookCount
	src, err := NewSource("trades", sourceProps(brokers), kgo.WithHooks(&fetched))
	if err != nil {
		t.Fatal(err)
	}
	if got := src.Lag(); len(got) != 0 {
		t.Fatalf("lag before Open: %v", got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ch, err := src.Open(ctx, tradeSchema(), &mem.DeadLetters{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	want := perPartition(first)
	if got := src.Lag(); !maps.Equal(got, want) {
		t.Fatalf("lag after Open %v, want %v", got, want)
	}
	var readers []connector.PartitionReader
	for r := range ch {
		readers = append(readers, r)
	}
	checkWaiting(t, "after Open", readers, want)
	for _, r := range readers {
		drain(ctx, t, r, want[r.Partition()])
	}
	zero := perPartition(nil)
	if got := src.Lag(); !maps.Equal(got, zero) {
		t.Fatalf("lag after reading everything %v, want %v", got, zero)
	}
	checkWaiting(t, "after reading everything", readers, zero)
	produce(t, brokers, "trades", more)
	want = perPartition(more)
	got := src.Lag()
	for !maps.Equal(got, want) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
		got = src.Lag()
	}
	if !maps.Equal(got, want) {
		t.Fatalf("lag after producing more %v, want %v", got, want)
	}
	checkWaiting(t, "after producing more", readers, want)
	if fetched.n.Load() == 0 {
		t.Error("the hook passed to NewSource saw no fetch")
	}
}

// checkWaiting checks that each of readers says records wait exactly when
// lag has its partition above 0.
func checkWaiting(t *testing.T, when string, readers []connector.PartitionReader, lag map[int32]int64) {
	t.Helper()
	for _, r := range readers {
		if got, want := r.(connector.Backlog).RecordsWaiting(), lag[r.Partition()] > 0; got != want {
			t.Errorf("%s: partition %d (lag %d) says records wait: %v", when, r.Partition(), lag[r.Partition()], got)
		}
	}
}

// drain reads n records from r.
func drain(ctx context.Context, t *testing.T, r connector.PartitionReader, n int64) {
	t.Helper()
	var b record.Batch
	for read := int64(0); read < n; read += int64(len(b.Records)) {
		if err := r.Next(ctx, &b, int(n-read)); err != nil {
			t.Fatalf("partition %d after %d of %d records: %v", r.Partition(), read, n, err)
		}
	}
}

// hookCount is a kgo hook counting the batches fetched and produced.
type hookCount struct{ n atomic.Int64 }

// OnFetchBatchRead implements kgo.HookFetchBatchRead.
func (h *hookCount) OnFetchBatchRead(kgo.BrokerMetadata, string, int32, kgo.FetchBatchMetrics) {
	h.n.Add(1)
}

// OnProduceBatchWritten implements kgo.HookProduceBatchWritten.
func (h *hookCount) OnProduceBatchWritten(kgo.BrokerMetadata, string, int32, kgo.ProduceBatchMetrics) {
	h.n.Add(1)
}

// TestGroupLag: a group member that fetches nothing yet knows its lag, 0
// on every partition: one whose group committed every record of the topic
// (as after a rebalance that gives back partitions read to their end),
// its position being the group's committed offset, and one of a group that
// committed nothing, over empty partitions, its position being where the
// reset policy starts them (before, its lag was not known until it
// fetched a record, and a Shuffle, taking a partition whose lag is not
// known for one still to be read, would never report it idle).
func TestGroupLag(t *testing.T) {
	for _, committed := range []bool{true, false} {
		t.Run(fmt.Sprintf("committed=%v", committed), func(t *testing.T) {
			brokers := startCluster(t, "trades")
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if committed {
				produce(t, brokers, "trades", trades(100, 7))
				cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
				if err != nil {
					t.Fatal(err)
				}
				defer cl.Close()
				ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, "trades")
				if err != nil {
					t.Fatal(err)
				}
				if err := kadm.NewClient(cl).CommitAllOffsets(ctx, "g", ends.Offsets()); err != nil {
					t.Fatal(err)
				}
			}
			src, err := NewSource("trades", sourceProps(brokers, "group.id", "g"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := src.Open(ctx, tradeSchema(), &mem.DeadLetters{}); err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			zero := perPartition(nil)
			got := src.Lag()
			for !maps.Equal(got, zero) && ctx.Err() == nil {
				time.Sleep(20 * time.Millisecond)
				got = src.Lag()
			}
			if !maps.Equal(got, zero) {
				t.Fatalf("lag %v, want %v", got, zero)
			}
		})
	}
}

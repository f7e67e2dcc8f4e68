package kafka

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/internal/kafkatest"
)

// TestPurgeOnlyWhatMoved: a stage-2 commit deletes the repartition topic's
// records before the offsets it commits only for the partitions it moved
// past this member's last purge. Every commit sent a DeleteRecords request
// for every partition it committed, moved or not: with the tests' commit
// interval of 50ms, three processes of a repartitioned join sent the
// in-process broker, which handles every request on one goroutine, 11 a
// second (1583 in a 142s run of e2e TestExchangedJoinsAcrossProcesses
// under -race at load 15), each in the commit's path, which a stopping
// generation's last commit waits for.
func TestPurgeOnlyWhatMoved(t *testing.T) {
	c := kafkatest.Cluster(t, kfake.NumBrokers(3), kfake.SeedTopics(testPartitions, "rp"))
	var deletes atomic.Int64
	c.ControlKey(int16(kmsg.DeleteRecords), func(kmsg.Request) (kmsg.Response, error, bool) {
		deletes.Add(1)
		return nil, nil, false
	})
	brokers := c.ListenAddrs()
	const g = "purge"
	a := startRepartMember(t, brokers, g)
	waitFor(t, "the member holds every partition", func() bool { return ownedCount(a) == testPartitions })
	// ten progress reports: records the reader reads past without data
	report := appendProgress(nil, []partProgress{{partition: 0, watermark: noWatermark, committed: -1}})
	var recs []*kgo.Record
	for range 10 {
		recs = append(recs, &kgo.Record{Topic: "rp", Partition: 0, Headers: []kgo.RecordHeader{{Key: controlHeader, Value: report}}})
	}
	produceRecords(t, brokers, recs...)
	waitFor(t, "the member read the reports", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		u := a.ups[0]
		return u != nil && u.safe.Load() >= 10
	})
	a.mu.Lock()
	assignment := a.repart.assignment
	a.mu.Unlock()
	cp := connector.Checkpoint{Watermark: 1000, Read: map[int32]int64{}}
	commit := func(offsets map[int32]int64) int64 {
		t.Helper()
		before := deletes.Load()
		if err := a.CommitCheckpoint(context.Background(), assignment, offsets, cp); err != nil {
			t.Fatal(err)
		}
		return deletes.Load() - before
	}
	if n := commit(map[int32]int64{0: 4}); n != 1 {
		t.Errorf("a commit past the records of partition 0: %d DeleteRecords requests, want 1", n)
	}
	if n := commit(map[int32]int64{0: 4}); n != 0 {
		t.Errorf("a commit at the same offset again: %d DeleteRecords requests, want none", n)
	}
	if n := commit(map[int32]int64{0: 7}); n != 1 {
		t.Errorf("a commit that moved on: %d DeleteRecords requests, want 1", n)
	}
	if got := committedOffset(t, brokers, g, 0); got != 7 {
		t.Errorf("partition 0 committed at %d, want 7", got)
	}
	if start := startOffset(t, brokers, 0); start != 7 {
		t.Errorf("partition 0 starts at %d after the purges, want 7", start)
	}
}

// startOffset returns where partition p of "rp" starts.
func startOffset(t *testing.T, brokers []string, p int32) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	starts, err := kadm.NewClient(cl).ListStartOffsets(context.Background(), "rp")
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	o, _ := starts.Lookup("rp", p)
	return o.Offset
}

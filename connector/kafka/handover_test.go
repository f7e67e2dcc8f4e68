package kafka

import (
	"context"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/record"
)

// startRepartMember opens a reader of repartition topic "rp" in group g
// and reads whatever the group assigns it.
func startRepartMember(t *testing.T, brokers []string, g string) *Source {
	t.Helper()
	base, err := NewSource("trades", sourceProps(brokers, "group.id", g))
	if err != nil {
		t.Fatal(err)
	}
	src := base.RepartitionSource("rp", nil, 1, nil, func(*record.Record, int64) bool { return false })
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := src.Open(ctx, tradeSchema(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	go c.run(ctx, ch)
	t.Cleanup(func() {
		cancel()
		src.Close()
		c.wg.Wait()
	})
	return src
}

// committedOffset returns group g's committed offset of "rp" partition p.
func committedOffset(t *testing.T, brokers []string, g string, p int32) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).FetchOffsets(context.Background(), g)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	o, ok := resp.Lookup("rp", p)
	if !ok {
		return -1
	}
	return o.At
}

// TestRepartitionCommitAfterHandover pins that a stage-2 job's commit
// made after the rebalance that took its partitions has ended is refused,
// even for a partition the group gave back to the same member: its new
// reader resumed from the offset and fence committed by then, and the old
// job's later commit would move the partition past records the new reader
// still replays (and purge them), so that the replay counted windows again
// from part of their records. Found by the e2e kill/stop tests under load.
func TestRepartitionCommitAfterHandover(t *testing.T) {
	brokers := startCluster(t, "rp")
	const g = "handover"
	a := startRepartMember(t, brokers, g)
	waitFor(t, "the first member holds every partition", func() bool { return ownedCount(a) == testPartitions })
	first := a.repart.assignment
	cp := connector.Checkpoint{Watermark: 1000, Read: map[int32]int64{}}
	if err := a.CommitCheckpoint(context.Background(), first, map[int32]int64{0: 3}, cp); err != nil {
		t.Fatal(err)
	}
	if got := committedOffset(t, brokers, g, 0); got != 3 {
		t.Fatalf("a commit under the current assignment: committed %d, want 3", got)
	}

	b := startRepartMember(t, brokers, g)
	waitFor(t, "the group splits the partitions", func() bool { return ownedCount(a) > 0 && ownedCount(b) > 0 })
	var p int32 = -1
	a.mu.Lock()
	for q := range a.readers {
		p = q
	}
	now := a.repart.assignment
	a.mu.Unlock()
	if now == first {
		t.Fatal("the rebalance did not end the first assignment")
	}
	before := committedOffset(t, brokers, g, p)
	if err := a.CommitCheckpoint(context.Background(), first, map[int32]int64{p: 7}, cp); err != nil {
		t.Fatal(err)
	}
	if got := committedOffset(t, brokers, g, p); got != before {
		t.Errorf("a commit of the job that read the first assignment, after its handover: partition %d committed at %d, want it left at %d", p, got, before)
	}
	if err := a.CommitCheckpoint(context.Background(), now, map[int32]int64{p: 7}, cp); err != nil {
		t.Fatal(err)
	}
	if got := committedOffset(t, brokers, g, p); got != 7 {
		t.Errorf("a commit under the current assignment: partition %d committed at %d, want 7", p, got)
	}
}

package kafka

import (
	"context"
	"slices"
	"testing"
	"time"

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
	openCollected(t, src)
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

// TestRepartitionBehindItsFenceCommitsNothing: a stage-2 job whose replay
// of a partition has not yet read up to the fence it resumed from, with a
// watermark above the fence's, commits nothing for it (connector.Fence.Join),
// yet a handover waiting for its last commit (committedLocked) has it;
// once it has read past the fence's read offset it commits.
func TestRepartitionBehindItsFenceCommitsNothing(t *testing.T) {
	brokers := startCluster(t, "rp")
	const g = "behind"
	a := startRepartMember(t, brokers, g)
	waitFor(t, "the member holds every partition", func() bool { return ownedCount(a) == testPartitions })
	a.mu.Lock()
	assignment, since := a.repart.assignment, a.seq
	a.ups[0].fenceTo, a.ups[0].fenceWM = 10, 500
	a.mu.Unlock()
	behind := connector.Checkpoint{Watermark: 1000, Read: map[int32]int64{0: 5, 1: 5}}
	if err := a.CommitCheckpoint(context.Background(), assignment, map[int32]int64{0: 3, 1: 3}, behind); err != nil {
		t.Fatal(err)
	}
	if got := committedOffset(t, brokers, g, 0); got != -1 {
		t.Errorf("behind its fence: partition 0 committed at %d, want nothing committed", got)
	}
	if got := committedOffset(t, brokers, g, 1); got != 3 {
		t.Errorf("a partition without a fence: committed at %d, want 3", got)
	}
	a.mu.Lock()
	handedOver := a.commitSeq[0] > since
	a.mu.Unlock()
	if !handedOver {
		t.Error("a commit that left partition 0 behind its fence does not count as its last commit for a handover")
	}
	past := connector.Checkpoint{Watermark: 1000, Read: map[int32]int64{0: 12}}
	if err := a.CommitCheckpoint(context.Background(), assignment, map[int32]int64{0: 3}, past); err != nil {
		t.Fatal(err)
	}
	if got := committedOffset(t, brokers, g, 0); got != 3 {
		t.Errorf("past its fence: partition 0 committed at %d, want 3", got)
	}
}

// startBoundedMember opens a stop.at=end member of group g, rebalancing
// eagerly and kept open for later assignments (as stage 1 of a
// repartitioned statement is), that reads whatever the group assigns it
// and commits nothing.
func startBoundedMember(t *testing.T, brokers []string, g string) (*Source, *collector) {
	t.Helper()
	src, err := NewSource("trades", sourceProps(brokers, "group.id", g, "stop.at", "end", "session.timeout.ms", "6000"))
	if err != nil {
		t.Fatal(err)
	}
	src.UseEagerRebalancing()
	src.KeepOpen()
	return src, openCollected(t, src)
}

// TestBoundedPartitionBackBeforeItsEnd: a stop.at=end member whose reader
// reached its partition's end stops fetching the partition; when the group
// takes it away before the offsets up to the end were committed (the
// handover commits what the job finished) and gives it back, its new
// reader starts at the committed offset, before the end, and must read on
// to the end. The fetch stayed paused across the rebalance: the member
// never read the partition again and a bounded run never ended (issue 17's
// stall).
func TestBoundedPartitionBackBeforeItsEnd(t *testing.T) {
	brokers := startCluster(t, "trades")
	produce(t, brokers, "trades", trades(800, 40))
	const g = "paused"
	a, ca := startBoundedMember(t, brokers, g)
	waitFor(t, "the first member reads every partition to its end", func() bool { return a.AllEnded() && ownedCount(a) == testPartitions })
	_, ends := a.Offsets()
	half := map[int32]int64{}
	for p, e := range ends {
		half[p] = e / 2
	}
	read := len(ca.records())

	b, _ := startBoundedMember(t, brokers, g)
	// the handover commits less than the readers read
	waitFor(t, "the group takes the partitions back", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return len(a.revoking) > 0
	})
	if err := a.Commit(context.Background(), half); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both members hold partitions", func() bool { return ownedCount(a) > 0 && ownedCount(b) > 0 })
	waitFor(t, "both members read their partitions to the end", func() bool { return a.AllEnded() && b.AllEnded() })
	if len(ca.records()) == read {
		t.Error("the first member read nothing again from the committed offsets")
	}
}

// TestFenceOutlivesItsReader pins that the fence a partition resumed from
// is still known once the group took the partition away: the stage-2 job
// that a rebalance stops still passes the rows it read through its
// windows, and a partition without a fence would open again windows that
// had fired before the replay (found by the e2e kill test of an outer
// join followed by windows: an order written unmatched into its window,
// its payment before the committed offset).
func TestFenceOutlivesItsReader(t *testing.T) {
	brokers := startCluster(t, "rp")
	const g = "outlives"
	a := startRepartMember(t, brokers, g)
	waitFor(t, "the first member holds every partition", func() bool { return ownedCount(a) == testPartitions })
	offsets := map[int32]int64{}
	for p := range int32(testPartitions) {
		offsets[p] = 0
	}
	cp := connector.Checkpoint{Watermark: 1000, Read: map[int32]int64{}}
	a.mu.Lock()
	first := a.repart.assignment
	a.mu.Unlock()
	if err := a.CommitCheckpoint(context.Background(), first, offsets, cp); err != nil {
		t.Fatal(err)
	}
	// the next assignment resumes from the checkpoint
	b := startRepartMember(t, brokers, g)
	waitFor(t, "the group splits the partitions", func() bool { return ownedCount(a) > 0 && ownedCount(b) > 0 })
	held := a.Owned()
	// a partition is owned before its fence is read from the group
	// (the readers wait for it, this test polls)
	waitFor(t, "the resumed partitions have the checkpoint's fence", func() bool {
		for _, p := range held {
			if wm, ok := a.FenceWatermark(p); !ok || wm != 1000 {
				return false
			}
		}
		return true
	})
	// a third member takes some of them away
	startRepartMember(t, brokers, g)
	waitFor(t, "the group takes partitions from the first member", func() bool { return ownedCount(a) > 0 && ownedCount(a) < len(held) })
	gone := 0
	for _, p := range held {
		if !slices.Contains(a.Owned(), p) {
			gone++
			if wm, ok := a.FenceWatermark(p); !ok || wm != 1000 {
				t.Errorf("partition %d taken away: fence %d, %v; want still 1000 for the job that read it", p, wm, ok)
			}
		}
	}
	if gone == 0 {
		t.Fatal("no partition was taken away: the test checks nothing")
	}
}

// TestRereadUpToTheEndAtAssignment: a member given a partition that
// another had marks Reread every record before the partition's end as it
// was assigned (the member before may have processed them, and written
// rows after them, past its last commit's fence: it was killed before
// committing again), Replay as well those before the fence, and neither
// the records produced later.
func TestRereadUpToTheEndAtAssignment(t *testing.T) {
	brokers := startCluster(t, "rp")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	enc := newRepartEncoder(tradeSchema())
	next := int64(0) // the next record's offset in its source partition
	produceRows := func(n int) {
		t.Helper()
		var krs []*kgo.Record
		for range n {
			row := []record.Value{record.IntValue(next), record.StringValue("ACME"), record.IntValue(1), record.IntValue(2), record.StringValue("k")}
			krs = append(krs, &kgo.Record{Topic: "rp", Partition: 0, Value: enc.appendRow(nil, row),
				Headers: []kgo.RecordHeader{{Key: originHeader, Value: appendOrigin(nil, 0, next, noWatermark, 0, 0)}}})
			next++
		}
		produceRecords(t, brokers, krs...)
	}
	produceRows(10)

	const g = "reread"
	base, err := NewSource("trades", sourceProps(brokers, "group.id", g))
	if err != nil {
		t.Fatal(err)
	}
	a := base.RepartitionSource("rp", nil, 1, nil, func(*record.Record, int64) bool { return false })
	ca := openCollected(t, a)
	waitFor(t, "the first member reads the partition", func() bool { return len(ca.records()) == 10 })
	a.mu.Lock()
	first := a.repart.assignment
	a.mu.Unlock()
	// its last commit: read to 4; then it reads on to 10 and is killed
	// (it leaves the group without committing again)
	cp := connector.Checkpoint{Watermark: 1000, Read: map[int32]int64{0: 4}}
	if err := a.CommitCheckpoint(ctx, first, map[int32]int64{0: 2}, cp); err != nil {
		t.Fatal(err)
	}
	a.Close()

	base, err = NewSource("trades", sourceProps(brokers, "group.id", g))
	if err != nil {
		t.Fatal(err)
	}
	b := base.RepartitionSource("rp", nil, 1, nil, func(*record.Record, int64) bool { return false })
	cb := openCollected(t, b)
	// the commit stays at 0: stage 1 reported no progress, so every
	// record may still be sent again (commitsLocked)
	waitFor(t, "the next member reads the partition from the commit", func() bool { return len(cb.records()) == 10 })
	produceRows(3)
	waitFor(t, "the next member reads the records produced since", func() bool { return len(cb.records()) == 13 })
	for _, r := range cb.records() {
		replay, reread := r.offset < 4, r.offset < 10
		if r.replay != replay || r.reread != reread {
			t.Errorf("offset %d: Replay %v, Reread %v; want %v, %v", r.offset, r.replay, r.reread, replay, reread)
		}
	}
}

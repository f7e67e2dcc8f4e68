package kafka

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connector/mem"
)

// TestDeadLetters sends malformed JSON values to the DLQ with their bytes,
// key, partition and offset, and keeps reading the good ones.
func TestDeadLetters(t *testing.T) {
	brokers := startCluster(t, "trades")
	msgs := trades(300, 10)
	bad := map[int]string{5: `{"trader_id":`, 77: `not json`, 150: `{"price": 1.2.3}`, 299: ``}
	for i, v := range bad {
		msgs[i].Value = []byte(v)
	}
	produce(t, brokers, "trades", msgs)
	src, err := NewSource("trades", sourceProps(brokers, "stop.at", "end"))
	if err != nil {
		t.Fatal(err)
	}
	dlq := &mem.DeadLetters{}
	recs := readAll(t, src, tradeSchema(), dlq)
	if len(recs) != len(msgs)-len(bad) {
		t.Errorf("read %d good records, want %d", len(recs), len(msgs)-len(bad))
	}
	seen := map[pk]bool{}
	for _, g := range recs {
		seen[pk{g.part, g.offset}] = true
	}
	dead := dlq.All()
	if len(dead) != len(bad) {
		t.Fatalf("%d dead letters, want %d", len(dead), len(bad))
	}
	keyOf := map[string]string{} // raw value -> message key
	for i, v := range bad {
		keyOf[v] = string(msgs[i].Key)
	}
	for _, d := range dead {
		if key, ok := keyOf[string(d.Raw)]; !ok || string(d.Key) != key || d.Source != "trades" || d.Reason == "" || d.Time.IsZero() {
			t.Errorf("dead letter %+v", d)
		}
		if seen[pk{d.Partition, d.Offset}] {
			t.Errorf("dead letter at partition %d offset %d was also returned", d.Partition, d.Offset)
		}
		seen[pk{d.Partition, d.Offset}] = true
	}
	if len(seen) != len(msgs) {
		t.Errorf("records and dead letters cover %d offsets, want %d", len(seen), len(msgs))
	}
}

// TestCommitRestart reads part of each partition as a group member, commits
// what was processed and "crashes"; a new member resumes at the committed
// offsets, so every record is processed and none is skipped.
func TestCommitRestart(t *testing.T) {
	brokers := startCluster(t, "trades")
	const n = 800
	produce(t, brokers, "trades", trades(n, 40))
	props := sourceProps(brokers, "group.id", "g-restart", "stop.at", "end")

	first, err := NewSource("trades", props)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ch, err := first.Open(ctx, tradeSchema(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c1 := &collector{stop: func(g got) bool { return g.offset >= 30 }}
	c1.after = func(p int32, last int64) {
		if err := first.Commit(ctx, map[int32]int64{p: last + 1}); err != nil {
			t.Error(err)
		}
	}
	// Read until every partition's reader stopped at offset 30.
	go c1.run(ctx, ch)
	deadline := time.Now().Add(20 * time.Second)
	for len(c1.records()) < 30*testPartitions && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	c1.wg.Wait()
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}

	second, err := NewSource("trades", props)
	if err != nil {
		t.Fatal(err)
	}
	rest := readAll(t, second, tradeSchema(), nil)
	firstStart := map[int32]int64{}
	for _, g := range rest {
		if s, ok := firstStart[g.part]; !ok || g.offset < s {
			firstStart[g.part] = g.offset
		}
	}
	seen := map[pk]int{}
	for _, g := range append(c1.records(), rest...) {
		seen[pk{g.part, g.offset}]++
	}
	if len(seen) != n {
		t.Fatalf("processed %d distinct records, want %d", len(seen), n)
	}
	for p, s := range firstStart {
		if s != 30 {
			t.Errorf("partition %d resumed at %d, want the committed 30", p, s)
		}
	}
	if len(c1.records()) != 30*testPartitions || len(rest) != n-30*testPartitions {
		t.Errorf("first read %d, second %d: want %d and %d", len(c1.records()), len(rest), 30*testPartitions, n-30*testPartitions)
	}
}

// member is one running group member that commits after every batch.
type member struct {
	src    *Source
	c      *collector
	cancel context.CancelFunc
	done   chan struct{}
}

func startMember(t *testing.T, brokers []string, group string) *member {
	t.Helper()
	src, err := NewSource("trades", sourceProps(brokers, "group.id", group))
	if err != nil {
		t.Fatal(err)
	}
	src.extraOpts = []kgo.Opt{kgo.HeartbeatInterval(100 * time.Millisecond)}
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := src.Open(ctx, tradeSchema(), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &member{src: src, cancel: cancel, done: make(chan struct{})}
	m.c = &collector{after: func(p int32, last int64) {
		if err := src.Commit(ctx, map[int32]int64{p: last + 1}); err != nil && ctx.Err() == nil {
			t.Error(err)
		}
	}}
	go func() {
		m.c.run(ctx, ch)
		close(m.done)
	}()
	return m
}

// stop closes the member: its source leaves the group.
func (m *member) stop(t *testing.T) {
	if err := m.src.Close(); err != nil {
		t.Error(err)
	}
	m.cancel()
	<-m.done
	m.c.wg.Wait()
}

// TestRebalance runs two members of one group: the second joins mid-stream
// and later leaves; partitions move both ways and no record is lost.
func TestRebalance(t *testing.T) {
	brokers := startCluster(t, "trades")
	all := trades(2400, 60)
	produce(t, brokers, "trades", all[:800])

	a := startMember(t, brokers, "g-rebalance")
	defer a.stop(t)
	waitFor(t, "member a reads", func() bool { return len(a.c.records()) > 0 })

	b := startMember(t, brokers, "g-rebalance")
	waitFor(t, "member b gets partitions", func() bool { return len(b.c.records()) > 0 || ownedCount(b.src) > 0 })
	produce(t, brokers, "trades", all[800:1600])
	waitFor(t, "both members own partitions", func() bool { return ownedCount(a.src) > 0 && ownedCount(b.src) > 0 })
	// Every partition a handed to b ended a's reader with io.EOF.
	waitFor(t, "revoked readers end", func() bool { return a.c.ended() == testPartitions-ownedCount(a.src) })
	waitFor(t, "first 1600 read", func() bool { return distinct(a, b) >= 1600 })
	b.stop(t)
	produce(t, brokers, "trades", all[1600:])
	waitFor(t, "member a takes all partitions back and reads everything", func() bool {
		return distinct(a, b) == len(all) && ownedCount(a.src) == testPartitions
	})
	if len(b.c.records()) == 0 {
		t.Error("member b read nothing: no rebalance happened")
	}
	// Revocations wait for the handed-over offsets to be committed, so the
	// new owner normally resumes exactly there (duplicates would still be
	// at-least-once, not loss).
	t.Logf("a read %d, b read %d, %d distinct", len(a.c.records()), len(b.c.records()), distinct(a, b))
}

func ownedCount(s *Source) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.readers)
}

var distinctMu sync.Mutex

func distinct(ms ...*member) int {
	distinctMu.Lock()
	defer distinctMu.Unlock()
	seen := map[pk]bool{}
	for _, m := range ms {
		for _, g := range m.c.records() {
			seen[pk{g.part, g.offset}] = true
		}
	}
	return len(seen)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

package runner

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/record"
)

// topicGroup stands in for the repartition topic's source in a consumer
// group: the test assigns and revokes partitions as the group would, and
// each assignment's readers are handed out as kafka.Source hands them out
// (one goroutine, one after the other), revoked ones no longer Current.
type topicGroup struct {
	connector.Source // Name, Facts, Open: below; the rest unused
	connector.Failer
	connector.Upstream
	connector.KeyChecker

	readers chan connector.PartitionReader

	mu         sync.Mutex
	current    map[int32]*topicReader // by partition: the reader of the last assignment
	assignment int64
}

// topicReader is a reader of the topic's partition p: it only records
// whether it was closed.
type topicReader struct {
	p          int32
	assignment int64
	closed     atomic.Bool
}

func (r *topicReader) Partition() int32 { return r.p }
func (r *topicReader) Close() error     { r.closed.Store(true); return nil }
func (r *topicReader) Next(ctx context.Context, _ *record.Batch, _ int) error {
	<-ctx.Done()
	return ctx.Err()
}

func newTopicGroup() *topicGroup {
	return &topicGroup{readers: make(chan connector.PartitionReader, 16), current: map[int32]*topicReader{}}
}

// assign gives the member ps in a new assignment and returns their readers.
func (f *topicGroup) assign(ps ...int32) []*topicReader {
	f.mu.Lock()
	f.assignment++
	var rs []*topicReader
	for _, p := range ps {
		r := &topicReader{p: p, assignment: f.assignment}
		f.current[p] = r
		rs = append(rs, r)
	}
	f.mu.Unlock()
	for _, r := range rs {
		f.readers <- r
	}
	return rs
}

// revoke takes every partition away, as an eager rebalance does: the
// generation stops (the handover calls revoked first), then the readers
// are released.
func (f *topicGroup) revoke(g *generations) {
	g.revoked()
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.current)
}

func (f *topicGroup) Name() string           { return "trades" }
func (f *topicGroup) Facts() connector.Facts { return connector.Facts{Partitions: 4} }
func (f *topicGroup) Bounded() bool          { return false }
func (f *topicGroup) Open(context.Context, *record.Schema, connector.DeadLetters) (<-chan connector.PartitionReader, error) {
	return f.readers, nil
}
func (f *topicGroup) Owned() []int32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ps []int32
	for p := range f.current {
		ps = append(ps, p)
	}
	return ps
}
func (f *topicGroup) Current(rd connector.PartitionReader) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := rd.(*topicReader)
	return ok && f.current[r.p] == r
}
func (f *topicGroup) Assignment(rd connector.PartitionReader) int64 {
	return rd.(*topicReader).assignment
}
func (f *topicGroup) AllEnded() bool                          { return false }
func (f *topicGroup) GroupDone(context.Context) (bool, error) { return false, nil }
func (f *topicGroup) BeginTransaction() error                 { return nil }
func (f *topicGroup) CommitCheckpoint(context.Context, int64, map[int32]int64, connector.Checkpoint) error {
	return nil
}

// generation runs one generation of stage 2 as runTwo does, with a job
// that takes what Open hands it and returns once its context ends (a
// rebalance: revoked), closing every reader it took (job.Run's
// readSource), or that still runs once it took some. It returns the
// readers the job took.
func generation(t *testing.T, g *generations, before func()) []connector.PartitionReader {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	g.start(cancel)
	if before != nil {
		before()
	}
	octx, ocancel := context.WithTimeout(ctx, 10*time.Second)
	defer ocancel()
	ch, err := g.Open(octx, nil, nil)
	if err != nil {
		if ctx.Err() == nil {
			t.Fatalf("Open: %v: the readers of the partitions the member holds (%v) never came", err, g.src.Owned())
		}
		g.stop()
		return nil
	}
	var took []connector.PartitionReader
	for {
		select {
		case rd, ok := <-ch:
			if !ok {
				g.stop()
				return took
			}
			took = append(took, rd)
			continue
		default:
		}
		if ctx.Err() != nil {
			// a stopped job closes what it took and returns
			for _, rd := range took {
				rd.Close()
			}
			g.stop()
			return took
		}
		if len(took) > 0 {
			return took // running: the caller stops it
		}
		time.Sleep(time.Millisecond)
	}
}

// waitPending waits until n readers wait for the next generation.
func waitPending(t *testing.T, g *generations, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		g.mu.Lock()
		got := len(g.pending)
		g.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d readers pending, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// A rebalance that stops a generation before its job opened the source,
// followed at once by the next assignment, leaves that assignment's
// readers to the next generation: the stopped one took them and closed
// them while the member held their partitions, no reader came for them
// again, and every later generation waited for them in Open.
func TestGenerationsRevokedBeforeOpenLeaveReadersToNext(t *testing.T) {
	f := newTopicGroup()
	g := &generations{src: f}
	// generation 1 reads partition 0 until a rebalance stops it
	f.assign(0)
	took := generation(t, g, nil)
	if len(took) != 1 {
		t.Fatalf("generation 1 took %d readers, want 1", len(took))
	}
	f.revoke(g)
	g.stop()
	// generation 2 starts; a rebalance stops it before its job opens
	// the source, and the next assignment's reader arrives
	var next []*topicReader
	took = generation(t, g, func() {
		f.revoke(g)
		next = f.assign(0)
		waitPending(t, g, 1)
	})
	if len(took) != 0 {
		t.Errorf("generation 2, stopped before it opened, took %d readers of the assignment after", len(took))
	}
	// generation 3 reads it
	took = generation(t, g, nil)
	if len(took) != 1 || took[0] != next[0] {
		t.Fatalf("generation 3 took %v, want the reader of the last assignment", took)
	}
	if next[0].closed.Load() {
		t.Fatal("generation 3's reader is closed")
	}
}

// A reader handed to a generation whose job returned without taking it
// (it stopped reading first) goes to the next generation, not into a
// channel no one reads.
func TestGenerationsHandUntakenReadersToNext(t *testing.T) {
	f := newTopicGroup()
	g := &generations{src: f}
	rs := f.assign(0)
	g.start(func() {})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := g.Open(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	if g.stop() {
		t.Fatal("stop reports a rebalance")
	}
	took := generation(t, g, nil)
	if len(took) != 1 || took[0] != rs[0] {
		t.Fatalf("generation 2 took %v, want the reader generation 1 left", took)
	}
}

// Readers a generation was handed and had not taken when a rebalance
// stopped it are closed with it: they belong to the assignment revoked,
// whose handover waits for them.
func TestGenerationsCloseUntakenReadersOnRevoke(t *testing.T) {
	f := newTopicGroup()
	g := &generations{src: f}
	rs := f.assign(0, 1)
	g.start(func() {})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := g.Open(ctx, nil, nil); err != nil {
		t.Fatal(err)
	}
	f.revoke(g)
	for _, r := range rs {
		if !r.closed.Load() {
			t.Errorf("partition %d's reader, revoked, is open", r.p)
		}
	}
	if !g.stop() {
		t.Fatal("stop reports no rebalance")
	}
}

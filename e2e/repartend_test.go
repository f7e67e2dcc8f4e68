package e2e

import (
	"fmt"
	"maps"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicesql/sluice/internal/kafkatest"
	"github.com/sluicesql/sluice/runner"
)

// runStages runs the statement text (with %s for the sink's path) in n
// processes of one group to the end of the source and returns the window
// rows they wrote.
func runStages(t *testing.T, text string, n int, dir, name string) []string {
	t.Helper()
	ctx, cancel := testContext(t)
	defer cancel()
	var outs []string
	var procs []*stage
	for i := range n {
		out := filepath.Join(dir, fmt.Sprintf("%s-%d.jsonl", name, i))
		outs = append(outs, out)
		procs = append(procs, startStage(t, ctx, fmt.Sprintf(text, out)))
	}
	for i, p := range procs {
		p.wait(t, ctx, fmt.Sprintf("%s %d", name, i))
	}
	return windowRows(t, outs...)
}

// TestRepartitionedRerunReadsNewInput runs a bounded repartitioned
// statement twice in one group, with more input between the runs: the
// second run reads past the first run's done markers and its stage 1's
// last reports (which said the source ended, at the first run's end) and
// writes the windows of the new input.
func TestRepartitionedRerunReadsNewInput(t *testing.T) {
	t.Parallel()
	brokers := startCluster(t, "trades")
	trades := genTrades(t, 4000, 40)
	first, second := trades[:2000], trades[2000:]
	src := kafkaTrades(brokers, "group.id", "again", "session.timeout.ms", "6000")
	text := fmt.Sprintf(perSymbolWindow, src, "%s")
	dir := t.TempDir()
	produce(t, brokers, "trades", keyBy(first, byTrader))
	sameLines(t, "windows of the first run", runStages(t, text, 2, dir, "first"), singleProcess(t, first))
	produce(t, brokers, "trades", keyBy(second, byTrader))
	sameLines(t, "windows of the second run", runStages(t, text, 2, dir, "second"), singleProcess(t, second))
}

// TestRepartitionedJobReportsBatches: the batch callback (SetOnBatch, the
// server's per-partition metrics) is called by the workers of stage 2,
// which run the statement, for every record it processes.
func TestRepartitionedJobReportsBatches(t *testing.T) {
	t.Parallel()
	brokers := startCluster(t, "trades")
	trades := genTrades(t, 2000, 40)
	produce(t, brokers, "trades", keyBy(trades, byTrader))
	ctx, cancel := testContext(t)
	defer cancel()
	out := filepath.Join(t.TempDir(), "out.jsonl")
	j := prepare(t, ctx, fmt.Sprintf(perSymbolWindow, kafkaTrades(brokers, "group.id", "batches"), out), runner.Options{Partitions: 2, UntilEnd: true})
	if j.Plan.Repartition == nil {
		t.Fatal("not repartitioned")
	}
	var records, outside atomic.Int64
	j.SetOnBatch(func(partition, n int, _ time.Duration) {
		if partition < 0 || partition >= j.Plan.Partitions {
			outside.Add(1)
		}
		records.Add(int64(n))
	})
	if _, err := runJob(t, ctx, j); err != nil {
		t.Fatal(err)
	}
	// a rebalance as the stages join makes stage 2 read some records again
	if n := records.Load(); n < int64(len(trades)) || outside.Load() > 0 {
		t.Errorf("batches of %d records reported (%d outside the job's %d partitions), want at least the %d records read",
			n, outside.Load(), j.Plan.Partitions, len(trades))
	}
}

// groupWatch observes a kfake cluster's group members (those that
// heartbeat, and which of them join again) and holds every fetch until
// released.
type groupWatch struct {
	mu      sync.Mutex
	beating map[string]bool // members seen heartbeating
	watch   map[string]bool // members whose next join closes rejoin
	rejoin  chan struct{}
	release chan struct{} // closed: fetches go on
	held    bool
}

// watchGroup starts observing c's members and holding its fetches.
func watchGroup(c *kfake.Cluster) *groupWatch {
	w := &groupWatch{beating: map[string]bool{}, release: make(chan struct{}), held: true}
	c.ControlKey(int16(kmsg.Heartbeat), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		w.mu.Lock()
		w.beating[req.(*kmsg.HeartbeatRequest).MemberID] = true
		w.mu.Unlock()
		return nil, nil, false
	})
	c.ControlKey(int16(kmsg.JoinGroup), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		w.mu.Lock()
		if id := req.(*kmsg.JoinGroupRequest).MemberID; w.watch[id] && w.rejoin != nil {
			close(w.rejoin)
			w.rejoin = nil
		}
		w.mu.Unlock()
		return nil, nil, false
	})
	c.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		w.mu.Lock()
		held := w.held
		w.mu.Unlock()
		if held {
			// franz-go fetches on connections of their own: nothing
			// else waits behind a held fetch
			c.SleepControl(func() { <-w.release })
		}
		return nil, nil, false
	})
	return w
}

// members returns how many members heartbeated so far.
func (w *groupWatch) members() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.beating)
}

// rejoined returns a channel closed once one of the members that
// heartbeated so far joins again (a rebalance).
func (w *groupWatch) rejoined() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.watch = maps.Clone(w.beating)
	ch := make(chan struct{})
	w.rejoin = ch
	return ch
}

// fetch lets the fetches held and later ones go on.
func (w *groupWatch) fetch() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.held {
		w.held = false
		close(w.release)
	}
}

// TestRepartitionedRunAgreesOnItsEnd runs a bounded repartitioned
// statement in two processes of one group, the topic growing between
// their starts: the second process takes the end the group agreed when
// the first started (not the end it listed itself, whose records past the
// first's end no one else would read), both end, and together they write
// the one-process windows of the input up to that end.
func TestRepartitionedRunAgreesOnItsEnd(t *testing.T) {
	t.Parallel()
	c := kafkatest.Cluster(t, kfake.NumBrokers(3), kfake.SeedTopics(kafkaPartitions, "trades"))
	brokers := strings.Join(c.ListenAddrs(), ",")
	trades := genTrades(t, 4000, 40)
	first, later := trades[:2000], trades[2000:]
	produce(t, brokers, "trades", keyBy(first, byTrader))
	ctx, cancel := testContext(t)
	defer cancel()
	text := fmt.Sprintf(perSymbolWindow, kafkaTrades(brokers, "group.id", "agreed", "session.timeout.ms", "6000"), "%s")
	dir := t.TempDir()
	outs := []string{filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")}
	a := prepareStage(t, ctx, fmt.Sprintf(text, outs[0]), nil)
	b := prepareStage(t, ctx, fmt.Sprintf(text, outs[1]), nil)

	// The first process lists the source's end and joins the group (both
	// stages) but reads nothing until the second one's joining made it
	// join again: the run cannot end before the second is in it.
	group := watchGroup(c)
	a.start()
	waitFor(t, "both stages of the first process in the group", func() bool { return group.members() == 2 })
	rejoined := group.rejoined()
	produce(t, brokers, "trades", keyBy(later, byTrader))
	b.start()
	select {
	case <-rejoined:
	case <-ctx.Done():
		t.Fatal("the second process's joining did not make the first join again")
	}
	group.fetch()
	a.wait(t, ctx, "a")
	b.wait(t, ctx, "b")
	sameLines(t, "windows of two processes started before and after the topic grew", windowRows(t, outs...), singleProcess(t, first))
}

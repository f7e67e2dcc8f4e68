package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/runner"
)

// runStages runs the statement text (with %s for the sink's path) in n
// processes of one group to the end of the source and returns the window
// rows they wrote.
func runStages(t *testing.T, text string, n int, dir, name string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
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
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
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
	if _, err := j.Run(ctx); err != nil {
		t.Fatal(err)
	}
	// a rebalance as the stages join makes stage 2 read some records again
	if n := records.Load(); n < int64(len(trades)) || outside.Load() > 0 {
		t.Errorf("batches of %d records reported (%d outside the job's %d partitions), want at least the %d records read",
			n, outside.Load(), j.Plan.Partitions, len(trades))
	}
}

// gateFetch is a kgo hook that holds a process's first read of topic
// trades until open is closed; hit is closed once it holds it.
type gateFetch struct {
	once      *sync.Once
	hit, open chan struct{}
}

// OnFetchRecordUnbuffered implements kgo.HookFetchRecordUnbuffered.
func (g gateFetch) OnFetchRecordUnbuffered(r *kgo.Record, polled bool) {
	if polled && r.Topic == "trades" {
		g.once.Do(func() { close(g.hit) })
		<-g.open
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
	brokers := startCluster(t, "trades")
	trades := genTrades(t, 4000, 40)
	first, later := trades[:2000], trades[2000:]
	// in small batches, which the first process fetches one at a time:
	// it reads part of its input before the rebalance the second's
	// joining starts, and does not finish the run before that ends
	for i := 0; i < len(first); i += 25 {
		produce(t, brokers, "trades", keyBy(first[i:i+25], byTrader))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const group = "agreed"
	text := fmt.Sprintf(perSymbolWindow, kafkaTrades(brokers, "group.id", group, "session.timeout.ms", "6000"), "%s")
	dir := t.TempDir()
	outs := []string{filepath.Join(dir, "a.jsonl"), filepath.Join(dir, "b.jsonl")}

	// the first process reads (it listed the source's end and joined),
	// and holds its first record until the second is in the group: the
	// run is still going when the second joins
	gate := gateFetch{once: &sync.Once{}, hit: make(chan struct{}), open: make(chan struct{})}
	a := prepareStage(t, ctx, fmt.Sprintf(text, outs[0]), func(string) []kgo.Opt {
		return []kgo.Opt{kgo.WithHooks(gate), kgo.FetchMaxPartitionBytes(1)}
	})
	a.start()
	select {
	case <-gate.hit:
	case <-ctx.Done():
		t.Fatal("the first process read nothing")
	}
	produce(t, brokers, "trades", keyBy(later, byTrader))
	b := startStage(t, ctx, fmt.Sprintf(text, outs[1]))
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	waitFor(t, "the second process joins the group", func() bool {
		groups, err := kadm.NewClient(cl).DescribeGroups(ctx, group)
		return err == nil && len(groups[group].Members) > 2 // each process: stage 1 and stage 2
	})
	close(gate.open)
	a.wait(t, ctx, "a")
	b.wait(t, ctx, "b")
	sameLines(t, "windows of two processes started before and after the topic grew", windowRows(t, outs...), singleProcess(t, first))
}

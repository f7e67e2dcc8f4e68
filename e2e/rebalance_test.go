package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicesql/sluice/job"
	"github.com/sluicesql/sluice/plan"
	"github.com/sluicesql/sluice/runner"
)

// member is one job running as a consumer-group member until cancelled.
type member struct {
	in   atomic.Int64 // records in, from the progress reports
	stop context.CancelFunc
	done chan struct{}
	sum  *job.Summary
	err  error
	out  string
	plan *plan.Plan // the plan the job was prepared with
}

func startMember(t *testing.T, ctx context.Context, text, out string) *member {
	t.Helper()
	m := &member{done: make(chan struct{}), out: out}
	runCtx, stop := context.WithCancel(ctx)
	m.stop = stop
	j := prepare(t, runCtx, text, runner.Options{Partitions: 2, Progress: func(s *job.Summary) { m.in.Store(s.Total.In) }})
	m.plan = j.Plan
	go func() {
		defer close(m.done)
		m.sum, m.err = j.Run(runCtx)
	}()
	return m
}

// finish cancels the member's job and waits until it has drained, flushed
// and committed.
func (m *member) finish(t *testing.T) {
	t.Helper()
	m.stop()
	ended(t, m.done, "the member's job")
	if m.err != nil {
		t.Fatalf("job: %v", m.err)
	}
	checkBalance(t, m.sum)
}

// TestRebalanceBetweenJobs runs two jobs in one consumer group over one
// topic while it is being written: the second joins mid-stream, the group
// moves partitions from the first to it, and the union of their outputs
// holds every record.
func TestRebalanceBetweenJobs(t *testing.T) {
	t.Parallel()
	const n = 20000
	brokers := startCluster(t, "trades")
	trades := genTrades(t, n, 50)
	msgs := keyBy(trades, byTrader)
	where := places(msgs)
	dir := t.TempDir()
	stmt := func(out string) string {
		return fmt.Sprintf("CREATE STREAM out AS SELECT _PARTITION AS p, _OFFSET AS o, trader_id FROM trades "+
			"WITH (%s, 'out.type'='file_sink', 'out.path'='%s', 'commit.interval'='20ms')",
			kafkaTrades(brokers, "group.id", "pair"), out)
	}
	ctx, cancel := testContext(t)
	defer cancel()

	produce(t, brokers, "trades", msgs[:2000])
	a := startMember(t, ctx, stmt(filepath.Join(dir, "a.jsonl")), filepath.Join(dir, "a.jsonl"))
	waitFor(t, "job a commits", func() bool {
		return committedSum(ctx, brokers, "pair") > 0
	})
	b := startMember(t, ctx, stmt(filepath.Join(dir, "b.jsonl")), filepath.Join(dir, "b.jsonl"))
	// Keep writing slowly until the group has given job b partitions and it
	// has read from them, then write the rest at once.
	next := 2000
	for b.in.Load() == 0 {
		if next >= n {
			t.Fatal("job b read nothing while the whole topic was written: no rebalance")
		}
		produce(t, brokers, "trades", msgs[next:next+50])
		next += 50
		time.Sleep(25 * time.Millisecond)
	}
	produce(t, brokers, "trades", msgs[next:])
	waitFor(t, "the group commits the whole topic", func() bool {
		return committedSum(ctx, brokers, "pair") == n
	})
	a.finish(t)
	b.finish(t)

	seen := map[at]int{}
	for _, m := range []*member{a, b} {
		for _, r := range readRows(t, m.out) {
			seen[at{r.P, r.O}]++
		}
		if m.sum.Total.In == 0 {
			t.Errorf("job with output %s read nothing", m.out)
		}
	}
	dups := 0
	for _, w := range where {
		if seen[w] == 0 {
			t.Errorf("record at partition %d offset %d is in neither job's output", w.p, w.o)
		}
		dups += max(seen[w]-1, 0)
	}
	if len(seen) != n {
		t.Errorf("outputs hold %d distinct records, want %d", len(seen), n)
	}
	t.Logf("job a read %d, job b read %d, %d duplicates (b joined after %d records were written)",
		a.sum.Total.In, b.sum.Total.In, dups, next)
}

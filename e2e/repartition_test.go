package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/internal/kafkatest"
	"github.com/sluicesql/sluice/job"
	"github.com/sluicesql/sluice/runner"
	"github.com/sluicesql/sluice/sql"
)

// perSymbolWindow is the unaligned windowed GROUP BY of the repartition
// tests: the topic is keyed by trader_id, the statement groups by symbol.
// %s is the source's WITH properties and %s the sink's path.
const perSymbolWindow = `CREATE STREAM per_symbol AS
SELECT symbol, _WINDOW_START AS w, COUNT(*) AS n, SUM(quantity) AS qty
FROM trades
GROUP BY symbol
WINDOW TUMBLING(trade_time, INTERVAL '100' MILLISECOND)
EMIT FINAL
WITH (%s, 'per_symbol.type'='file_sink', 'per_symbol.path'='%s', 'commit.interval'='50ms')`

// stage is one process running a repartitioned statement to the end of its
// bounded source.
type stage struct {
	job    *runner.Job
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	sum    *job.Summary
	err    error
	net    *kafkatest.Cutter // its connections (startStageOn), cut by kill
}

// startStage starts a process running the repartitioned statement text.
func startStage(t *testing.T, ctx context.Context, text string) *stage {
	t.Helper()
	s := prepareStage(t, ctx, text, nil)
	s.start()
	return s
}

// prepareStage prepares a process running the repartitioned statement
// text, with opts (nil: none) giving the options of its Kafka clients by
// their name (runner.Options.KafkaOpts), and does not start it: it has
// listed where its source ends but not yet joined the group.
func prepareStage(t *testing.T, ctx context.Context, text string, opts func(client string) []kgo.Opt) *stage {
	t.Helper()
	s := &stage{done: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(ctx)
	o := runner.Options{Partitions: 2, UntilEnd: true}
	if opts != nil {
		o.KafkaOpts = func(_, client string) []kgo.Opt { return opts(client) }
	}
	s.job = prepare(t, s.ctx, text, o)
	if s.job.Plan.Repartition == nil {
		t.Fatalf("statement not repartitioned:\n%s", text)
	}
	return s
}

// start runs the prepared process.
func (s *stage) start() {
	go func() {
		defer close(s.done)
		s.sum, s.err = s.job.Run(s.ctx)
	}()
}

// stop cancels the process and waits for it to end (ended).
func (s *stage) stop(t *testing.T, name string) {
	t.Helper()
	s.cancel()
	ended(t, s.done, "process "+name)
}

// kill kills the process as kill -9 does: its connections are cut at
// once (no leave, no heartbeat, no commit gets out) and its run is
// cancelled. It does not wait for the run to end, since nothing waits for
// a killed process: what the run does as it winds down reaches Kafka no
// more, but may wait for answers that cannot come (its drain timeout,
// then aborting its produce requests, up to 5s; the done markers of a
// bounded run get 5s: TestStopWhileMarkingDoneIsBounded). The test waits
// for that end as it ends, before its cluster closes, failing at the
// test's deadline (ended).
func (s *stage) kill(t *testing.T, name string) {
	t.Helper()
	s.net.Kill()
	s.cancel()
	t.Cleanup(func() { ended(t, s.done, "process "+name+" (killed)") })
}

// wait waits for the process to end. One still running shortly before
// ctx's deadline fails the test with every goroutine's stack, taken while
// the processes are stuck (their context has not ended yet).
func (s *stage) wait(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	endedWithin(t, hangAfter(ctx), s.done, "process "+name)
	if s.err != nil {
		t.Fatalf("process %s: %v", name, s.err)
	}
}

// windowRows reads the per_symbol rows of the files and returns them
// deduplicated (windowLines).
func windowRows(t *testing.T, paths ...string) []string {
	t.Helper()
	var lines []string
	for _, p := range paths {
		lines = append(lines, readLines(t, p)...)
	}
	return windowLines(t, lines)
}

// windowLines checks that no (symbol, window) has two different rows (a
// row written again after a rebalance is the same row: at-least-once) and
// returns the distinct rows sorted.
func windowLines(t *testing.T, lines []string) []string {
	t.Helper()
	return distinctRows(t, lines, func(line string) string {
		var r struct {
			Symbol string          `json:"symbol"`
			W      json.RawMessage `json:"w"`
		}
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		return "window " + r.Symbol + "@" + string(r.W)
	})
}

// distinctRows returns lines without repeats, sorted, failing the test when
// two lines of one key (key(line)) differ: a partial result (a row written
// again after a rebalance is the same row: at-least-once).
func distinctRows(t *testing.T, lines []string, key func(line string) string) []string {
	t.Helper()
	seen := map[string]string{}
	for _, line := range lines {
		k := key(line)
		if old, ok := seen[k]; ok && old != line {
			t.Errorf("%s has two rows: %s and %s (a partial result)", k, old, line)
		}
		seen[k] = line
	}
	out := make([]string, 0, len(seen))
	for _, l := range seen {
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

// singleProcess runs the statement over the trades in a file and returns
// its rows sorted: the answer every group of processes must give.
func singleProcess(t *testing.T, trades []trade) []string {
	t.Helper()
	return singleProcessOf(t, perSymbolWindow, trades)
}

// singleProcessOf is singleProcess for the statement stmt (formatted as
// perSymbolWindow is).
func singleProcessOf(t *testing.T, stmt string, trades []trade) []string {
	t.Helper()
	dir := t.TempDir()
	in := writeTrades(t, dir, trades)
	out := filepath.Join(dir, "want.jsonl")
	runToEnd(t, fmt.Sprintf(stmt, fmt.Sprintf("'trades.type'='file_source', 'trades.path'='%s'", in), out))
	want := readLines(t, out)
	slices.Sort(want)
	return want
}

// TestRepartitionedWindowsAcrossProcesses runs an unaligned windowed GROUP
// BY in three processes of one consumer group over 8 partitions keyed by
// another column: each process repartitions what it reads through the
// internal topic, and together they write exactly the windows one process
// writes. With more processes than the topic has partitions
// ('repartition.partitions'='2') the group gives one process none, and it
// ends once the others finished the run (their done markers committed)
// instead of waiting for ever.
func TestRepartitionedWindowsAcrossProcesses(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, props string }{
		{"three", ""},
		{"more-processes-than-partitions", "'repartition.partitions'='2', "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			brokers := startCluster(t, "trades")
			trades := genTrades(t, 6000, 40)
			produce(t, brokers, "trades", keyBy(trades, byTrader))
			want := singleProcess(t, trades)
			src := kafkaTrades(brokers, "group.id", "g", "session.timeout.ms", "6000")
			text := strings.Replace(fmt.Sprintf(perSymbolWindow, src, "%s"), "'commit.interval'", tt.props+"'commit.interval'", 1)
			sameLines(t, "windows of three processes", runStages(t, text, 3, t.TempDir(), "p"), want)
		})
	}
}

// startStageOn is startStage with the process's Kafka connections made
// through net, its clients given the options more.
func startStageOn(t *testing.T, ctx context.Context, text string, net *kafkatest.Cutter, more ...kgo.Opt) *stage {
	t.Helper()
	return startStageWith(t, ctx, text, net, nil, more...)
}

// startStageWith is startStageOn with onBatch, if set, called after each
// batch stage 2 processes (runner.Job.SetOnBatch).
func startStageWith(t *testing.T, ctx context.Context, text string, net *kafkatest.Cutter, onBatch func(partition, records int, took time.Duration), more ...kgo.Opt) *stage {
	t.Helper()
	s := prepareStage(t, ctx, text, func(string) []kgo.Opt { return append([]kgo.Opt{kgo.Dialer(net.Dial)}, more...) })
	s.net = net
	if onBatch != nil {
		s.job.SetOnBatch(onBatch)
	}
	s.start()
	return s
}

// slowed slows the processes given its onBatch by 200µs a record, so that
// their run is still under way when the test acts on it, and counts the
// records they processed.
type slowed struct{ records atomic.Int64 }

// onBatch counts and sleeps (runner.Job.SetOnBatch).
func (s *slowed) onBatch(_, n int, _ time.Duration) {
	s.records.Add(int64(n))
	time.Sleep(time.Duration(n) * 200 * time.Microsecond)
}

// wait waits until n records were processed, failing the test at its
// deadline (waitFor).
func (s *slowed) wait(t *testing.T, n int64) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d records processed", n), func() bool { return s.records.Load() >= n })
}

// TestRepartitionedWindowsSurviveKillAndJoin runs the unaligned windowed
// GROUP BY in three processes writing to one Kafka topic; mid-run one is
// killed (its connections cut at once, as by kill -9: nothing drains,
// nothing commits) or stopped, and restarted, and a fourth process joins.
// The group moves whole repartition partitions; whoever takes one replays
// it from its committed offset, skipping the records of windows already
// written, and stage 1's records sent again after the kill are recognised
// by their source offsets: the windows written are exactly one process's,
// some more than once (at-least-once), none with a partial count. A
// SLIDING window's record replayed for its open windows stays out of the
// ones written before the kill. The survivors purge the topic as they
// commit, and never past a committed offset: whoever resumes a partition
// there finds every record it replays.
func TestRepartitionedWindowsSurviveKillAndJoin(t *testing.T) {
	t.Parallel()
	sliding := strings.Replace(perSymbolWindow, "TUMBLING(trade_time, INTERVAL '100' MILLISECOND)",
		"SLIDING(trade_time, INTERVAL '300' MILLISECOND, INTERVAL '100' MILLISECOND)", 1)
	for _, tt := range []struct {
		name  string
		crash bool
		stmt  string
	}{{"kill", true, perSymbolWindow}, {"stop", false, perSymbolWindow}, {"sliding-kill", true, sliding}} {
		crash := tt.crash
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			brokers := startCluster(t, "trades", "windows")
			trades := genTrades(t, 12000, 40)
			produce(t, brokers, "trades", keyBy(trades, byTrader))
			want := singleProcessOf(t, tt.stmt, trades)
			ctx, cancel := testContext(t)
			defer cancel()
			text := strings.Replace(fmt.Sprintf(tt.stmt, kafkaTrades(brokers, "group.id", "g", "session.timeout.ms", "6000"), "-"),
				"'per_symbol.type'='file_sink', 'per_symbol.path'='-'",
				fmt.Sprintf("'per_symbol.type'='kafka_sink', 'per_symbol.topic.name'='windows', 'per_symbol.bootstrap.servers'='%s'", brokers), 1)
			victimText := text
			if crash {
				// a killed process drains nothing: do not wait for it
				victimText = strings.Replace(text, "'commit.interval'", "'drain.timeout'='1s', 'commit.interval'", 1)
			}
			procs := []*stage{startStageOn(t, ctx, victimText, &kafkatest.Cutter{}), startStageOn(t, ctx, text, &kafkatest.Cutter{}), startStageOn(t, ctx, text, &kafkatest.Cutter{})}
			waitWithin(t, hangAfter(ctx), "the group commits on the repartition topic", func() bool {
				offs, err := groupOffsets(ctx, brokers, "g", "g-per_symbol-repartition")
				return err == nil && len(offs) > 0
			})
			purge := watchPurge(t, ctx, brokers, "g", "g-per_symbol-repartition")
			var atKill map[int32]int64
			if crash {
				procs[0].kill(t, "0")
				atKill = purge.sample(ctx)
			} else {
				atKill = purge.sample(ctx)
				procs[0].stop(t, "0")
				if procs[0].err != nil {
					t.Fatalf("stopped process: %v", procs[0].err)
				}
			}
			procs = append(procs[1:], startStageOn(t, ctx, text, &kafkatest.Cutter{}), startStageOn(t, ctx, text, &kafkatest.Cutter{}))
			for i, p := range procs {
				p.wait(t, ctx, fmt.Sprint(i+1))
			}
			if !purge.end(t, atKill) && crash {
				t.Error("no repartition partition was purged after the kill: the test checks no purge")
			}
			var lines []string
			for _, r := range readTopic(t, brokers, "windows") {
				lines = append(lines, string(r.Value))
			}
			sameLines(t, "windows", windowLines(t, lines), want)
		})
	}
}

// purgeWatch samples a repartition topic while its group runs: the start
// of each partition's log, then the group's committed offset of it. A
// purge past a partition's committed offset would delete records that
// whoever resumes the partition replays from there (the open windows'
// records: a commit stays at the oldest record an open window holds).
type purgeWatch struct {
	brokers, group, topic string
	stop, done            chan struct{}

	mu     sync.Mutex
	breach string // the first partition seen purged past its commit
}

// watchPurge samples topic, read by group, until end.
func watchPurge(t *testing.T, ctx context.Context, brokers, group, topic string) *purgeWatch {
	t.Helper()
	w := &purgeWatch{brokers: brokers, group: group, topic: topic, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			select {
			case <-w.stop:
				return
			case <-ctx.Done():
				return
			case <-time.After(20 * time.Millisecond):
				w.sample(ctx)
			}
		}
	}()
	return w
}

// sample reads where the topic's partitions start, then their committed
// offsets (which only move on), and returns the starts.
func (w *purgeWatch) sample(ctx context.Context) map[int32]int64 {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(w.brokers, ",")...))
	if err != nil {
		return nil
	}
	defer cl.Close()
	listed, err := kadm.NewClient(cl).ListStartOffsets(ctx, w.topic)
	if err != nil || listed.Error() != nil {
		return nil
	}
	committed, err := groupOffsets(ctx, w.brokers, w.group, w.topic)
	if err != nil {
		return nil
	}
	starts := map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) {
		starts[o.Partition] = o.Offset
		c, ok := committed[o.Partition]
		if o.Offset == 0 || (ok && c >= o.Offset) {
			return
		}
		w.mu.Lock()
		if w.breach == "" {
			w.breach = fmt.Sprintf("partition %d starts at %d, past the group's committed offset %d", o.Partition, o.Offset, c)
			if !ok {
				w.breach = fmt.Sprintf("partition %d starts at %d, and the group committed nothing there", o.Partition, o.Offset)
			}
		}
		w.mu.Unlock()
	})
	return starts
}

// end stops sampling, fails the test if a partition was purged past its
// commit, and reports whether one was purged since since (starts that
// sample returned).
func (w *purgeWatch) end(t *testing.T, since map[int32]int64) bool {
	t.Helper()
	close(w.stop)
	<-w.done
	now := w.sample(context.Background())
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.breach != "" {
		t.Errorf("repartition topic %s purged past a committed offset: %s", w.topic, w.breach)
	}
	for p, o := range now {
		if o > since[p] {
			return true
		}
	}
	return false
}

// TestRepartitionStaysOnceTopicExists: once a run of a statement in a group
// has repartitioned (its plan found the source's key unknown, say, on an
// empty topic), later runs of it in the group stay repartitioned even when
// they could run in one stage: records committed on the source may wait in
// the repartition topic, and only stage 2 reads them. Turning it off then
// is refused.
func TestRepartitionStaysOnceTopicExists(t *testing.T) {
	t.Parallel()
	brokers := startCluster(t, "trades")
	ctx := context.Background()
	stmt := func(extra string) string {
		return fmt.Sprintf("SELECT trader_id, COUNT(*) AS n FROM trades GROUP BY trader_id WITH (%s%s)",
			kafkaTrades(brokers, "group.id", "sticky"), extra)
	}
	first := prepare(t, ctx, stmt(""), runner.Options{})
	first.Discard()
	if first.Plan.Repartition == nil {
		t.Fatal("an unknown partition key in a group: not repartitioned")
	}
	second := prepare(t, ctx, stmt(", 'trades.partition.key'='trader_id'"), runner.Options{})
	second.Discard()
	if second.Plan.Repartition == nil {
		t.Error("the group's repartition topic exists, but the aligned statement was not repartitioned")
	}
	stmts, err := sql.Parse("e2e.sql", stmt(", 'repartition'='false'"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runner.Prepare(ctx, stmts[0], runner.Options{}); err == nil || !strings.Contains(err.Error(), "sticky-trades-repartition") {
		t.Errorf("'repartition'='false' with the group's repartition topic: err = %v, want it refused naming the topic", err)
	}
}

// lateWindows is a windowed count per symbol whose bound on disorder
// (50ms) is below disorderedTrades' disorder, so that some records are
// late. It takes the source's properties, the sink's, the commit
// interval, the lateness strategy and more properties (", ..." or "").
const lateWindows = `CREATE STREAM per_symbol AS
SELECT symbol, _WINDOW_START AS w, COUNT(*) AS n, SUM(quantity) AS qty
FROM trades
GROUP BY symbol
WINDOW TUMBLING(trade_time, INTERVAL '200' MILLISECOND)
EMIT FINAL
WITH (%s, %s, 'commit.interval'='%s', 'watermark.max_out_of_orderness'='50ms', 'late.data.strategy'='%s'%s)`

// TestRepartitionedLatenessAsOneProcess: with disordered event times and a
// bound smaller than the disorder, some records are late. Three processes
// judge each record against the watermark of its own source partition,
// carried through the repartition topic, so they drop exactly the records
// one process drops: the windows are the same.
func TestRepartitionedLatenessAsOneProcess(t *testing.T) {
	t.Parallel()
	q := fmt.Sprintf(lateWindows, "%s", "'per_symbol.type'='file_sink', 'per_symbol.path'='%s'", "50ms", "drop", "")
	brokers := startCluster(t, "trades")
	trades, _ := disorderedTrades(t, 8000, 40, 300)
	produce(t, brokers, "trades", keyBy(trades, byTrader))
	dir := t.TempDir()
	// one process, reading the same Kafka partitions (the lateness of a
	// record depends on the records before it in its partition)
	want, _ := oneProcessReference(t, func(path string) string { return fmt.Sprintf(q, kafkaTrades(brokers), path) }, 20, true)
	src := kafkaTrades(brokers, "group.id", "late")
	sameLines(t, "windows with late records dropped", runStages(t, fmt.Sprintf(q, src, "%s"), 3, dir, "p"), want)
}

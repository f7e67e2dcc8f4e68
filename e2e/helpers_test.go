package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connector/gen"
	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/internal/kafkatest"
	"github.com/sluicesql/sluice/job"
	"github.com/sluicesql/sluice/runner"
	"github.com/sluicesql/sluice/sql"
)

// kafkaPartitions is the partition count of every test topic.
const kafkaPartitions = 8

// startCluster starts an in-process 3-broker Kafka whose topics have 8
// partitions and returns its bootstrap servers, comma-separated.
func startCluster(t testing.TB, topics ...string) string {
	t.Helper()
	c := kafkatest.Cluster(t, kfake.NumBrokers(3), kfake.SeedTopics(kafkaPartitions, topics...))
	return strings.Join(c.ListenAddrs(), ",")
}

// trade is one generated trade: its JSON line and the text of its key columns.
type trade struct {
	line     []byte
	trader   string
	symbol   string
	quantity int64
}

// genTrades returns n deterministic trades from the built-in generator over
// keys traders, as the JSON lines 'sluice gen trades' writes.
func genTrades(t testing.TB, n int64, keys int) []trade {
	t.Helper()
	var buf bytes.Buffer
	if _, err := gen.WriteFile(&buf, gen.Options{Generator: "trades", Count: n, Keys: keys, Seed: 7}, "jsonl"); err != nil {
		t.Fatal(err)
	}
	var out []trade
	for _, line := range bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n")) {
		var f struct {
			Trader   json.Number `json:"trader_id"`
			Symbol   string      `json:"symbol"`
			Quantity int64       `json:"quantity"`
		}
		if err := json.Unmarshal(line, &f); err != nil {
			t.Fatalf("generated line %q: %v", line, err)
		}
		out = append(out, trade{line: line, trader: f.Trader.String(), symbol: f.Symbol, quantity: f.Quantity})
	}
	if int64(len(out)) != n {
		t.Fatalf("generated %d trades, want %d", len(out), n)
	}
	return out
}

// keyBy returns trades as Kafka messages keyed by key (nil: unkeyed).
func keyBy(trades []trade, key func(trade) string) []kafka.Message {
	msgs := make([]kafka.Message, len(trades))
	for i, tr := range trades {
		msgs[i].Value = tr.line
		if key != nil {
			msgs[i].Key = []byte(key(tr))
		}
	}
	return msgs
}

func byTrader(tr trade) string { return tr.trader }
func bySymbol(tr trade) string { return tr.symbol }

// produce writes msgs to topic with Kafka's default partitioner.
func produce(t testing.TB, brokers, topic string, msgs []kafka.Message) {
	t.Helper()
	ctx, cancel := testContext(t)
	defer cancel()
	if err := kafka.Produce(ctx, strings.Split(brokers, ","), topic, msgs...); err != nil {
		t.Fatal(err)
	}
}

// writeTrades writes the trades' JSON lines to a file in dir.
func writeTrades(t testing.TB, dir string, trades []trade) string {
	t.Helper()
	var buf bytes.Buffer
	for _, tr := range trades {
		buf.Write(tr.line)
		buf.WriteByte('\n')
	}
	path := filepath.Join(dir, "trades.jsonl")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// prepare parses one statement and prepares it with opts.
func prepare(t testing.TB, ctx context.Context, text string, opts runner.Options) *runner.Job {
	t.Helper()
	stmts, err := sql.Parse("e2e.sql", text)
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, text)
	}
	if len(stmts) != 1 {
		t.Fatalf("%d statements, want 1", len(stmts))
	}
	j, err := runner.Prepare(ctx, stmts[0], opts)
	if err != nil {
		t.Fatalf("prepare: %v\n%s", err, text)
	}
	return j
}

// runToEnd prepares and runs a statement whose Kafka sources stop at the
// end of what their topics hold, and fails the test on error.
func runToEnd(t testing.TB, text string) (*runner.Job, *job.Summary) {
	t.Helper()
	ctx, cancel := testContext(t)
	defer cancel()
	j := prepare(t, ctx, text, runner.Options{UntilEnd: true, Partitions: 4})
	sum, err := runJob(t, ctx, j)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, text)
	}
	checkBalance(t, sum)
	return j, sum
}

// checkBalance asserts the coordinator's conservation law: every record in
// was accepted, filtered, dead-lettered or dropped as late, per partition
// and in total.
func checkBalance(t testing.TB, s *job.Summary) {
	t.Helper()
	for i, p := range append(s.Partitions, s.Total) {
		if p.In != p.Accepted+p.Filtered+p.Limited+p.DeadLettered+p.LateDropped {
			name := fmt.Sprintf("partition %d", i)
			if i == len(s.Partitions) {
				name = "total"
			}
			t.Errorf("%s: in %d != accepted %d + filtered %d + dead-lettered %d + late %d",
				name, p.In, p.Accepted, p.Filtered, p.DeadLettered, p.LateDropped)
		}
	}
}

// readLines returns the lines of a file, sorted.
func readLines(t testing.TB, path string) []string {
	t.Helper()
	lines := readLinesInOrder(t, path)
	slices.Sort(lines)
	return lines
}

// readLinesInOrder returns the lines of path in the order they were written.
func readLinesInOrder(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// sameLines fails the test when two sorted line sets differ, showing the first difference.
func sameLines(t testing.TB, what string, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	t.Errorf("%s: %d lines, want %d", what, len(got), len(want))
	missing, extra := lineDiff(got, want), lineDiff(want, got)
	for _, d := range []struct {
		what  string
		lines []string
	}{{"missing", missing}, {"not wanted", extra}} {
		for i, l := range d.lines {
			if i == 10 {
				t.Errorf("... %d more %s", len(d.lines)-i, d.what)
				break
			}
			t.Errorf("%s: %s", d.what, l)
		}
	}
}

// lineDiff returns the lines of want that got does not have.
func lineDiff(got, want []string) []string {
	have := map[string]int{}
	for _, l := range got {
		have[l]++
	}
	var out []string
	for _, l := range want {
		if have[l] > 0 {
			have[l]--
			continue
		}
		out = append(out, l)
	}
	return out
}

// groupOffsets returns the offsets group has committed for topic, per partition.
func groupOffsets(ctx context.Context, brokers, group, topic string) (map[int32]int64, error) {
	return groupOffsetsBy(ctx, brokers, group, topic, func(o kadm.Offset) (int64, error) { return o.At, nil })
}

// groupDone returns, per partition of topic, the offset before which
// group's commits say every record had its whole effect: the committed
// offset, or past it the skip of its checkpoint
// (sluice2:<watermark>:<read>:<skip>:<max event>), which a windowed job
// stores when its commit stands at a batch it read before that offset. A
// restart reads the records up to the skip only for their event times.
func groupDone(ctx context.Context, brokers, group, topic string) (map[int32]int64, error) {
	return groupOffsetsBy(ctx, brokers, group, topic, func(o kadm.Offset) (int64, error) {
		f := strings.Split(o.Metadata, ":")
		if f[0] != "sluice2" {
			return o.At, nil
		}
		if len(f) != 5 {
			return 0, fmt.Errorf("partition %d: checkpoint %q: want sluice2: and four fields", o.Partition, o.Metadata)
		}
		skip, err := strconv.ParseInt(f[3], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("partition %d: checkpoint %q: skip: %w", o.Partition, o.Metadata, err)
		}
		return max(o.At, skip), nil
	})
}

// groupOffsetsBy returns, per partition of topic that group committed an
// offset for, what at makes of its commit.
func groupOffsetsBy(ctx context.Context, brokers, group, topic string, at func(kadm.Offset) (int64, error)) (map[int32]int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	for p, o := range resp[topic] {
		if o.Err != nil || o.At < 0 {
			continue
		}
		if out[p], err = at(o.Offset); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// committedSum returns the sum of the offsets group committed on topic
// trades, or -1 when they cannot be fetched.
func committedSum(ctx context.Context, brokers, group string) int64 {
	return committedOn(ctx, brokers, group, "trades")
}

// committedOn returns the sum of the offsets group committed on topic, or
// -1 when they cannot be fetched (the group committed nothing yet, say).
func committedOn(ctx context.Context, brokers, group, topic string) int64 {
	c, err := groupOffsets(ctx, brokers, group, topic)
	if err != nil {
		return -1
	}
	var n int64
	for _, o := range c {
		n += o
	}
	return n
}

// testContext returns the context of a test's work, ending at
// testDeadline.
func testContext(t testing.TB) (context.Context, context.CancelFunc) {
	return context.WithDeadline(context.Background(), testDeadline(t))
}

// testDeadline is when a test's waits give up: maxWait from now, or a
// minute before the test binary's deadline (go test -timeout) if that
// comes first. On a loaded machine a test takes the time it needs (the
// tests run several at once, under -race, beside other packages), while
// one that hangs fails with every goroutine's stack within maxWait rather
// than near the end of the binary's 30 minutes (or the whole binary at
// its timeout).
func testDeadline(t testing.TB) time.Time {
	d := time.Now().Add(maxWait)
	if tt, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if end, ok := tt.Deadline(); ok && end.Add(-time.Minute).Before(d) {
			d = end.Add(-time.Minute)
		}
	}
	return d
}

// maxWait bounds one wait of a test (testDeadline) and, when nothing else
// does, a wait for work bounded by a context with no deadline
// (hangAfter). A test that passes took at most 3 minutes under -race at
// load 15-20.
const maxWait = 10 * time.Minute

// untilDeadline is how long a test may still wait (testDeadline).
func untilDeadline(t testing.TB) time.Duration {
	return time.Until(testDeadline(t))
}

// waitFor polls cond every 10ms until it holds, failing the test at its
// deadline (untilDeadline).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	waitWithin(t, untilDeadline(t), what, cond)
}

// waitWithin is waitFor failing the test after d.
func waitWithin(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s; goroutines:\n%s", what, goroutines())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ended waits for done, closed as what ends (a job, a process or an
// application the test stopped), failing the test at its deadline
// (untilDeadline): one that hangs fails its test with every goroutine's
// stack rather than the whole package at go test's timeout.
func ended(t testing.TB, done <-chan struct{}, what string) {
	t.Helper()
	endedWithin(t, untilDeadline(t), done, what)
}

// endedWithin waits for done, closed as what ends, failing the test with
// every goroutine's stack after d.
func endedWithin(t testing.TB, d time.Duration, done <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-done:
		return // ended: d may be past already
	default:
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		t.Fatalf("%s did not end within %v; goroutines:\n%s", what, d, goroutines())
	}
}

// hangAfter is how long to wait for work bounded by ctx before calling it
// hung: until 5s before ctx's deadline, so that the stacks are taken while
// it hangs (the deadline would unwind it), or maxWait with none.
func hangAfter(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return time.Until(d) - 5*time.Second
	}
	return maxWait
}

// runJob runs j with ctx; a run still going as hangAfter(ctx) passes fails
// the test with every goroutine's stack.
func runJob(t testing.TB, ctx context.Context, j *runner.Job) (*job.Summary, error) {
	t.Helper()
	var sum *job.Summary
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		sum, err = j.Run(ctx)
	}()
	endedWithin(t, hangAfter(ctx), done, "the job")
	return sum, err
}

// goroutines returns the stack of every goroutine in the test binary, for
// a failure that waited on something that never happened.
func goroutines() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return string(buf[:n])
		}
		buf = make([]byte, 2*len(buf))
	}
}

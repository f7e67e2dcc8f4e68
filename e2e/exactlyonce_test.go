package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connector/gen"
	"github.com/sluicesql/sluice/connector/kafka"
)

// sluiceBinary builds cmd/sluice once for the tests that kill it.
var sluiceBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "sluice-e2e-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "sluice")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/sluicesql/sluice/cmd/sluice").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// startRun starts bin with args in dir and returns it, its output (stdout
// and stderr, complete once it exited) and the result of its Wait.
func startRun(t *testing.T, bin, dir string, args ...string) (*exec.Cmd, *bytes.Buffer, <-chan error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOTRACEBACK=all")
	out := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return cmd, out, done
}

// killAfter runs bin with args in dir and kills it with SIGKILL after d;
// it reports whether it killed it (false: the run ended well before).
func killAfter(t *testing.T, bin, dir string, d time.Duration, args ...string) bool {
	t.Helper()
	cmd, out, done := startRun(t, bin, dir, args...)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run ended before its kill: %v\n%s", err, out.String())
		}
		return false
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		return true
	}
}

// runToCompletion runs bin with args in dir until it ends and fails the
// test when it fails. A run still going at the test's deadline is hung: it gets
// SIGQUIT, and the failure shows every goroutine's stack.
func runToCompletion(t *testing.T, bin, dir string, args ...string) {
	t.Helper()
	cmd, out, done := startRun(t, bin, dir, args...)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run %q: %v\n%s", args, err, out.String())
		}
	case <-time.After(untilDeadline(t)):
		cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		t.Fatalf("run %q did not end in 3 minutes; its goroutines:\n%s", args, out.String())
	}
}

// crashKills is how many times each crash test kills the job: 4, or
// SLUICE_KILLS for a longer run.
func crashKills(t *testing.T) int {
	if v := os.Getenv("SLUICE_KILLS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("SLUICE_KILLS=%q: %v", v, err)
		}
		return n
	}
	return 4
}

// TestCrashesExactlyOnce runs a Kafka -> Kafka filter and a windowed GROUP BY
// (EMIT FINAL) on 8 partitions as a separate process, kills it with SIGKILL
// at random moments, then lets a last run finish, and reads the output topic
// read_committed: with exactly-once nothing is missing and nothing is
// duplicated; with at-least-once nothing is missing and the duplicates are
// reported.
func TestCrashesExactlyOnce(t *testing.T) {
	bin, err := sluiceBinary()
	if err != nil {
		t.Fatal(err)
	}
	const n = 20000
	// Disordered event times (up to 500ms, within the 1s bound) put records
	// of a window that has fired after records of one still open, so a
	// restart reads some of them again.
	trades, times := disorderedTrades(t, n, 50, 500)
	msgs := keyBy(trades, byTrader)
	where := places(msgs)
	kills := crashKills(t)
	queries := []struct{ name, query string }{
		{"filter", "SELECT _PARTITION AS p, _OFFSET AS o, trader_id FROM trades WHERE quantity > 100"},
		{"window", "SELECT trader_id, _WINDOW_START AS ws, COUNT(*) AS n FROM trades GROUP BY trader_id " +
			"WINDOW TUMBLING(trade_time, INTERVAL '1' SECOND) EMIT FINAL"},
	}
	for _, q := range queries {
		for _, guarantee := range []string{"exactly_once", "at_least_once"} {
			t.Run(q.name+"/"+guarantee, func(t *testing.T) {
				t.Parallel()
				brokers := startCluster(t, "trades")
				stmt := func(extra ...string) string {
					src := append([]string{"group.id", "crash", "group.instance.id", "worker-1"}, extra...)
					return fmt.Sprintf("CREATE STREAM out AS %s WITH (%s, 'out.type'='kafka_sink', 'out.bootstrap.servers'='%s', "+
						"'commit.interval'='100ms', 'watermark.max_out_of_orderness'='1s', 'processing.guarantee'='%s')",
						q.query, kafkaTrades(brokers, src...), brokers, guarantee)
				}
				rng := rand.New(rand.NewPCG(uint64(kills), 7))
				killed := 0
				// The input arrives while the killed runs read it; the last
				// run reads to the end of it all.
				producing := produceDuring(t, brokers, msgs, kills, nil)
				dir := t.TempDir() // the runs' working directory, where a dead-letter file would go
				for range kills {
					if killAfter(t, bin, dir, time.Duration(200+rng.IntN(1300))*time.Millisecond, "run", "-q", "-e", stmt()) {
						killed++
					}
				}
				producing.Wait()
				runToCompletion(t, bin, dir, "run", "-q", "-e", stmt("stop.at", "end"))
				rows := readCommitted(t, brokers, "out")
				var missing, dups int
				if q.name == "filter" {
					missing, dups = countFilter(t, trades, where, rows)
				} else {
					missing, dups = countWindows(t, trades, times, rows)
				}
				t.Logf("%s, %s: %d kills, %d rows read committed, %d missing, %d duplicates", q.name, guarantee, killed, len(rows), missing, dups)
				if missing > 0 {
					t.Errorf("%d results missing", missing)
				}
				if guarantee == "exactly_once" && dups > 0 {
					t.Errorf("%d duplicate results under exactly-once", dups)
				}
				// Nothing is late, so nothing is dead-lettered: records read
				// again after a restart whose windows have fired are skipped,
				// not taken for late ones.
				if guarantee == "exactly_once" {
					if dead, err := os.ReadFile(filepath.Join(dir, ".sluice", "dlq", "out.dlq.jsonl")); err == nil && len(dead) > 0 {
						t.Errorf("dead letters under exactly-once:\n%.600s", dead)
					}
				}
			})
		}
	}
}

// produceDuring produces msgs to topic trades in batches of 200 paced
// over about kills × 850ms, while the runs a test kills read them, each
// batch, from message i on, after also(i) (nil: nothing); wait for it to
// end on the WaitGroup it returns.
func produceDuring(t *testing.T, brokers string, msgs []kafka.Message, kills int, also func(i int)) *sync.WaitGroup {
	var producing sync.WaitGroup
	producing.Add(1)
	go func() {
		defer producing.Done()
		const batch = 200
		n := len(msgs)
		pause := time.Duration(kills) * 850 * time.Millisecond / time.Duration(max(n/batch, 1))
		for i := 0; i < n; i += batch {
			if also != nil {
				also(i)
			}
			produce(t, brokers, "trades", msgs[i:min(i+batch, n)])
			time.Sleep(pause)
		}
	}()
	return &producing
}

// disorderedTrades returns n trades over keys traders whose event times
// run up to disorder ms behind their order, with those times (Unix ms).
func disorderedTrades(t *testing.T, n int64, keys int, disorder int64) ([]trade, []int64) {
	var buf bytes.Buffer
	if _, err := gen.WriteFile(&buf, gen.Options{Generator: "trades", Count: n, Keys: keys, Seed: 7, DisorderMs: disorder}, "jsonl"); err != nil {
		t.Fatal(err)
	}
	var trades []trade
	var times []int64
	for _, line := range bytes.Split(bytes.TrimSuffix(buf.Bytes(), []byte("\n")), []byte("\n")) {
		var f struct {
			Trader   json.Number `json:"trader_id"`
			Symbol   string      `json:"symbol"`
			Quantity int64       `json:"quantity"`
			Time     time.Time   `json:"trade_time"`
		}
		if err := json.Unmarshal(line, &f); err != nil {
			t.Fatalf("generated line %q: %v", line, err)
		}
		trades = append(trades, trade{line: line, trader: f.Trader.String(), symbol: f.Symbol, quantity: f.Quantity})
		times = append(times, f.Time.UnixMilli())
	}
	return trades, times
}

// sentinel is the key of the record readCommitted appends to each partition
// to know where the topic ends.
const sentinel = "~sluice-test-end~"

// readCommitted reads topic read_committed (readCommittedValues) and
// returns the output rows.
func readCommitted(t *testing.T, brokers, topic string) []outRow {
	t.Helper()
	var rows []outRow
	for _, v := range readCommittedValues(t, brokers, topic) {
		var row outRow
		if err := json.Unmarshal(v, &row); err != nil {
			t.Fatalf("row %q: %v", v, err)
		}
		rows = append(rows, row)
	}
	return rows
}

// readCommittedValues reads topic read_committed from the start to a
// sentinel it appends to each partition (after every transaction so far
// has ended) and returns the messages' values.
func readCommittedValues(t *testing.T, brokers, topic string) [][]byte {
	t.Helper()
	var values [][]byte
	for _, r := range readCommittedRecords(t, brokers, topic) {
		values = append(values, r.Value)
	}
	return values
}

// readCommittedRecords is readCommittedValues returning the records.
func readCommittedRecords(t *testing.T, brokers, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := testContext(t)
	defer cancel()
	seeds := strings.Split(brokers, ",")
	prod, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	for p := range int32(kafkaPartitions) {
		if err := prod.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Key: []byte(sentinel)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var recs []*kgo.Record
	ended := map[int32]bool{}
	for len(ended) < kafkaPartitions {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %d of %d partitions ended", topic, len(ended), kafkaPartitions)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if string(r.Key) == sentinel {
				ended[r.Partition] = true
				return
			}
			recs = append(recs, r)
		})
	}
	return recs
}

// countFilter counts the selected records missing from the filter's rows
// and the rows beyond one per record.
func countFilter(t *testing.T, trades []trade, where []at, rows []outRow) (missing, dups int) {
	return countRecords(t, trades, where, rows, func(tr trade) bool { return tr.quantity > 100 })
}

// countRecords counts the records that selected keeps missing from rows
// (each naming its record by its place) and the rows beyond one per
// record.
func countRecords(t *testing.T, trades []trade, where []at, rows []outRow, selected func(trade) bool) (missing, dups int) {
	seen := map[at]int{}
	for _, r := range rows {
		seen[at{r.P, r.O}]++
	}
	kept := 0
	for i, tr := range trades {
		if !selected(tr) {
			continue
		}
		kept++
		switch c := seen[where[i]]; {
		case c == 0:
			missing++
		case c > 1:
			dups += c - 1
		}
	}
	if len(seen) != kept {
		t.Errorf("rows hold %d distinct records, want the %d selected", len(seen), kept)
	}
	return missing, dups
}

// countWindows counts the (trader, window) groups with no row of their
// full count, and the rows beyond one per group.
func countWindows(t *testing.T, trades []trade, times []int64, rows []outRow) (missing, dups int) {
	return countWindowsBy(t, trades, times, rows, byTrader, func(r outRow) string { return fmt.Sprint(r.Trader) })
}

// countWindowsBy counts the groups of 1s windows by key (of a trade, and
// of the row written for its group) with no row of their full count, and
// the rows beyond one per group. The trades of an empty key count nowhere.
func countWindowsBy(t *testing.T, trades []trade, times []int64, rows []outRow, key func(trade) string, rowKey func(outRow) string) (missing, dups int) {
	type group struct {
		key string
		ws  int64 // window start, Unix ms
	}
	want := map[group]int64{}
	for i, tr := range trades {
		if k := key(tr); k != "" {
			want[group{k, times[i] - times[i]%1000}]++
		}
	}
	full, seen := map[group]bool{}, map[group]int{}
	for _, r := range rows {
		ws, err := time.Parse(time.RFC3339Nano, r.WS)
		if err != nil {
			t.Fatalf("window start %q: %v", r.WS, err)
		}
		g := group{rowKey(r), ws.UnixMilli()}
		if want[g] == 0 {
			t.Errorf("a row for %s window +%dms, which has no trades", g.key, g.ws)
		}
		seen[g]++
		if r.N == want[g] {
			full[g] = true
		}
	}
	for g := range want {
		if !full[g] {
			missing++
		}
		dups += max(seen[g]-1, 0)
	}
	return missing, dups
}

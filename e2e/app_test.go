package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/sluicesql/sluice/app"
	"github.com/sluicesql/sluice/job"
	"github.com/sluicesql/sluice/runner"
	"github.com/sluicesql/sluice/sql"
)

// startApp builds and starts the application of src; the returned counter
// holds the records read so far by the job called watch.
func startApp(t *testing.T, ctx context.Context, src, watch string) (*app.Run, *atomic.Int64) {
	t.Helper()
	stmts, err := sql.Parse("app.sql", src)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New("app.sql", src, stmts, nil)
	if err != nil {
		t.Fatal(err)
	}
	var in atomic.Int64
	hooks := app.Hooks{Progress: func(name string, s *job.Summary) {
		if name == watch {
			in.Store(s.Total.In)
		}
	}}
	run, err := a.Start(ctx, runner.Options{Partitions: 2, ProgressInterval: 5_000_000}, hooks)
	if err != nil {
		t.Fatalf("start: %v\n%s", err, src)
	}
	return run, &in
}

// waitApp waits for run, started with ctx, and fails the test on a job
// failure or once hangAfter(ctx) passes.
func waitApp(t *testing.T, ctx context.Context, run *app.Run) []app.Result {
	t.Helper()
	var results []app.Result
	var err error
	done := make(chan struct{})
	go func() {
		defer close(done)
		results, err = run.Wait()
	}()
	endedWithin(t, hangAfter(ctx), done, "the application")
	if err != nil {
		t.Fatal(err)
	}
	return results
}

// bigTrades returns the trade_time of every trade with quantity >= 500:
// the key each output line is checked by.
func bigTrades(trades []trade) map[string]bool {
	out := map[string]bool{}
	for _, tr := range trades {
		if tr.quantity >= 500 {
			out[tradeTime(string(tr.line))] = true
		}
	}
	return out
}

// tradeTime extracts the trade_time field of a JSON line.
func tradeTime(line string) string {
	_, rest, _ := strings.Cut(line, `"trade_time":`)
	v, _, _ := strings.Cut(rest, ",")
	return strings.Trim(v, `"}`)
}

// A statement writing a Kafka sink is read by the next one through the
// topic: the reader gets the writer's topic and brokers without repeating
// them.
func TestApplicationChainsThroughKafka(t *testing.T) {
	brokers := startCluster(t, "trades", "big")
	trades := genTrades(t, 4000, 50)
	produce(t, brokers, "trades", keyBy(trades, byTrader))
	out := filepath.Join(t.TempDir(), "big.jsonl")
	src := fmt.Sprintf(`CREATE STREAM big AS SELECT trader_id, quantity, trade_time FROM trades WHERE quantity >= 500
WITH ('trades.type'='kafka_source', 'trades.bootstrap.servers'='%[1]s', 'trades.group.id'='writer',
      'big.type'='kafka_sink', 'big.bootstrap.servers'='%[1]s');
CREATE STREAM copy AS SELECT trader_id, quantity, trade_time FROM big
WITH ('big.group.id'='reader', 'copy.type'='file_sink', 'copy.path'='%[2]s');`, brokers, out)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	want := bigTrades(trades)
	run, in := startApp(t, ctx, src, "copy")
	waitFor(t, "the reader to read every big trade from the topic", func() bool { return in.Load() >= int64(len(want)) })
	cancel()
	waitApp(t, ctx, run)
	got := map[string]bool{}
	for _, l := range readLines(t, out) {
		got[tradeTime(l)] = true
	}
	if len(got) != len(want) {
		t.Fatalf("the reader wrote %d distinct trades, want %d", len(got), len(want))
	}
}

// An application stopped in the middle of an in-process chain commits its
// Kafka source's offsets only for records whose rows reached the last
// job's flushed sink: run again from those offsets, it delivers the rest,
// so nothing is lost.
func TestStoppedInProcessChainLosesNothing(t *testing.T) {
	brokers := startCluster(t, "trades")
	trades := genTrades(t, 40000, 50)
	produce(t, brokers, "trades", keyBy(trades, byTrader))
	dir := t.TempDir()
	text := func(out string) string {
		return fmt.Sprintf(`CREATE STREAM big AS SELECT trader_id, quantity, trade_time FROM trades WHERE quantity >= 500
WITH ('trades.type'='kafka_source', 'trades.bootstrap.servers'='%s', 'trades.group.id'='chain', 'commit.interval'='10ms');
CREATE STREAM copy AS SELECT trader_id, quantity, trade_time FROM big
WITH ('copy.type'='file_sink', 'copy.path'='%s', 'commit.interval'='10ms');`, brokers, out)
	}
	want := bigTrades(trades)

	// first run: stopped once the last job has read some rows
	first := filepath.Join(dir, "first.jsonl")
	ctx, cancel := context.WithCancel(context.Background())
	run, in := startApp(t, ctx, text(first), "copy")
	waitFor(t, "the last job to read rows", func() bool { return in.Load() > 0 })
	cancel()
	waitApp(t, ctx, run)
	committed := committedSum(context.Background(), brokers, "chain")
	got := map[string]bool{}
	for _, l := range readLines(t, first) {
		got[tradeTime(l)] = true
	}
	t.Logf("first run: %d of %d big trades written, %d of %d records committed", len(got), len(want), committed, len(trades))

	// second run from the committed offsets, to the end
	second := filepath.Join(dir, "second.jsonl")
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	run2, _ := startApp(t, ctx2, text(second), "copy")
	waitFor(t, "the group to commit every record", func() bool {
		return committedSum(context.Background(), brokers, "chain") == int64(len(trades))
	})
	cancel2()
	waitApp(t, ctx2, run2)
	if _, err := os.Stat(second); err != nil {
		t.Fatal(err)
	}
	for _, l := range readLines(t, second) {
		got[tradeTime(l)] = true
	}
	for tt := range want {
		if !got[tt] {
			t.Fatalf("the trade at %s was lost across the stop", tt)
		}
	}
}

// A bounded statement writing Avro to a topic that does not exist yet,
// with its brokers and registry given as the statement's 'kafka.<option>'
// defaults, is read by a later statement that reads the topic to its end:
// the reader connects as the writer does, opens the topic once the writer
// has created it and its schema is registered, and reads every row the
// writer wrote (it starts once the writer has finished).
func TestApplicationReadsAWrittenRegistryTopic(t *testing.T) {
	brokers := startCluster(t)
	reg := srfake.New()
	t.Cleanup(reg.Close)
	out := filepath.Join(t.TempDir(), "big.jsonl")
	src := fmt.Sprintf(`CREATE STREAM big AS SELECT trader_id, quantity, trade_time FROM g WHERE quantity >= 500
WITH ('g.type'='generator', 'g.generator'='trades', 'g.count'='3000', 'big.type'='kafka_sink', 'big.format'='avro',
      'kafka.bootstrap.servers'='%s', 'kafka.schema.registry.url'='%s');
CREATE STREAM copy AS SELECT trader_id, quantity FROM big
WITH ('big.stop.at'='end', 'copy.type'='file_sink', 'copy.path'='%s');`, brokers, reg.URL(), out)
	ctx, cancel := testContext(t)
	defer cancel()
	run, _ := startApp(t, ctx, src, "copy")
	results := waitApp(t, ctx, run)
	var written int64
	for _, r := range results {
		if r.Err != nil || r.Summary == nil {
			t.Fatalf("job %s: %v", r.Name, r.Err)
		}
		if r.Name == "big" {
			written = r.Summary.RowsWritten
		}
	}
	if got := len(readLines(t, out)); written == 0 || int64(got) != written {
		t.Fatalf("the reader wrote %d rows, the writer %d", got, written)
	}
}

// TestKilledChainLosesNothing runs an application of two statements chained
// in process (a Kafka source filtered by the first, the rows written to a
// topic by the second) as a separate process, kills it with SIGKILL at
// random moments while trades arrive, then lets a last run read to the end:
// every selected trade is in the output (at-least-once for the whole chain:
// the source's offsets commit only once the second statement has flushed
// the rows of the records before them).
func TestKilledChainLosesNothing(t *testing.T) {
	bin, err := sluiceBinary()
	if err != nil {
		t.Fatal(err)
	}
	const n = 10000
	trades := genTrades(t, n, 50)
	msgs := keyBy(trades, byTrader)
	where := places(msgs)
	brokers := startCluster(t, "trades", "out")
	dir := t.TempDir()
	app := func(extra ...string) string {
		src := append([]string{"group.id", "chain", "group.instance.id", "chain-1"}, extra...)
		text := fmt.Sprintf("CREATE STREAM big AS SELECT _PARTITION AS p, _OFFSET AS o, trader_id, quantity FROM trades WHERE quantity > 100\n"+
			"WITH (%s, 'commit.interval'='50ms');\n"+
			"CREATE STREAM out AS SELECT p, o, trader_id FROM big\n"+
			"WITH ('out.type'='kafka_sink', 'out.bootstrap.servers'='%s', 'commit.interval'='50ms');\n", kafkaTrades(brokers, src...), brokers)
		path := filepath.Join(dir, "app.sql")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	var producing sync.WaitGroup
	producing.Add(1)
	go func() {
		defer producing.Done()
		for i := 0; i < n; i += 250 {
			produce(t, brokers, "trades", msgs[i:min(i+250, n)])
			time.Sleep(60 * time.Millisecond)
		}
	}()
	rng := rand.New(rand.NewPCG(3, 9))
	for range 3 {
		if !killAfter(t, bin, dir, time.Duration(300+rng.IntN(700))*time.Millisecond, "run", "-q", app()) {
			t.Fatal("a run ended before its kill")
		}
	}
	producing.Wait()
	runToCompletion(t, bin, dir, "run", "-q", app("stop.at", "end"))
	missing, dups := countFilter(t, trades, where, readCommitted(t, brokers, "out"))
	t.Logf("3 kills: %d missing, %d duplicates", missing, dups)
	if missing > 0 {
		t.Errorf("%d selected trades missing after the kills", missing)
	}
}

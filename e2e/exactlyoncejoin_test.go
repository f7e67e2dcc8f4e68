package e2e

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector/kafka"
)

// TestCrashesExactlyOnceJoin runs stream-table joins Kafka -> Kafka with
// 'processing.guarantee'='exactly_once' as a separate process, kills it
// with SIGKILL a random moment after it committed, again and again while
// the trades arrive and the traders table changes, then lets a last run
// finish, and reads the output topic
// read_committed: every trade's joined row once (a LEFT JOIN, and an inner
// join that drops the trades of traders the table lacks), and the windowed
// counts over the joined rows of one process, each window once, per
// trader (the group split as trades is keyed, the join in one stage), per
// symbol (repartitioned through a topic, stage 2 joining), per trader
// after a temporal join AS OF the event time, and per region, a column of
// the table (one process per group). The table is not part
// of the transaction: a trade read again after a kill is joined with the
// table as the restarted process reads it, so its row's version is
// whichever that was (the updates change no trader's region), but it is
// written once.
func TestCrashesExactlyOnceJoin(t *testing.T) {
	bin, err := sluiceBinary()
	if err != nil {
		t.Fatal(err)
	}
	const n = 12000
	trades, times := disorderedTrades(t, n, 50, 500)
	msgs := keyBy(trades, byTrader)
	where := places(msgs)
	kills := crashKills(t)
	// every tenth trader (3, 13, ...) is missing from the table
	known := func(tr trade) bool { return !strings.HasSuffix(tr.trader, "3") }
	knownTrader := func(tr trade) string {
		if known(tr) {
			return tr.trader
		}
		return ""
	}
	knownSymbol := func(tr trade) string {
		if known(tr) {
			return tr.symbol
		}
		return ""
	}
	// the traders table, and updates of it while the job runs, each a
	// version since the time of the trade produced with it (0 for the
	// first)
	traders := func(version int, since int64) []kafka.Message {
		var out []kafka.Message
		for id := range 60 {
			if id%10 == 3 {
				continue
			}
			out = append(out, kafka.Message{Key: []byte(strconv.Itoa(id)), Value: fmt.Appendf(nil, `{"trader_id":%d,"region":"r%d","version":%d,"since":%d}`, id, id%7, version, since)})
		}
		return out
	}
	join := " FROM trades t JOIN traders r ON t.trader_id = r.trader_id"
	knownRegion := func(tr trade) string {
		if !known(tr) {
			return ""
		}
		id, err := strconv.Atoi(tr.trader)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("r%d", id%7)
	}
	queries := []struct {
		name, query string
		with        string // more WITH entries
		count       func(rows []outRow) (missing, dups int)
	}{
		{"left", "SELECT _PARTITION AS p, _OFFSET AS o, t.trader_id, r.version FROM trades t LEFT JOIN traders r ON t.trader_id = r.trader_id", "",
			func(rows []outRow) (int, int) {
				return countRecords(t, trades, where, rows, func(trade) bool { return true })
			}},
		{"inner", "SELECT _PARTITION AS p, _OFFSET AS o, t.trader_id, r.version" + join, "",
			func(rows []outRow) (int, int) { return countRecords(t, trades, where, rows, known) }},
		{"windows", "SELECT t.trader_id, _WINDOW_START AS ws, COUNT(*) AS n" + join +
			" GROUP BY t.trader_id WINDOW TUMBLING(trade_time, INTERVAL '1' SECOND) EMIT FINAL", "",
			func(rows []outRow) (int, int) {
				return countWindowsBy(t, trades, times, rows, knownTrader, func(r outRow) string { return fmt.Sprint(r.Trader) })
			}},
		{"repartitioned", "SELECT t.symbol, _WINDOW_START AS ws, COUNT(*) AS n" + join +
			" GROUP BY t.symbol WINDOW TUMBLING(trade_time, INTERVAL '1' SECOND) EMIT FINAL", "",
			func(rows []outRow) (int, int) {
				return countWindowsBy(t, trades, times, rows, knownSymbol, func(r outRow) string { return r.Symbol })
			}},
		// a temporal join AS OF the event time, whose table drops the
		// versions the watermark passed, changing every 100 trades: a
		// restart, whose watermark starts at its checkpoint's, reads
		// again the records of the open windows, older than that, and
		// joins each with the version it met (every known trader has one
		// since 0, so each counts)
		{"temporal", "SELECT t.trader_id, _WINDOW_START AS ws, COUNT(*) AS n FROM trades t JOIN traders FOR SYSTEM_TIME AS OF t.trade_time AS r ON t.trader_id = r.trader_id" +
			" GROUP BY t.trader_id WINDOW TUMBLING(trade_time, INTERVAL '1' SECOND) EMIT FINAL", ", 'trades.partition.key'='trader_id', 'event.time.field'='trade_time', 'traders.event.time.field'='since'",
			func(rows []outRow) (int, int) {
				return countWindowsBy(t, trades, times, rows, knownTrader, func(r outRow) string { return fmt.Sprint(r.Trader) })
			}},
		// keyed by the table's column: in one process per group
		// (repartitioned, stage 1 would join outside any transaction)
		{"regions", "SELECT r.region, _WINDOW_START AS ws, COUNT(*) AS n" + join +
			" GROUP BY r.region WINDOW TUMBLING(trade_time, INTERVAL '1' SECOND) EMIT FINAL", ", 'repartition'='false'",
			func(rows []outRow) (int, int) {
				return countWindowsBy(t, trades, times, rows, knownRegion, func(r outRow) string { return r.Region })
			}},
	}
	for _, q := range queries {
		t.Run(q.name, func(t *testing.T) {
			t.Parallel()
			brokers := startCluster(t, "trades", "traders")
			produce(t, brokers, "traders", traders(0, 0))
			every := 2000 // trades between two updates of the table
			if q.name == "temporal" {
				every = 100
			}
			stmt := func(extra ...string) string {
				src := append([]string{"group.id", "crash", "group.instance.id", "worker-1"}, extra...)
				return fmt.Sprintf("CREATE STREAM out AS %s WITH (%s, 'traders.type'='kafka_source', 'traders.bootstrap.servers'='%s', 'traders.primary.key'='trader_id', "+
					"'out.type'='kafka_sink', 'out.bootstrap.servers'='%s', 'commit.interval'='100ms', 'watermark.max_out_of_orderness'='1s', 'processing.guarantee'='exactly_once'%s)",
					q.query, kafkaTrades(brokers, src...), brokers, brokers, q.with)
			}
			rng := rand.New(rand.NewPCG(uint64(kills), 11))
			killed := 0
			// The input arrives, and the table changes every 2,000
			// trades (100 for the temporal join), while the killed runs
			// read it; the last run reads to the end of it all.
			producing := produceDuring(t, brokers, msgs, kills, func(i int) {
				if i > 0 && i%every == 0 {
					produce(t, brokers, "traders", traders(i/every, times[i]))
				}
			})
			dir := t.TempDir()
			topic := "trades"
			if q.name == "repartitioned" {
				topic = "crash-out-repartition" // stage 2's commits, which its transactions hold
			}
			var resumed int64 // what the killed runs committed: the last run resumes there
			for range kills {
				resumed = killCommitting(t, bin, dir, brokers, topic, resumed, time.Duration(rng.IntN(300))*time.Millisecond, "run", "-q", "-e", stmt())
				killed++
			}
			producing.Wait()
			runToCompletion(t, bin, dir, "run", "-q", "-e", stmt("stop.at", "end"))
			rows := readCommitted(t, brokers, "out")
			missing, dups := q.count(rows)
			t.Logf("%s: %d kills, offsets summing to %d committed on %s before the last run, %d rows read committed, %d missing, %d duplicates", q.name, killed, resumed, topic, len(rows), missing, dups)
			if missing > 0 {
				t.Errorf("%d results missing", missing)
			}
			if dups > 0 {
				t.Errorf("%d duplicate results under exactly-once", dups)
			}
			ctx, cancel := testContext(t)
			defer cancel()
			if q.name == "repartitioned" && committedOn(ctx, brokers, "crash", topic) <= 0 {
				t.Errorf("no commits on the repartition topic: not repartitioned")
			}
			if dead, err := os.ReadFile(filepath.Join(dir, ".sluice", "dlq", "out.dlq.jsonl")); err == nil && len(dead) > 0 {
				t.Errorf("dead letters under exactly-once:\n%.600s", dead)
			}
		})
	}
}

// killCommitting runs bin with args in dir, waits until group "crash"
// commits on topic past the sum of offsets committed (at most 5s: the run
// may have nothing left to do, or a loaded machine may not get it as
// far), kills it with SIGKILL after delay, and returns the sum committed
// by then: so every kill comes while the run is under way.
func killCommitting(t *testing.T, bin, dir, brokers, topic string, committed int64, delay time.Duration, args ...string) int64 {
	t.Helper()
	ctx, cancel := testContext(t)
	defer cancel()
	cmd, out, done := startRun(t, bin, dir, args...)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && committedOn(ctx, brokers, "crash", topic) <= committed {
		select {
		case err := <-done:
			t.Fatalf("run ended before its kill: %v\n%s", err, out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	time.Sleep(delay)
	cmd.Process.Kill()
	<-done
	return max(committed, committedOn(ctx, brokers, "crash", topic))
}

// TestRepartitionedJoinExactlyOnce runs windowed counts per trader over a
// stream-table join whose stream is keyed by symbol, TUMBLING and
// SLIDING, with 'processing.guarantee'='exactly_once' in three processes
// of one group, one killed mid-run (its connections cut, as by kill -9:
// its open transaction stays open until Kafka times it out) and restarted
// while a fourth joins. Stage 2 joins each record with the table and
// counts in its transactions; every rebalance aborts them, and whoever
// takes a partition replays it from its last commit, joining its records
// again. Read committed, the group writes exactly the rows of one
// process, each once.
func TestRepartitionedJoinExactlyOnce(t *testing.T) {
	t.Parallel()
	for name, scenario := range map[string]func(*testing.T) joinScenario{
		"tumbling": tradersWindows,
		"sliding":  tradersWindowed("SLIDING(trade_time, INTERVAL '300' MILLISECOND, INTERVAL '100' MILLISECOND)"),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sc := scenario(t)
			sc.exactlyOnce = true
			// a longer interval leaves more output in the open
			// transactions that the kill and the rebalances abort (at
			// least once, it would be written again)
			sc.stmt = strings.Replace(sc.stmt, "'commit.interval'='50ms'", "'commit.interval'='300ms'", 1)
			sc.acrossProcesses(t, true)
		})
	}
}

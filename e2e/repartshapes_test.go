package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/internal/kafkatest"
	"github.com/sluicesql/sluice/job"
	"github.com/sluicesql/sluice/runner"
)

// shape is a statement over Kafka topics that a group of processes must
// answer as one process does: its topics, what they hold and the
// statement, with %[1]s the brokers, %[2]s the FROM stream's group
// properties ("" in one process) and %[3]s the properties of its target
// out, a Kafka sink.
type shape struct {
	kafkaInput // its FROM stream is read in the group
	stmt       string
	// changes: the statement emits updates, and the answer is the last
	// row of each message key (a tombstone deleting it); else the rows,
	// none written twice with other values
	changes bool
	// aligned: the group may split the statement as it is (no
	// repartition topic), else it must repartition
	aligned bool
	// few: the answer may have fewer than 50 rows
	few bool
	// procs is the number of processes (0: 3)
	procs int
	// kill: also run it with a process killed mid-run and two joining
	kill bool
	// exactly: the statement runs exactly once: its output is read
	// read_committed, and a statement without updates writes each row
	// once
	exactly bool
}

// tradeShape is a shape over the trades (8 partitions, keyed by trader)
// with stmt's WITH properties given after its own.
func tradeShape(t *testing.T, stmt string, with ...string) shape {
	return tradeShapeOf(t, keyBy(genTrades(t, 6000, 40), byTrader), stmt, with...)
}

// lateTradeShape is tradeShape over trades out of order by up to 300ms
// (disorderedTrades).
func lateTradeShape(t *testing.T, stmt string, with ...string) shape {
	trades, _ := disorderedTrades(t, 6000, 40, 300)
	return tradeShapeOf(t, keyBy(trades, byTrader), stmt, with...)
}

// editedTrades returns tradeShape's messages with the value of the i-th
// changed by edit.
func editedTrades(t *testing.T, edit func(i int, value []byte) []byte) []kafka.Message {
	msgs := keyBy(genTrades(t, 6000, 40), byTrader)
	for i := range msgs {
		msgs[i].Value = edit(i, msgs[i].Value)
	}
	return msgs
}

// overTrades is a table's case of tradeShape(t, stmt, with...).
func overTrades(stmt string, with ...string) func(*testing.T) shape {
	return func(t *testing.T) shape { return tradeShape(t, stmt, with...) }
}

// fewRows is the table's case of, whose answer may have fewer than 50
// rows (few).
func fewRows(of func(*testing.T) shape) func(*testing.T) shape {
	return func(t *testing.T) shape {
		sh := of(t)
		sh.few = true
		return sh
	}
}

// tradeShapeOf is tradeShape over msgs.
func tradeShapeOf(t *testing.T, msgs []kafka.Message, stmt string, with ...string) shape {
	t.Helper()
	props := "'trades.type'='kafka_source', 'trades.bootstrap.servers'='%[1]s'%[2]s, 'commit.interval'='50ms', %[3]s"
	for i := 0; i+1 < len(with); i += 2 {
		props += fmt.Sprintf(", '%s'='%s'", with[i], with[i+1])
	}
	return shape{
		kafkaInput: kafkaInput{from: "trades", sized: map[string]int32{"trades": kafkaPartitions},
			data: map[string][]kafka.Message{"trades": msgs}},
		stmt: "CREATE STREAM out AS " + stmt + "\nWITH (" + props + ")",
	}
}

// text returns the statement writing to Kafka topic sink, in group
// ("": none).
func (sh shape) text(brokers, group, sink string, extra ...string) string {
	g := ""
	if group != "" {
		g = fmt.Sprintf(", '%[1]s.group.id'='%[2]s', '%[1]s.session.timeout.ms'='6000'", sh.from, group)
	}
	out := fmt.Sprintf("'out.type'='kafka_sink', 'out.topic.name'='%s', 'out.bootstrap.servers'='%s'", sink, brokers)
	for i := 0; i+1 < len(extra); i += 2 {
		out += fmt.Sprintf(", '%s'='%s'", extra[i], extra[i+1])
	}
	return fmt.Sprintf(sh.stmt, brokers, g, out)
}

// answer reads the rows of topic: for a statement that emits updates,
// the last row of each message key (a tombstone deleting it), else every
// row, failing the test when a message key has two different rows (a
// partial result). The rows are sorted.
func (sh shape) answer(t *testing.T, brokers, topic string) []string {
	t.Helper()
	last := map[string]string{}
	var recs []*kgo.Record
	if sh.exactly {
		recs = readCommittedRecords(t, brokers, topic)
	} else {
		recs = readTopic(t, brokers, topic)
	}
	for _, r := range recs {
		k := string(r.Key)
		if r.Value == nil {
			if !sh.changes {
				t.Errorf("a tombstone for %s in a statement without updates", k)
			}
			delete(last, k)
			continue
		}
		v := string(r.Value)
		if old, ok := last[k]; ok && !sh.changes && (old != v || sh.exactly) {
			t.Errorf("key %s has two rows: %s and %s (a partial result, or a row twice exactly once)", k, old, v)
		}
		if k == "" { // an unkeyed row: a row of its own
			k = v
		}
		last[k] = v
	}
	rows := make([]string, 0, len(last))
	for _, v := range last {
		rows = append(rows, v)
	}
	slices.Sort(rows)
	return rows
}

// oneProcess runs the statement in one process without a group to topic
// "want" and returns its answer.
func (sh shape) oneProcess(t *testing.T, brokers string, extra ...string) []string {
	t.Helper()
	j, _ := runToEnd(t, sh.text(brokers, "", "want", extra...))
	if j.Plan.Repartition != nil {
		t.Fatal("one process without a group was repartitioned")
	}
	want := sh.answer(t, brokers, "want")
	if len(want) < 50 && !sh.few {
		t.Fatalf("one process wrote %d rows: the test checks little", len(want))
	}
	return want
}

// oneProcessReference runs a statement in one process without a group to
// the end of its Kafka topics, text giving the statement with its sink
// writing to the file at path, and returns the lines written, sorted, and
// the run's summary. It fails the test when late is set and no record was
// late, or when fewer than minRows lines were written: the reference
// would check little.
func oneProcessReference(t *testing.T, text func(path string) string, minRows int, late bool) ([]string, *job.Summary) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "one.jsonl")
	_, sum := runToEnd(t, text(path))
	if late && sum.Total.Late == 0 {
		t.Fatal("no late records: the test checks nothing")
	}
	lines := readLines(t, path)
	if len(lines) < minRows {
		t.Fatalf("one process wrote %d rows: too few to tell", len(lines))
	}
	return lines, sum
}

// group runs the statement in n processes of group g to topic "got" to
// the end of its input and returns their answer.
func (sh shape) group(t *testing.T, brokers string, n int, extra ...string) []string {
	t.Helper()
	ctx, cancel := testContext(t)
	defer cancel()
	text := sh.text(brokers, "g", "got", extra...)
	var procs []*stage
	for range n {
		s := &stage{done: make(chan struct{})}
		s.ctx, s.cancel = context.WithCancel(ctx)
		s.job = prepare(t, s.ctx, text, runner.Options{Partitions: 2, UntilEnd: true})
		if (s.job.Plan.Repartition == nil) != sh.aligned {
			t.Fatalf("repartitioned %v, want %v:\n%s", s.job.Plan.Repartition != nil, !sh.aligned, text)
		}
		s.start()
		procs = append(procs, s)
	}
	for i, p := range procs {
		p.wait(t, ctx, fmt.Sprint(i))
	}
	return sh.answer(t, brokers, "got")
}

// killAndJoin runs the statement in three processes of group g to topic
// "got"; once the group committed on the repartition topic (on the source
// for an aligned statement), it kills one (its connections cut, as by
// kill -9), starts two more and releases tail, the rest of the input. It
// returns the answer of the group.
func (sh shape) killAndJoin(t *testing.T, brokers string, tail *heldTail, extra ...string) []string {
	t.Helper()
	ctx, cancel := testContext(t)
	defer cancel()
	text := sh.text(brokers, "g", "got", extra...)
	// a killed process drains nothing: do not wait for it
	victimText := strings.Replace(text, "'commit.interval'", "'drain.timeout'='1s', 'commit.interval'", 1)
	start := func(text string) *stage {
		if sh.aligned {
			return startAligned(t, ctx, text, &kafkatest.Cutter{}, nil)
		}
		return startStageOn(t, ctx, text, &kafkatest.Cutter{})
	}
	procs := []*stage{start(victimText), start(text), start(text)}
	committed := "g-out-repartition"
	if sh.aligned {
		committed = sh.from
	}
	waitWithin(t, hangAfter(ctx), "the group commits on "+committed, func() bool {
		offs, err := groupOffsets(ctx, brokers, "g", committed)
		return err == nil && len(offs) > 0
	})
	procs[0].kill(t, "0")
	started := []*stage{start(text), start(text)}
	waitFor(t, "the processes started after the kill list where the source ends", func() bool { return listedEnds(started...) })
	tail.release(t)
	for i, p := range append(procs[1:], started...) {
		p.wait(t, ctx, fmt.Sprint(i+1))
	}
	return sh.answer(t, brokers, "got")
}

// TestRepartitionedShapes runs statements of shapes the other repartition
// tests do not in three processes of one consumer group (four for a topic
// of two partitions: one reads no source partition) over the same topics,
// and checks that the group writes exactly one process's answer (the last
// row of each key for EMIT CHANGES and late updates): SLIDING and
// TUMBLING windows with EMIT CHANGES (HAVING retracting), GROUP BY
// without a window (EMIT CHANGES and FINAL), on an expression and on two
// keys, NULL and empty keys, COUNT(DISTINCT) after WHERE, SELECT
// DISTINCT, an unkeyed source, windows of the records' timestamps, late
// records folded in ('update', TUMBLING and SLIDING windows) or dropped
// after an allowed lateness, a row window (LAG, ROW_NUMBER, a running SUM)
// in event-time order, a SESSION window over a topic of three partitions, an empty source,
// the system columns (_PARTITION, _OFFSET, _TIMESTAMP) aggregated after the
// shuffle, a routing key that fails to evaluate for some records, a CREATE
// TABLE of updates, TIMESTAMP, BOOLEAN and CASE keys, records without an
// event time or from before 1970, LEFT
// stream-table joins (the table broadcast or not), and aligned statements
// (no repartition topic): a GROUP BY on a superset of the partition key,
// and, with a kill, SLIDING windows with late updates and a row window. Some run
// again with one process killed mid-run (kill -9) and two joining: late
// records whose source partition a process takes over after the kill,
// starting its watermark again from the committed offset, are late as in
// one process.
func TestRepartitionedShapes(t *testing.T) {
	t.Parallel()
	const perSymbol = "SELECT symbol, _WINDOW_START AS w, COUNT(*) AS n, SUM(quantity) AS qty FROM trades GROUP BY symbol "
	shapes := map[string]func(*testing.T) shape{
		"sliding-changes": func(t *testing.T) shape {
			sh := tradeShape(t, perSymbol+"WINDOW SLIDING(trade_time, INTERVAL '300' MILLISECOND, INTERVAL '100' MILLISECOND) EMIT CHANGES")
			sh.changes = true
			return sh
		},
		"tumbling-changes-having": func(t *testing.T) shape {
			sh := tradeShape(t, perSymbol+"HAVING SUM(quantity) > 2000 WINDOW TUMBLING(trade_time, INTERVAL '100' MILLISECOND) EMIT CHANGES")
			sh.changes = true
			return sh
		},
		"changes-no-window": func(t *testing.T) shape {
			sh := tradeShape(t, "SELECT symbol, COUNT(*) AS n, SUM(quantity) AS qty, MAX(price) AS hi FROM trades GROUP BY symbol EMIT CHANGES")
			sh.changes, sh.few, sh.kill = true, true, true
			return sh
		},
		"expression-key": overTrades("SELECT UPPER(symbol) AS sym, _WINDOW_START AS w, COUNT(*) AS n FROM trades GROUP BY UPPER(symbol) " +
			"WINDOW TUMBLING(trade_time, INTERVAL '100' MILLISECOND) EMIT FINAL"),
		"two-keys": overTrades("SELECT symbol, quantity %% 3 AS q3, _WINDOW_START AS w, COUNT(*) AS n FROM trades GROUP BY symbol, quantity %% 3 " +
			"WINDOW TUMBLING(trade_time, INTERVAL '200' MILLISECOND) EMIT FINAL"),
		"count-distinct-where": overTrades("SELECT symbol, _WINDOW_START AS w, COUNT(DISTINCT trader_id) AS traders, MIN(price) AS lo FROM trades " +
			"WHERE quantity > 100 GROUP BY symbol WINDOW TUMBLING(trade_time, INTERVAL '200' MILLISECOND) EMIT FINAL"),
		"distinct": func(t *testing.T) shape {
			sh := tradeShape(t, "SELECT DISTINCT symbol, quantity %% 5 AS q5 FROM trades")
			sh.kill = true
			return sh
		},
		"unkeyed-source": func(t *testing.T) shape {
			return tradeShapeOf(t, keyBy(genTrades(t, 6000, 40), nil), perSymbol+"WINDOW TUMBLING(trade_time, INTERVAL '100' MILLISECOND) EMIT FINAL")
		},
		"tumbling-late-update": func(t *testing.T) shape {
			// a late record corrects its window's row: the last row of
			// each window is the answer
			sh := lateTradeShape(t, perSymbol+"WINDOW TUMBLING(trade_time, INTERVAL '100' MILLISECOND) EMIT FINAL",
				"watermark.max_out_of_orderness", "50ms", "late.data.strategy", "update")
			sh.changes, sh.kill = true, true
			return sh
		},
		"sliding-late-update": func(t *testing.T) shape {
			// a late record corrects every SLIDING window of it still
			// kept; a replay puts a record it reads again into none whose
			// retention had passed
			sh := lateTradeShape(t, perSymbol+"WINDOW SLIDING(trade_time, INTERVAL '200' MILLISECOND, INTERVAL '50' MILLISECOND) EMIT FINAL",
				"watermark.max_out_of_orderness", "50ms", "late.data.strategy", "update", "late.data.retention", "100ms")
			sh.changes, sh.kill = true, true
			return sh
		},
		"row-window": func(t *testing.T) shape {
			// each row's LAG and running values carry every earlier row
			// of its symbol: the commit holds at the first, and a replay
			// writes the rows again, identical
			sh := tradeShape(t, "SELECT symbol, trade_time, price, LAG(price) OVER (PARTITION BY symbol ORDER BY trade_time) AS prev, "+
				"ROW_NUMBER() OVER (PARTITION BY symbol ORDER BY trade_time) AS n, SUM(quantity) OVER (PARTITION BY symbol ORDER BY trade_time) AS qty FROM trades")
			sh.kill = true
			return sh
		},
		"aligned-sliding-late-update": func(t *testing.T) shape {
			// aligned: a partition that moves is replayed as stage 2
			// replays one, by the same rules
			sh := lateTradeShape(t, "SELECT trader_id, _WINDOW_START AS w, COUNT(*) AS n, SUM(quantity) AS qty FROM trades GROUP BY trader_id "+
				"WINDOW SLIDING(trade_time, INTERVAL '200' MILLISECOND, INTERVAL '50' MILLISECOND) EMIT FINAL",
				"watermark.max_out_of_orderness", "50ms", "late.data.strategy", "update", "late.data.retention", "100ms", "trades.partition.key", "trader_id")
			sh.changes, sh.kill, sh.aligned = true, true, true
			return sh
		},
		"aligned-row-window": func(t *testing.T) shape {
			sh := tradeShape(t, "SELECT trader_id, trade_time, price, LAG(price) OVER (PARTITION BY trader_id ORDER BY trade_time) AS prev, "+
				"SUM(quantity) OVER (PARTITION BY trader_id ORDER BY trade_time) AS qty FROM trades", "trades.partition.key", "trader_id")
			sh.kill, sh.aligned = true, true
			return sh
		},
		"sliding-lateness-drop": func(t *testing.T) shape {
			sh := lateTradeShape(t, perSymbol+"WINDOW SLIDING(trade_time, INTERVAL '200' MILLISECOND, INTERVAL '50' MILLISECOND) EMIT FINAL",
				"watermark.max_out_of_orderness", "50ms", "window.allowed_lateness", "30ms", "late.data.strategy", "drop")
			sh.kill = true
			return sh
		},
		"aligned-superset": func(t *testing.T) shape {
			sh := tradeShape(t, "SELECT trader_id, symbol, _WINDOW_START AS w, COUNT(*) AS n FROM trades GROUP BY trader_id, symbol "+
				"WINDOW TUMBLING(trade_time, INTERVAL '200' MILLISECOND) EMIT FINAL", "trades.partition.key", "trader_id")
			sh.aligned = true // a kill of an aligned statement: TestAlignedChangesSurviveKillAndJoin
			return sh
		},
		"four-processes-two-partitions": func(t *testing.T) shape {
			sh := tradeShape(t, perSymbol+"WINDOW TUMBLING(trade_time, INTERVAL '100' MILLISECOND) EMIT FINAL")
			sh.sized["trades"], sh.procs = 2, 4
			return sh
		},
		"empty-source": func(t *testing.T) shape {
			sh := tradeShapeOf(t, nil, perSymbol+"WINDOW TUMBLING(trade_time, INTERVAL '100' MILLISECOND) EMIT FINAL")
			sh.few = true
			return sh
		},
		"null-and-empty-keys": func(t *testing.T) shape {
			// a NULL symbol and an empty one are two groups
			msgs := editedTrades(t, func(i int, v []byte) []byte {
				switch {
				case i%7 == 3:
					return symbolRe.ReplaceAll(v, []byte(`"symbol":null`))
				case i%11 == 5:
					return symbolRe.ReplaceAll(v, []byte(`"symbol":""`))
				}
				return v
			})
			return tradeShapeOf(t, msgs, perSymbol+"WINDOW TUMBLING(trade_time, INTERVAL '100' MILLISECOND) EMIT FINAL")
		},
		// windows of the Kafka records' timestamps (no time column)
		"record-timestamp-window": fewRows(overTrades("SELECT symbol, _WINDOW_START AS w, COUNT(*) AS n FROM trades GROUP BY symbol WINDOW TUMBLING(INTERVAL '5' MILLISECOND) EMIT FINAL")),
		"final-no-window":         fewRows(overTrades("SELECT symbol, COUNT(*) AS n, SUM(quantity) AS qty, MIN(trade_time) AS first FROM trades GROUP BY symbol EMIT FINAL")),
		"left-table-join":         func(t *testing.T) shape { return traderDesks(t, "'false'") },
		"left-broadcast-join":     func(t *testing.T) shape { return traderDesks(t, "'true'") },
		// the message key (the trader) read as a column, through the
		// repartition topic
		"key-field": overTrades("SELECT symbol, _WINDOW_START AS w, COUNT(DISTINCT k) AS traders, MAX(k) AS hi FROM trades GROUP BY symbol "+
			"WINDOW TUMBLING(trade_time, INTERVAL '200' MILLISECOND) EMIT FINAL", "trades.key.field", "k"),
		"system-columns": overTrades("SELECT symbol, _WINDOW_START AS w, MIN(_PARTITION) AS p, MAX(_OFFSET) AS o, MAX(_TIMESTAMP) AS ts, COUNT(*) AS n FROM trades GROUP BY symbol " +
			"WINDOW TUMBLING(trade_time, INTERVAL '100' MILLISECOND) EMIT FINAL"),
		"failing-key": overTrades("SELECT 1000 / (quantity %% 50) AS k, _WINDOW_START AS w, COUNT(*) AS n FROM trades GROUP BY 1000 / (quantity %% 50) " +
			"WINDOW TUMBLING(trade_time, INTERVAL '300' MILLISECOND) EMIT FINAL"),
		"table": func(t *testing.T) shape {
			sh := tradeShape(t, "SELECT symbol PRIMARY KEY, COUNT(*) AS n, AVG(price) AS p FROM trades GROUP BY symbol EMIT CHANGES")
			sh.stmt = "CREATE TABLE" + sh.stmt[len("CREATE STREAM"):]
			sh.changes, sh.few = true, true
			return sh
		},
		"timestamp-key":     overTrades("SELECT TUMBLE_START(trade_time, INTERVAL '50' MILLISECOND) AS b, COUNT(*) AS n, COUNT(DISTINCT symbol) AS s FROM trades GROUP BY TUMBLE_START(trade_time, INTERVAL '50' MILLISECOND) EMIT FINAL"),
		"bool-and-case-key": fewRows(overTrades("SELECT quantity > 500 AS big, CASE WHEN price > 300 THEN 'hi' ELSE 'lo' END AS band, COUNT(*) AS n FROM trades GROUP BY quantity > 500, CASE WHEN price > 300 THEN 'hi' ELSE 'lo' END EMIT FINAL")),
		"null-and-old-times": func(t *testing.T) shape {
			msgs := editedTrades(t, func(i int, v []byte) []byte {
				switch {
				case i%17 == 3:
					return timeRe.ReplaceAll(v, []byte(`"trade_time":null`))
				case i < 3000:
					// the first half in 1960
					return bytes.Replace(v, []byte(`"2024-`), []byte(`"1960-`), 1)
				}
				return v
			})
			return tradeShapeOf(t, msgs, "SELECT symbol, _WINDOW_START AS w, COUNT(*) AS n FROM trades GROUP BY symbol WINDOW TUMBLING(trade_time, INTERVAL '100' MILLISECOND) EMIT FINAL")
		},
		"session-three-partitions": func(t *testing.T) shape {
			sh := tradeShape(t, "SELECT symbol, _WINDOW_START AS w, _WINDOW_END AS e, COUNT(*) AS n FROM trades GROUP BY symbol "+
				"WINDOW SESSION(trade_time, INTERVAL '60' MILLISECOND) EMIT FINAL")
			sh.sized["trades"] = 3
			return sh
		},
	}
	for name, mk := range shapes {
		sh := mk(t)
		for _, kill := range []bool{false, true} {
			sub := name + "/group"
			if kill {
				if !sh.kill {
					continue
				}
				sub = name + "/kill-and-join"
			}
			t.Run(sub, func(t *testing.T) {
				t.Parallel()
				if !kill {
					brokers := sh.start(t, "want", "got")
					sameLines(t, "rows of the group", sh.group(t, brokers, max(sh.procs, 3)), sh.oneProcess(t, brokers))
					return
				}
				// the last 40% of the input is held back until the
				// kill: the kill comes mid-run
				brokers, tail := sh.startHeld(t, 0.4, "want", "got")
				got := sh.killAndJoin(t, brokers, tail)
				sameLines(t, "rows of the group", got, sh.oneProcess(t, brokers))
			})
		}
	}
}

// TestRepartitionedMisplacedKeys: a topic keyed by the GROUP BY column
// whose records were not placed by Kafka's partitioner (round robin: each
// key in every partition) is not aligned; three processes repartition it
// and write one process's windows.
func TestRepartitionedMisplacedKeys(t *testing.T) {
	t.Parallel()
	trades := genTrades(t, 6000, 40)
	sh := tradeShapeOf(t, nil, "SELECT trader_id, _WINDOW_START AS w, COUNT(*) AS n FROM trades GROUP BY trader_id "+
		"WINDOW TUMBLING(trade_time, INTERVAL '100' MILLISECOND) EMIT FINAL")
	brokers := sh.start(t, "want", "got")
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := testContext(t)
	defer cancel()
	recs := make([]*kgo.Record, len(trades))
	for i, tr := range trades {
		recs[i] = &kgo.Record{Topic: "trades", Partition: int32(i % kafkaPartitions), Key: []byte(tr.trader), Value: tr.line}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	sameLines(t, "rows of the group", sh.group(t, brokers, 3), sh.oneProcess(t, brokers))
}

// TestEveryPartitionRead: a job reads at most 64 source partitions at
// once, but a Kafka source's readers are fed by one poll loop, and a
// reader waiting for its turn would stop it once its queue filled (every
// other partition with it), or never be read at all when the others never
// end (an unbounded topic; stage 2 of a process holding more than 64
// partitions of a repartition topic: a group of 2 processes on a topic
// of 200 partitions hung with one killed). Reading a topic of 80
// partitions, unbounded, a job writes the records of every partition.
func TestEveryPartitionRead(t *testing.T) {
	t.Parallel()
	const parts = 80
	brokers := startCluster(t, "got")
	createTopic(t, brokers, "trades", parts)
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := testContext(t)
	defer cancel()
	trades := genTrades(t, 4*parts, 40)
	recs := make([]*kgo.Record, len(trades))
	for i, tr := range trades {
		recs[i] = &kgo.Record{Topic: "trades", Partition: int32(i % parts), Key: []byte(tr.trader), Value: tr.line}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf("CREATE STREAM out AS SELECT trader_id, _PARTITION AS p FROM trades WITH (%s, 'out.type'='kafka_sink', 'out.topic.name'='got', 'out.bootstrap.servers'='%s')",
		kafkaTrades(brokers), brokers)
	runCtx, stop := context.WithCancel(ctx)
	j := prepare(t, runCtx, text, runner.Options{Partitions: 2})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err = j.Run(runCtx)
	}()
	waitFor(t, "a row of every partition", func() bool {
		end, err := topicEnd(ctx, brokers, "got")
		return err == nil && end == int64(len(trades))
	})
	stop()
	ended(t, done, "the job")
	if err != nil {
		t.Fatal(err)
	}
}

// topicEnd returns how many records topic holds.
func topicEnd(ctx context.Context, brokers, topic string) (int64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return 0, err
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n, ends.Error()
}

// TestRepartitionedLatenessExactlyOnce runs a SLIDING window with
// allowed lateness over disordered trades exactly once
// ('processing.guarantee'='exactly_once') in three processes, one killed
// mid-run and two joining: read read_committed, the output holds each of
// one process's windows once, the records late for it dropped as one
// process drops them.
func TestRepartitionedLatenessExactlyOnce(t *testing.T) {
	t.Parallel()
	trades, _ := disorderedTrades(t, 6000, 40, 300)
	sh := tradeShapeOf(t, keyBy(trades, byTrader), "SELECT symbol, _WINDOW_START AS w, COUNT(*) AS n FROM trades GROUP BY symbol "+
		"WINDOW SLIDING(trade_time, INTERVAL '200' MILLISECOND, INTERVAL '50' MILLISECOND) EMIT FINAL",
		"watermark.max_out_of_orderness", "50ms", "window.allowed_lateness", "30ms", "late.data.strategy", "drop", "processing.guarantee", "exactly_once")
	sh.exactly = true
	brokers, tail := sh.startHeld(t, 0.4, "want", "got")
	got := sh.killAndJoin(t, brokers, tail)
	// one process, without a group (which exactly once needs), at least once
	one := sh
	one.exactly, one.stmt = false, strings.Replace(sh.stmt, ", 'processing.guarantee'='exactly_once'", "", 1)
	sameLines(t, "rows of the group", got, one.oneProcess(t, brokers))
}

// TestRepartitionedDeadLettersAsOneProcess runs an unaligned windowed
// GROUP BY over disordered trades, some malformed (dead-lettered by stage
// 1 as it decodes them) and some late (by stage 2), in three processes,
// one killed mid-run and two joining: the group writes one process's
// windows and dead-letters the records one process does, each at least
// once, late for late and malformed for malformed.
func TestRepartitionedDeadLettersAsOneProcess(t *testing.T) {
	t.Parallel()
	trades, _ := disorderedTrades(t, 6000, 40, 300)
	msgs := keyBy(trades, byTrader)
	for i := 100; i < len(msgs); i += 997 {
		msgs[i].Value = []byte(`{"trader_id":`)
	}
	sh := tradeShapeOf(t, msgs, "SELECT symbol, _WINDOW_START AS w, COUNT(*) AS n, SUM(quantity) AS qty FROM trades GROUP BY symbol "+
		"WINDOW TUMBLING(trade_time, INTERVAL '100' MILLISECOND) EMIT FINAL", "watermark.max_out_of_orderness", "50ms")
	brokers, tail := sh.startHeld(t, 0.4, "want", "got", "dead-want", "dead-got")
	got := sh.killAndJoin(t, brokers, tail, "dlq.topic", "dead-got")
	sameLines(t, "rows of the group", got, sh.oneProcess(t, brokers, "dlq.topic", "dead-want"))
	want := deadPlaces(t, brokers, "dead-want")
	late := 0
	for _, p := range want {
		if strings.HasSuffix(p, " late") {
			late++
		}
	}
	if late == 0 || late == len(want) {
		t.Fatalf("%d dead letters, %d late: the test checks little", len(want), late)
	}
	sameLines(t, "dead letters of the group", deadPlaces(t, brokers, "dead-got"), want)
}

// deadPlaces returns the places in the source of the dead letters topic
// holds, each once, sorted, with "late" or "failed".
func deadPlaces(t *testing.T, brokers, topic string) []string {
	t.Helper()
	seen := map[string]bool{}
	for _, r := range readTopic(t, brokers, topic) {
		var l connector.DeadLetterJSON
		if err := json.Unmarshal(r.Value, &l); err != nil {
			t.Fatalf("dead letter %q: %v", r.Value, err)
		}
		kind := "failed"
		if strings.Contains(l.Reason, "late record") {
			kind = "late"
		}
		seen[fmt.Sprintf("%s/%d/%d %s", l.Source, l.Partition, l.Offset, kind)] = true
	}
	return slices.Sorted(maps.Keys(seen))
}

// symbolRe matches the symbol of a generated trade's JSON line.
var symbolRe = regexp.MustCompile(`"symbol":"[^"]*"`)

// timeRe matches the trade time of a generated trade's JSON line.
var timeRe = regexp.MustCompile(`"trade_time":"[^"]*"`)

// traderDesks is a windowed count per trader of trades (8 partitions,
// keyed by symbol) LEFT JOINed with a table of traders (5 partitions)
// that lacks some of them and updates others, read whole by every
// process when broadcast is 'true'.
func traderDesks(t *testing.T, broadcast string) shape {
	sh := tradeShapeOf(t, keyBy(genTrades(t, 6000, 40), bySymbol), `SELECT t.trader_id, _WINDOW_START AS w, COUNT(*) AS n, COUNT(r.desk) AS known, MAX(r.desk) AS desk
FROM trades t LEFT JOIN traders r ON t.trader_id = r.trader_id
GROUP BY t.trader_id WINDOW TUMBLING(t.trade_time, INTERVAL '200' MILLISECOND) EMIT FINAL`,
		"traders.type", "kafka_source", "traders.bootstrap.servers", "%[1]s", "traders.primary.key", "trader_id", "traders.broadcast", strings.Trim(broadcast, "'"))
	var traders []kafka.Message
	for i := range 40 {
		if i%6 == 5 {
			continue // not in the table
		}
		traders = append(traders, kafka.Message{Key: fmt.Appendf(nil, "%d", i), Value: fmt.Appendf(nil, `{"trader_id":%d,"desk":"d%d"}`, i, i%7)})
	}
	for i := 0; i < 40; i += 4 {
		traders = append(traders, kafka.Message{Key: fmt.Appendf(nil, "%d", i), Value: fmt.Appendf(nil, `{"trader_id":%d,"desk":"e%d"}`, i, i%5)})
	}
	sh.sized["traders"], sh.data["traders"] = 5, traders
	return sh
}

// TestRepartitionedJoinShapes runs joins the other join tests do not in
// three processes of one group: a LEFT join counted in windows per order whose streams have 8
// and 3 partitions, and a RIGHT join. The group writes exactly one
// process's rows. (DISTINCT, or a GROUP BY, on other columns after a
// stream-stream join re-routes the joined rows, and runs in one process
// per group: TestOneProcessStatementsStopOnSecondMember.)
func TestRepartitionedJoinShapes(t *testing.T) {
	t.Parallel()
	scenarios := map[string]func() joinScenario{
		"left-windows-8-and-3": func() joinScenario {
			sc := paidWindows("LEFT JOIN")
			sc.sized["payments"] = 3
			return sc
		},
		"right": func() joinScenario {
			sc := unpaidOrders("RIGHT JOIN", "WITHIN INTERVAL '1' SECOND")
			sc.sized["payments"] = 3
			return sc
		},
	}
	for name, mk := range scenarios {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sc := mk()
			brokers := sc.start(t, "results")
			ctx, cancel := testContext(t)
			defer cancel()
			text := sc.groupText(brokers)
			var procs []*stage
			for range 3 {
				procs = append(procs, startStage(t, ctx, text))
			}
			for i, p := range procs {
				p.wait(t, ctx, fmt.Sprint(i))
			}
			sc.sameAsOneProcess(t, brokers)
		})
	}
}

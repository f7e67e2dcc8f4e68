package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/internal/kafkatest"
)

// perSymbolSession is the unaligned SESSION-windowed GROUP BY of the
// repartition tests (the topic is keyed by trader_id, the statement groups
// by symbol); %s is FINAL or CHANGES, %s the source's WITH properties,
// %s the sink's, %s more.
const perSymbolSession = `CREATE STREAM per_symbol AS
SELECT symbol, _WINDOW_START AS w, _WINDOW_END AS e, COUNT(*) AS n, SUM(quantity) AS qty
FROM trades
GROUP BY symbol
WINDOW SESSION(trade_time, INTERVAL '60' MILLISECOND)
EMIT %s
WITH (%s, %s, 'commit.interval'='20ms', 'repartition.partitions'='4'%s)`

// TestRepartitionedSessionsSurviveKillAndJoin runs the unaligned SESSION
// GROUP BY in three processes of a group over 8 source partitions (through
// a topic of 4, so that each partition interleaves the sessions of many
// symbols), stage 2 slowed so that the run is still under way when, a
// third of the records in, one process is killed (its connections cut, as
// by kill -9) or stopped, and restarted, and a fourth joins. Every
// rebalance replays the partitions from their committed offsets: the
// sessions open then are rebuilt whole, and those that had fired (some of
// whose records a replay reads again, the others being before the
// committed offset) are not written again. The sessions written are
// exactly one process's, some more than once, none with part of its
// records. With disordered trades, records late by their own source
// partition's watermark are dropped as one process drops them. With EMIT
// CHANGES the changelog (a session's message key holds its start and end),
// each tombstone deleting a session that grew on or merged, ends at that
// process's sessions.
func TestRepartitionedSessionsSurviveKillAndJoin(t *testing.T) {
	t.Parallel()
	const late = ", 'watermark.max_out_of_orderness'='50ms', 'window.allowed_lateness'='20ms', 'late.data.strategy'='drop'"
	for _, tt := range []struct {
		name     string
		emit     string
		disorder int64
		more     string
		crash    bool   // kill the process, else stop it
		join     string // the trades joined first with a "table" of traders, or a "stream" of quotes
	}{
		{"kill", "FINAL", 0, "", true, ""},
		{"late-stop", "FINAL", 300, late, false, ""},
		{"changes-kill", "CHANGES", 300, late, true, ""},
		{"table-kill", "FINAL", 0, "", true, "table"},
		{"table-late-stop", "FINAL", 300, late, false, "table"},
		{"stream-kill", "FINAL", 0, "", true, "stream"},
		{"stream-stop", "FINAL", 0, "", false, "stream"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			const total = 12000
			brokers := startCluster(t, "trades", "windows", "traders", "quotes")
			trades, times := disorderedTrades(t, total, 40, tt.disorder)
			perSymbolSession := perSymbolSession
			produce(t, brokers, "trades", keyBy(trades, byTrader))
			switch tt.join {
			case "table":
				// every process reads the table whole; a trader missing
				// from it filters its trades out (an INNER join)
				var traders []kafka.Message
				for i := range 35 {
					traders = append(traders, kafka.Message{Key: fmt.Appendf(nil, "%d", i), Value: fmt.Appendf(nil, `{"trader_id":%d,"name":"trader %d"}`, i, i)})
				}
				produce(t, brokers, "traders", traders)
				perSymbolSession = strings.NewReplacer("SELECT symbol,", "SELECT t.symbol,", "SUM(quantity)", "SUM(t.quantity)", "GROUP BY symbol", "GROUP BY t.symbol",
					"SESSION(trade_time", "SESSION(t.trade_time", "FROM trades\n", "FROM trades t JOIN traders r ON t.trader_id = r.trader_id\n",
					"'commit.interval'", fmt.Sprintf("'traders.type'='kafka_source', 'traders.bootstrap.servers'='%s', 'traders.primary.key'='trader_id', 'commit.interval'", brokers)).Replace(perSymbolSession)
			case "stream":
				// an inner stream-stream join on the symbol (the GROUP BY
				// key): a quote 3ms after two trades in three, keyed by
				// neither; the sessions are of the joined rows' times
				produce(t, brokers, "quotes", quotesOf(t, trades, times))
				perSymbolSession = strings.NewReplacer("SELECT symbol,", "SELECT t.symbol,", "SUM(quantity)", "SUM(t.quantity)", "GROUP BY symbol", "GROUP BY t.symbol",
					"SESSION(trade_time, ", "SESSION(", "FROM trades\n", "FROM trades t JOIN quotes q ON t.symbol = q.symbol WITHIN INTERVAL '10' MILLISECOND\n",
					"'commit.interval'", fmt.Sprintf("'quotes.type'='kafka_source', 'quotes.bootstrap.servers'='%s', 'event.time.field'='trade_time', 'commit.interval'", brokers)).Replace(perSymbolSession)
			}
			// one process reading the same Kafka partitions (whether a
			// record is late depends on the records before it in its own),
			// in no group: nothing is repartitioned
			alone := strings.Replace(perSymbolSession, ", 'repartition.partitions'='4'", "", 1)
			want, _ := oneProcessReference(t, func(path string) string {
				return fmt.Sprintf(alone, "FINAL", kafkaTrades(brokers), fmt.Sprintf("'per_symbol.type'='file_sink', 'per_symbol.path'='%s'", path), tt.more)
			}, 200, tt.disorder > 0)
			ctx, cancel := testContext(t)
			defer cancel()
			text := fmt.Sprintf(perSymbolSession, tt.emit, kafkaTrades(brokers, "group.id", "g", "session.timeout.ms", "6000"),
				fmt.Sprintf("'per_symbol.type'='kafka_sink', 'per_symbol.topic.name'='windows', 'per_symbol.bootstrap.servers'='%s'", brokers), tt.more)
			if tt.emit == "CHANGES" {
				// small batches: sessions are written, then grow on
				text = "-- @batch_size: 2\n" + text
			}
			victimText := text
			if tt.crash {
				// a killed process drains nothing: do not wait for it
				victimText = strings.Replace(text, "'commit.interval'", "'drain.timeout'='1s', 'commit.interval'", 1)
			}
			slow := &slowed{}
			procs := []*stage{startStageWith(t, ctx, victimText, &kafkatest.Cutter{}, slow.onBatch), startStageWith(t, ctx, text, &kafkatest.Cutter{}, slow.onBatch),
				startStageWith(t, ctx, text, &kafkatest.Cutter{}, slow.onBatch)}
			slow.wait(t, total/3)
			if tt.crash {
				procs[0].kill(t, "0")
			} else {
				procs[0].stop(t, "0")
				if procs[0].err != nil {
					t.Fatalf("stopped process: %v", procs[0].err)
				}
			}
			procs = append(procs[1:], startStageWith(t, ctx, text, &kafkatest.Cutter{}, slow.onBatch), startStageWith(t, ctx, text, &kafkatest.Cutter{}, slow.onBatch))
			for i, p := range procs {
				p.wait(t, ctx, fmt.Sprint(i+1))
			}
			var lines []string
			last := map[string]string{} // by message key: the session
			tombstones := 0
			for _, r := range readTopic(t, brokers, "windows") {
				if r.Value == nil {
					// a session that grew on or merged: its row retracted
					tombstones++
					delete(last, string(r.Key))
					continue
				}
				lines = append(lines, string(r.Value))
				last[string(r.Key)] = string(r.Value)
			}
			if tt.emit == "CHANGES" {
				// the changelog, applied as a compacted topic keeps it,
				// holds one process's sessions: a session's updates are
				// in its key's partition, in order
				if tombstones == 0 {
					t.Fatal("no session was retracted: the test checks nothing")
				}
				lines = lines[:0]
				for _, l := range last {
					lines = append(lines, l)
				}
			}
			sameLines(t, "sessions", sessionLines(t, lines), sessionLines(t, want))
		})
	}
}

// quotesOf returns a quote of the symbol of two trades in three, 3ms
// after it, keyed by its index.
func quotesOf(t *testing.T, trades []trade, times []int64) []kafka.Message {
	t.Helper()
	var quotes []kafka.Message
	for i, tr := range trades {
		if i%3 == 0 {
			continue
		}
		var f struct {
			Symbol string `json:"symbol"`
		}
		if err := json.Unmarshal(tr.line, &f); err != nil {
			t.Fatal(err)
		}
		at := time.UnixMilli(times[i] + 3).UTC().Format("2006-01-02T15:04:05.000Z")
		quotes = append(quotes, kafka.Message{Key: fmt.Appendf(nil, "%d", i), Value: fmt.Appendf(nil, `{"symbol":%q,"bid":%d,"trade_time":%q}`, f.Symbol, i, at)})
	}
	return quotes
}

// sessionLines checks that no session (symbol, start and end) has two
// different rows and returns the distinct rows sorted.
func sessionLines(t *testing.T, lines []string) []string {
	t.Helper()
	return distinctRows(t, lines, func(line string) string { return sessionOf(t, line) })
}

// sessionOf returns the session of a row: its symbol, start and end.
func sessionOf(t *testing.T, line string) string {
	t.Helper()
	var r struct {
		Symbol string          `json:"symbol"`
		W      json.RawMessage `json:"w"`
		E      json.RawMessage `json:"e"`
	}
	if err := json.Unmarshal([]byte(line), &r); err != nil {
		t.Fatalf("%q: %v", line, err)
	}
	return "session " + r.Symbol + "@" + string(r.W) + "/" + string(r.E)
}

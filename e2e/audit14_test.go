package e2e

import (
	"encoding/json"
	"fmt"
	"github.com/sluicesql/sluice/connector"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/connector/kafka"
)

// enriched is a stream-table join aggregated by columns of its tables:
// trades (8 partitions, keyed by symbol) joined on trader_id with
// traders (3 partitions, followed, the rows tradersRows gives) and, when
// the statement reads s, on symbol with symbols (2 partitions: each of 50
// symbols' sector and lot, a DECIMAL written as 1, 1.0 or 1.00), the
// statement's SELECT list sel and what follows the joins, tail.
func enriched(t *testing.T, traders []kafka.Message, sel, joins, tail string, key ...string) joinScenario {
	return enrichedOf(t, keyBy(genTrades(t, 6000, 400), bySymbol), traders, "", sel, joins, tail, key...)
}

// enrichedOf is enriched over the trades msgs, with the job's properties
// with ("" or ", 'p'='v', ...").
func enrichedOf(t *testing.T, trades, traders []kafka.Message, with, sel, joins, tail string, key ...string) joinScenario {
	var symbols []kafka.Message
	for i := range 50 {
		lot := []string{"1", "1.0", "1.00", "2.5", "2.50"}[i%5]
		symbols = append(symbols, kafka.Message{Key: fmt.Appendf(nil, "SYM%d", i), Value: fmt.Appendf(nil, `{"symbol":"SYM%d","sector":"s%d","lot":%s}`, i, i%4, lot)})
	}
	var tables string
	for name, pk := range map[string]string{"traders": "trader_id", "symbols": "symbol"} {
		if strings.Contains(joins, "JOIN "+name+" ") {
			tables += fmt.Sprintf("\n      '%[1]s.type'='kafka_source', '%[1]s.bootstrap.servers'='%%[1]s', '%[1]s.primary.key'='%[2]s',", name, pk)
		}
	}
	return joinScenario{
		kafkaInput: kafkaInput{from: "trades", sized: map[string]int32{"trades": 8, "traders": 3, "symbols": 2},
			data: map[string][]kafka.Message{"trades": trades, "traders": traders, "symbols": symbols}},
		stmt: "CREATE STREAM out AS\n" + sel + "\nFROM trades t " + joins + "\n" + tail +
			"\nWITH ('trades.type'='kafka_source', 'trades.bootstrap.servers'='%[1]s'%[2]s," + tables +
			"\n      'commit.interval'='50ms'" + with + ", %[3]s)",
		key: key,
	}
}

// tradersRows returns the traders table of regionWindows: 360 of 400
// traders, each with a region and a desk, some moved to another region.
func tradersRows() []kafka.Message {
	var traders []kafka.Message
	for i := range 360 {
		traders = append(traders, kafka.Message{Key: fmt.Appendf(nil, "%d", i), Value: fmt.Appendf(nil, `{"trader_id":%d,"region":"r%d","desk":%d}`, i, i%7, i%97)})
	}
	for i := 0; i < 360; i += 5 {
		traders = append(traders, kafka.Message{Key: fmt.Appendf(nil, "%d", i), Value: fmt.Appendf(nil, `{"trader_id":%d,"region":"moved %d","desk":%d}`, i, i%3, i%97)})
	}
	return traders
}

// retypedTraders is tradersRows with each trader_id written as form
// makes it of the id's digits.
func retypedTraders(form func(id string) string) []kafka.Message {
	var traders []kafka.Message
	for _, m := range tradersRows() {
		v := strings.Replace(string(m.Value), `"trader_id":`+string(m.Key)+",", `"trader_id":`+form(string(m.Key))+",", 1)
		traders = append(traders, kafka.Message{Key: m.Key, Value: []byte(v)})
	}
	return traders
}

const (
	byTraderJoin = "JOIN traders r ON t.trader_id = r.trader_id"
	regionWindow = "WINDOW TUMBLING(trade_time, INTERVAL '100' MILLISECOND)"
)

// TestAuditTableColumnShapes runs statements a user writes over a stream
// enriched by tables and aggregated by a table's column in three
// processes of one group, and compares their rows with one process's;
// those in killed again with a process killed mid-run and restarted
// while a fourth joins.
func TestAuditTableColumnShapes(t *testing.T) {
	t.Parallel()
	shapes := map[string]func(*testing.T) joinScenario{
		"changes": func(t *testing.T) joinScenario {
			sc := enriched(t, tradersRows(), "SELECT r.region, _WINDOW_START AS w, COUNT(*) AS n", byTraderJoin,
				"GROUP BY r.region "+regionWindow+" EMIT CHANGES", "region", "w")
			sc.changes = true
			return sc
		},
		"having": func(t *testing.T) joinScenario {
			return enriched(t, tradersRows(), "SELECT r.region, _WINDOW_START AS w, COUNT(*) AS n", byTraderJoin,
				"GROUP BY r.region HAVING COUNT(*) > 7 "+regionWindow+" EMIT FINAL", "region", "w")
		},
		"upper": func(t *testing.T) joinScenario {
			return enriched(t, tradersRows(), "SELECT UPPER(r.region) AS region, _WINDOW_START AS w, COUNT(*) AS n, SUM(t.quantity) AS q", byTraderJoin,
				"GROUP BY UPPER(r.region) "+regionWindow+" EMIT FINAL", "region", "w")
		},
		"two-tables": func(t *testing.T) joinScenario {
			return enriched(t, tradersRows(), "SELECT s.sector, r.region, _WINDOW_START AS w, COUNT(*) AS n", byTraderJoin+" JOIN symbols s ON t.symbol = s.symbol",
				"GROUP BY s.sector, r.region "+regionWindow+" EMIT FINAL", "sector", "region", "w")
		},
		"decimal-key": func(t *testing.T) joinScenario {
			return enriched(t, tradersRows(), "SELECT s.lot, _WINDOW_START AS w, COUNT(*) AS n", "JOIN symbols s ON t.symbol = s.symbol",
				"GROUP BY s.lot "+regionWindow+" EMIT FINAL", "lot", "w")
		},
		"sessions": func(t *testing.T) joinScenario {
			return enriched(t, tradersRows(), "SELECT r.region, _WINDOW_START AS w, _WINDOW_END AS e, COUNT(*) AS n", byTraderJoin,
				"GROUP BY r.region WINDOW SESSION(trade_time, INTERVAL '6' MILLISECOND) EMIT FINAL", "region", "w")
		},
		"left-changes-no-window": func(t *testing.T) joinScenario {
			sc := enriched(t, tradersRows(), "SELECT r.region, r.desk, COUNT(*) AS n, SUM(t.quantity) AS q", "LEFT "+byTraderJoin,
				"GROUP BY r.region, r.desk EMIT CHANGES", "region", "desk")
			sc.changes = true
			return sc
		},
		"tombstones": func(t *testing.T) joinScenario {
			traders := tradersRows()
			for i := 1; i < 360; i += 11 {
				traders = append(traders, kafka.Message{Key: fmt.Appendf(nil, "%d", i)})
			}
			return enriched(t, traders, "SELECT r.region, _WINDOW_START AS w, COUNT(*) AS n", byTraderJoin,
				"GROUP BY r.region "+regionWindow+" EMIT FINAL", "region", "w")
		},
		"late": func(t *testing.T) joinScenario {
			trades, _ := disorderedTrades(t, 6000, 400, 300)
			return enrichedOf(t, keyBy(trades, byTrader), tradersRows(), ", 'watermark.max_out_of_orderness'='100ms', 'window.allowed_lateness'='50ms'",
				"SELECT r.region, _WINDOW_START AS w, COUNT(*) AS n", byTraderJoin, "GROUP BY r.region "+regionWindow+" EMIT FINAL", "region", "w")
		},
		"cast-string-table-key": func(t *testing.T) joinScenario {
			return enriched(t, retypedTraders(func(id string) string { return `"` + id + `"` }), "SELECT r.region, _WINDOW_START AS w, COUNT(*) AS n",
				"JOIN traders r ON CAST(t.trader_id AS STRING) = r.trader_id", "GROUP BY r.region "+regionWindow+" EMIT FINAL", "region", "w")
		},
		"decimal-table-key": func(t *testing.T) joinScenario {
			forms := []string{".0", ".00", "", ".000"}
			n := 0
			return enriched(t, retypedTraders(func(id string) string { n++; return id + forms[n%len(forms)] }), "SELECT r.region, _WINDOW_START AS w, COUNT(*) AS n",
				byTraderJoin, "GROUP BY r.region "+regionWindow+" EMIT FINAL", "region", "w")
		},
		"left-on-condition": func(t *testing.T) joinScenario {
			return enriched(t, tradersRows(), "SELECT r.region, _WINDOW_START AS w, COUNT(*) AS n, COUNT(r.desk) AS desks",
				"LEFT "+byTraderJoin+" AND r.desk > 40", "GROUP BY r.region "+regionWindow+" EMIT FINAL", "region", "w")
		},
		"coalesce": func(t *testing.T) joinScenario {
			sc := enriched(t, tradersRows(), "SELECT COALESCE(r.region, t.symbol) AS k, _WINDOW_START AS w, COUNT(*) AS n",
				"LEFT "+byTraderJoin, "GROUP BY COALESCE(r.region, t.symbol) WINDOW TUMBLING(trade_time, INTERVAL '300' MILLISECOND) EMIT CHANGES", "k", "w")
			sc.changes = true
			return sc
		},
		"file-table": func(t *testing.T) joinScenario {
			var lines []string
			for _, m := range tradersRows() {
				lines = append(lines, string(m.Value))
			}
			path := filepath.Join(t.TempDir(), "traders.jsonl")
			if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			sc := enriched(t, nil, "SELECT r.region, _WINDOW_START AS w, COUNT(*) AS n", "JOIN file r ON t.trader_id = r.trader_id",
				"GROUP BY r.region "+regionWindow+" EMIT FINAL", "region", "w")
			sc.stmt = strings.Replace(sc.stmt, "'commit.interval'", "'file.type'='file_source', 'file.path'='"+path+"', 'file.primary.key'='trader_id', 'commit.interval'", 1)
			return sc
		},
		"aggregates-sliding": func(t *testing.T) joinScenario {
			return enriched(t, tradersRows(), "SELECT r.region, _WINDOW_START AS w, COUNT(DISTINCT t.symbol) AS syms, MEDIAN(t.price) AS med, MIN(t.price) AS lo, MAX(r.desk) AS desk, AVG(t.quantity) AS q",
				byTraderJoin, "GROUP BY r.region WINDOW SLIDING(trade_time, INTERVAL '300' MILLISECOND, INTERVAL '100' MILLISECOND) EMIT FINAL", "region", "w")
		},
	}
	// killed: the shapes also run with a process killed mid-run and
	// restarted while a fourth joins
	killed := map[string]bool{"sessions": true, "left-changes-no-window": true, "file-table": true}
	for name, shape := range shapes {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			shape(t).acrossProcesses(t, false)
		})
		if killed[name] {
			t.Run(name+"/kill-and-join", func(t *testing.T) {
				t.Parallel()
				shape(t).acrossProcesses(t, true)
			})
		}
	}
}

// TestAuditTableColumnDeadLetters: a stream enriched by a table and
// aggregated by the table's column, whose stream has malformed records
// (cut short, a quantity that is not a number) and records that fail to
// evaluate, in three processes of one group: in the join's ON condition
// (evaluated by stage 1 as it joins), after the join (a WHERE that
// divides by zero) and in the routing key (stage 1 writes the row on,
// and stage 2 fails it as one process does). The job goes on, and the group writes
// one process's rows and dead letters, at the records' places in the
// source: those of stage 1 with the original bytes, those of stage 2
// with the joined row.
func TestAuditTableColumnDeadLetters(t *testing.T) {
	t.Parallel()
	msgs := keyBy(genTrades(t, 6000, 400), bySymbol)
	bad := spoilTrades(msgs)
	const window = " WINDOW TUMBLING(trade_time, INTERVAL '100' MILLISECOND) EMIT FINAL"
	for name, tc := range map[string]struct {
		sel, joins, tail string
		stage            int // the stage that fails the records
	}{
		"where": {"SELECT r.region, _WINDOW_START AS w, COUNT(*) AS n", byTraderJoin, "WHERE 100 / (t.quantity %% 97 + r.desk %% 2) >= 0 GROUP BY r.region" + window, 2},
		"on":    {"SELECT r.region, _WINDOW_START AS w, COUNT(*) AS n", "LEFT " + byTraderJoin + " AND 100 / (t.quantity %% 97) > 0", "GROUP BY r.region" + window, 1},
		"key":   {"SELECT r.region, 100 / (t.quantity %% 97 + r.desk %% 2) AS x, _WINDOW_START AS w, COUNT(*) AS n", byTraderJoin, "GROUP BY r.region, 100 / (t.quantity %% 97 + r.desk %% 2)" + window, 2},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sc := enrichedOf(t, msgs, tradersRows(), ", 'trades.columns'='trader_id BIGINT, symbol STRING, price DECIMAL(10,2), quantity BIGINT, trade_time TIMESTAMP'",
				tc.sel, tc.joins, tc.tail)
			sh := shape{kafkaInput: sc.kafkaInput, stmt: sc.stmt}
			brokers := sh.start(t, "want", "got", "dead-want", "dead-got")
			got := sh.group(t, brokers, 3, "dlq.topic", "dead-got")
			sameLines(t, "rows of the group", got, sh.oneProcess(t, brokers, "dlq.topic", "dead-want"))
			sameDeadLetters(t, deadLetters(t, brokers, "dead-got"), deadLetters(t, brokers, "dead-want"), bad, tc.stage)
		})
	}
}

// sameDeadLetters fails the test unless the group's dead letters got are
// at the places of one process's, want, with the same reasons: the
// malformed records (their original bytes in bad) with their original
// bytes, the others, which fail in stage (1 or 2), with their original
// bytes in stage 1 and the joined row, the record's columns as read and
// the table's as joined, in stage 2.
func sameDeadLetters(t *testing.T, got, want map[string]connector.DeadLetterJSON, bad map[string]bool, stage int) {
	t.Helper()
	sameDeadLetterPlaces(t, got, want, bad, func(at string, g, w connector.DeadLetterJSON, malformed bool) {
		if malformed || stage == 1 {
			if original(t, g) != original(t, w) || g.Repartition != nil {
				t.Errorf("dead letter at %s holds %q via %+v, want the original %q from stage 1", at, original(t, g), g.Repartition, original(t, w))
			}
			return
		}
		var row, rec map[string]json.RawMessage
		if json.Unmarshal([]byte(original(t, g)), &row) != nil || json.Unmarshal([]byte(original(t, w)), &rec) != nil || g.Repartition == nil {
			t.Errorf("dead letter at %s of stage 2: raw %q via %+v, want the joined row of %q and its place in the topic", at, original(t, g), g.Repartition, original(t, w))
			return
		}
		for col, v := range rec {
			if string(row[col]) != string(v) {
				t.Errorf("dead letter at %s: %s is %s in the joined row, %s in the record", at, col, row[col], v)
			}
		}
		if row["r.region"] == nil {
			t.Errorf("dead letter at %s: the joined row %q lacks the table's columns", at, original(t, g))
		}
	})
}

// TestAuditKeyFormsAcrossProcesses: numbers written in several forms in
// different source partitions (150, 150.0, 1.5e2, -0.0, 0) are one group
// across processes, printed in one form, one process's, and the message
// key of each row written to Kafka is the text of the row's key columns:
// a GROUP BY of an inferred DECIMAL without a window (EMIT CHANGES), with
// a second key column, of a DOUBLE computed from it, in windows, and of a
// table's inferred DECIMAL column after a stream-table join.
func TestAuditKeyFormsAcrossProcesses(t *testing.T) {
	t.Parallel()
	const base = int64(1_700_000_000_000)
	forms := []string{"150", "150.0", "150.00", "1.5e2", "7.5", "7.50", "-0.0", "0", "0.000", "100", "100.000", "1e2", "12.345", "-3", "-3.00"}
	var levels []kafka.Message
	for i := range int64(3000) {
		levels = append(levels, kafka.Message{Key: fmt.Appendf(nil, "t%d", i%13),
			Value: fmt.Appendf(nil, `{"trader":"t%d","lvl":%s,"q":%d,"ts":%d}`, i%13, forms[(i/7)%int64(len(forms))], i%7, base+i)})
	}
	levelsOf := func(stmt string) func(*testing.T) shape {
		return func(t *testing.T) shape { return tradeShapeOf(t, levels, stmt, "event.time.field", "ts") }
	}
	for name, tc := range map[string]struct {
		shape   func(*testing.T) shape
		key     []string
		changes bool
	}{
		"changes":        {levelsOf("SELECT lvl, COUNT(*) AS n, SUM(q) AS q FROM trades GROUP BY lvl EMIT CHANGES"), []string{"lvl"}, true},
		"two-columns":    {levelsOf("SELECT q, lvl, COUNT(*) AS n FROM trades GROUP BY q, lvl EMIT CHANGES"), []string{"q", "lvl"}, true},
		"double-windows": {levelsOf("SELECT CAST(lvl AS DOUBLE) AS d, _WINDOW_START AS w, COUNT(*) AS n FROM trades GROUP BY CAST(lvl AS DOUBLE) WINDOW TUMBLING(ts, INTERVAL '300' MILLISECOND) EMIT FINAL"), []string{"d"}, false},
		// a table's DECIMAL column, 1, 1.0 and 1.00 in rows of
		// symbols whose trades are in different partitions
		"table-column": {func(t *testing.T) shape {
			sc := enriched(t, nil, "SELECT s.lot, COUNT(*) AS n", "JOIN symbols s ON t.symbol = s.symbol", "GROUP BY s.lot EMIT CHANGES")
			return shape{kafkaInput: sc.kafkaInput, stmt: sc.stmt}
		}, []string{"lot"}, true},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sh := tc.shape(t)
			sh.changes, sh.few = tc.changes, true
			brokers := sh.start(t, "want", "got")
			got := sh.group(t, brokers, 3)
			sameLines(t, "rows of the group", got, sh.oneProcess(t, brokers))
			for _, r := range readTopic(t, brokers, "got") {
				var row map[string]json.RawMessage
				if err := json.Unmarshal(r.Value, &row); err != nil {
					t.Fatalf("%q: %v", r.Value, err)
				}
				want := messageKey(row, tc.key)
				if _, ok := row["w"]; ok { // a window's key: the columns, then the window
					var k map[string]json.RawMessage
					if err := json.Unmarshal(r.Key, &k); err != nil {
						t.Fatalf("key %q: %v", r.Key, err)
					}
					if string(k[tc.key[0]]) != string(row[tc.key[0]]) {
						t.Errorf("row %s has key %s", r.Value, r.Key)
					}
					continue
				}
				if string(r.Key) != want {
					t.Errorf("row %s has key %s, want %s", r.Value, r.Key, want)
				}
			}
		})
	}
}

// TestAuditLateMemberOfFinishedRun runs a stream enriched by a table and
// aggregated by the table's columns, with a HAVING whose groups stop
// meeting it (EMIT CHANGES retracts their rows: a tombstone), in two
// processes of a bounded run (--until-end): they write one process's
// rows, and a process of the group that starts once they finished ends
// without writing a row.
func TestAuditLateMemberOfFinishedRun(t *testing.T) {
	t.Parallel()
	sc := enriched(t, tradersRows(), "SELECT r.region, r.desk, COUNT(*) AS n, MIN(t.quantity) AS lo", byTraderJoin,
		"GROUP BY r.region, r.desk HAVING MIN(t.quantity) > 30 EMIT CHANGES")
	sh := shape{kafkaInput: sc.kafkaInput, stmt: sc.stmt, changes: true}
	brokers := sh.start(t, "want", "got")
	got := sh.group(t, brokers, 2)
	sameLines(t, "rows of the group", got, sh.oneProcess(t, brokers))
	before := len(readTopic(t, brokers, "got"))
	ctx, cancel := testContext(t)
	defer cancel()
	late := startStage(t, ctx, sh.text(brokers, "g", "got"))
	late.wait(t, ctx, "late")
	if after := len(readTopic(t, brokers, "got")); after != before {
		t.Errorf("the late process wrote %d rows after the group finished", after-before)
	}
}

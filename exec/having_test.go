package exec

import (
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/record"
)

// A group whose row met HAVING and no longer does has that row retracted
// under EMIT CHANGES, and written again once it meets HAVING again.
func TestHavingRetractsUnderEmitChanges(t *testing.T) {
	p := compileSQL(t, `SELECT g, SUM(x) AS s, COUNT(*) + 1 AS n, UPPER(g) AS u FROM t GROUP BY g HAVING SUM(x) < 100 EMIT CHANGES`,
		Options{}, "g", "x")
	c := runEach(p, recs([]any{"a", 50}, []any{"b", 500}, []any{"a", 70}, []any{"a", 1}, []any{"a", -40}, []any{"b", -450}))
	want := []string{"a|50|2|A", "a|NULL|NULL|A", "a|81|5|A", "b|50|3|B"}
	wantRetract := []bool{false, true, false, false}
	if got := c.texts(); !slices.Equal(got, want) || !slices.Equal(c.retract, wantRetract) {
		t.Errorf("got %v %v\nwant %v %v", got, c.retract, want, wantRetract)
	}
	checkStats(t, runEachStats(p, recs([]any{"a", 50}, []any{"a", 70})))
}

// changelogState applies a changelog of rows keyed by their first keys
// columns: each row replaces its key's, a retraction deletes it.
func changelogState(c *collector, keys int) [][]any {
	state := map[string][]any{}
	for i, r := range c.rows {
		k := rowText(r[:keys])
		if c.retract[i] {
			delete(state, k)
			continue
		}
		row := make([]any, len(r))
		for j, v := range r {
			row[j] = plain(v)
		}
		state[k] = row
	}
	out := make([][]any, 0, len(state))
	for _, r := range state {
		out = append(out, r)
	}
	return out
}

// The changelog of an EMIT CHANGES aggregate with HAVING, retractions
// applied, ends at SQLite's GROUP BY ... HAVING over the whole input, for
// every batch size and every interleaving of the source partitions; EMIT
// FINAL gives those rows once.
func TestHavingChangelogMatchesSQLite(t *testing.T) {
	db := openSQLite(t)
	const n = 1500
	byPart := sqliteTable(t, db, n, func(_ int, rng *rand.Rand) int64 { return rng.Int64N(60_000) })
	tests := []struct {
		name, sluice, sqlite string
		// keys are the leading columns the changelog is keyed by: each
		// keying is checked
		keys []int
	}{
		{"sum below", `SELECT g, SUM(x) AS s FROM t GROUP BY g HAVING SUM(x) < 40 EMIT CHANGES`,
			`SELECT g, SUM(x) FROM t GROUP BY g HAVING SUM(x) < 40`, []int{1}},
		{"count equals", `SELECT g, COUNT(*) AS n, MAX(x) AS m FROM t GROUP BY g HAVING COUNT(*) = 50 EMIT CHANGES`,
			`SELECT g, COUNT(*), MAX(x) FROM t GROUP BY g HAVING COUNT(*) = 50`, []int{1}},
		{"sum positive", `SELECT g, SUM(x) AS s FROM t GROUP BY g HAVING SUM(x) > 0 AND MIN(x) > -15 EMIT CHANGES`,
			`SELECT g, SUM(x) FROM t GROUP BY g HAVING SUM(x) > 0 AND MIN(x) > -15`, []int{1}},
		{"tumbling changes", `SELECT g, _WINDOW_START AS ws, SUM(x) AS s FROM t GROUP BY g
			HAVING SUM(x) BETWEEN 0 AND 20 WINDOW TUMBLING(ts, INTERVAL '10' SECOND) EMIT CHANGES`,
			`SELECT g, (ts / 10000) * 10000, SUM(x) FROM t GROUP BY g, ts / 10000 HAVING SUM(x) BETWEEN 0 AND 20`, []int{2}},
		{"tumbling final", `SELECT g, _WINDOW_START AS ws, SUM(x) AS s FROM t GROUP BY g
			HAVING SUM(x) BETWEEN 0 AND 20 WINDOW TUMBLING(ts, INTERVAL '10' SECOND) EMIT FINAL`,
			`SELECT g, (ts / 10000) * 10000, SUM(x) FROM t GROUP BY g, ts / 10000 HAVING SUM(x) BETWEEN 0 AND 20`, []int{2}},
		// a session a record extends or merges into another has its
		// earlier row retracted: keyed by its start (a file a consumer
		// reads by the window's start) and by its start and end (a
		// Kafka sink's windowed key)
		{"session changes", `SELECT g, _WINDOW_START AS ws, _WINDOW_END AS we, SUM(x) AS s, COUNT(*) AS n FROM t GROUP BY g
			WINDOW SESSION(ts, INTERVAL '1' SECOND) EMIT CHANGES`,
			`SELECT g, MIN(ts), MAX(ts) + 1000, SUM(x), COUNT(*) FROM (` + sessionsSQLite + `) GROUP BY g, sid`, []int{2, 3}},
		{"session changes ordered", `SELECT g, _WINDOW_START AS ws, SUM(x) AS s FROM t GROUP BY g
			WINDOW SESSION(ts, INTERVAL '1' SECOND) ORDER BY s EMIT CHANGES`,
			`SELECT g, MIN(ts), SUM(x) FROM (` + sessionsSQLite + `) GROUP BY g, sid`, []int{2}},
		{"session having changes", `SELECT g, _WINDOW_START AS ws, _WINDOW_END AS we, SUM(x) AS s FROM t GROUP BY g
			HAVING COUNT(*) BETWEEN 2 AND 3 WINDOW SESSION(ts, INTERVAL '1' SECOND) EMIT CHANGES`,
			`SELECT g, MIN(ts), MAX(ts) + 1000, SUM(x) FROM (` + sessionsSQLite + `) GROUP BY g, sid HAVING COUNT(*) BETWEEN 2 AND 3`, []int{2, 3}},
		{"session final", `SELECT g, _WINDOW_START AS ws, _WINDOW_END AS we, SUM(x) AS s FROM t GROUP BY g
			WINDOW SESSION(ts, INTERVAL '1' SECOND) EMIT FINAL`,
			`SELECT g, MIN(ts), MAX(ts) + 1000, SUM(x) FROM (` + sessionsSQLite + `) GROUP BY g, sid`, []int{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := compileSQL(t, tt.sluice, Options{ExternalWatermark: true}, "g", "x", "ts")
			want := querySQLite(t, db, tt.sqlite)
			if len(want) == 0 {
				t.Fatal("SQLite gives no rows: the test checks nothing")
			}
			final := strings.Contains(tt.sluice, "EMIT FINAL")
			for round, batch := range []int{1, 3, 64, n} {
				data := interleave(rand.New(rand.NewPCG(uint64(round), 5)), byPart)
				c := runBatches(t, p, data, batch)
				if final {
					if slices.Contains(c.retract, true) {
						t.Fatalf("batch %d: EMIT FINAL retracted a row", batch)
					}
					if len(c.rows) != len(want) {
						t.Fatalf("batch %d: EMIT FINAL wrote %d rows, want one per group: %d", batch, len(c.rows), len(want))
					}
				}
				for _, keys := range tt.keys {
					compareRows(t, changelogState(c, keys), want)
				}
			}
		})
	}
}

// openSQLite opens an in-memory SQLite database, closed when t ends.
func openSQLite(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	return db
}

// sqliteTable fills SQLite's table t (g TEXT, x INTEGER, ts INTEGER) with
// n random rows, ts(i) giving the i-th row's ts, and returns them as
// records of 4 source partitions, dealt in turn.
func sqliteTable(t *testing.T, db *sql.DB, n int, ts func(i int, rng *rand.Rand) int64) [][]record.Record {
	t.Helper()
	if _, err := db.Exec(`CREATE TABLE t (g TEXT, x INTEGER, ts INTEGER)`); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 17))
	byPart := make([][]record.Record, 4)
	for i := range n {
		g, x, ts := fmt.Sprintf("k%d", rng.IntN(30)), rng.IntN(41)-15, ts(i, rng)
		if _, err := db.Exec(`INSERT INTO t VALUES (?, ?, ?)`, g, x, ts); err != nil {
			t.Fatal(err)
		}
		part := i % len(byPart)
		r := recs([]any{g, x, ts})[0]
		r.Partition, r.Offset = int32(part), int64(len(byPart[part]))
		byPart[part] = append(byPart[part], r)
	}
	return byPart
}

// withWatermarks returns copies of the partitions' records that carry the
// watermark of their partition before them (record.Record.Watermark), as
// a job stamps them: the largest ts (column 2) so far minus behind.
func withWatermarks(byPart [][]record.Record, behind int64) [][]record.Record {
	out := make([][]record.Record, len(byPart))
	for i, part := range byPart {
		wm := int64(math.MinInt64)
		for _, r := range part {
			r.Watermark = wm
			wm = max(wm, r.Values[2].Int()-behind)
			out[i] = append(out[i], r)
		}
	}
	return out
}

// runAdvancing runs data through p in batches of size batch as a job with
// parts source partitions does: after each batch the watermark moves to
// the smallest over the partitions of the latest watermark their records
// carried, then Finish; a dead letter fails t.
func runAdvancing(t *testing.T, p *Program, data []record.Record, parts, batch int) *collector {
	t.Helper()
	pl := p.NewPipeline()
	var out collector
	wms := make([]int64, parts)
	for i := range wms {
		wms[i] = math.MinInt64
	}
	for i := 0; i < len(data); i += batch {
		recs := data[i:min(i+batch, len(data))]
		pl.Process(recs, &out)
		for _, r := range recs {
			wms[r.Partition] = max(wms[r.Partition], r.Watermark)
		}
		pl.Advance(slices.Min(wms), &out)
	}
	pl.Finish(&out)
	if len(out.dead) > 0 {
		t.Fatalf("dead letters: %v", out.dead[0])
	}
	return &out
}

// sessionsSQLite numbers the sessions of each g in SQLite: a record
// starts a new one when it is a gap (1 second) or more after the one
// before it (sid, with the record's g, x and ts).
const sessionsSQLite = `SELECT g, x, ts, SUM(b) OVER (PARTITION BY g ORDER BY ts ROWS UNBOUNDED PRECEDING) AS sid FROM (
	SELECT g, x, ts, CASE WHEN ts - LAG(ts) OVER (PARTITION BY g ORDER BY ts) < 1000 THEN 0 ELSE 1 END AS b FROM t)`

// interleave merges the partitions in a random order that keeps each
// partition's own order.
func interleave(rng *rand.Rand, parts [][]record.Record) []record.Record {
	var out []record.Record
	next := make([]int, len(parts))
	for {
		var open []int
		for i, p := range parts {
			if next[i] < len(p) {
				open = append(open, i)
			}
		}
		if len(open) == 0 {
			return out
		}
		i := open[rng.IntN(len(open))]
		out = append(out, parts[i][next[i]])
		next[i]++
	}
}

// Windows that late records update ('late.data.strategy' = 'update')
// write corrected rows after they fire, and retract the rows of groups
// that stop meeting HAVING: the changelog, retractions applied, ends at
// SQLite's answer over the whole input, through DISTINCT and ORDER BY
// (which keep retractions and put them first), for every batch size.
func TestLateUpdatesRetractThroughDistinctAndOrder(t *testing.T) {
	db := openSQLite(t)
	const n = 1500
	byPart := withWatermarks(sqliteTable(t, db, n, func(i int, rng *rand.Rand) int64 { return int64(i)*40 + rng.Int64N(8000) }), 3000)
	const having = `SUM(x) BETWEEN 0 AND 20`
	tumbling := `SELECT g, (ts / 5000) * 5000, SUM(x) FROM t GROUP BY g, ts / 5000 HAVING ` + having
	tests := []struct{ name, sluice, sqlite string }{
		{"having", `SELECT g, _WINDOW_START AS ws, SUM(x) AS s FROM t GROUP BY g HAVING ` + having +
			` WINDOW TUMBLING(ts, INTERVAL '5' SECOND) EMIT FINAL`, tumbling},
		{"distinct", `SELECT DISTINCT g, _WINDOW_START AS ws, SUM(x) AS s FROM t GROUP BY g HAVING ` + having +
			` WINDOW TUMBLING(ts, INTERVAL '5' SECOND) EMIT FINAL`, tumbling},
		{"ordered", `SELECT g, _WINDOW_START AS ws, SUM(x) AS s FROM t GROUP BY g HAVING ` + having +
			` WINDOW TUMBLING(ts, INTERVAL '5' SECOND) ORDER BY s DESC EMIT FINAL`, tumbling},
		// a session a late record extends retracts its row and writes
		// it again, with the same values when its start is the same
		{"session distinct", `SELECT DISTINCT g, _WINDOW_START AS ws FROM t GROUP BY g
			WINDOW SESSION(ts, INTERVAL '1' SECOND) EMIT FINAL`,
			`SELECT g, MIN(ts) FROM (` + sessionsSQLite + `) GROUP BY g, sid`},
		// sessions that late records extend and bridge (3 and more
		// merging at once), under EMIT CHANGES and EMIT FINAL, with HAVING,
		// and under ORDER BY (retractions first)
		{"session update", `SELECT g, _WINDOW_START AS ws, _WINDOW_END AS we, SUM(x) AS s, COUNT(*) AS n FROM t GROUP BY g
			WINDOW SESSION(ts, INTERVAL '1' SECOND) EMIT FINAL`,
			`SELECT g, MIN(ts), MAX(ts) + 1000, SUM(x), COUNT(*) FROM (` + sessionsSQLite + `) GROUP BY g, sid`},
		{"session changes update", `SELECT g, _WINDOW_START AS ws, _WINDOW_END AS we, SUM(x) AS s FROM t GROUP BY g
			WINDOW SESSION(ts, INTERVAL '1' SECOND) EMIT CHANGES`,
			`SELECT g, MIN(ts), MAX(ts) + 1000, SUM(x) FROM (` + sessionsSQLite + `) GROUP BY g, sid`},
		{"session having update", `SELECT g, _WINDOW_START AS ws, _WINDOW_END AS we, COUNT(*) AS n FROM t GROUP BY g
			HAVING COUNT(*) BETWEEN 2 AND 4 WINDOW SESSION(ts, INTERVAL '1' SECOND) EMIT CHANGES`,
			`SELECT g, MIN(ts), MAX(ts) + 1000, COUNT(*) FROM (` + sessionsSQLite + `) GROUP BY g, sid HAVING COUNT(*) BETWEEN 2 AND 4`},
		{"session ordered update", `SELECT g, _WINDOW_START AS ws, SUM(x) AS s FROM t GROUP BY g
			WINDOW SESSION(ts, INTERVAL '1' SECOND) ORDER BY s DESC EMIT FINAL`,
			`SELECT g, MIN(ts), SUM(x) FROM (` + sessionsSQLite + `) GROUP BY g, sid`},
	}
	opts := Options{ExternalWatermark: true, Properties: map[string]string{PropLateDataStrategy: "update", PropLateRetention: "1h"}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := compileSQL(t, tt.sluice, opts, "g", "x", "ts")
			want := querySQLite(t, db, tt.sqlite)
			retracted := false
			for round, batch := range []int{1, 7, 64, n} {
				data := interleave(rand.New(rand.NewPCG(uint64(round), 9)), byPart)
				c := runAdvancing(t, p, data, len(byPart), batch)
				retracted = retracted || slices.Contains(c.retract, true)
				compareRows(t, changelogState(c, 2), want)
			}
			if !retracted {
				t.Fatal("no row was retracted: the test checks nothing")
			}
		})
	}
}

// What would cut or merge retractions is refused, where it is written:
// LIMIT (it cuts each emission), and DISTINCT over rows that do not name
// their group or window (one group's retraction would delete a row that
// DISTINCT merged with another's).
func TestRetractingRefusesLimitAndLooseDistinct(t *testing.T) {
	update := map[string]string{PropLateDataStrategy: "update"}
	tests := []struct {
		src   string
		props map[string]string
		want  string
	}{
		{`SELECT g, SUM(x) AS s FROM t GROUP BY g HAVING SUM(x) < 40 LIMIT 5 EMIT CHANGES`, nil,
			`1:60: LIMIT cannot apply to HAVING, whose rows of groups that stop meeting it are retracted, under EMIT CHANGES`},
		{`SELECT g, COUNT(*) AS n FROM t GROUP BY g WINDOW SESSION(ts, 1s) LIMIT 5 EMIT CHANGES`, nil,
			`1:66: LIMIT cannot apply to a SESSION window, whose rows name sessions that later records extend and merge, under EMIT CHANGES`},
		{`SELECT g, SUM(x) AS s FROM t GROUP BY g HAVING SUM(x) < 40 WINDOW TUMBLING(ts, 1m) LIMIT 5`, update,
			`LIMIT cannot apply to HAVING, whose rows of groups that stop meeting it are retracted, with 'late.data.strategy' = 'update'`},
		{`SELECT DISTINCT SUM(x) AS s FROM t GROUP BY g HAVING SUM(x) < 40 WINDOW TUMBLING(ts, 1m)`, update,
			`1:45: SELECT DISTINCT with HAVING, whose rows of groups that stop meeting it are retracted, with 'late.data.strategy' = 'update' needs each row to name its group: select the GROUP BY key g`},
		{`SELECT DISTINCT g, COUNT(*) AS n FROM t GROUP BY g WINDOW SESSION(ts, 1s)`, update,
			`needs each row to name its window: select _WINDOW_START`},
	}
	for _, tt := range tests {
		_, err := compileSQLErr(tt.src, Options{Properties: tt.props}, "g", "x", "ts")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s:\ngot  %v\nwant %s", tt.src, err, tt.want)
		}
	}
	// without retractions, and with rows that name their groups, they stay
	for _, src := range []string{
		`SELECT g, SUM(x) AS s FROM t GROUP BY g HAVING SUM(x) < 40 LIMIT 5 EMIT FINAL`,
		`SELECT g, COUNT(*) AS n FROM t GROUP BY g WINDOW TUMBLING(ts, 1m) LIMIT 5 EMIT CHANGES`,
		`SELECT DISTINCT g, _WINDOW_START AS ws, COUNT(*) AS n FROM t GROUP BY g WINDOW SESSION(ts, 1s)`,
	} {
		if _, err := compileSQLErr(src, Options{Properties: update}, "g", "x", "ts"); err != nil {
			t.Errorf("%s: %v", src, err)
		}
	}
}

// The example of docs/sql.md: a session a record extends, and one it
// merges into another, have their rows retracted, before the row of the
// session they became.
func TestSessionChangesRetractMovedSessions(t *testing.T) {
	p := compileSQL(t, `SELECT g, _WINDOW_START AS ws, _WINDOW_END AS we, COUNT(*) AS n FROM t GROUP BY g
		WINDOW SESSION(ts, INTERVAL '5' MINUTE) EMIT CHANGES`, Options{ExternalWatermark: true}, "g", "ts")
	const m = 60_000
	c := runEach(p, recs([]any{"a", 0}, []any{"a", 10 * m}, []any{"a", 4 * m}, []any{"a", 7 * m}))
	at := func(min int) string { return ms(int64(min) * m) }
	want := []string{
		"a|" + at(0) + "|" + at(5) + "|1",
		"a|" + at(10) + "|" + at(15) + "|1",
		"a|" + at(0) + "|" + at(5) + "|NULL", "a|" + at(0) + "|" + at(9) + "|2",
		"a|" + at(10) + "|" + at(15) + "|NULL", "a|" + at(0) + "|" + at(9) + "|NULL", "a|" + at(0) + "|" + at(15) + "|4",
	}
	wantRetract := []bool{false, false, true, false, true, true, false}
	if got := c.texts(); !slices.Equal(got, want) || !slices.Equal(c.retract, wantRetract) {
		t.Errorf("got  %v %v\nwant %v %v", got, c.retract, want, wantRetract)
	}
	checkStats(t, runEachStats(p, recs([]any{"a", 0}, []any{"a", 10 * m}, []any{"a", 4 * m})))
}

// TestRepeatedAggregateComputedOnce: an aggregate call repeated in HAVING
// or the select list (in any case, qualified or not) is one aggregate of
// the group row, updated once per record, as EXPLAIN lists it once
// (plan TestExplainListsAnAggregateOnce); calls that differ are each one.
func TestRepeatedAggregateComputedOnce(t *testing.T) {
	for src, want := range map[string]int{
		"SELECT g, COUNT(*) AS n FROM t GROUP BY g HAVING COUNT(*) > 1":                                                   1,
		"SELECT g, SUM(x) AS s, count(*) AS n FROM t GROUP BY g HAVING sum(t.X) > 1 AND COUNT(*) < 9":                     2,
		"SELECT g, COUNT(x) AS s, COUNT(DISTINCT x) AS d, SUM(x + 1) AS p FROM t GROUP BY g HAVING COUNT(DISTINCT x) > 0": 3,
	} {
		p := compileSQL(t, src, Options{}, "g", "x")
		if n := len(p.agg.specs); n != want {
			t.Errorf("%s: %d aggregates computed, want %d", src, n, want)
		}
	}
}

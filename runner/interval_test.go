package runner

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/plan"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// intervalData returns three random streams a, b and c (k, j, ts, v)
// loaded into SQLite, their records spread over partitions by k, in time
// order or shuffled within 2 s.
func intervalData(t *testing.T, seed uint64, disordered bool) *joinData {
	t.Helper()
	d := newJoinData(t, seed, true) // for its SQLite handle; the streams replace its inputs
	rng := rand.New(rand.NewPCG(seed, 7))
	if _, err := d.db.Exec(`CREATE TABLE a (k TEXT, j INTEGER, ts INTEGER, v INTEGER); CREATE TABLE b (k TEXT, j INTEGER, ts INTEGER, v INTEGER); CREATE TABLE c (k TEXT, j INTEGER, ts INTEGER, v INTEGER)`); err != nil {
		t.Fatal(err)
	}
	gen := func(table string) [][]mem.Message {
		parts := make([][]mem.Message, d.parts)
		ts := int64(0)
		for i := range 600 {
			ts += rng.Int64N(400)
			k := fmt.Sprintf("k%d", rng.IntN(12))
			j := rng.Int64N(6)
			f := map[string]record.Value{"k": record.StringValue(k), "j": record.IntValue(j), "ts": record.IntValue(ts), "v": record.IntValue(int64(i))}
			p := keyPart(k, d.parts)
			parts[p] = append(parts[p], mem.Message{Fields: f, Timestamp: ts})
			if _, err := d.db.Exec(`INSERT INTO `+table+` VALUES (?, ?, ?, ?)`, k, j, ts, i); err != nil {
				t.Fatal(err)
			}
		}
		if disordered {
			for _, msgs := range parts {
				for i := range msgs { // swap with a record at most 4 positions on (well under 2 s)
					j := min(len(msgs)-1, i+rng.IntN(5))
					msgs[i], msgs[j] = msgs[j], msgs[i]
				}
			}
		}
		return parts
	}
	d.streams = map[string][][]mem.Message{"a": gen("a"), "b": gen("b"), "c": gen("c")}
	return d
}

// TestIntervalJoinDifferentialSQLite runs stream-stream joins with WITHIN
// and BETWEEN bounds, INNER, LEFT, RIGHT and FULL, over time-ordered and
// disordered streams at 1, 2, 4 and 8 partitions with every strategy the
// planner accepts, and compares the rows with SQLite's.
func TestIntervalJoinDifferentialSQLite(t *testing.T) {
	const with = ` WITH ('event.time.field'='ts', 'watermark.max_out_of_orderness'='3s')`
	queries := []intervalQuery{
		{"inner within", `SELECT a.v AS av, b.v AS bv FROM a JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND`,
			`SELECT a.v AS av, b.v AS bv FROM a JOIN b ON a.k = b.k AND b.ts - a.ts BETWEEN -1000 AND 1000`},
		{"left within", `SELECT a.v AS av, b.v AS bv FROM a LEFT JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND`,
			`SELECT a.v AS av, b.v AS bv FROM a LEFT JOIN b ON a.k = b.k AND b.ts - a.ts BETWEEN -1000 AND 1000`},
		{"full between", `SELECT a.v AS av, b.v AS bv FROM a FULL JOIN b ON a.k = b.k AND b.ts BETWEEN a.ts - INTERVAL '500' MILLISECONDS AND a.ts + INTERVAL '2' SECONDS`,
			`SELECT a.v AS av, b.v AS bv FROM a FULL JOIN b ON a.k = b.k AND b.ts - a.ts BETWEEN -500 AND 2000`},
		{"right between, extra condition", `SELECT a.v AS av, b.v AS bv FROM a RIGHT JOIN b ON a.k = b.k AND a.ts BETWEEN b.ts - INTERVAL '1' SECOND AND b.ts AND a.v < b.v`,
			`SELECT a.v AS av, b.v AS bv FROM a RIGHT JOIN b ON a.k = b.k AND a.ts - b.ts BETWEEN -1000 AND 0 AND a.v < b.v`},
		{"group by another column: an exchange after the join", `SELECT b.j, COUNT(*) AS n, SUM(a.v) AS s FROM a JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND GROUP BY b.j EMIT FINAL`,
			`SELECT b.j, COUNT(*) AS n, SUM(a.v) AS s FROM a JOIN b ON a.k = b.k AND b.ts - a.ts BETWEEN -1000 AND 1000 GROUP BY b.j`},
		{"windows of a's time", `SELECT a.k, COUNT(*) AS n FROM a JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND GROUP BY a.k WINDOW TUMBLING(ts, INTERVAL '10' SECONDS) EMIT FINAL`,
			`SELECT a.k, COUNT(*) AS n FROM a JOIN b ON a.k = b.k AND b.ts - a.ts BETWEEN -1000 AND 1000 GROUP BY a.k, a.ts / 10000`},
		{"windows of the joined row's time", `SELECT b.j, COUNT(*) AS n FROM a LEFT JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND GROUP BY b.j WINDOW TUMBLING(INTERVAL '10' SECONDS) EMIT FINAL`,
			`SELECT b.j, COUNT(*) AS n FROM a LEFT JOIN b ON a.k = b.k AND b.ts - a.ts BETWEEN -1000 AND 1000 GROUP BY b.j, MAX(a.ts, COALESCE(b.ts, a.ts)) / 10000`},
		{"group by after a left join", `SELECT a.k, COUNT(*) AS n, COUNT(b.v) AS matched FROM a LEFT JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND GROUP BY a.k EMIT FINAL`,
			`SELECT a.k, COUNT(*) AS n, COUNT(b.v) AS matched FROM a LEFT JOIN b ON a.k = b.k AND b.ts - a.ts BETWEEN -1000 AND 1000 GROUP BY a.k`},
	}
	intervalQueries(t, queries, with, []string{""})
}

type intervalQuery struct{ name, q, sqlite string }

// intervalQueries compares each query's rows with SQLite's over time-ordered
// and disordered streams (see eachInterval).
func intervalQueries(t *testing.T, queries []intervalQuery, with string, tables []string) {
	for _, disordered := range []bool{false, true} {
		d := intervalData(t, 3, disordered)
		for _, q := range queries {
			want := d.sqlite(t, q.sqlite)
			if len(want) == 0 {
				t.Fatalf("%s: SQLite gives no rows", q.name)
			}
			t.Run(fmt.Sprintf("%s/disordered=%v", q.name, disordered), func(t *testing.T) {
				t.Parallel()
				d.eachInterval(t, q.q+with, tables, want)
			})
		}
	}
}

// eachInterval runs a stream-stream join statement (its WITH clause left
// open when tables are set) at 1, 2, 4 and 8 partitions with every
// strategy the planner accepts and, for each of tables, the tables
// broadcast or split by key, and compares its rows with want.
func (d *joinData) eachInterval(t *testing.T, text string, tables []string, want []string) {
	accepted := 0
	for _, n := range []int{1, 2, 4, 8} {
		for _, s := range []string{"", "always_hash", "smart_repartition", "fan_in", "round_robin"} {
			for _, bc := range tables {
				q := text
				if bc != "" {
					q += fmt.Sprintf(", 'traders.broadcast'='%s', 'regions.broadcast'='%s')", bc, bc)
				}
				got, err := d.run(t, q, Options{Partitions: n, Strategy: s})
				if err != nil && s != "" && strings.Contains(err.Error(), "would split") {
					continue
				}
				if err != nil {
					t.Fatalf("N=%d, strategy %q, broadcast %q: %v", n, s, bc, err)
				}
				accepted++
				if fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("N=%d, strategy %q, broadcast %q: %d rows, SQLite %d\n got %.300v\nwant %.300v", n, s, bc, len(got), len(want), got, want)
				}
			}
		}
	}
	if accepted < 8*len(tables) { // fan_in at least, and auto

		t.Errorf("only %d configurations accepted", accepted)
	}
}

// TestIntervalJoinWithTablesDifferentialSQLite runs a stream-stream join
// as one of several joins: tables joined before it (read by its ON) and
// after it (on the interval key, or on another key: an exchange), each
// table broadcast or split by key, at 1, 2, 4 and 8 partitions, and
// compares the rows with SQLite's.
func TestIntervalJoinWithTablesDifferentialSQLite(t *testing.T) {
	const with = ` WITH ('event.time.field'='ts', 'watermark.max_out_of_orderness'='3s', 'traders.primary.key'='k', 'regions.primary.key'='region'`
	const bound = `b.ts - a.ts BETWEEN -1000 AND 1000`
	queries := []intervalQuery{
		{"table before, read by ON", `SELECT a.v AS av, b.v AS bv, r.region FROM a JOIN traders r ON a.k = r.k JOIN b ON a.k = b.k AND b.v % 20 > r.lim WITHIN INTERVAL '1' SECOND`,
			`SELECT a.v AS av, b.v AS bv, r.region FROM a JOIN traders r ON a.k = r.k JOIN b ON a.k = b.k AND b.v % 20 > r.lim AND ` + bound},
		{"left table before a left join", `SELECT a.v AS av, b.v AS bv, r.name FROM a LEFT JOIN traders r ON a.k = r.k LEFT JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND`,
			`SELECT a.v AS av, b.v AS bv, r.name FROM a LEFT JOIN traders r ON a.k = r.k LEFT JOIN b ON a.k = b.k AND ` + bound},
		{"tables after a full join, on two keys", `SELECT a.v AS av, b.v AS bv, r.name, g.boss FROM a FULL JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND LEFT JOIN traders r ON b.k = r.k LEFT JOIN regions g ON r.region = g.region`,
			`SELECT a.v AS av, b.v AS bv, r.name, g.boss FROM a FULL JOIN b ON a.k = b.k AND ` + bound + ` LEFT JOIN traders r ON b.k = r.k LEFT JOIN regions g ON r.region = g.region`},
		{"inner table after, grouped", `SELECT g.region, COUNT(*) AS n FROM a JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND JOIN traders r ON a.k = r.k JOIN regions g ON r.region = g.region GROUP BY g.region EMIT FINAL`,
			`SELECT g.region, COUNT(*) AS n FROM a JOIN b ON a.k = b.k AND ` + bound + ` JOIN traders r ON a.k = r.k JOIN regions g ON r.region = g.region GROUP BY g.region`},
	}
	intervalQueries(t, queries, with, []string{"true", "false"})
}

// TestIntervalJoinBounded checks that a stream-stream join of two files
// is a bounded job: its inputs say that they end, as their files do.
func TestIntervalJoinBounded(t *testing.T) {
	with := regexp.MustCompile(`'traders\.[a-z_.]+'='[^']*',\s*`).ReplaceAllString(joinFiles(t), "")
	stmts, err := sql.Parse("join.sql", `SELECT t.id, u.qty FROM trades t JOIN trades u ON t.id = u.id WITHIN INTERVAL '1' SECOND`+with)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	j, err := Prepare(context.Background(), stmts[0], Options{Stdout: &out, Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !j.Bounded() {
		t.Error("a join of two files is not bounded")
	}
	if _, err := j.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "\n"); n != 3 {
		t.Errorf("%d rows, want 3:\n%s", n, out.String())
	}
}

// TestChainedIntervalJoinsDifferentialSQLite runs statements with two
// stream-stream joins, on the same key (one routing for the three
// streams) and on different keys (an exchange between the joins), INNER,
// LEFT and FULL, WITHIN (the second join reads the joined row's time, the
// later of its rows') and BETWEEN (an earlier stream's event time), with
// tables between them and GROUP BY and windows after them, over
// time-ordered and disordered streams at 1, 2, 4 and 8 partitions with
// every strategy the planner accepts, and compares the rows with SQLite's.
func TestChainedIntervalJoinsDifferentialSQLite(t *testing.T) {
	const with = ` WITH ('event.time.field'='ts', 'watermark.max_out_of_orderness'='3s', 'traders.primary.key'='k', 'regions.primary.key'='region'`
	const ab = `b.ts - a.ts BETWEEN -1000 AND 1000`
	// the joined row's time: the later of a's and b's (either may be NULL)
	const abt = `MAX(COALESCE(a.ts, b.ts), COALESCE(b.ts, a.ts))`
	queries := []intervalQuery{
		{"inner, one key", `SELECT a.v AS av, b.v AS bv, c.v AS cv FROM a JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND JOIN c ON b.k = c.k WITHIN INTERVAL '1' SECOND`,
			`SELECT a.v AS av, b.v AS bv, c.v AS cv FROM a JOIN b ON a.k = b.k AND ` + ab + ` JOIN c ON b.k = c.k AND c.ts - ` + abt + ` BETWEEN -1000 AND 1000`},
		{"inner, two keys, between", `SELECT a.v AS av, b.v AS bv, c.v AS cv FROM a JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND JOIN c ON b.j = c.j AND c.ts BETWEEN a.ts - INTERVAL '500' MILLISECONDS AND a.ts + INTERVAL '1' SECOND`,
			`SELECT a.v AS av, b.v AS bv, c.v AS cv FROM a JOIN b ON a.k = b.k AND ` + ab + ` JOIN c ON b.j = c.j AND c.ts - a.ts BETWEEN -500 AND 1000`},
		{"left, two keys", `SELECT a.v AS av, b.v AS bv, c.v AS cv FROM a LEFT JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND LEFT JOIN c ON a.j = c.j AND c.ts BETWEEN b.ts - INTERVAL '1' SECOND AND b.ts`,
			`SELECT a.v AS av, b.v AS bv, c.v AS cv FROM a LEFT JOIN b ON a.k = b.k AND ` + ab + ` LEFT JOIN c ON a.j = c.j AND c.ts - b.ts BETWEEN -1000 AND 0`},
		{"full, two keys", `SELECT a.v AS av, b.v AS bv, c.v AS cv FROM a FULL JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND FULL JOIN c ON b.j = c.j WITHIN INTERVAL '500' MILLISECONDS`,
			`SELECT a.v AS av, b.v AS bv, c.v AS cv FROM a FULL JOIN b ON a.k = b.k AND ` + ab + ` FULL JOIN c ON b.j = c.j AND c.ts - ` + abt + ` BETWEEN -500 AND 500`},
		{"full then left, one key", `SELECT a.v AS av, b.v AS bv, c.v AS cv FROM a FULL JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND LEFT JOIN c ON b.k = c.k AND c.ts BETWEEN b.ts AND b.ts + INTERVAL '1' SECOND`,
			`SELECT a.v AS av, b.v AS bv, c.v AS cv FROM a FULL JOIN b ON a.k = b.k AND ` + ab + ` LEFT JOIN c ON b.k = c.k AND c.ts - b.ts BETWEEN 0 AND 1000`},
		{"right, two keys, a table between", `SELECT a.v AS av, c.v AS cv, r.name FROM a JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND LEFT JOIN traders r ON b.k = r.k RIGHT JOIN c ON c.j = a.j AND c.v % 20 > COALESCE(r.lim, 0) WITHIN INTERVAL '1' SECOND`,
			`SELECT a.v AS av, c.v AS cv, r.name FROM (a JOIN b ON a.k = b.k AND ` + ab + ` LEFT JOIN traders r ON b.k = r.k) RIGHT JOIN c ON c.j = a.j AND c.v % 20 > COALESCE(r.lim, 0) AND c.ts - ` + abt + ` BETWEEN -1000 AND 1000`},
		{"four streams, the last two on the second key", `SELECT a.v AS av, c.v AS cv, d.v AS dv FROM a JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND JOIN c ON b.j = c.j AND c.ts BETWEEN b.ts - INTERVAL '1' SECOND AND b.ts + INTERVAL '1' SECOND LEFT JOIN a d ON d.j = c.j AND d.k = a.k AND d.ts BETWEEN c.ts - INTERVAL '2' SECONDS AND c.ts`,
			`SELECT a.v AS av, c.v AS cv, d.v AS dv FROM a JOIN b ON a.k = b.k AND ` + ab + ` JOIN c ON b.j = c.j AND c.ts - b.ts BETWEEN -1000 AND 1000 LEFT JOIN a d ON d.j = c.j AND d.k = a.k AND d.ts - c.ts BETWEEN -2000 AND 0`},
		{"group by the first key, after an exchange", `SELECT a.k, COUNT(*) AS n, SUM(c.v) AS s FROM a JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND JOIN c ON b.j = c.j WITHIN INTERVAL '1' SECOND GROUP BY a.k EMIT FINAL`,
			`SELECT a.k, COUNT(*) AS n, SUM(c.v) AS s FROM a JOIN b ON a.k = b.k AND ` + ab + ` JOIN c ON b.j = c.j AND c.ts - ` + abt + ` BETWEEN -1000 AND 1000 GROUP BY a.k`},
		{"group by the second key", `SELECT c.j, COUNT(*) AS n, SUM(a.v) AS s FROM a JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND JOIN c ON b.j = c.j WITHIN INTERVAL '1' SECOND GROUP BY c.j EMIT FINAL`,
			`SELECT c.j, COUNT(*) AS n, SUM(a.v) AS s FROM a JOIN b ON a.k = b.k AND ` + ab + ` JOIN c ON b.j = c.j AND c.ts - ` + abt + ` BETWEEN -1000 AND 1000 GROUP BY c.j`},
	}
	intervalQueries(t, queries, with, []string{"true", "false"})
	// A window takes the joined row's event time (the latest of its
	// rows'), or the FROM stream's column it names.
	windowed := []intervalQuery{
		{"group by the first key, in windows", `SELECT a.k, COUNT(*) AS n FROM a JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND LEFT JOIN c ON b.j = c.j WITHIN INTERVAL '1' SECOND GROUP BY a.k WINDOW TUMBLING(INTERVAL '10' SECONDS) EMIT FINAL`,
			`SELECT a.k, COUNT(*) AS n FROM a JOIN b ON a.k = b.k AND ` + ab + ` LEFT JOIN c ON b.j = c.j AND c.ts - ` + abt + ` BETWEEN -1000 AND 1000 GROUP BY a.k, MAX(a.ts, b.ts, COALESCE(c.ts, a.ts)) / 10000`},
		{"group by the second key, in windows of a's time", `SELECT c.j, COUNT(*) AS n FROM a JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND JOIN c ON b.j = c.j WITHIN INTERVAL '1' SECOND GROUP BY c.j WINDOW TUMBLING(ts, INTERVAL '5' SECONDS) EMIT FINAL`,
			`SELECT c.j, COUNT(*) AS n FROM a JOIN b ON a.k = b.k AND ` + ab + ` JOIN c ON b.j = c.j AND c.ts - ` + abt + ` BETWEEN -1000 AND 1000 GROUP BY c.j, a.ts / 5000`},
	}
	intervalQueries(t, windowed, with, []string{"true"})
}

// TestChainedIntervalJoinsPlan checks how statements with two
// stream-stream joins are routed: on one key when their keys share a
// column, else with an exchange before the second join; a GROUP BY on a key
// the last join's rows are not routed by runs on one worker. The streams
// are all partitioned by k into as many partitions, so the first join
// takes their source partitions.
func TestChainedIntervalJoinsPlan(t *testing.T) {
	d := intervalData(t, 3, false)
	const with = ` WITH ('event.time.field'='ts', 'watermark.max_out_of_orderness'='3s')`
	tests := []struct {
		q, strategy, routing string
		exchange             bool
		cRouting             string
		final                string // the keys of the exchange after the joins
	}{
		{`SELECT a.v AS av, c.v AS cv FROM a JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND JOIN c ON c.k = a.k WITHIN INTERVAL '1' SECOND`,
			"smart_repartition", "a.k", false, "smart_repartition on c.k", ""},
		{`SELECT a.v AS av, c.v AS cv FROM a JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND JOIN c ON b.j = c.j WITHIN INTERVAL '1' SECOND`,
			"smart_repartition", "a.k", true, "exchange on c.j", ""},
		{`SELECT c.j, COUNT(*) AS n FROM a JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND JOIN c ON b.j = c.j WITHIN INTERVAL '1' SECOND GROUP BY c.j EMIT FINAL`,
			"smart_repartition", "a.k", true, "exchange on c.j", ""},
		{`SELECT a.k, COUNT(*) AS n FROM a JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND JOIN c ON b.j = c.j WITHIN INTERVAL '1' SECOND GROUP BY a.k EMIT FINAL`,
			"smart_repartition", "a.k", true, "exchange on c.j", "a.k"},
		{`SELECT COUNT(*) AS n FROM a JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND JOIN c ON b.j = c.j WITHIN INTERVAL '1' SECOND`,
			"fan_in", "", false, "fan_in", ""},
	}
	for _, tc := range tests {
		_, p, err := d.runPlan(t, tc.q+with, Options{Partitions: 4})
		if err != nil {
			t.Fatalf("%s: %v", tc.q, err)
		}
		if p.Strategy.Name() != tc.strategy || strings.Join(p.RoutingKeys, ", ") != tc.routing || len(p.Stages) != 2 ||
			p.Stages[1].Exchange != tc.exchange || p.Inputs[2].Routing != tc.cRouting || formatKeys(p.FinalKeys) != tc.final {
			t.Errorf("%s: %s on %v, stages %+v, c routed %q", tc.q, p.Strategy.Name(), p.RoutingKeys, p.Stages, p.Inputs[2].Routing)
		}
		var text strings.Builder
		if err := plan.Explain(&text, []*plan.Plan{p}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text.String(), "join stages:  1. INNER JOIN b [keys a.k = b.k] WITHIN 1s") || (tc.final != "") != strings.Contains(text.String(), "then:         exchange on "+tc.final) ||
			!strings.Contains(text.String(), "2. INNER JOIN c") || tc.exchange != strings.Contains(text.String(), "an exchange inside the process") {
			t.Errorf("%s: EXPLAIN\n%s", tc.q, text.String())
		}
	}
}

// formatKeys prints keys as a comma-separated list.
func formatKeys(keys []sql.Expr) string {
	var out []string
	for _, k := range keys {
		out = append(out, sql.FormatExpr(k))
	}
	return strings.Join(out, ", ")
}

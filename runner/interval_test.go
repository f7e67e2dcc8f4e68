package runner

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/record"
)

// intervalData returns two random streams a and b (k, ts, v) loaded into
// SQLite, their records spread over partitions by key or at random, in
// time order or shuffled within 2 s.
func intervalData(t *testing.T, seed uint64, disordered bool) *joinData {
	t.Helper()
	d := newJoinData(t, seed, true) // for its SQLite handle; the streams replace its inputs
	rng := rand.New(rand.NewPCG(seed, 7))
	if _, err := d.db.Exec(`CREATE TABLE a (k TEXT, ts INTEGER, v INTEGER); CREATE TABLE b (k TEXT, ts INTEGER, v INTEGER)`); err != nil {
		t.Fatal(err)
	}
	gen := func(table string) [][]mem.Message {
		parts := make([][]mem.Message, d.parts)
		ts := int64(0)
		for i := range 600 {
			ts += rng.Int64N(400)
			k := fmt.Sprintf("k%d", rng.IntN(12))
			f := map[string]record.Value{"k": record.StringValue(k), "ts": record.IntValue(ts), "v": record.IntValue(int64(i))}
			p := keyPart(k, d.parts)
			parts[p] = append(parts[p], mem.Message{Fields: f, Timestamp: ts})
			if _, err := d.db.Exec(`INSERT INTO `+table+` VALUES (?, ?, ?)`, k, ts, i); err != nil {
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
	d.streams = map[string][][]mem.Message{"a": gen("a"), "b": gen("b")}
	return d
}

// TestIntervalJoinDifferentialSQLite runs stream-stream joins with WITHIN
// and BETWEEN bounds, INNER, LEFT, RIGHT and FULL, over time-ordered and
// disordered streams at 1, 2, 4 and 8 partitions with every strategy the
// planner accepts, and compares the rows with SQLite's.
func TestIntervalJoinDifferentialSQLite(t *testing.T) {
	const with = ` WITH ('event.time.field'='ts', 'watermark.max_out_of_orderness'='3s')`
	queries := []struct{ name, q, sqlite string }{
		{"inner within", `SELECT a.v AS av, b.v AS bv FROM a JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND`,
			`SELECT a.v AS av, b.v AS bv FROM a JOIN b ON a.k = b.k AND b.ts - a.ts BETWEEN -1000 AND 1000`},
		{"left within", `SELECT a.v AS av, b.v AS bv FROM a LEFT JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND`,
			`SELECT a.v AS av, b.v AS bv FROM a LEFT JOIN b ON a.k = b.k AND b.ts - a.ts BETWEEN -1000 AND 1000`},
		{"full between", `SELECT a.v AS av, b.v AS bv FROM a FULL JOIN b ON a.k = b.k AND b.ts BETWEEN a.ts - INTERVAL '500' MILLISECONDS AND a.ts + INTERVAL '2' SECONDS`,
			`SELECT a.v AS av, b.v AS bv FROM a FULL JOIN b ON a.k = b.k AND b.ts - a.ts BETWEEN -500 AND 2000`},
		{"right between, extra condition", `SELECT a.v AS av, b.v AS bv FROM a RIGHT JOIN b ON a.k = b.k AND a.ts BETWEEN b.ts - INTERVAL '1' SECOND AND b.ts AND a.v < b.v`,
			`SELECT a.v AS av, b.v AS bv FROM a RIGHT JOIN b ON a.k = b.k AND a.ts - b.ts BETWEEN -1000 AND 0 AND a.v < b.v`},
		{"group by after a left join", `SELECT a.k, COUNT(*) AS n, COUNT(b.v) AS matched FROM a LEFT JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND GROUP BY a.k EMIT FINAL`,
			`SELECT a.k, COUNT(*) AS n, COUNT(b.v) AS matched FROM a LEFT JOIN b ON a.k = b.k AND b.ts - a.ts BETWEEN -1000 AND 1000 GROUP BY a.k`},
	}
	for _, disordered := range []bool{false, true} {
		d := intervalData(t, 3, disordered)
		for _, q := range queries {
			want := d.sqlite(t, q.sqlite)
			if len(want) == 0 {
				t.Fatalf("%s: SQLite gives no rows", q.name)
			}
			t.Run(fmt.Sprintf("%s/disordered=%v", q.name, disordered), func(t *testing.T) {
				t.Parallel()
				accepted := 0
				for _, n := range []int{1, 2, 4, 8} {
					for _, s := range []string{"", "always_hash", "smart_repartition", "fan_in", "round_robin"} {
						got, err := d.run(t, q.q+with, Options{Partitions: n, Strategy: s})
						if err != nil && s != "" && strings.Contains(err.Error(), "would split") {
							continue
						}
						if err != nil {
							t.Fatalf("N=%d, strategy %q: %v", n, s, err)
						}
						accepted++
						if fmt.Sprint(got) != fmt.Sprint(want) {
							t.Fatalf("N=%d, strategy %q: %d rows, SQLite %d\n ", n, s, len(got), len(want))
						}
					}
				}
				if accepted < 12 {
					t.Errorf("only %d configurations accepted", accepted)
				}
			})
		}
	}
}

package exec

import (
	"database/sql"
	"fmt"
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
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE t (g TEXT, x INTEGER, ts INTEGER)`); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 17))
	const n, parts = 1500, 4
	var byPart [parts][]record.Record
	for i := range n {
		g, x, ts := fmt.Sprintf("k%d", rng.IntN(30)), rng.IntN(41)-15, rng.Int64N(60_000)
		if _, err := db.Exec(`INSERT INTO t VALUES (?, ?, ?)`, g, x, ts); err != nil {
			t.Fatal(err)
		}
		part := i % parts
		r := recs([]any{g, x, ts})[0]
		r.Partition, r.Offset = int32(part), int64(len(byPart[part]))
		byPart[part] = append(byPart[part], r)
	}
	tests := []struct {
		name, sluice, sqlite string
		keys                 int
	}{
		{"sum below", `SELECT g, SUM(x) AS s FROM t GROUP BY g HAVING SUM(x) < 40 EMIT CHANGES`,
			`SELECT g, SUM(x) FROM t GROUP BY g HAVING SUM(x) < 40`, 1},
		{"count equals", `SELECT g, COUNT(*) AS n, MAX(x) AS m FROM t GROUP BY g HAVING COUNT(*) = 50 EMIT CHANGES`,
			`SELECT g, COUNT(*), MAX(x) FROM t GROUP BY g HAVING COUNT(*) = 50`, 1},
		{"sum positive", `SELECT g, SUM(x) AS s FROM t GROUP BY g HAVING SUM(x) > 0 AND MIN(x) > -15 EMIT CHANGES`,
			`SELECT g, SUM(x) FROM t GROUP BY g HAVING SUM(x) > 0 AND MIN(x) > -15`, 1},
		{"tumbling changes", `SELECT g, _WINDOW_START AS ws, SUM(x) AS s FROM t GROUP BY g
			HAVING SUM(x) BETWEEN 0 AND 20 WINDOW TUMBLING(ts, INTERVAL '10' SECOND) EMIT CHANGES`,
			`SELECT g, (ts / 10000) * 10000, SUM(x) FROM t GROUP BY g, ts / 10000 HAVING SUM(x) BETWEEN 0 AND 20`, 2},
		{"tumbling final", `SELECT g, _WINDOW_START AS ws, SUM(x) AS s FROM t GROUP BY g
			HAVING SUM(x) BETWEEN 0 AND 20 WINDOW TUMBLING(ts, INTERVAL '10' SECOND) EMIT FINAL`,
			`SELECT g, (ts / 10000) * 10000, SUM(x) FROM t GROUP BY g, ts / 10000 HAVING SUM(x) BETWEEN 0 AND 20`, 2},
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
				data := interleave(rand.New(rand.NewPCG(uint64(round), 5)), byPart[:])
				c := runBatches(t, p, data, batch)
				if final {
					if slices.Contains(c.retract, true) {
						t.Fatalf("batch %d: EMIT FINAL retracted a row", batch)
					}
					if len(c.rows) != len(want) {
						t.Fatalf("batch %d: EMIT FINAL wrote %d rows, want one per group: %d", batch, len(c.rows), len(want))
					}
				}
				compareRows(t, changelogState(c, tt.keys), want)
			}
		})
	}
}

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

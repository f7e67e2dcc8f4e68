package exec

import (
	"database/sql"
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestDifferentialSQLiteRowWindows runs row windows ordered by event time,
// Top-N (QUALIFY and the subquery form) and a Top-N over grouped rows
// through the pipeline and through SQLite, over rows inserted out of
// event-time order. Event times are unique, so every order is total.
// Sluice sorts NULLs last ascending and first descending, as PostgreSQL
// does; the SQLite queries say so.
func TestDifferentialSQLiteRowWindows(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE u (g TEXT, h INTEGER, x INTEGER, ts INTEGER)`); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(5, 13))
	const n = 3000
	perm := rng.Perm(n) // arrival order is a shuffle of event-time order
	rows := make([][]any, n)
	for i := range rows {
		var x any
		if rng.IntN(10) > 0 {
			x = rng.IntN(41) - 20
		}
		rows[i] = []any{fmt.Sprintf("k%d", rng.IntN(8)), rng.IntN(5), x, perm[i] * 10}
		if _, err := db.Exec(`INSERT INTO u VALUES (?, ?, ?, ?)`, rows[i]...); err != nil {
			t.Fatal(err)
		}
	}
	data := recs(rows...)
	tests := []struct{ name, sluice, sqlite string }{
		{
			"event-time ordered LAG, ROW_NUMBER, RANK, running SUM and COUNT",
			`SELECT g, ts, x, LAG(x) OVER (PARTITION BY g ORDER BY ts) AS p, LAG(x, 2, -1) OVER (PARTITION BY g ORDER BY ts) AS p2,
			   ROW_NUMBER() OVER (PARTITION BY g ORDER BY ts) AS n, RANK() OVER (ORDER BY ts) AS r,
			   SUM(x) OVER (PARTITION BY g ORDER BY ts) AS s, COUNT(x) OVER (PARTITION BY g ORDER BY ts ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS c
			 FROM u`,
			`SELECT g, ts, x, LAG(x) OVER (PARTITION BY g ORDER BY ts), LAG(x, 2, -1) OVER (PARTITION BY g ORDER BY ts),
			   ROW_NUMBER() OVER (PARTITION BY g ORDER BY ts), RANK() OVER (ORDER BY ts),
			   SUM(x) OVER (PARTITION BY g ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
			   COUNT(x) OVER (PARTITION BY g ORDER BY ts ROWS BETWEEN 3 PRECEDING AND CURRENT ROW)
			 FROM u`,
		},
		{
			"ROW_NUMBER Top-N with QUALIFY",
			`SELECT g, x, ts, ROW_NUMBER() OVER (PARTITION BY g ORDER BY x DESC, ts) AS rn FROM u QUALIFY rn <= 3 EMIT FINAL`,
			`SELECT * FROM (SELECT g, x, ts, ROW_NUMBER() OVER (PARTITION BY g ORDER BY x DESC NULLS FIRST, ts) AS rn FROM u) WHERE rn <= 3`,
		},
		{
			"RANK Top-N as a subquery",
			`SELECT * FROM (SELECT g, h, ts, RANK() OVER (PARTITION BY g ORDER BY h) AS r FROM u WHERE x > 0) WHERE r <= 2`,
			`SELECT * FROM (SELECT g, h, ts, RANK() OVER (PARTITION BY g ORDER BY h) AS r FROM u WHERE x > 0) WHERE r <= 2`,
		},
		{
			"DENSE_RANK Top-N with ranks 2 to 3",
			`SELECT g, x, ts, DENSE_RANK() OVER (PARTITION BY h ORDER BY x) AS d FROM u QUALIFY d BETWEEN 2 AND 3`,
			`SELECT * FROM (SELECT g, x, ts, DENSE_RANK() OVER (PARTITION BY h ORDER BY x NULLS LAST) AS d FROM u) WHERE d BETWEEN 2 AND 3`,
		},
		{
			"RANK over grouped rows",
			`SELECT g, h, COUNT(*) AS c, RANK() OVER (PARTITION BY h ORDER BY COUNT(*) DESC) AS r FROM u GROUP BY g, h QUALIFY r <= 2 EMIT FINAL`,
			`SELECT * FROM (SELECT g, h, COUNT(*) AS c, RANK() OVER (PARTITION BY h ORDER BY COUNT(*) DESC) AS r FROM u GROUP BY g, h) WHERE r <= 2`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := compileSQL(t, tt.sluice, Options{ExternalWatermark: true}, "g", "h", "x", "ts")
			got := plainRows(t, p, data, 128)
			want := querySQLite(t, db, tt.sqlite)
			if len(want) == 0 {
				t.Fatal("SQLite returned no rows")
			}
			compareRows(t, got, want)
		})
	}
}

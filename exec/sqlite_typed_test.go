package exec

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/file"
	"github.com/sluicesql/sluice/record"
	ast "github.com/sluicesql/sluice/sql"
)

// TestDifferentialSQLiteTypedCSV reads a random header-less CSV file with
// a declared schema and no 'has_header' through the file source (a STRING column of digits such as "0042" keeps its
// text, a DECIMAL column is exact), runs SELECT *, SELECT * EXCEPT and
// typed filters and groups through the pipeline, and compares with SQLite
// over the same rows.
func TestDifferentialSQLiteTypedCSV(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE t (code TEXT, g TEXT, x INTEGER, d REAL, ts INTEGER)`); err != nil {
		t.Fatal(err)
	}
	cols, err := ast.ParseColumns("t.columns", "code STRING, g STRING, x BIGINT, d DECIMAL(8,2), ts TIMESTAMP")
	if err != nil {
		t.Fatal(err)
	}
	fields := make([]record.Field, len(cols))
	names := make([]string, len(cols))
	for i, c := range cols {
		fields[i], names[i] = c.Field(), c.Name
	}
	schema := record.NewSchemaOf(fields...)
	rng := rand.New(rand.NewPCG(3, 5))
	var lines strings.Builder
	for i := 0; i < 2000; i++ {
		code := fmt.Sprintf("%04d", rng.IntN(50))
		g := fmt.Sprintf("k%d", rng.IntN(5))
		x, cents, ts := rng.IntN(201)-100, rng.Int64N(20001)-10000, rng.Int64N(100_000)
		dText := record.DecimalValue(cents, 2).String()
		xText := fmt.Sprint(x)
		var xv any = x
		if rng.IntN(10) == 0 {
			xText, xv = "", nil
		}
		fmt.Fprintf(&lines, "%s,%s,%s,%s,%d\n", code, g, xText, dText, ts)
		if _, err := db.Exec(`INSERT INTO t VALUES (?, ?, ?, ?, ?)`, code, g, xv, float64(cents)/100, ts); err != nil {
			t.Fatal(err)
		}
	}
	// The file source reads the lines as a user's header-less CSV with
	// typed columns and no 'has_header': every line is a record.
	data := readCSV(t, lines.String(), schema)
	tests := []struct{ name, sluice, sqlite string }{
		{"select star", "SELECT * FROM t", "SELECT code, g, x, d, ts FROM t"},
		{"star except with filter", "SELECT * EXCEPT (ts, g) FROM t WHERE d > 12.5 AND code < '0010'",
			"SELECT code, x, d FROM t WHERE d > 12.5 AND code < '0010'"},
		{"qualified star", "SELECT t.*, x * 2 AS x2 FROM t WHERE x IS NULL OR x BETWEEN -10 AND 10",
			"SELECT code, g, x, d, ts, x * 2 FROM t WHERE x IS NULL OR x BETWEEN -10 AND 10"},
		{"group by text code", "SELECT code, COUNT(*) AS n, SUM(d) AS total, MAX(x) FROM t GROUP BY 1 EMIT FINAL",
			"SELECT code, COUNT(*), SUM(d), MAX(x) FROM t GROUP BY code"},
		{"group by alias", "SELECT UPPER(g) AS G2, MIN(d) FROM t GROUP BY G2 EMIT FINAL", "SELECT UPPER(g), MIN(d) FROM t GROUP BY UPPER(g)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stmts, err := ast.Parse("q", tt.sluice)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Compile(stmts[0].Select(), Options{Schema: schema, ExternalWatermark: true})
			if err != nil {
				t.Fatal(err)
			}
			pl := p.NewPipeline()
			var out collector
			for i := 0; i < len(data); i += 256 {
				pl.Process(data[i:min(i+256, len(data))], &out)
			}
			pl.Finish(&out)
			if len(out.dead) > 0 {
				t.Fatalf("dead letters: %v", out.dead[0])
			}
			got := make([][]any, len(out.rows))
			for i, r := range out.rows {
				for _, v := range r {
					got[i] = append(got[i], plain(v))
				}
			}
			compareRows(t, got, querySQLite(t, db, tt.sqlite))
		})
	}
}

// readCSV reads text as the CSV file of a file source whose typed columns
// are declared (as schema) and whose 'has_header' is not set.
func readCSV(t *testing.T, text string, schema *record.Schema) []record.Record {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.csv")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	src, err := file.NewSource("t", map[string]string{"t.path": path, "t.columns": schema.String()})
	if err != nil {
		t.Fatal(err)
	}
	var dead deadLetters
	readers, err := src.Open(context.Background(), schema, &dead)
	if err != nil {
		t.Fatal(err)
	}
	var out []record.Record
	for r := range readers {
		var b record.Batch
		for {
			err := r.Next(context.Background(), &b, 256)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, rec := range b.Records {
				out = append(out, record.Record{Values: append([]record.Value(nil), rec.Values...)})
			}
		}
		r.Close()
	}
	if len(dead) > 0 {
		t.Fatalf("dead letter: %s", dead[0].Reason)
	}
	return out
}

// deadLetters collects a source's dead letters.
type deadLetters []connector.DeadLetter

func (d *deadLetters) Add(l connector.DeadLetter) { *d = append(*d, l) }

package app_test

import (
	"context"
	"io"
	"testing"

	"github.com/sluicesql/sluice/app"
	"github.com/sluicesql/sluice/runner"
	"github.com/sluicesql/sluice/sql"
)

// BenchmarkChain compares one statement with the same work split over a
// two-statement chain, whose every row crosses an in-process stream:
//
//	go test ./app -run '^$' -bench Chain -benchtime 5x
//
// The ratio of the two rec/s is the cost of the chain.
func BenchmarkChain(b *testing.B) {
	const records = 400000
	gen := "'g.type'='generator','g.generator'='trades','g.count'='400000','g.partitions'='2'"
	for _, c := range []struct{ name, src string }{
		{"single", "SELECT trader_id, COUNT(*) AS n, SUM(quantity) AS q FROM g WHERE quantity >= 500 GROUP BY trader_id WITH (" + gen + ")"},
		{"chain", "CREATE STREAM t AS SELECT trader_id, quantity FROM g WITH (" + gen + ");\n" +
			"SELECT trader_id, COUNT(*) AS n, SUM(quantity) AS q FROM t WHERE quantity >= 500 GROUP BY trader_id"},
	} {
		b.Run(c.name, func(b *testing.B) {
			stmts, err := sql.Parse("bench.sql", c.src)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				a, err := app.New("bench.sql", c.src, stmts, nil)
				if err != nil {
					b.Fatal(err)
				}
				run, err := a.Start(context.Background(), runner.Options{Partitions: 2, Stdout: io.Discard,
					Set: map[string]string{"dlq.path": b.TempDir() + "/dlq.jsonl"}}, app.Hooks{})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := run.Wait(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(records)*float64(b.N)/b.Elapsed().Seconds(), "rec/s")
		})
	}
}

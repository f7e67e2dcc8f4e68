package exec

import (
	"testing"

	"github.com/sluicesql/sluice/record"
)

// BenchmarkOrderedRowWindow runs a moving average ordered by event time
// over in-order input with a watermark after every batch.
func BenchmarkOrderedRowWindow(b *testing.B) {
	p, err := compileSQLErr(`SELECT symbol, price, AVG(price) OVER (ROWS WINDOW BUFFER 100 ROWS PARTITION BY symbol ORDER BY ts) AS m FROM t`,
		Options{ExternalWatermark: true}, "symbol", "price", "ts")
	if err != nil {
		b.Fatal(err)
	}
	syms := make([]record.Value, 10)
	for i := range syms {
		syms[i] = record.StringValue(string(rune('A' + i)))
	}
	batch := make([]record.Record, 1024)
	for i := range batch {
		batch[i].Values = make([]record.Value, 3)
	}
	pl := p.NewPipeline()
	var out discard
	b.ResetTimer()
	ts := int64(0)
	for n := 0; n < b.N; n += len(batch) {
		for i := range batch {
			ts++
			batch[i].Values[0], batch[i].Values[1], batch[i].Values[2] = syms[ts%10], record.IntValue(ts%500), record.IntValue(ts)
		}
		pl.Process(batch, out)
		pl.Advance(ts-5000, out)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rec/s")
}

type discard struct{}

func (discard) Emit([]record.Record)             {}
func (discard) DeadLetter(*record.Record, error) {}

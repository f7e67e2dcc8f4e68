package analytic

import (
	"fmt"
	"testing"

	"github.com/sluicesql/sluice/record"
)

// BenchmarkScenario1 is the reference's scenario 1, one partition worker:
// AVG(price) OVER (ROWS WINDOW BUFFER 100 ROWS PARTITION BY symbol ORDER BY
// timestamp) with symbol = SYM{i%10} and price = 100+(i*0.5)%50 as FLOAT.
func BenchmarkScenario1(b *testing.B) {
	s := compile(b, []string{"symbol", "price", "timestamp"}, []string{
		"AVG(price) OVER (ROWS WINDOW BUFFER 100 ROWS PARTITION BY symbol ORDER BY timestamp)",
	})
	const n = 1 << 14
	recs := make([]record.Record, n)
	for i := range recs {
		price := 100 + float64(int64(i*5)%500)/10 // 100 + (i*0.5) % 50
		recs[i].Values = []record.Value{
			st(fmt.Sprintf("SYM%d", i%10)), fl(price), record.TimestampValue(int64(i)),
		}
	}
	state := s.NewState()
	out := make([]record.Value, s.Len())
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := state.Apply(&recs[i%n], out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rec/s")
}

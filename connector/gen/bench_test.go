package gen

import (
	"context"
	"io"
	"testing"

	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/record"
)

// BenchmarkGenerate measures one partition producing typed records.
func BenchmarkGenerate(b *testing.B) {
	for _, name := range []string{"market_data", "measurements"} {
		b.Run(name, func(b *testing.B) {
			src, err := New("g", Options{Generator: name, Count: int64(b.N)})
			if err != nil {
				b.Fatal(err)
			}
			ch, err := src.Open(context.Background(), src.Schema(), &mem.DeadLetters{})
			if err != nil {
				b.Fatal(err)
			}
			r := <-ch
			var batch record.Batch
			b.ReportAllocs()
			b.ResetTimer()
			for {
				if err := r.Next(context.Background(), &batch, 1024); err == io.EOF {
					break
				} else if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rec/s")
		})
	}
}

// BenchmarkWriteFile1BRC measures writing station;temperature lines.
func BenchmarkWriteFile1BRC(b *testing.B) {
	b.ReportAllocs()
	n, err := WriteFile(io.Discard, Options{Generator: "measurements", Count: int64(b.N)}, "csv")
	if err != nil || n != int64(b.N) {
		b.Fatal(n, err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rec/s")
}

package kafka

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/record"
)

// BenchmarkSourceRead reads a pre-filled 8-partition kfake topic of JSON
// trades to its end (stop.at=end) with one reader goroutine per partition,
// decoding scenario 2's columns: the source's read + decode throughput.
func BenchmarkSourceRead(b *testing.B) {
	const n = 200_000
	brokers := startCluster(b, "trades")
	msgs := trades(n, 100)
	for i := 0; i < n; i += 20_000 {
		produce(b, brokers, "trades", msgs[i:i+20_000])
	}
	schema := record.NewSchema("trader_id", "symbol", "price", "quantity")
	props := sourceProps(brokers, "stop.at", "end")
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var total int64
	for range b.N {
		src, err := NewSource("trades", props)
		if err != nil {
			b.Fatal(err)
		}
		total += readCount(b, src, schema)
	}
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), "rec/s")
	if total != int64(n)*int64(b.N) {
		b.Fatalf("read %d records, want %d", total, n*b.N)
	}
}

// readCount reads src to its end and counts the records, as the
// coordinator's ingest goroutines would (without copying them).
func readCount(b *testing.B, src *Source, schema *record.Schema) int64 {
	ctx := context.Background()
	ch, err := src.Open(ctx, schema, nil)
	if err != nil {
		b.Fatal(err)
	}
	var count atomic.Int64
	var wg sync.WaitGroup
	for r := range ch {
		wg.Add(1)
		go func(r connector.PartitionReader) {
			defer wg.Done()
			var batch record.Batch
			for {
				err := r.Next(ctx, &batch, 1024)
				count.Add(int64(len(batch.Records)))
				if errors.Is(err, io.EOF) {
					return
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
		}(r)
	}
	wg.Wait()
	if err := src.Close(); err != nil {
		b.Fatal(err)
	}
	return count.Load()
}

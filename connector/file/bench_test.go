package file

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/sluicesql/sluice/connector/gen"
	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/record"
)

const benchLines = 1_000_000

// benchFiles caches the benchmark inputs, written once per process; TestMain
// removes benchDirs.
var (
	benchFiles sync.Map
	benchMu    sync.Mutex
	benchDirs  []string
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range benchDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}

// benchFile returns a file of benchLines records of a generator.
func benchFile(b *testing.B, generator, format string) string {
	key := generator + "." + format
	if p, ok := benchFiles.Load(key); ok {
		return p.(string)
	}
	dir, err := os.MkdirTemp("", "sluice-bench-")
	if err != nil {
		b.Fatal(err)
	}
	benchMu.Lock()
	benchDirs = append(benchDirs, dir)
	benchMu.Unlock()
	path := filepath.Join(dir, key)
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := gen.WriteFile(f, gen.Options{Generator: generator, Count: benchLines}, format); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	benchFiles.Store(key, path)
	return path
}

// benchRead reads the whole file with split size half the file, the two
// splits in parallel, as the job does at 2 partitions.
func benchRead(b *testing.B, path string, props map[string]string, schema *record.Schema) {
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	props["f.path"] = path
	props["f.split.size"] = fmt.Sprint((fi.Size() + 1) / 2)
	b.ReportAllocs()
	b.SetBytes(fi.Size())
	b.ResetTimer()
	var total int64
	for i := 0; i < b.N; i++ {
		src, err := NewSource("f", props)
		if err != nil {
			b.Fatal(err)
		}
		ch, err := src.Open(context.Background(), schema, &mem.DeadLetters{})
		if err != nil {
			b.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		for r := range ch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var batch record.Batch
				n := 0
				for {
					err := r.Next(context.Background(), &batch, 1024)
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						b.Error(err)
						return
					}
					n += len(batch.Records)
				}
				r.Close()
				mu.Lock()
				total += int64(n)
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	if total != int64(b.N)*benchLines {
		b.Fatalf("read %d records, want %d", total, int64(b.N)*benchLines)
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "rec/s")
}

// BenchmarkReadJSONScenario2 reads 1M market_data JSON lines into the
// columns of the reference's scenario 2.
func BenchmarkReadJSONScenario2(b *testing.B) {
	path := benchFile(b, "market_data", "jsonl")
	benchRead(b, path, map[string]string{}, record.NewSchema("trader_id", "symbol", "price", "quantity"))
}

// BenchmarkRead1BRC reads 1M station;temperature lines.
func BenchmarkRead1BRC(b *testing.B) {
	path := benchFile(b, "measurements", "csv")
	benchRead(b, path, map[string]string{
		"f.format": "csv", "f.delimiter": ";", "f.has_header": "false", "f.columns": "station,temperature",
	}, record.NewSchema("station", "temperature"))
}

package codec

import (
	"fmt"
	"testing"

	"github.com/sluicesql/sluice/record"
)

// scenario2Lines returns JSON lines shaped like the reference's scenario 2
// records (trader_id, symbol, price, quantity, trade_time).
func scenario2Lines(n int) [][]byte {
	lines := make([][]byte, n)
	for i := range lines {
		lines[i] = fmt.Appendf(nil, `{"trader_id":%d,"symbol":"SYM%d","price":%d.%02d,"quantity":%d,"trade_time":%d}`,
			i%100, i%50, 100+(i%500)/10, (i%10)*10, i%1000, 1705276800000+int64(i))
	}
	return lines
}

func BenchmarkJSONDecodeScenario2(b *testing.B) {
	lines := scenario2Lines(4096)
	schema := record.NewSchema("trader_id", "symbol", "price", "quantity")
	d := NewJSONDecoder(schema)
	dst := make([]record.Value, schema.Len())
	var bytes int64
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		line := lines[i%len(lines)]
		bytes += int64(len(line))
		if err := d.Decode(line, dst); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rec/s")
	b.SetBytes(bytes / int64(b.N))
}

// brcLine appends 1BRC line i (without its line break) to buf.
func brcLine(buf []byte, i int) []byte {
	return fmt.Appendf(buf, "Station%d;%d.%d", i%413, i%90-40, i%10)
}

// brcDecoder returns the CSV decoder of 1BRC lines and its output row.
func brcDecoder(b *testing.B) (*CSVDecoder, []record.Value) {
	schema := record.NewSchema("station", "temperature")
	d, err := NewCSVDecoder(schema, []string{"station", "temperature"}, ';')
	if err != nil {
		b.Fatal(err)
	}
	return d, make([]record.Value, 2)
}

func BenchmarkCSVDecode1BRC(b *testing.B) {
	lines := make([][]byte, 4096)
	for i := range lines {
		lines[i] = brcLine(nil, i)
	}
	d, dst := brcDecoder(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := d.Decode(lines[i%len(lines)], dst); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rec/s")
}

func BenchmarkJSONEncodeScenario2(b *testing.B) {
	schema := record.NewSchema("trader_id", "symbol", "trade_count", "avg_price", "total_quantity", "total_value")
	row := []record.Value{record.IntValue(42), record.StringValue("SYM12"), record.IntValue(1000),
		record.DecimalValue(12345678, 6), record.IntValue(499500), record.DecimalValue(5123456789, 3)}
	e := NewJSONEncoder(schema)
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = e.AppendRow(buf[:0], row)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rec/s")
}

func BenchmarkCSVDecodeFirst1BRC(b *testing.B) {
	var buf []byte
	for i := 0; i < 4096; i++ {
		buf = append(brcLine(buf, i), '\n')
	}
	d, dst := brcDecoder(b)
	b.ReportAllocs()
	b.ResetTimer()
	pos := 0
	for i := 0; i < b.N; i++ {
		if pos == len(buf) {
			pos = 0
		}
		n := d.DecodeFirst(buf[pos:], dst)
		if n == 0 {
			b.Fatalf("no line at %d", pos)
		}
		pos += n
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rec/s")
}

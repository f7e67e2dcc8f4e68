package exec

import (
	"fmt"
	"testing"
	"time"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// The reference's benchmark scenarios (shared/spec/reference-notes.md §4)
// over records decoded in memory, one pipeline on one goroutine. Each
// benchmark op is one record; rec/s is the throughput.

const (
	benchRecords = 100_000 // distinct records, cycled
	benchBatch   = 1000
)

// marketData builds scenario 2/3 records: trader_id=i%100,
// symbol="SYM{i%50}", price=100+(i*0.1)%50 (exact DECIMAL), quantity=i%1000,
// trade_time=i ms.
func marketData() []record.Record {
	syms := make([]record.Value, 50)
	for i := range syms {
		syms[i] = record.StringValue(fmt.Sprintf("SYM%d", i))
	}
	out := make([]record.Record, benchRecords)
	vals := make([]record.Value, 5*benchRecords)
	for i := range out {
		v := vals[i*5 : i*5+5 : i*5+5]
		v[0] = record.IntValue(int64(i % 100))
		v[1] = syms[i%50]
		v[2] = record.DecimalValue(1000+int64(i%500), 1)
		v[3] = record.IntValue(int64(i % 1000))
		v[4] = record.TimestampValue(int64(i))
		out[i] = record.Record{Values: v, Offset: int64(i), Topic: "market_data"}
	}
	return out
}

// scenario2 is SELECT trader_id, symbol, COUNT(*) AS trade_count,
// AVG(price) AS avg_price, SUM(quantity) AS total_quantity,
// SUM(price * quantity) AS total_value FROM market_data
// GROUP BY trader_id, symbol [WINDOW ...] [EMIT ...].
func scenario2(w *sql.Window, emit sql.EmitMode) *sql.Select {
	return &sql.Select{
		Items: []sql.SelectItem{
			item(id("trader_id"), ""), item(id("symbol"), ""),
			item(countStarCall(), "trade_count"),
			item(call("AVG", id("price")), "avg_price"),
			item(call("SUM", id("quantity")), "total_quantity"),
			item(call("SUM", bin(sql.Mul, id("price"), id("quantity"))), "total_value"),
		},
		GroupBy: []sql.Expr{id("trader_id"), id("symbol")},
		Window:  w, Emit: emit,
	}
}

// countingOutput counts rows and fails on dead letters.
type countingOutput struct {
	b    *testing.B
	rows int
}

func (o *countingOutput) Emit(rows []record.Record) { o.rows += len(rows) }
func (o *countingOutput) DeadLetter(r *record.Record, err error) {
	o.b.Fatalf("dead letter: %v", err)
}

// runBench feeds b.N market data records in batches, advancing their event
// time so that time keeps ascending as the data cycles.
func runBench(b *testing.B, sel *sql.Select) {
	runBenchOver(b, sel, record.NewSchema("trader_id", "symbol", "price", "quantity", "trade_time"), marketData())
}

// runBenchOver feeds b.N records of data (cycled) in batches, advancing
// their event time so that time keeps ascending as the data cycles.
func runBenchOver(b *testing.B, sel *sql.Select, schema *record.Schema, data []record.Record) {
	p, err := Compile(sel, Options{Schema: schema})
	if err != nil {
		b.Fatal(err)
	}
	pl := p.NewPipeline()
	out := &countingOutput{b: b}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var base int64
	for done := 0; done < b.N; {
		for off := 0; off < len(data) && done < b.N; off += benchBatch {
			n := min(benchBatch, len(data)-off, b.N-done)
			batch := data[off : off+n]
			for i := range batch {
				// The job stores event time at ingest (Program.EventTime).
				batch[i].EventTime, batch[i].HasEventTime = base+int64(off+i), true
			}
			pl.Process(batch, out)
			done += n
		}
		base += int64(len(data))
	}
	pl.Finish(out)
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "rec/s")
}

// BenchmarkScenario2 is the GROUP BY scenario (default EMIT CHANGES,
// coalesced per batch of 1000).
func BenchmarkScenario2(b *testing.B) { runBench(b, scenario2(nil, sql.EmitDefault)) }

// BenchmarkScenario2Final is scenario 2 with EMIT FINAL (rows at Finish).
func BenchmarkScenario2Final(b *testing.B) { runBench(b, scenario2(nil, sql.EmitFinal)) }

// BenchmarkScenario3a is scenario 2 with WINDOW TUMBLING(trade_time,
// INTERVAL '1' MINUTE) (EMIT FINAL).
func BenchmarkScenario3a(b *testing.B) {
	runBench(b, scenario2(tumbling("trade_time", time.Minute), sql.EmitDefault))
}

// BenchmarkScenario3b is scenario 3a with EMIT CHANGES.
func BenchmarkScenario3b(b *testing.B) {
	runBench(b, scenario2(tumbling("trade_time", time.Minute), sql.EmitChanges))
}

// BenchmarkScenario1BRC is the 1BRC query, SELECT station,
// MIN(temperature), AVG(temperature), MAX(temperature) FROM measurements
// GROUP BY station, over 413 stations and DECIMAL(3,1) temperatures: the
// pipeline's share of `sluice bench --scenarios 1brc`.
func BenchmarkScenario1BRC(b *testing.B) {
	stations := make([]record.Value, 413)
	for i := range stations {
		stations[i] = record.StringValue(fmt.Sprintf("Station %d", i))
	}
	data := make([]record.Record, benchRecords)
	vals := make([]record.Value, 2*benchRecords)
	for i := range data {
		v := vals[i*2 : i*2+2 : i*2+2]
		v[0], v[1] = stations[(i*7919)%len(stations)], record.DecimalValue(int64(i%999-400), 1)
		data[i] = record.Record{Values: v, Offset: int64(i), Topic: "measurements"}
	}
	sel := &sql.Select{
		Items: []sql.SelectItem{item(id("station"), ""), item(call("MIN", id("temperature")), ""),
			item(call("AVG", id("temperature")), ""), item(call("MAX", id("temperature")), "")},
		GroupBy: []sql.Expr{id("station")},
	}
	runBenchOver(b, sel, record.NewSchema("station", "temperature"), data)
}

// handKey and handState are the hand-written scenario 2 loop's group map.
type handKey struct {
	trader int64
	symbol string
}

type handState struct {
	count, priceSum, qty, value int64 // priceSum and value at scale 1
	changed                     bool
}

// BenchmarkScenario2Hand computes scenario 2 with a hand-written Go loop
// over the same records: the same exact sums, the same per-batch
// coalesced change rows (with the exact average), as the limit the engine
// is compared with.
func BenchmarkScenario2Hand(b *testing.B) {
	data := marketData()
	groups := make(map[handKey]*handState)
	var changed []*handState
	var rows []record.Value
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for done := 0; done < b.N; {
		for off := 0; off < len(data) && done < b.N; off += benchBatch {
			n := min(benchBatch, len(data)-off, b.N-done)
			for i := range data[off : off+n] {
				v := data[off+i].Values
				k := handKey{v[0].Int(), v[1].Str()}
				s := groups[k]
				if s == nil {
					s = &handState{}
					groups[k] = s
				}
				price, _ := v[2].Decimal()
				q := v[3].Int()
				s.count++
				s.priceSum += price
				s.qty += q
				s.value += price * q
				if !s.changed {
					s.changed = true
					changed = append(changed, s)
				}
			}
			rows = rows[:0]
			for _, s := range changed {
				avg, sc, _ := record.DecimalDiv(s.priceSum, 1, s.count, 0)
				rows = append(rows, record.IntValue(s.count), record.DecimalValue(avg, sc),
					record.IntValue(s.qty), record.DecimalValue(s.value, 1))
				s.changed = false
			}
			changed = changed[:0]
			done += n
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "rec/s")
}

package join

import (
	"testing"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

type discard struct{}

func (discard) Emit([]record.Record)             {}
func (discard) DeadLetter(*record.Record, error) {}

var _ exec.Output = discard{}

// BenchmarkInterval runs a stream-stream join WITHIN 1 s over two
// time-ordered inputs (one match per row), advancing the watermark every
// batch as a job would.
func BenchmarkInterval(b *testing.B) {
	stmts, err := sql.Parse("b", "SELECT a.v, b.w FROM a JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND")
	if err != nil {
		b.Fatal(err)
	}
	prog, err := Compile(stmts[0].Select(), Options{Properties: map[string]string{"event.time.field": "ts"}, Inputs: []Input{
		{Name: "a", Schema: record.NewSchema("k", "ts", "v")}, {Name: "b", Schema: record.NewSchema("k", "ts", "w")}}})
	if err != nil {
		b.Fatal(err)
	}
	sides := prog.Sides()
	const n = 1 << 16
	var batches [2][]record.Record
	for s := range 2 {
		for i := range n {
			vals := make([]record.Value, sides[s].Width)
			vals[sides[s].Offset] = record.IntValue(int64(i % 10000))
			vals[sides[s].Offset+1] = record.IntValue(int64(i + 300*s))
			vals[sides[s].Offset+2] = record.IntValue(int64(i))
			vals[sides[s].Slot] = record.IntValue(int64(s))
			batches[s] = append(batches[s], record.Record{Values: vals})
		}
	}
	b.ResetTimer()
	b.ReportAllocs()
	for range b.N {
		pl := prog.NewPipeline()
		for off := 0; off < n; off += 1024 {
			pl.Process(batches[0][off:off+1024], discard{})
			pl.Process(batches[1][off:off+1024], discard{})
			pl.Advance(int64(off), discard{})
		}
		pl.Finish(discard{})
	}
	b.ReportMetric(float64(2*n*b.N)/b.Elapsed().Seconds(), "rec/s")
}

// BenchmarkEnrich joins batches of trades with a broadcast 10K-row table
// and projects three columns, as scenario 4a does.
func BenchmarkEnrich(b *testing.B) {
	stmts, err := sql.Parse("b", "SELECT t.symbol, t.quantity, r.desk FROM trades t JOIN traders r ON t.trader_id = r.trader_id")
	if err != nil {
		b.Fatal(err)
	}
	prog, err := Compile(stmts[0].Select(), Options{Inputs: []Input{
		{Name: "trades", Alias: "t", Schema: record.NewSchema("trader_id", "symbol", "quantity")},
		{Name: "traders", Alias: "r", Schema: record.NewSchema("trader_id", "desk"), PrimaryKey: []string{"trader_id"}}}})
	if err != nil {
		b.Fatal(err)
	}
	t := prog.Tables()[0]
	for i := range 10_000 {
		t.Apply(&record.Record{Values: []record.Value{record.IntValue(int64(i)), record.StringValue("desk")}})
	}
	recs := make([]record.Record, 1024)
	for i := range recs {
		recs[i].Values = []record.Value{record.IntValue(int64(i * 7 % 10_000)), record.StringValue("SYM"), record.IntValue(int64(i))}
	}
	pl := prog.NewPipeline()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		pl.Process(recs, discard{})
	}
	b.ReportMetric(float64(len(recs)*b.N)/b.Elapsed().Seconds(), "rec/s")
}

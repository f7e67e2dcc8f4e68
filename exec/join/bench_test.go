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

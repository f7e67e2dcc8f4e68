package expr

import (
	"testing"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

func BenchmarkEval(b *testing.B) {
	schema := record.NewSchema("price", "quantity", "total_amount")
	recs := make([]record.Record, 1024)
	for i := range recs {
		recs[i].Values = []record.Value{
			record.DecimalValue(int64(1000+i%500), 1), // 100.0 .. 149.9
			record.IntValue(int64(i % 1000)),
			record.IntValue(int64(150 + i%100)),
		}
	}
	benches := []struct {
		name string
		e    sql.Expr
	}{
		{"price*quantity", bin(sql.Mul, col("price"), col("quantity"))},
		{"total_amount>100", bin(sql.Gt, col("total_amount"), num("100"))},
	}
	for _, bb := range benches {
		f, err := Compile(bb.e, &Scope{Schema: schema})
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if _, err := f(&recs[i%len(recs)]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rec/s")
		})
	}
}

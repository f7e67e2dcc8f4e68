package record

import "testing"

func BenchmarkDecimalSumAdd(b *testing.B) {
	vals := []Value{DecimalValue(1005, 1), IntValue(7), DecimalValue(125, 2)}
	var s DecimalSum
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := s.Add(vals[i%len(vals)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rec/s")
}

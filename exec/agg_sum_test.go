package exec

import (
	"math"
	"testing"

	"github.com/sluicesql/sluice/record"
)

// sumOver folds vals into SUM or AVG: the first split values into group 0,
// the rest into group 1, then merges group 1 into group 0 and returns its
// result as "KIND text" or the error's text.
func sumOver(avg bool, vals []record.Value, split int) string {
	a := &sumAvg{avg: avg, arg: func(r *record.Record) (record.Value, error) { return r.Values[0], nil }}
	a.grow(2)
	for i, v := range vals {
		if err := a.prepare(&record.Record{Values: []record.Value{v}}); err != nil {
			return err.Error()
		}
		g := int32(0)
		if i >= split {
			g = 1
		}
		a.apply(g)
	}
	a.merge(0, 1)
	v, err := a.result(0)
	if err != nil {
		return err.Error()
	}
	return v.Kind().String() + " " + v.String()
}

func TestSumAvgStates(t *testing.T) {
	maxInt := record.IntValue(math.MaxInt64)
	const overflow = "SUM: decimal out of range: more than 18 significant digits"
	tests := []struct {
		name     string
		vals     []record.Value
		sum, avg string
		oneGroup bool // a partial sum leaves the DECIMAL range, so a merge fails: test one group only
	}{
		{"integers", []record.Value{val(1), val(2), val(4)}, "INTEGER 7", "DECIMAL 2.333333", false},
		{"only NULL", []record.Value{val(nil), val(nil)}, "NULL NULL", "NULL NULL", false},
		{"decimal at scale 0", []record.Value{record.DecimalValue(5, 0), val(1)}, "DECIMAL 6", "DECIMAL 3.000000", false},
		{"scales mix", []record.Value{dec("0.5"), val(1), dec("0.25")}, "DECIMAL 1.75", "DECIMAL 0.583333", false},
		{"beyond int64 and back", []record.Value{maxInt, val(1), val(-1)}, "INTEGER 9223372036854775807", "AVG: decimal out of range: more than 18 significant digits", true},
		{"beyond int64", []record.Value{maxInt, val(1)}, overflow, overflow, true},
		{"scale raise beyond int64 and back", []record.Value{val(100_000_000_000_000_000), dec("0.01"), val(-100_000_000_000_000_000)}, "DECIMAL 0.01", "DECIMAL 0.003333", true},
		{"float with exact values", []record.Value{val(1), val(2.5), dec("0.5"), val(nil)}, "FLOAT 4", "FLOAT 1.3333333333333333", false},
		{"only floats", []record.Value{val(1.5), val(-0.5)}, "FLOAT 1", "FLOAT 0.5", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Every split must give what one group gives: merges are exact.
			first := 0
			if tt.oneGroup {
				first = len(tt.vals)
			}
			for split := first; split <= len(tt.vals); split++ {
				if got := sumOver(false, tt.vals, split); got != tt.sum {
					t.Errorf("SUM split at %d: got %q, want %q", split, got, tt.sum)
				}
				if got := sumOver(true, tt.vals, split); got != tt.avg {
					t.Errorf("AVG split at %d: got %q, want %q", split, got, tt.avg)
				}
			}
		})
	}
}

func TestSumAvgCountBeyondUint32(t *testing.T) {
	a := &sumAvg{avg: true, arg: func(r *record.Record) (record.Value, error) { return r.Values[0], nil }}
	a.grow(2)
	// Group 0 has seen 2^32-1 values of 2; one more wraps the 32-bit count
	// into the rare part.
	a.states[0] = numState{sum: 2 * math.MaxUint32, count: math.MaxUint32, exact: true}
	if err := a.prepare(&record.Record{Values: []record.Value{val(2)}}); err != nil {
		t.Fatal(err)
	}
	a.apply(0)
	a.apply(1)
	a.merge(0, 1)
	if n := a.states[0].n(); n != 1<<32+1 {
		t.Fatalf("count %d, want %d", n, int64(1<<32+1))
	}
	v, err := a.result(0)
	if err != nil || v.String() != "2.000000" {
		t.Fatalf("AVG got %v, %v; want 2.000000", v, err)
	}
}

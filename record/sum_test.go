package record

import (
	"errors"
	"math"
	"testing"
)

func TestDecimalSumMillionTenths(t *testing.T) {
	var s DecimalSum
	tenth := num(t, "0.1")
	for range 1_000_000 {
		if err := s.Add(tenth); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := s.Sum()
	if err != nil || sum.String() != "100000.0" {
		t.Fatalf("SUM = %v, %v; want 100000.0", sum, err)
	}
	avg, err := s.Avg()
	if err != nil || avg.String() != "0.100000" {
		t.Fatalf("AVG = %v, %v; want 0.100000", avg, err)
	}
}

func TestDecimalSum(t *testing.T) {
	tests := []struct {
		name     string
		in       []Value
		sum, avg string
		sumErr   bool
	}{
		{"empty", nil, "NULL", "NULL", false},
		{"nulls only", []Value{NullValue(), NullValue()}, "NULL", "NULL", false},
		{"mixed scales", []Value{num(t, "1.5"), num(t, "0.25"), IntValue(2), NullValue()}, "3.75", "1.250000", false},
		{"avg rounds half away", []Value{num(t, "0.0000001"), num(t, "0.0000000"), num(t, "0.0000000"), num(t, "0.0000000")}, "0.0000001", "0.0000000", false},
		{"avg of ints", []Value{IntValue(1), IntValue(2)}, "3", "1.500000", false},
		{"negative", []Value{num(t, "-1.10"), num(t, "0.05")}, "-1.05", "-0.525000", false},
		// Intermediate overflow is carried exactly and cancels out.
		{"transient overflow", []Value{IntValue(math.MaxInt64), IntValue(math.MaxInt64), IntValue(-math.MaxInt64), IntValue(-math.MaxInt64), IntValue(7)}, "7", "1.400000", false},
		{"scale raise overflows int64", []Value{IntValue(math.MaxInt64 / 10), num(t, "0.01"), num(t, "-922337203685477580")}, "0.01", "0.003333", false},
		{"final overflow", []Value{IntValue(math.MaxInt64), IntValue(1)}, "", "4611686018427387904.000000", true},
	}
	for _, tt := range tests {
		var s DecimalSum
		for _, v := range tt.in {
			if err := s.Add(v); err != nil {
				t.Fatalf("%s: Add(%v): %v", tt.name, v, err)
			}
		}
		sum, err := s.Sum()
		if tt.sumErr {
			if !errors.Is(err, ErrDecimalOverflow) {
				t.Errorf("%s: SUM = %v, %v; want overflow", tt.name, sum, err)
			}
		} else if err != nil || sum.String() != tt.sum {
			t.Errorf("%s: SUM = %v, %v; want %s", tt.name, sum, err, tt.sum)
		}
		avg, err := s.Avg()
		if tt.name == "final overflow" {
			// 2^63 / 2 at scale 6 does not fit either.
			if err == nil {
				t.Errorf("%s: AVG = %v; want overflow", tt.name, avg)
			}
			continue
		}
		if err != nil || avg.String() != tt.avg {
			t.Errorf("%s: AVG = %v, %v; want %s", tt.name, avg, err, tt.avg)
		}
	}
}

func TestDecimalSumRemove(t *testing.T) {
	var s DecimalSum
	for _, v := range []string{"1.5", "2.25", "3"} {
		if err := s.Add(num(t, v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Remove(num(t, "1.5")); err != nil {
		t.Fatal(err)
	}
	if sum, _ := s.Sum(); sum.String() != "5.25" || s.Count() != 2 {
		t.Errorf("after Remove: SUM = %v, count %d; want 5.25, 2", sum, s.Count())
	}
	if err := s.Add(StringValue("x")); err == nil {
		t.Error("Add(STRING): want error")
	}
	s.Reset()
	if sum, _ := s.Sum(); !sum.IsNull() {
		t.Errorf("after Reset: SUM = %v", sum)
	}
}

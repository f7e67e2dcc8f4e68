package analytic

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/sluicesql/sluice/record"
)

// TestAgainstBruteForce compares every frame function with a brute-force
// reference that keeps each partition's whole history, on random data:
// exact numbers (INTEGER and DECIMAL) with NULLs, FLOATs, and strings, over
// frames of several sizes. It is the correctness check of the sliding sums
// and of the MIN/MAX monotonic deques.
func TestAgainstBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, kind := range []string{"exact", "float", "string"} {
		for _, size := range []int{1, 2, 3, 5, 8, 64, -1} {
			t.Run(fmt.Sprintf("%s/frame%d", kind, size), func(t *testing.T) {
				checkRandom(t, rng, kind, size)
			})
		}
	}
}

func checkRandom(t *testing.T, rng *rand.Rand, kind string, size int) {
	over := "OVER (PARTITION BY k)"
	if size > 0 {
		over = fmt.Sprintf("OVER (PARTITION BY k ORDER BY x ROWS BETWEEN %d PRECEDING AND CURRENT ROW)", size-1)
		if size%2 == 1 {
			over = fmt.Sprintf("OVER (ROWS WINDOW BUFFER %d ROWS PARTITION BY k)", size)
		}
	}
	calls := []string{"MIN(x) " + over, "MAX(x) " + over, "COUNT(x) " + over, "COUNT(*) " + over, "LAG(x, 3) " + over}
	if kind != "string" {
		calls = append(calls, "SUM(x) "+over, "AVG(x) "+over)
	}
	s := compile(t, []string{"k", "x"}, calls)
	state := s.NewState()
	out := make([]record.Value, s.Len())
	history := map[int64][]record.Value{}
	for i := range 400 {
		k := rng.Int64N(3)
		x := randomValue(rng, kind)
		if err := state.Apply(&record.Record{Values: []record.Value{in(k), x}}, out); err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		history[k] = append(history[k], x)
		h := history[k]
		frame := h
		if size > 0 && len(frame) > size {
			frame = frame[len(frame)-size:]
		}
		lagWant := null
		if len(h) > 3 {
			lagWant = h[len(h)-4]
		}
		want := []record.Value{extremeOf(frame, -1), extremeOf(frame, 1), in(nonNull(frame)), in(int64(len(frame))), lagWant}
		if kind != "string" {
			sum, avg := sumOf(t, frame)
			want = append(want, sum, avg)
		}
		for j, w := range want {
			if !close(out[j], w) {
				t.Fatalf("row %d (partition %d, frame %v): %s = %s, want %s", i, k, frame, calls[j], show(out[j]), show(w))
			}
		}
	}
}

func randomValue(rng *rand.Rand, kind string) record.Value {
	if rng.IntN(5) == 0 {
		return null
	}
	switch kind {
	case "float":
		return fl(float64(rng.IntN(2000)-1000) / 7)
	case "string":
		return st(strconv.Itoa(rng.IntN(50)))
	}
	// Small values, often whole DECIMALs, so that frames hold ties in
	// different forms (2, 2.0, 2.00) and the earliest extreme matters.
	n := rng.Int64N(20) - 10
	sc := rng.IntN(3)
	if sc == 0 {
		return in(n)
	}
	u := n * int64(math.Pow10(sc))
	if rng.IntN(2) == 0 {
		u += rng.Int64N(10)
	}
	return record.DecimalValue(u, uint8(sc))
}

// extremeOf returns the earliest minimum (dir -1) or maximum (dir 1) of
// the frame's non-NULL values, or NULL.
func extremeOf(frame []record.Value, dir int) record.Value {
	best := null
	for _, v := range frame {
		if v.IsNull() {
			continue
		}
		c, _ := record.Compare(v, best)
		if best.IsNull() || c == dir {
			best = v
		}
	}
	return best
}

func nonNull(frame []record.Value) int64 {
	var n int64
	for _, v := range frame {
		if !v.IsNull() {
			n++
		}
	}
	return n
}

// sumOf returns SUM and AVG of the frame with record's arithmetic.
func sumOf(t *testing.T, frame []record.Value) (sum, avg record.Value) {
	n := nonNull(frame)
	if n == 0 {
		return null, null
	}
	for _, v := range frame {
		if v.IsNull() {
			continue
		}
		if sum.IsNull() {
			sum = v
			continue
		}
		var err error
		if sum, err = record.Add(sum, v); err != nil {
			t.Fatal(err)
		}
	}
	if sum.Kind() == record.Float {
		return sum, fl(sum.Float() / float64(n))
	}
	u, sc := sum.Decimal()
	q, qs, err := record.DecimalDiv(u, sc, n, 0)
	if err != nil {
		t.Fatal(err)
	}
	return sum, record.DecimalValue(q, qs)
}

// close reports whether got equals want: exactly, except FLOATs, which may
// differ by summation order.
func close(got, want record.Value) bool {
	if got.Kind() == record.Float && want.Kind() == record.Float {
		g, w := got.Float(), want.Float()
		return math.Abs(g-w) <= 1e-9*math.Max(1, math.Abs(w))
	}
	return same(got, want)
}

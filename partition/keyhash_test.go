package partition

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/record"
)

// randomValue returns a value of a random kind from small ranges, so that
// values often repeat and numbers often have equal values of other kinds.
func randomValue(r *rand.Rand) record.Value {
	switch r.IntN(9) {
	case 0:
		return record.NullValue()
	case 1:
		return record.BoolValue(r.IntN(2) == 1)
	case 2:
		return record.IntValue(r.Int64N(2001) - 1000)
	case 3:
		return record.IntValue(int64(r.Uint64()))
	case 4:
		return record.DecimalValue(r.Int64N(200001)-100000, uint8(r.IntN(5)))
	case 5:
		fs := []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), 1 << 63, -(1 << 63), 0.1}
		if i := r.IntN(len(fs) + 1); i < len(fs) {
			return record.FloatValue(fs[i])
		}
		return record.FloatValue(float64(r.IntN(2001)-1000) / float64(int(1)<<r.IntN(4)))
	case 6:
		return record.TimestampValue(r.Int64N(2001) - 1000)
	default:
		return record.StringValue(strings.Repeat(string(rune('a'+r.IntN(3))), r.IntN(20)))
	}
}

// equalVariant returns a value GROUP BY puts in v's group, of another kind or
// representation when there is one: 150 → 150.00 or FLOAT 150, 1.5 → 1.50,
// one NaN → another NaN.
func equalVariant(r *rand.Rand, v record.Value) record.Value {
	switch v.Kind() {
	case record.Int:
		n := v.Int()
		if r.IntN(2) == 0 && n > -1<<52 && n < 1<<52 {
			return record.FloatValue(float64(n))
		}
		if s := uint8(r.IntN(4)); n > math.MinInt64/1000 && n < math.MaxInt64/1000 {
			return record.DecimalValue(n*int64(math.Pow10(int(s))), s)
		}
	case record.Decimal:
		n, s := v.Decimal()
		return record.DecimalValue(n*10, s+1)
	case record.Float:
		f := v.Float()
		if math.IsNaN(f) {
			return record.FloatValue(math.Float64frombits(0x7ff0000000000001 + uint64(r.IntN(1000))))
		}
		if f == math.Trunc(f) && math.Abs(f) < 1<<52 {
			return record.IntValue(int64(f))
		}
	case record.String:
		return record.StringValue(strings.Clone(v.Str()))
	}
	return v
}

// route returns the partition of the one-record batch vals by KeySlots (the
// fast path) and by Key (the general path), with h's partition count.
func route(h *HashStrategy, n int, vals []record.Value) (bySlots, byKey int) {
	b := &record.Batch{Records: []record.Record{{Values: vals}}}
	slots := make([]int, len(vals))
	for i := range slots {
		slots[i] = i
	}
	dst := make([]int, 1)
	h.Route(b, &Context{Partitions: n, KeySlots: slots}, dst)
	bySlots = dst[0]
	key := func(r *record.Record, buf []record.Value) []record.Value { return append(buf, r.Values...) }
	h.Route(b, &Context{Partitions: n, Key: key}, dst)
	return bySlots, dst[0]
}

func TestHashEqualValuesRouteTogether(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	strategies := map[int]*HashStrategy{} // one per N: each caches its assignment
	for n := 2; n <= 16; n++ {
		strategies[n] = NewHash()
	}
	for iter := 0; iter < 20000; iter++ {
		width := 1 + r.IntN(3)
		a, b := make([]record.Value, width), make([]record.Value, width)
		for i := range a {
			a[i] = randomValue(r)
			b[i] = equalVariant(r, a[i])
		}
		if string(appendKeys(a)) != string(appendKeys(b)) {
			t.Fatalf("test bug: %v and %v are not one GROUP BY group", a, b)
		}
		n := 2 + r.IntN(15)
		sa, ka := route(strategies[n], n, a)
		sb, kb := route(strategies[n], n, b)
		if sa != ka || sb != kb {
			t.Fatalf("%v: KeySlots routes to %d, Key to %d; %v: %d, %d", a, sa, ka, b, sb, kb)
		}
		if sa != sb || KeyGroup(a) != KeyGroup(b) {
			t.Errorf("N=%d: %v -> %d but the equal %v -> %d", n, a, sa, b, sb)
		}
	}
}

func TestHashMatchesGroupEquality(t *testing.T) {
	// Exactly the keys with one AppendKey encoding (one GROUP BY group) share
	// a routing hash: no two of these thousands of distinct groups collide.
	r := rand.New(rand.NewPCG(3, 4))
	hashOf := map[string]uint64{}
	keyOf := map[uint64]string{}
	for iter := 0; iter < 50000; iter++ {
		vals := make([]record.Value, 1+r.IntN(2))
		for i := range vals {
			vals[i] = randomValue(r)
		}
		enc, h := string(appendKeys(vals)), keyHash(vals)
		if prev, ok := hashOf[enc]; ok && prev != h {
			t.Fatalf("%v: one group, two hashes %#x and %#x", vals, prev, h)
		}
		if prev, ok := keyOf[h]; ok && prev != enc {
			t.Fatalf("%v: hash %#x shared with another group", vals, h)
		}
		hashOf[enc], keyOf[h] = h, enc
	}
	if len(hashOf) < 10000 {
		t.Errorf("only %d distinct groups generated", len(hashOf))
	}
}

func appendKeys(vals []record.Value) []byte {
	var b []byte
	for _, v := range vals {
		b = v.AppendKey(b)
	}
	return b
}

package partition

import (
	"errors"
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

// routes returns the partition of the one-record batch vals on every path:
// by KeySlots (read from the record), by Key (evaluated per record), by
// KeyFuncs (evaluated per batch), and the reference, the partition of
// KeyGroup(vals) (foldValue, no fast path), with h's partition count.
func routes(h *HashStrategy, n int, vals []record.Value) [4]int {
	b := &record.Batch{Records: []record.Record{{Values: vals}}}
	slots := make([]int, len(vals))
	fns := make([]func(*record.Record) (record.Value, error), len(vals))
	for i := range slots {
		slots[i] = i
		fns[i] = func(r *record.Record) (record.Value, error) { return r.Values[i], nil }
	}
	key := func(r *record.Record, buf []record.Value) []record.Value { return append(buf, r.Values...) }
	var got [4]int
	dst := make([]int, 1)
	for p, ctx := range []*Context{{KeySlots: slots}, {Key: key}, {KeyFuncs: fns}} {
		ctx.Partitions = n
		h.Route(b, ctx, dst)
		got[p] = dst[0]
	}
	got[3] = int(h.tables.get(n)[KeyGroup(vals)])
	return got
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
		ra, rb := routes(strategies[n], n, a), routes(strategies[n], n, b)
		for _, c := range [][4]int{ra, rb} {
			if c[0] != c[3] || c[1] != c[3] || c[2] != c[3] {
				t.Fatalf("%v: KeySlots, Key, KeyFuncs route to %v, want %d (KeyGroup)", a, c[:3], c[3])
			}
		}
		if ra != rb || KeyGroup(a) != KeyGroup(b) {
			t.Errorf("N=%d: %v -> %d but the equal %v -> %d", n, a, ra[3], b, rb[3])
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

func TestHashKeyBatchShapes(t *testing.T) {
	// However Key fills its buffer and whatever width it returns per record,
	// batch routing gives each record the partition of its own key (of its
	// whole row when the key is empty), as routing it alone would.
	r := rand.New(rand.NewPCG(5, 6))
	b := &record.Batch{Records: make([]record.Record, 500)}
	for i := range b.Records {
		b.Records[i].Values = []record.Value{randomValue(r), randomValue(r), record.IntValue(int64(i))}
	}
	index := func(r *record.Record) int { return int(r.Values[2].Int()) }
	keys := []struct {
		name string
		key  func(r *record.Record, buf []record.Value) []record.Value
	}{
		{"appends in place", func(r *record.Record, buf []record.Value) []record.Value {
			return append(buf, r.Values[0], r.Values[1])
		}},
		{"three values", func(r *record.Record, buf []record.Value) []record.Value {
			return append(buf, r.Values...)
		}},
		{"truncates and appends", func(r *record.Record, buf []record.Value) []record.Value {
			return append(buf[:0], r.Values[1])
		}},
		{"ignores buf", func(r *record.Record, _ []record.Value) []record.Value {
			return []record.Value{r.Values[1], r.Values[0]}
		}},
		{"varying width", func(r *record.Record, buf []record.Value) []record.Value {
			switch i := index(r) + 1; { // record 0 sets the width: 2
			case i%11 == 0:
				return buf[:0]
			case i%7 == 0:
				return append(buf, r.Values[0])
			case i%5 == 0:
				return append(buf, r.Values...)
			}
			return append(buf, r.Values[0], r.Values[1])
		}},
		{"first key empty", func(r *record.Record, buf []record.Value) []record.Value {
			if index(r)%3 == 0 {
				return buf[:0]
			}
			return append(buf, r.Values[1])
		}},
	}
	h := NewHash()
	for _, k := range keys {
		for _, n := range []int{3, 8} {
			dst := make([]int, len(b.Records))
			if whole := h.Route(b, &Context{Partitions: n, Key: k.key}, dst); whole != -1 {
				t.Fatalf("%s: whole = %d", k.name, whole)
			}
			for i := range b.Records {
				rec := &b.Records[i]
				vals := k.key(rec, nil)
				if len(vals) == 0 {
					vals = rec.Values
				}
				if want := int(h.tables.get(n)[KeyGroup(vals)]); dst[i] != want {
					t.Fatalf("%s, N=%d: record %d (key %v) -> %d, want %d", k.name, n, i, vals, dst[i], want)
				}
			}
		}
	}
}

func TestHashKeyFuncsErrorIsNull(t *testing.T) {
	// A key value that fails to evaluate routes as NULL.
	b := &record.Batch{Records: make([]record.Record, 64)}
	for i := range b.Records {
		b.Records[i].Values = []record.Value{record.IntValue(int64(i))}
	}
	fail := errors.New("bad cast")
	fns := []func(*record.Record) (record.Value, error){
		func(r *record.Record) (record.Value, error) { return r.Values[0], nil },
		func(r *record.Record) (record.Value, error) {
			if r.Values[0].Int()%2 == 0 {
				return record.StringValue("ignored"), fail
			}
			return record.StringValue("odd"), nil
		},
	}
	h := NewHash()
	dst := make([]int, len(b.Records))
	h.Route(b, &Context{Partitions: 5, KeyFuncs: fns}, dst)
	for i := range dst {
		second := record.NullValue()
		if i%2 == 1 {
			second = record.StringValue("odd")
		}
		if want := int(h.tables.get(5)[KeyGroup([]record.Value{record.IntValue(int64(i)), second})]); dst[i] != want {
			t.Errorf("record %d -> %d, want %d", i, dst[i], want)
		}
	}
}

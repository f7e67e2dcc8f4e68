package partition

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/sluicesql/sluice/record"
)

func TestHash64Pinned(t *testing.T) {
	// hash64 decides routing: these values must never change (a change is
	// a new routing Version). Inputs cover every tail length path.
	tests := []struct {
		in   string
		want uint64
	}{
		{"", 0x42bc986dc5eec4d3},
		{"a", 0x3b85f273497d00d0},
		{"abc", 0xd2aa8e8bdbd4e66c},
		{"abcd", 0xf37fa555d384ae59},
		{"abcdefgh", 0xc22a5d2df31a9250},
		{"abcdefghijklmnop", 0xfc0b76fce7baf7e5},
		{"Call me Ishmael. Some years ago--never mind how long precisely-", 0xe759e798436d9bf7},
	}
	for _, tt := range tests {
		if got := hash64(tt.in); got != tt.want {
			t.Errorf("hash64(%q) = %#x, want %#x", tt.in, got, tt.want)
		}
	}
}

func TestParse(t *testing.T) {
	tests := map[string]string{
		"always_hash": AlwaysHash, "AlwaysHash": AlwaysHash, "HASH": AlwaysHash,
		"smart_repartition": SmartRepartition, "SmartRepartition": SmartRepartition, "Smart": SmartRepartition,
		"sticky_partition": StickyPartition, "stickypartition": StickyPartition, " sticky ": StickyPartition,
		"round_robin": RoundRobin, "RoundRobin": RoundRobin, "round": RoundRobin, "ROBIN": RoundRobin,
		"fan_in": FanIn, "FanIn": FanIn, "Fan-In": FanIn,
	}
	for in, want := range tests {
		s, err := Parse(in)
		if err != nil {
			t.Errorf("Parse(%q): %v", in, err)
			continue
		}
		wantVersion := 1
		if want == AlwaysHash || want == SmartRepartition { // v2: the value hash of keyhash.go
			wantVersion = 2
		}
		if s.Name() != want || s.Version() != wantVersion {
			t.Errorf("Parse(%q) = %s v%d, want %s v%d", in, s.Name(), s.Version(), want, wantVersion)
		}
	}
	for _, bad := range []string{"", "x", "hashh", "always-hash", "sticky partition"} {
		_, err := Parse(bad)
		if err == nil {
			t.Errorf("Parse(%q): want error", bad)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, fmt.Sprintf("unknown partitioning strategy %q", bad)) ||
			!strings.Contains(msg, "valid: always_hash, smart_repartition, sticky_partition, round_robin, fan_in") ||
			!strings.Contains(msg, "fan-in") {
			t.Errorf("Parse(%q) error %q does not list the valid names", bad, msg)
		}
	}
	for bad, want := range map[string]string{"hashh": AlwaysHash, "sticky partition": StickyPartition, "roundrobn": RoundRobin, "x": ""} {
		_, err := Parse(bad)
		hint := fmt.Sprintf("did you mean %q?", want)
		if got := strings.Contains(err.Error(), "did you mean"); got != (want != "") || want != "" && !strings.Contains(err.Error(), hint) {
			t.Errorf("Parse(%q) error %q, want the hint %q", bad, err, hint)
		}
	}
	a, _ := Parse("smart")
	b, _ := Parse("smart")
	if a == b {
		t.Error("Parse must return a fresh instance each time")
	}
}

// keyed builds a batch whose records have values (id, name) and a key
// function reading both slots.
func keyed(n int, part int32, f func(i int) (record.Value, record.Value)) (*record.Batch, *Context) {
	b := &record.Batch{Partition: part, Records: make([]record.Record, n)}
	for i := range b.Records {
		x, y := f(i)
		b.Records[i].Values = []record.Value{x, y}
	}
	ctx := &Context{
		RoutingKeys: []string{"id", "name"},
		Key: func(r *record.Record, buf []record.Value) []record.Value {
			return append(buf, r.Values[0], r.Values[1])
		},
	}
	return b, ctx
}

func TestHashStable(t *testing.T) {
	// Fixed keys must land on fixed partitions on every run and machine:
	// these expectations are hard-coded, never recomputed.
	b, ctx := keyed(6, 0, func(i int) (record.Value, record.Value) {
		vals := [][2]record.Value{
			{record.IntValue(1), record.StringValue("alice")},
			{record.IntValue(2), record.StringValue("bob")},
			{record.IntValue(42), record.StringValue("")},
			{record.NullValue(), record.StringValue("alice")},
			{record.DecimalValue(1500, 1), record.StringValue("x")},
			{record.IntValue(150), record.StringValue("x")},
		}
		return vals[i][0], vals[i][1]
	})
	// Routing version 2 (the value hash of keyhash.go) changed these.
	wantGroups := []int{918, 410, 197, 2426, 1159, 1159}
	wantParts := map[int][]int{4: {0, 0, 0, 1, 3, 3}, 7: {4, 0, 0, 1, 3, 3}}
	for i := range b.Records {
		if g := KeyGroup(b.Records[i].Values); g != wantGroups[i] {
			t.Errorf("record %d: key group %d, want %d", i, g, wantGroups[i])
		}
	}
	for _, slots := range [][]int{nil, {0, 1}} { // by Key, and by KeySlots
		ctx.KeySlots = slots
		for n, want := range wantParts {
			ctx.Partitions = n
			dst := make([]int, len(b.Records))
			if whole := NewHash().Route(b, ctx, dst); whole != -1 {
				t.Fatalf("N=%d: whole = %d, want -1", n, whole)
			}
			for i := range dst {
				if dst[i] != want[i] {
					t.Errorf("slots %v, N=%d: record %d -> %d, want %d", slots, n, i, dst[i], want[i])
				}
			}
		}
	}
}

func TestHashKeySlotsMatchKey(t *testing.T) {
	b, ctx := keyed(1000, 0, func(i int) (record.Value, record.Value) {
		return record.IntValue(int64(i)), record.StringValue(fmt.Sprint(i % 7))
	})
	ctx.Partitions = 5
	byKey, bySlots := make([]int, 1000), make([]int, 1000)
	NewHash().Route(b, ctx, byKey)
	ctx.KeySlots = []int{0, 1}
	NewHash().Route(b, ctx, bySlots)
	if fmt.Sprint(byKey) != fmt.Sprint(bySlots) {
		t.Error("routing by KeySlots differs from routing by Key")
	}
}

func TestHashKeyTyped(t *testing.T) {
	s, n, i := record.StringValue, record.NullValue(), record.IntValue
	differ := [][2][]record.Value{
		{{s("ab"), s("c")}, {s("a"), s("bc")}},
		{{s("abcdefghij"), s("k")}, {s("abcdefghi"), s("jk")}},
		{{s(""), s("x")}, {s("x"), s("")}},
		{{n}, {s("")}},
		{{n}, {s("NULL")}},
		{{n}, {i(0)}},
		{{n}, {}},
		{{n, n}, {n}},
		{{i(150)}, {s("150")}},
		{{n, s("a")}, {s("a"), n}},
		{{i(1), i(2)}, {i(2), i(1)}},
		{{i(1)}, {record.TimestampValue(1)}},
		{{i(1)}, {record.BoolValue(true)}},
		{{record.DecimalValue(15, 1)}, {i(15)}},
	}
	for k, d := range differ {
		if keyHash(d[0]) == keyHash(d[1]) {
			t.Errorf("pair %d: %v and %v hash alike", k, d[0], d[1])
		}
	}
}

func TestHashSpread(t *testing.T) {
	const keys = 100_000
	b, ctx := keyed(keys, 0, func(i int) (record.Value, record.Value) {
		return record.IntValue(int64(i)), record.StringValue(fmt.Sprintf("trader-%d", i%977))
	})
	dst := make([]int, keys)
	for n := 2; n <= 16; n++ {
		ctx.Partitions = n
		NewHash().Route(b, ctx, dst)
		counts := make([]int, n)
		for _, p := range dst {
			counts[p]++
		}
		even := float64(keys) / float64(n)
		for p, c := range counts {
			if dev := (float64(c) - even) / even; dev > 0.05 || dev < -0.05 {
				t.Errorf("N=%d: partition %d has %d records, %.1f%% from even", n, p, c, 100*dev)
			}
		}
	}
}

func TestHashWithoutKeySpreads(t *testing.T) {
	// An empty key list must not send everything to one partition (the
	// reference's mistake): the whole row is the key then.
	b, ctx := keyed(1000, 0, func(i int) (record.Value, record.Value) {
		return record.IntValue(int64(i)), record.StringValue("same")
	})
	for _, key := range []func(*record.Record, []record.Value) []record.Value{
		nil,
		func(_ *record.Record, buf []record.Value) []record.Value { return buf[:0] },
	} {
		ctx.Key, ctx.Partitions = key, 4
		dst := make([]int, len(b.Records))
		NewHash().Route(b, ctx, dst)
		seen := map[int]bool{}
		for _, p := range dst {
			seen[p] = true
		}
		if len(seen) != 4 {
			t.Errorf("records without a routing key reach %d of 4 partitions", len(seen))
		}
	}
}

func TestAssignment(t *testing.T) {
	prev := Assignment(1)
	for n := 2; n <= 80; n++ {
		a := Assignment(n)
		counts := make([]int, n)
		for _, p := range a {
			counts[p]++
		}
		for p, c := range counts {
			if c != target(p, n) {
				t.Fatalf("N=%d: partition %d owns %d groups, want %d", n, p, c, target(p, n))
			}
		}
		moved, extra := 0, 0
		for g := range a {
			if a[g] != prev[g] {
				moved++
				if int(a[g]) != n-1 {
					extra++
				}
			}
		}
		// Minimal movement: only the new partition's groups move, and only to it.
		if n*(n-1) <= KeyGroups && (moved != counts[n-1] || extra != 0) {
			t.Errorf("N=%d->%d: moved %d groups (%d between old partitions), want exactly %d",
				n-1, n, moved, extra, counts[n-1])
		}
		// Beyond that, rebalancing may move a few more, never many.
		if limit := counts[n-1] + n; moved > limit {
			t.Errorf("N=%d->%d: moved %d groups, want at most %d", n-1, n, moved, limit)
		}
		prev = a
	}
	if a, b := Assignment(8), Assignment(8); fmt.Sprint(a) != fmt.Sprint(b) {
		t.Error("Assignment is not deterministic")
	}
}

func TestWholeBatchStrategies(t *testing.T) {
	ctx := &Context{Partitions: 4}
	var b record.Batch
	seen := map[int]int{}
	for split := int32(0); split < 8; split++ { // a file split into 8 splits
		b.Partition = split
		w := NewSticky().Route(&b, ctx, nil)
		if w != int(split)%4 {
			t.Errorf("sticky: split %d -> %d, want %d", split, w, split%4)
		}
		seen[w]++
	}
	if len(seen) != 4 {
		t.Errorf("sticky spreads 8 file splits over %d of 4 workers", len(seen))
	}
	b.Partition = -1
	if w := NewSticky().Route(&b, ctx, nil); w < 0 || w >= 4 {
		t.Errorf("sticky: unknown partition -> %d, out of range", w)
	}
	if w := NewFanIn().Route(&b, ctx, nil); w != 0 {
		t.Errorf("fan_in -> %d, want 0", w)
	}
	rr := NewRoundRobin()
	for i := 0; i < 8; i++ {
		if w := rr.Route(&b, ctx, nil); w != i%4 {
			t.Errorf("round_robin batch %d -> %d, want %d", i, w, i%4)
		}
	}
}

func TestSmart(t *testing.T) {
	b, ctx := keyed(100, 5, func(i int) (record.Value, record.Value) {
		return record.IntValue(int64(i)), record.StringValue("x")
	})
	ctx.Partitions = 4
	s := NewSmart()

	ctx.SourcePartitionKey = []string{"ID"} // a subset of id, name (case-insensitive)
	if w := s.Route(b, ctx, nil); w != 1 {
		t.Errorf("aligned: batch of source partition 5 -> %d, want 5 mod 4 = 1", w)
	}
	ctx.SourcePartitionKey = []string{"symbol"} // not a subset: hash like always_hash
	got := make([]int, 100)
	want := make([]int, 100)
	if w := s.Route(b, ctx, got); w != -1 {
		t.Errorf("unaligned: whole = %d, want -1", w)
	}
	NewHash().Route(b, ctx, want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Error("unaligned smart_repartition must route exactly as always_hash")
	}
	ctx.SourcePartitionKey = nil
	s.Route(b, ctx, got)
	if a, r := s.Stats(); a != 100 || r != 200 {
		t.Errorf("Stats() = %d aligned, %d rehashed; want 100, 200", a, r)
	}
}

func TestKeySubset(t *testing.T) {
	tests := []struct {
		sub, keys []string
		want      bool
	}{
		{[]string{"trader_id"}, []string{"Trader_ID", "symbol"}, true},
		{[]string{"t.trader_id"}, []string{"trader_id"}, true},
		{[]string{"trader_id", "symbol"}, []string{"symbol", "t.trader_id"}, true},
		{nil, []string{"a"}, false},
		{[]string{"a"}, nil, false},
		{[]string{"symbol"}, []string{"UPPER(symbol)"}, false},
		{[]string{"symbol"}, []string{"t.x || u.symbol"}, false},
		{[]string{"a", "b"}, []string{"a"}, false},
	}
	for _, tt := range tests {
		if got := KeySubset(tt.sub, tt.keys); got != tt.want {
			t.Errorf("KeySubset(%q, %q) = %v, want %v", tt.sub, tt.keys, got, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	anyReq := Requirement{Kind: Any}
	ordered := Requirement{Kind: Any, OrderMatters: true}
	hashReq := Requirement{Kind: Hash, Keys: []string{"trader_id", "symbol"}, Why: "the groups of GROUP BY trader_id, symbol"}
	alignedReq := hashReq
	alignedReq.SourceKey = []string{"Trader_ID"}
	otherKey := hashReq
	otherKey.SourceKey = []string{"region"}
	single := Requirement{Kind: Single, Why: "the single group of COUNT(*)"}
	ok := map[string][]Requirement{
		AlwaysHash:       {anyReq, ordered, hashReq, alignedReq},
		SmartRepartition: {anyReq, ordered, hashReq, alignedReq},
		StickyPartition:  {anyReq, ordered, alignedReq},
		RoundRobin:       {anyReq, ordered},
		FanIn:            {anyReq, ordered, hashReq, alignedReq, otherKey, single},
	}
	bad := map[string]map[*Requirement]string{
		AlwaysHash:       {&single: "strategy always_hash would split the single group of COUNT(*) across partitions"},
		SmartRepartition: {&single: "strategy smart_repartition would split the single group of COUNT(*) across partitions"},
		StickyPartition: {
			&hashReq:  "strategy sticky_partition would split the groups of GROUP BY trader_id, symbol across partitions (the source's partition key is unknown)",
			&otherKey: "strategy sticky_partition would split the groups of GROUP BY trader_id, symbol across partitions (the source is partitioned by region, not by a subset of trader_id, symbol)",
			&single:   "strategy sticky_partition would split the single group of COUNT(*) across partitions",
		},
		RoundRobin: {
			&hashReq:    "strategy round_robin would split the groups of GROUP BY trader_id, symbol across partitions",
			&alignedReq: "strategy round_robin would split the groups of GROUP BY trader_id, symbol across partitions",
			&single:     "strategy round_robin would split the single group of COUNT(*) across partitions",
		},
	}
	for name, reqs := range ok {
		for _, r := range reqs {
			if err := New(name).Validate(r); err != nil {
				t.Errorf("%s.Validate(%+v): %v", name, r, err)
			}
		}
	}
	for name, cases := range bad {
		for r, want := range cases {
			err := New(name).Validate(*r)
			var inv *InvalidError
			if !errors.As(err, &inv) || inv.Strategy != name || err.Error() != want {
				t.Errorf("%s.Validate(%v):\n got %v\nwant %s", name, r.Kind, err, want)
			}
		}
	}
}

func TestRouteConcurrent(t *testing.T) {
	b, ctx := keyed(512, 3, func(i int) (record.Value, record.Value) {
		return record.IntValue(int64(i)), record.StringValue("k")
	})
	ctx.Partitions = 3
	want := make([]int, len(b.Records))
	NewHash().Route(b, ctx, want)
	strategies := []Strategy{NewHash(), NewSmart(), NewSticky(), NewRoundRobin(), NewFanIn()}
	for _, s := range strategies {
		var wg sync.WaitGroup
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				dst := make([]int, len(b.Records))
				for i := 0; i < 50; i++ {
					if w := s.Route(b, ctx, dst); w == -1 && fmt.Sprint(dst) != fmt.Sprint(want) {
						t.Errorf("%s: concurrent routing differs", s.Name())
						return
					}
				}
			}()
		}
		wg.Wait()
	}
	rr := strategies[3].(*RoundRobinStrategy)
	if n := rr.next.Load(); n != 200 {
		t.Errorf("round_robin counted %d batches, want 200", n)
	}
}

func BenchmarkRoute(b *testing.B) {
	const n = 1024
	batch, ctx := keyed(n, 2, func(i int) (record.Value, record.Value) {
		return record.IntValue(int64(i % 100)), record.StringValue(fmt.Sprintf("SYM%d", i%50))
	})
	ctx.Partitions = 8
	dst := make([]int, n)
	aligned := *ctx
	aligned.SourcePartitionKey = []string{"id"}
	slots := *ctx
	slots.KeySlots = []int{0, 1}
	funcs := *ctx
	funcs.KeyFuncs = []func(*record.Record) (record.Value, error){
		func(r *record.Record) (record.Value, error) { return r.Values[0], nil },
		func(r *record.Record) (record.Value, error) { return r.Values[1], nil },
	}
	cases := []struct {
		name string
		s    Strategy
		ctx  *Context
	}{
		{"always_hash", NewHash(), ctx},
		{"always_hash_slots", NewHash(), &slots},
		{"always_hash_funcs", NewHash(), &funcs},
		{"smart_unaligned", NewSmart(), ctx},
		{"smart_aligned", NewSmart(), &aligned},
		{"sticky_partition", NewSticky(), ctx},
		{"round_robin", NewRoundRobin(), ctx},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				c.s.Route(batch, c.ctx, dst)
			}
			recs := float64(b.N) * n
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/recs, "ns/rec")
			b.ReportMetric(recs/b.Elapsed().Seconds(), "rec/s")
		})
	}
}

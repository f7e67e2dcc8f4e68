package job

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/partition"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// routingSchema is the input of the routing tests: price, symbol, qty.
func routingSchema() *record.Schema { return record.NewSchema("price", "symbol", "qty") }

// parseKeys parses GROUP BY key expressions.
func parseKeys(t testing.TB, keys ...string) []sql.Expr {
	t.Helper()
	exprs := make([]sql.Expr, len(keys))
	for i, k := range keys {
		e, err := sql.ParseExpr(k)
		if err != nil {
			t.Fatal(err)
		}
		exprs[i] = e
	}
	return exprs
}

// randomTrade returns a record whose values often repeat under another
// kind or spelling: 150 = 150.0 = 150.00 = FLOAT 150, "abc" vs "ABC", NULL,
// strings longer than 8 bytes, a zero qty that makes price/qty fail.
func randomTrade(r *rand.Rand) record.Record {
	price := record.NullValue()
	n := r.Int64N(400) - 50
	switch r.IntN(5) {
	case 0:
		price = record.IntValue(n)
	case 1:
		s := uint8(r.IntN(3))
		price = record.DecimalValue(n*[]int64{1, 10, 100}[s], s)
	case 2:
		price = record.DecimalValue(n*10+r.Int64N(10), 1)
	case 3:
		price = record.FloatValue(float64(n) + []float64{0, 0.5}[r.IntN(2)])
	}
	syms := []string{"abc", "ABC", "Abc", "", "x", "long symbol name", "LONG SYMBOL NAME", "größe", "GRÖSSE"}
	sym := record.NullValue()
	if i := r.IntN(len(syms) + 1); i < len(syms) {
		sym = record.StringValue(syms[i])
	}
	qty := record.IntValue(r.Int64N(4))
	if r.IntN(8) == 0 {
		qty = record.NullValue()
	}
	return record.Record{Values: []record.Value{price, sym, qty}}
}

// TestExpressionKeysRouteByGroup: records whose GROUP BY expression values
// are equal (one AppendKey encoding: 15 = 15.0, NULL its own value, a
// failed evaluation NULL) route together, whether routing evaluates the
// key per record (Key) or per batch (KeyFuncs), and both route exactly as
// the evaluated values would as plain key columns (KeySlots).
func TestExpressionKeysRouteByGroup(t *testing.T) {
	schema := routingSchema()
	for _, keys := range [][]string{
		{"FLOOR(price / 10)", "UPPER(symbol)"},
		{"price * 2"},
		{"price / qty", "LOWER(symbol)"},
		{"qty", "FLOOR(price / 100)", "symbol"},
	} {
		t.Run(strings.Join(keys, ", "), func(t *testing.T) {
			var ctx partition.Context
			if err := SetRoutingKey(&ctx, parseKeys(t, keys...), schema); err != nil {
				t.Fatal(err)
			}
			if ctx.KeySlots != nil || len(ctx.KeyFuncs) != len(keys) || ctx.Key == nil {
				t.Fatalf("SetRoutingKey: slots %v, %d KeyFuncs, Key %v", ctx.KeySlots, len(ctx.KeyFuncs), ctx.Key != nil)
			}
			byKey := ctx
			byKey.KeyFuncs = nil
			r := rand.New(rand.NewPCG(7, uint64(len(keys))))
			type seen struct {
				part  int
				input string // the AppendKey encoding of the first input values
			}
			groups := map[int]map[string]seen{} // N -> group encoding -> first record
			records, variants := 0, 0           // variants: records of a group first met with other inputs
			for iter := 0; iter < 300; iter++ {
				n := 2 + r.IntN(15)
				ctx.Partitions, byKey.Partitions = n, n
				b := &record.Batch{Records: make([]record.Record, 1+r.IntN(300))}
				evaluated := &record.Batch{Records: make([]record.Record, len(b.Records))}
				for i := range b.Records {
					b.Records[i] = randomTrade(r)
					evaluated.Records[i].Values = ctx.Key(&b.Records[i], nil)
				}
				slots := ctx
				slots.KeySlots = make([]int, len(keys))
				for i := range slots.KeySlots {
					slots.KeySlots[i] = i
				}
				dst, want, viaKey := route(t, &ctx, b), route(t, &slots, evaluated), route(t, &byKey, b)
				if groups[n] == nil {
					groups[n] = map[string]seen{}
				}
				for i, p := range dst {
					if p != want[i] || p != viaKey[i] {
						t.Fatalf("N=%d %v: KeyFuncs -> %d, Key -> %d, its values as columns -> %d", n, b.Records[i].Values, p, viaKey[i], want[i])
					}
					group, input := appendKeys(evaluated.Records[i].Values), appendKeys(b.Records[i].Values)
					first, ok := groups[n][group]
					if !ok {
						groups[n][group] = seen{p, input}
						continue
					}
					if first.part != p {
						t.Fatalf("N=%d: %v -> %d, but its group %v went to %d", n, b.Records[i].Values, p, evaluated.Records[i].Values, first.part)
					}
					if first.input != input {
						variants++
					}
				}
				records += len(dst)
			}
			if variants < records/10 {
				t.Errorf("only %d of %d records met their group under other input values", variants, records)
			}
		})
	}
}

// appendKeys returns the GROUP BY encoding of vals.
func appendKeys(vals []record.Value) string {
	var enc []byte
	for _, v := range vals {
		enc = v.AppendKey(enc)
	}
	return string(enc)
}

// route routes b by always_hash under ctx and returns the partitions.
func route(t testing.TB, ctx *partition.Context, b *record.Batch) []int {
	dst := make([]int, len(b.Records))
	if whole := partition.NewHash().Route(b, ctx, dst); whole != -1 {
		t.Fatalf("whole batch to %d, want per record", whole)
	}
	return dst
}

func TestSetRoutingKey(t *testing.T) {
	schema := routingSchema()
	tests := []struct {
		keys      []string
		slots     []int
		funcs     int
		wantError string
	}{
		{keys: nil},
		{keys: []string{"symbol", "QTY"}, slots: []int{1, 2}, funcs: 2},
		{keys: []string{"symbol", "UPPER(symbol)"}, funcs: 2},
		{keys: []string{"_partition"}, funcs: 1},
		{keys: []string{"nosuch"}, wantError: "routing key nosuch: "},
	}
	for _, tt := range tests {
		ctx := partition.Context{KeySlots: []int{9}}
		err := SetRoutingKey(&ctx, parseKeys(t, tt.keys...), schema)
		if tt.wantError != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantError) {
				t.Errorf("%v: error %v, want %q...", tt.keys, err, tt.wantError)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v: %v", tt.keys, err)
		}
		if fmt.Sprint(ctx.KeySlots) != fmt.Sprint(tt.slots) || len(ctx.KeyFuncs) != tt.funcs || (ctx.Key != nil) != (tt.funcs > 0) {
			t.Errorf("%v: slots %v, %d KeyFuncs, Key set %v; want %v, %d", tt.keys, ctx.KeySlots, len(ctx.KeyFuncs), ctx.Key != nil, tt.slots, tt.funcs)
		}
	}
}

// BenchmarkRouteKeys routes batches of trades by always_hash over 8
// partitions: by plain columns (KeySlots), and by GROUP BY expressions per
// record (Key) and per batch (KeyFuncs); "eval" is the cost of evaluating
// the expressions alone, the floor of any expression-key routing.
func BenchmarkRouteKeys(b *testing.B) {
	const n = 1024
	schema := routingSchema()
	batch := &record.Batch{Records: make([]record.Record, n)}
	for i := range batch.Records {
		batch.Records[i].Values = []record.Value{
			record.DecimalValue(int64(10000+i*37%5000), 2),
			record.StringValue(fmt.Sprintf("SYM%d", i%50)),
			record.IntValue(int64(i % 100)),
		}
	}
	dst := make([]int, n)
	keys := make([]record.Value, 2*n) // every key set below has two keys
	for _, set := range []struct {
		name string
		keys []string
	}{
		{"columns", []string{"symbol", "qty"}},
		{"floor_upper", []string{"FLOOR(price / 10)", "UPPER(symbol)"}},
		{"column_plus", []string{"symbol", "qty + 1"}},
	} {
		var ctx partition.Context
		if err := SetRoutingKey(&ctx, parseKeys(b, set.keys...), schema); err != nil {
			b.Fatal(err)
		}
		ctx.Partitions = 8
		perRecord := ctx
		perRecord.KeyFuncs = nil
		h := partition.NewHash()
		cases := []struct {
			name string
			run  func()
		}{
			{"Key", func() { h.Route(batch, &perRecord, dst) }},
			{"KeyFuncs", func() { h.Route(batch, &ctx, dst) }},
			{"eval", func() {
				for k, f := range ctx.KeyFuncs {
					for i := range batch.Records {
						keys[2*i+k], _ = f(&batch.Records[i])
					}
				}
			}},
		}
		if ctx.KeySlots != nil {
			cases = cases[:1]
			cases[0].name = "KeySlots"
		}
		for _, c := range cases {
			b.Run(set.name+"/"+c.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					c.run()
				}
				recs := float64(b.N) * n
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/recs, "ns/rec")
				b.ReportMetric(recs/b.Elapsed().Seconds(), "rec/s")
			})
		}
	}
}

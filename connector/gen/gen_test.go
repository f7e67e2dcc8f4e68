package gen

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/file"
	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/record"
)

// drain reads every partition of src; the result maps record index to the
// record's display text.
func drain(t *testing.T, src connector.Source, schema *record.Schema) map[uint64]string {
	t.Helper()
	ch, err := src.Open(context.Background(), schema, &mem.DeadLetters{})
	if err != nil {
		t.Fatal(err)
	}
	parts := uint64(src.Facts().Partitions)
	out := make(map[uint64]string)
	for r := range ch {
		var b record.Batch
		for {
			err := r.Next(context.Background(), &b, 100)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, rec := range b.Records {
				i := uint64(rec.Partition) + uint64(rec.Offset)*parts
				if _, dup := out[i]; dup {
					t.Fatalf("record %d produced twice", i)
				}
				out[i] = text(rec.Values)
			}
		}
	}
	return out
}

func text(vals []record.Value) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = v.Kind().String() + " " + v.String()
	}
	return strings.Join(parts, ", ")
}

func newSource(t *testing.T, props map[string]string) *Source {
	t.Helper()
	s, err := NewSource("g", props)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDeterministicAndPartitionIndependent(t *testing.T) {
	for _, name := range Generators() {
		t.Run(name, func(t *testing.T) {
			props := map[string]string{"g.generator": name, "g.count": "500", "g.zipf": "1.1", "g.disorder": "20", "g.seed": "7"}
			schema := newSource(t, props).Schema()
			one := drain(t, newSource(t, props), schema)
			props["g.partitions"] = "3"
			three := drain(t, newSource(t, props), schema)
			again := drain(t, newSource(t, props), schema)
			if len(one) != 500 {
				t.Fatalf("%d records, want 500", len(one))
			}
			if fmt.Sprint(one) != fmt.Sprint(three) || fmt.Sprint(three) != fmt.Sprint(again) {
				t.Error("records differ between runs or partition counts")
			}
			props["g.seed"] = "8"
			if name != "orders" && fmt.Sprint(drain(t, newSource(t, props), schema)) == fmt.Sprint(one) {
				t.Error("another seed gives the same records")
			}
		})
	}
}

func TestMarketDataFollowsTheReferenceFormulas(t *testing.T) {
	src := newSource(t, map[string]string{"g.generator": "market_data", "g.count": "1000"})
	got := drain(t, src, record.NewSchema("trader_id", "symbol", "price", "quantity", "trade_time", "timestamp", "absent"))
	for _, i := range []uint64{0, 1, 523, 999} {
		want := fmt.Sprintf("INTEGER %d, STRING SYM%d, DECIMAL %s, INTEGER %d, TIMESTAMP %s, TIMESTAMP %s, NULL NULL",
			i%100, i%50, record.DecimalValue(10000+int64(i%500)*10, 2), i%1000,
			record.TimestampValue(baseTime+int64(i)), record.TimestampValue(baseTime+int64(i)))
		if got[i] != want {
			t.Errorf("record %d:\n got %s\nwant %s", i, got[i], want)
		}
	}
	if !strings.Contains(got[523], "DECIMAL 102.30") {
		t.Errorf("record 523 price: %s, want 100 + (523 × 0.1) %% 50 = 102.30", got[523])
	}
}

func TestOrdersFollowTheReferenceFormulas(t *testing.T) {
	got := drain(t, newSource(t, map[string]string{"g.generator": "orders", "g.count": "1200"}), record.NewSchema("order_id", "customer_id", "order_date", "total_amount"))
	if want := "INTEGER 1150, INTEGER 150, STRING 2024-01-15, DECIMAL 200.00"; got[1150] != want {
		t.Errorf("record 1150 = %s, want %s", got[1150], want)
	}
}

func TestMeasurements(t *testing.T) {
	src := newSource(t, map[string]string{"g.generator": "measurements", "g.count": "20000"})
	ch, err := src.Open(context.Background(), record.NewSchema("station", "temperature"), &mem.DeadLetters{})
	if err != nil {
		t.Fatal(err)
	}
	stations := map[string]int{}
	r := <-ch
	var b record.Batch
	for r.Next(context.Background(), &b, 1000) == nil {
		for _, rec := range b.Records {
			stations[rec.Values[0].Str()]++
			u, scale := rec.Values[1].Decimal()
			if rec.Values[1].Kind() != record.Decimal || scale != 1 || u < -999 || u > 999 {
				t.Fatalf("temperature %v %v", rec.Values[1].Kind(), rec.Values[1])
			}
		}
	}
	if len(stations) != 413 {
		t.Errorf("%d stations, want 413", len(stations))
	}
	if names := stationNames(50000); len(distinct(names)) != 50000 {
		t.Error("station names are not distinct")
	}
}

func distinct(s []string) map[string]bool {
	m := make(map[string]bool, len(s))
	for _, x := range s {
		m[x] = true
	}
	return m
}

func TestZipfSkewsKeys(t *testing.T) {
	counts := func(zipf string) []int {
		got := drain(t, newSource(t, map[string]string{"g.generator": "trades", "g.count": "20000", "g.keys": "10", "g.zipf": zipf}), record.NewSchema("trader_id"))
		c := make([]int, 10)
		for _, v := range got {
			var k int
			fmt.Sscanf(v, "INTEGER %d", &k)
			c[k]++
		}
		return c
	}
	uniform, skewed := counts("0"), counts("1.5")
	sort.Ints(uniform)
	if uniform[0] < 1700 || uniform[9] > 2300 {
		t.Errorf("uniform key counts %v, want about 2000 each", uniform)
	}
	if skewed[0] < 5*skewed[9] {
		t.Errorf("zipf 1.5 key counts %v: key 0 should be far more frequent than key 9", skewed)
	}
}

func TestDisorderBoundsEventTime(t *testing.T) {
	got := drain(t, newSource(t, map[string]string{"g.generator": "trades", "g.count": "2000", "g.disorder": "50"}), record.NewSchema("trade_time"))
	late := 0
	for i, v := range got {
		et, err := parseTime(strings.TrimPrefix(v, "TIMESTAMP "))
		if err != nil {
			t.Fatal(err)
		}
		if lag := baseTime + int64(i) - et; lag < 0 || lag > 50 {
			t.Fatalf("record %d lags %d ms, want 0..50", i, lag)
		} else if lag > 0 {
			late++
		}
	}
	if late == 0 {
		t.Error("no record is out of order")
	}
}

func TestRateHoldsRecordsBack(t *testing.T) {
	src := newSource(t, map[string]string{"g.generator": "orders", "g.rate": "100"})
	ch, err := src.Open(context.Background(), record.NewSchema("order_id"), &mem.DeadLetters{})
	if err != nil {
		t.Fatal(err)
	}
	r := <-ch
	var b record.Batch
	if err := r.Next(context.Background(), &b, 1000); err != nil {
		t.Fatal(err)
	}
	if len(b.Records) >= 1000 {
		t.Errorf("a rate of 100/s gave %d records at once", len(b.Records))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := r.Next(ctx, &b, 1000); !errors.Is(err, context.Canceled) {
		t.Errorf("Next on a cancelled context = %v", err)
	}
}

func TestOptionErrors(t *testing.T) {
	tests := []struct {
		props map[string]string
		want  string
	}{
		{map[string]string{}, "option 'g.generator': required (valid values: market_data, measurements, orders, trades)"},
		{map[string]string{"g.generator": "stocks"}, `invalid value "stocks" (valid values: market_data, measurements, orders, trades)`},
		{map[string]string{"g.generator": "trades", "g.count": "-5"}, "option 'g.count'"},
		{map[string]string{"g.generator": "trades", "g.rate": "fast"}, "option 'g.rate'"},
		{map[string]string{"g.generator": "trades", "g.speed": "1"}, "unknown option 'g.speed'"},
		{map[string]string{"g.generator": "trades", "g.partitions": "0"}, "option 'g.partitions'"},
	}
	for _, tt := range tests {
		if _, err := NewSource("g", tt.props); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewSource(%v) = %v, want %q", tt.props, err, tt.want)
		}
	}
	if s, err := NewSource("g", map[string]string{"g.generator": "orders", "g.count": "unbounded"}); err != nil || s.g.opts.Count != 0 {
		t.Errorf("count unbounded: %v", err)
	}
}

func TestWriteFile1BRCFormat(t *testing.T) {
	var out bytes.Buffer
	n, err := WriteFile(&out, Options{Generator: "measurements", Count: 3}, "csv")
	if err != nil || n != 3 {
		t.Fatalf("WriteFile = %d, %v", n, err)
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("lines %q", lines)
	}
	for _, l := range lines {
		station, temp, ok := strings.Cut(l, ";")
		if !ok || station == "" || !strings.Contains(temp, ".") || len(temp)-strings.Index(temp, ".") != 2 {
			t.Errorf("line %q is not station;temperature with 1 dp", l)
		}
	}
	if _, err := WriteFile(&out, Options{Generator: "measurements"}, "csv"); err == nil {
		t.Error("WriteFile without a count: want error")
	}
}

// TestWriteFileReadsBackAsTheSource writes a file and reads it with the file
// source: the records equal the generator source's.
func TestWriteFileReadsBackAsTheSource(t *testing.T) {
	for _, format := range []string{"jsonl", "csv"} {
		for _, name := range []string{"market_data", "measurements", "orders", "trades"} {
			opts := Options{Generator: name, Count: 300, Zipf: 0.8, DisorderMs: 5}
			path := filepath.Join(t.TempDir(), "data."+format)
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := WriteFile(f, opts, format); err != nil {
				t.Fatal(err)
			}
			f.Close()
			src, err := New("g", opts)
			if err != nil {
				t.Fatal(err)
			}
			schema := src.Schema()
			props := map[string]string{"f.path": path, "f.split.size": "997"}
			if name == "measurements" && format == "csv" {
				props["f.delimiter"], props["f.has_header"], props["f.columns"] = ";", "false", "station,temperature"
			}
			fsrc, err := file.NewSource("f", props)
			if err != nil {
				t.Fatal(err)
			}
			want := drain(t, src, schema)
			gotByOffset := drainFile(t, fsrc, schema)
			if len(gotByOffset) != len(want) {
				t.Fatalf("%s %s: %d records from the file, want %d", name, format, len(gotByOffset), len(want))
			}
			for i, w := range want {
				// Timestamps come back as their RFC 3339 text (a STRING).
				if g := gotByOffset[i]; g != w && g != strings.ReplaceAll(w, "TIMESTAMP", "STRING") {
					t.Fatalf("%s %s record %d:\n file %s\n  gen %s", name, format, i, g, w)
				}
			}
		}
	}
}

// drainFile reads a file source; records are numbered in file order.
func drainFile(t *testing.T, src connector.Source, schema *record.Schema) map[uint64]string {
	t.Helper()
	ch, err := src.Open(context.Background(), schema, &mem.DeadLetters{})
	if err != nil {
		t.Fatal(err)
	}
	type rec struct {
		off  int64
		text string
	}
	var all []rec
	for r := range ch {
		var b record.Batch
		for r.Next(context.Background(), &b, 64) == nil {
			for _, x := range b.Records {
				all = append(all, rec{x.Offset, text(x.Values)})
			}
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].off < all[j].off })
	out := make(map[uint64]string, len(all))
	for i, r := range all {
		out[uint64(i)] = r.text
	}
	return out
}

func parseTime(s string) (int64, error) {
	tm, err := time.Parse(time.RFC3339Nano, s)
	return tm.UnixMilli(), err
}

// TestSchemaTypesMatchValues checks that every generator's declared column
// types are the kinds of the values it makes.
func TestSchemaTypesMatchValues(t *testing.T) {
	for _, name := range Generators() {
		src := newSource(t, map[string]string{"g.generator": name, "g.count": "50"})
		schema := src.Schema()
		ch, err := src.Open(context.Background(), schema, &mem.DeadLetters{})
		if err != nil {
			t.Fatal(err)
		}
		for r := range ch {
			var b record.Batch
			if err := r.Next(context.Background(), &b, 50); err != nil && !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			for _, rec := range b.Records {
				for i, v := range rec.Values {
					if want := schema.Type(i).ValueKind(); !v.IsNull() && v.Kind() != want {
						t.Errorf("%s: column %s is %s, holds %s", name, schema.Name(i), schema.Type(i), v.Kind())
					}
				}
			}
		}
	}
}

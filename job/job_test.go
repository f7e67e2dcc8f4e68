package job

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/partition"
	"github.com/sluicesql/sluice/record"
)

// genInput makes parts partitions of about n messages each: keys from a
// small set, ascending event times with up to 50ms of disorder.
func genInput(seed uint64, parts, n int) [][]mem.Message {
	rng := rand.New(rand.NewPCG(seed, 7))
	out := make([][]mem.Message, parts)
	for p := range out {
		ts := int64(1_700_000_000_000)
		m := n/2 + rng.IntN(n)
		for i := 0; i < m; i++ {
			ts += int64(rng.IntN(20))
			k := fmt.Sprintf("k%d", rng.IntN(13))
			out[p] = append(out[p], mem.Message{Fields: map[string]record.Value{
				"k": record.StringValue(k), "v": record.IntValue(int64(rng.IntN(100))),
				"ts": record.TimestampValue(ts - int64(rng.IntN(50)))},
				Timestamp: ts, Raw: []byte(fmt.Sprintf(`{"k":%q,"i":%d}`, k, i))})
		}
	}
	return out
}

// keyOf is the routing key function of the fake program: column k.
func keyOf(r *record.Record, buf []record.Value) []record.Value {
	return append(buf[:0], r.Values[0])
}

// rowStrings renders rows as sorted text, a multiset for comparisons;
// drop removes columns that may differ by design (the worker partition).
func rowStrings(rows []record.Record, drop ...int) []string {
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		var b strings.Builder
		for i, v := range r.Values {
			if slices.Contains(drop, i) {
				continue
			}
			b.WriteString(v.String())
			b.WriteByte('|')
		}
		out = append(out, b.String())
	}
	slices.Sort(out)
	return out
}

func baseConfig(t testing.TB, prog Program, strategy string, n int, src connector.Source, sink connector.Sink) Config {
	t.Helper()
	s, err := partition.Parse(strategy)
	if err != nil {
		t.Fatal(err)
	}
	return Config{Program: prog, Strategy: s, Routing: partition.Context{Key: keyOf, RoutingKeys: []string{"k"}},
		Partitions: n, BatchSize: 64, Sources: []connector.Source{src}, Sinks: []connector.Sink{sink},
		DLQPath: filepath.Join(t.TempDir(), "dlq.jsonl"), MaxOutOfOrder: 100 * time.Millisecond,
		CommitInterval: 20 * time.Millisecond}
}

// checkBalance asserts records_in = accepted + filtered + dead_lettered +
// late_dropped per partition and in total, and the total against want.
func checkBalance(t *testing.T, s *Summary, want int64) {
	t.Helper()
	for i, p := range s.Partitions {
		if p.In != p.Accepted+p.Filtered+p.Limited+p.DeadLettered+p.LateDropped {
			t.Errorf("partition %d: in %d != accepted %d + filtered %d + dead %d + late %d", i, p.In, p.Accepted, p.Filtered, p.DeadLettered, p.LateDropped)
		}
	}
	tot := s.Total
	if tot.In != want || tot.In != tot.Accepted+tot.Filtered+tot.Limited+tot.DeadLettered+tot.LateDropped {
		t.Errorf("total: in %d (want %d), accepted %d + filtered %d + dead %d + late %d", tot.In, want, tot.Accepted, tot.Filtered, tot.DeadLettered, tot.LateDropped)
	}
}

func countMessages(parts [][]mem.Message) int64 {
	var n int64
	for _, p := range parts {
		n += int64(len(p))
	}
	return n
}

func TestResultIndependentOfPartitionsAndStrategy(t *testing.T) {
	input := genInput(1, 3, 700)
	shapes := []struct {
		prog       *fakeProgram
		strategies []string // the strategies that keep this shape's result
		drop       []int
	}{
		{&fakeProgram{mode: "pass"}, []string{"hash", "smart", "sticky", "round_robin", "fan_in"}, []int{3}},
		{&fakeProgram{mode: "group"}, []string{"hash", "smart", "fan_in"}, nil},
		{&fakeProgram{mode: "window", size: 500}, []string{"hash", "smart", "fan_in"}, nil},
	}
	for _, sh := range shapes {
		var want []string
		for _, strat := range sh.strategies {
			for _, n := range []int{1, 2, 3, 4, 8} {
				t.Run(fmt.Sprintf("%s/%s/%d", sh.prog.mode, strat, n), func(t *testing.T) {
					sink := &mem.Sink{}
					sum, err := Run(context.Background(), baseConfig(t, sh.prog, strat, n, mem.NewSource("in", input), sink))
					if err != nil {
						t.Fatal(err)
					}
					got := rowStrings(sink.Rows(), sh.drop...)
					if want == nil {
						want = got
						if len(want) == 0 {
							t.Fatal("no output")
						}
					} else if !slices.Equal(got, want) {
						t.Fatalf("result differs from the first run: %d rows vs %d", len(got), len(want))
					}
					checkBalance(t, sum, countMessages(input))
					if sum.Total.LateDropped != 0 {
						t.Errorf("%d records late: a watermark overtook earlier records", sum.Total.LateDropped)
					}
					if closed, _ := sink.State(); !closed {
						t.Error("sink not closed")
					}
					if int64(len(sink.Rows())) != sum.RowsWritten || sum.RowsWritten != sum.Total.Out {
						t.Errorf("rows: sink %d, written %d, out %d", len(sink.Rows()), sum.RowsWritten, sum.Total.Out)
					}
				})
			}
		}
	}
}

func TestWatermarkReachesWorkersWithoutRecords(t *testing.T) {
	// one source partition under sticky: workers 1 and 2 get no records
	input := genInput(10, 1, 300)
	prog := &fakeProgram{mode: "window", size: 100}
	cfg := baseConfig(t, prog, "sticky", 3, mem.NewSource("in", input, mem.Live(time.Millisecond)), &mem.Sink{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
			prog.mu.Lock()
			all := len(prog.advances) == 3
			for _, n := range prog.advances {
				all = all && n.Load() > 0
			}
			prog.mu.Unlock()
			if all {
				break
			}
		}
		cancel()
	}()
	sum, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Partitions[1].In != 0 || sum.Partitions[2].In != 0 {
		t.Fatalf("records reached workers 1, 2: %+v", sum.Partitions)
	}
	for i, n := range prog.advances {
		if n.Load() == 0 {
			t.Errorf("worker %d never got a watermark", i)
		}
	}
}

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/job"
	"github.com/sluicesql/sluice/runner"
)

// at is a Kafka record's place.
type at struct {
	p int32
	o int64
}

// places returns where each keyed message lands in a topic that starts
// empty: its key's default partition, in order.
func places(msgs []kafka.Message) []at {
	next := map[int32]int64{}
	out := make([]at, len(msgs))
	for i := range msgs {
		p := kafka.Partition(msgs[i].Key, kafkaPartitions)
		out[i] = at{p, next[p]}
		next[p]++
	}
	return out
}

// outRow is one output row of the restart tests' queries.
type outRow struct {
	P      int32  `json:"p"`
	O      int64  `json:"o"`
	Trader int64  `json:"trader_id"`
	Symbol string `json:"symbol"`
	Region string `json:"region"`
	WS     string `json:"ws"`
	N      int64  `json:"n"`
}

func readRows(t testing.TB, path string) []outRow {
	t.Helper()
	var rows []outRow
	for _, l := range readLines(t, path) {
		var r outRow
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("%s: row %q: %v", path, l, err)
		}
		rows = append(rows, r)
	}
	return rows
}

// TestCrashAndRestart runs a job as a consumer-group member with a short
// commit interval while the topic is still being written, cancels it
// mid-topic, and restarts it in the same group to the end of the topic. The
// restart processes exactly the records after those the first run's commits
// say are done (groupDone: a windowed job's commit may stand a little
// before them, its checkpoint's skip at them), the first run's output holds
// every effect of the records before them, and the two outputs together
// hold every record's effect: at-least-once, nothing lost.
func TestCrashAndRestart(t *testing.T) {
	t.Parallel()
	const n = 16000
	trades := genTrades(t, n, 50)
	msgs := keyBy(trades, byTrader)
	where := places(msgs)
	cases := []struct {
		name  string
		query string
	}{
		// Stateless: each selected record is one row naming its place.
		{name: "filter", query: "SELECT _PARTITION AS p, _OFFSET AS o, trader_id FROM trades WHERE quantity > 100"},
		// Windowed: a record's effect is its count in its trader's window.
		{name: "tumbling", query: "SELECT trader_id, _WINDOW_START AS ws, COUNT(*) AS n FROM trades GROUP BY trader_id " +
			"WINDOW TUMBLING(trade_time, INTERVAL '1' SECOND)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			brokers := startCluster(t, "trades")
			dir := t.TempDir()
			stmt := func(out string) string {
				return fmt.Sprintf("CREATE STREAM out AS %s WITH (%s, 'out.type'='file_sink', 'out.path'='%s', 'commit.interval'='20ms')",
					tc.query, kafkaTrades(brokers, "group.id", "restart", "partition.key", "trader_id"), out)
			}
			out1, out2 := filepath.Join(dir, "first.jsonl"), filepath.Join(dir, "second.jsonl")

			// The first run reads while the topic is being written and is
			// cancelled once it has committed something, mid-stream.
			produce(t, brokers, "trades", msgs[:n/4])
			ctx, cancel := testContext(t)
			defer cancel()
			runCtx, stop := context.WithCancel(ctx)
			first := prepare(t, runCtx, stmt(out1), runner.Options{Partitions: 4})
			var sum1 *job.Summary
			var err1 error
			ran := make(chan struct{})
			go func() {
				defer close(ran)
				sum1, err1 = first.Run(runCtx)
			}()
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := n / 4; i < n; i += 500 {
					produce(t, brokers, "trades", msgs[i:min(i+500, n)])
					time.Sleep(2 * time.Millisecond)
				}
			}()
			waitFor(t, "the first run commits", func() bool {
				return committedSum(ctx, brokers, "restart") > 0
			})
			stop()
			ended(t, ran, "the first run")
			if err1 != nil {
				t.Fatalf("first run: %v", err1)
			}
			checkBalance(t, sum1)
			wg.Wait()
			upTo, err := groupDone(ctx, brokers, "restart", "trades")
			if err != nil {
				t.Fatal(err)
			}
			var done int64
			for _, o := range upTo {
				done += o
			}
			committed := committedSum(ctx, brokers, "restart")
			if !sum1.Interrupted || done == 0 || done >= n {
				t.Fatalf("first run: interrupted %v, done with %d of %d records; want a stop mid-topic", sum1.Interrupted, done, n)
			}

			_, sum2 := runToEnd(t, stmt(out2))
			if sum2.Total.In != n-done {
				t.Errorf("the restart processed %d records, want the %d after those done %v", sum2.Total.In, n-done, upTo)
			}
			t.Logf("first run read %d, committed offsets summing to %d, done with %d; the restart processed %d",
				sum1.Total.In, committed, done, sum2.Total.In)
			rows1, rows2 := readRows(t, out1), readRows(t, out2)
			if tc.name == "filter" {
				checkFilter(t, trades, where, upTo, rows1, rows2)
			} else {
				checkWindows(t, trades, where, upTo, rows1, rows2)
			}
		})
	}
}

// checkFilter checks the filter's outputs: the first run's holds every
// selected record before the offsets it was done up to (upTo), and both
// together hold every selected record and nothing else.
func checkFilter(t *testing.T, trades []trade, where []at, upTo map[int32]int64, first, second []outRow) {
	t.Helper()
	seen1, seen := map[at]bool{}, map[at]int{}
	for _, r := range first {
		seen1[at{r.P, r.O}] = true
		seen[at{r.P, r.O}]++
	}
	for _, r := range second {
		seen[at{r.P, r.O}]++
	}
	selected, dups := 0, 0
	for i, tr := range trades {
		if tr.quantity <= 100 {
			continue
		}
		selected++
		w := where[i]
		if seen[w] == 0 {
			t.Errorf("record at partition %d offset %d is in neither output", w.p, w.o)
		}
		dups += max(seen[w]-1, 0)
		if w.o < upTo[w.p] && !seen1[w] {
			t.Errorf("record at partition %d offset %d is done (up to %d) but not in the first run's output", w.p, w.o, upTo[w.p])
		}
	}
	if len(seen) != selected {
		t.Errorf("outputs hold %d distinct records, want the %d selected", len(seen), selected)
	}
	t.Logf("%d selected records, %d duplicates", selected, dups)
}

// checkWindows checks the windowed counts: summed over both outputs, each
// (trader, window) counts at least its records, and the first run's output
// counts every record before the offsets it was done up to (upTo).
func checkWindows(t *testing.T, trades []trade, where []at, upTo map[int32]int64, first, second []outRow) {
	t.Helper()
	type group struct {
		trader string
		ws     int64 // window start, ms after the first trade
	}
	// trade i's event time is 1ms per record from the generator's base time.
	groupOf := func(i int, tr trade) group { return group{tr.trader, int64(i) / 1000 * 1000} }
	base, err := time.Parse(time.RFC3339, "2024-01-15T00:00:00Z")
	if err != nil {
		t.Fatal(err)
	}
	counts := func(rows []outRow) map[group]int64 {
		m := map[group]int64{}
		for _, r := range rows {
			ws, err := time.Parse(time.RFC3339Nano, r.WS)
			if err != nil {
				t.Fatalf("window start %q: %v", r.WS, err)
			}
			m[group{fmt.Sprint(r.Trader), ws.Sub(base).Milliseconds()}] += r.N
		}
		return m
	}
	got1, got := counts(first), counts(append(first, second...))
	want, wantDone := map[group]int64{}, map[group]int64{}
	for i, tr := range trades {
		g := groupOf(i, tr)
		want[g]++
		if where[i].o < upTo[where[i].p] {
			wantDone[g]++
		}
	}
	for g, w := range want {
		if got[g] < w {
			t.Errorf("trader %s window +%dms: outputs count %d trades, want at least %d", g.trader, g.ws, got[g], w)
		}
		if got1[g] < wantDone[g] {
			t.Errorf("trader %s window +%dms: the first run counts %d, but %d of its trades are done", g.trader, g.ws, got1[g], wantDone[g])
		}
	}
	for g := range got {
		if want[g] == 0 {
			t.Errorf("output has trader %s window +%dms, which has no trades", g.trader, g.ws)
		}
	}
}

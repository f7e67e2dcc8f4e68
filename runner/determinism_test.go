package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector/gen"
	"github.com/sluicesql/sluice/sql"
)

// runResult is what one run of a bounded job produced.
type runResult struct {
	out     []string // output lines, sorted when the query defines no order
	dlq     []string // dead letters without their wall-clock time, sorted
	late    int64    // dropped or dead-lettered
	dropped int64
	in      int64
}

// runBounded runs one statement over a bounded input with the given batch
// size and partition count; slow, when set, makes worker 0 sleep a
// millisecond every 200 records, as a slow or busy core would.
func runBounded(t *testing.T, props, query string, batch, parts int, slow bool, ordered bool) runResult {
	t.Helper()
	dlq := filepath.Join(t.TempDir(), "dead.jsonl")
	text := fmt.Sprintf("-- @batch_size: %d\n%s\nWITH (%s, 'dlq.path' = '%s');", batch, query, props, dlq)
	stmts, err := sql.Parse("det.sql", text)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	j, err := Prepare(ctx, stmts[0], Options{Partitions: parts, Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	if slow {
		var n int // worker 0's records since its last sleep (only it touches n)
		j.SetOnBatch(func(p, records int, _ time.Duration) {
			if p != 0 {
				return
			}
			if n += records; n >= 200 {
				n = 0
				time.Sleep(time.Millisecond)
			}
		})
	}
	sum, err := j.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tot := sum.Total
	if tot.In != tot.Accepted+tot.Filtered+tot.Limited+tot.DeadLettered+tot.LateDropped || tot.Late > tot.DeadLettered+tot.LateDropped {
		t.Fatalf("counters do not add up: %+v", tot)
	}
	res := runResult{late: tot.Late, dropped: tot.LateDropped, in: tot.In}
	res.out = strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if !ordered {
		slices.Sort(res.out)
	}
	raw, err := os.ReadFile(dlq)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n") {
		if line == "" {
			continue
		}
		var d map[string]any
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("dead letter %q: %v", line, err)
		}
		delete(d, "time") // when it was written: the one field that may differ
		b, _ := json.Marshal(d)
		res.dlq = append(res.dlq, string(b))
	}
	slices.Sort(res.dlq)
	return res
}

// TestLatenessIsDeterministic runs event-time windows over the same
// disordered file at every partition count, batch size and with a slowed
// worker, and requires the same output, late count and dead letters, byte
// for byte: lateness depends on the data only, not on thread timing.
func TestLatenessIsDeterministic(t *testing.T) {
	// 1 ms of event time per record, each up to 40 ms early: with 5 ms of
	// allowed out-of-orderness, many records are behind their split's
	// watermark.
	path := writeTrades(t, gen.Options{Generator: "trades", Count: 4000, DisorderMs: 40, Seed: 3})
	// several splits (source partitions), each with its own watermark
	props := fmt.Sprintf(`'trades.type' = 'file_source', 'trades.path' = '%s', 'trades.split.size' = '64KB',
		'watermark.max_out_of_orderness' = '5ms'`, path)
	queries := []struct {
		name, query string
		ordered     bool
	}{
		{name: "tumbling", query: `SELECT symbol, _WINDOW_START AS ws, COUNT(*) AS c, SUM(quantity) AS q FROM trades
			GROUP BY symbol WINDOW TUMBLING(trade_time, INTERVAL '50' MILLISECOND) EMIT FINAL`},
		{name: "sliding_ordered", ordered: true, query: `SELECT _WINDOW_START AS ws, COUNT(*) AS c, MAX(price) AS hi FROM trades
			WINDOW SLIDING(trade_time, INTERVAL '30' MILLISECOND, INTERVAL '10' MILLISECOND) ORDER BY ws EMIT FINAL`},
		{name: "session", query: `SELECT symbol, _WINDOW_START AS ws, _WINDOW_END AS we, COUNT(*) AS c, SUM(quantity) AS q FROM trades
			GROUP BY symbol WINDOW SESSION(trade_time, INTERVAL '12' MILLISECOND) EMIT FINAL`},
		{name: "row_window", query: `SELECT symbol, trade_time, COUNT(*) OVER (PARTITION BY symbol ORDER BY trade_time) AS n FROM trades`},
	}
	for _, q := range queries {
		t.Run(q.name, func(t *testing.T) {
			want := runBounded(t, props, q.query, 1024, 1, false, q.ordered)
			if want.late == 0 || len(want.dlq) != int(want.late) || len(want.out) < 10 {
				t.Fatalf("the input should give late records and output: late %d, %d dead letters, %d rows",
					want.late, len(want.dlq), len(want.out))
			}
			// dropped instead of dead-lettered, the same records are late
			drop := runBounded(t, props+", 'late.data.strategy' = 'drop'", q.query, 64, 4, true, q.ordered)
			if drop.late != want.late || drop.dropped != want.late || len(drop.dlq) != 0 || !slices.Equal(drop.out, want.out) {
				t.Errorf("late.data.strategy drop: late %d, dropped %d, %d dead letters; want %d late, all dropped",
					drop.late, drop.dropped, len(drop.dlq), want.late)
			}
			for _, parts := range []int{1, 2, 4, 8} {
				for _, batch := range []int{1, 64, 4096} {
					for _, slow := range []bool{false, true} {
						got := runBounded(t, props, q.query, batch, parts, slow, q.ordered)
						at := fmt.Sprintf("partitions %d, batch size %d, slow worker %v", parts, batch, slow)
						if got.in != want.in || got.late != want.late {
							t.Errorf("%s: in %d, late %d; want in %d, late %d", at, got.in, got.late, want.in, want.late)
						}
						if !slices.Equal(got.out, want.out) {
							t.Errorf("%s: output differs (%d rows, want %d)\n%s", at, len(got.out), len(want.out), firstDiff(got.out, want.out))
						}
						if !slices.Equal(got.dlq, want.dlq) {
							t.Errorf("%s: dead letters differ (%d, want %d)\n%s", at, len(got.dlq), len(want.dlq), firstDiff(got.dlq, want.dlq))
						}
					}
				}
			}
		})
	}
}

// TestLateUpdatesAreDeterministic runs a TUMBLING window with
// 'late.data.strategy'='update' over the disordered file at several
// partition counts and batch sizes, with a slowed worker: the last row of
// each window (the corrected one) is the same on every run. A record late
// by its own split's watermark may reach its window before another
// split's on-time records, while the job's watermark has not reached the
// window: it joins the open window, which then fires with both, instead
// of a window made fired for it alone.
func TestLateUpdatesAreDeterministic(t *testing.T) {
	path := writeTrades(t, gen.Options{Generator: "trades", Count: 4000, DisorderMs: 40, Seed: 3})
	props := fmt.Sprintf(`'trades.type' = 'file_source', 'trades.path' = '%s', 'trades.split.size' = '64KB',
		'watermark.max_out_of_orderness' = '5ms', 'late.data.strategy' = 'update'`, path)
	query := `SELECT symbol, _WINDOW_START AS ws, COUNT(*) AS c, SUM(quantity) AS q FROM trades
		GROUP BY symbol WINDOW TUMBLING(trade_time, INTERVAL '20' MILLISECOND) EMIT FINAL`
	last := func(r runResult) []string {
		byWindow := map[string]string{}
		for _, line := range r.out {
			var w struct {
				Symbol string `json:"symbol"`
				Start  string `json:"ws"`
			}
			if err := json.Unmarshal([]byte(line), &w); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			byWindow[w.Symbol+"@"+w.Start] = line
		}
		out := make([]string, 0, len(byWindow))
		for _, l := range byWindow {
			out = append(out, l)
		}
		slices.Sort(out)
		return out
	}
	ref := runBounded(t, props, query, 1024, 1, false, true)
	want := last(ref)
	// with its late records dropped the answer differs: some were folded in
	if drop := last(runBounded(t, strings.Replace(props, "'update'", "'drop'", 1), query, 1024, 1, false, true)); slices.Equal(drop, want) || len(want) < 10 {
		t.Fatalf("%d windows, as many with the late records dropped: the test checks little", len(want))
	}
	for _, parts := range []int{2, 4, 8} {
		for _, batch := range []int{1, 64} {
			for _, slow := range []bool{false, true} {
				got := runBounded(t, props, query, batch, parts, slow, true)
				if g := last(got); !slices.Equal(g, want) {
					t.Errorf("partitions %d, batch size %d, slow worker %v: the windows' last rows differ (%d, want %d)\n%s",
						parts, batch, slow, len(g), len(want), firstDiff(g, want))
				}
			}
		}
	}
}

// TestLateSessionUpdatesAreDeterministic runs a SESSION window with
// 'late.data.strategy'='update' over the disordered file, split so that
// each split's records come in one batch, 20 times at each of 1, 2 and 4
// partitions (every other run with a slowed worker): the sorted output is
// the same on every run. At other batch sizes a session's corrected rows
// may come in more or fewer steps, but the table they leave (each row
// replacing its session's, each retraction deleting it) is the same. A
// late record whose own session's retention has passed is late, whether
// or not a session of other splits' records it overlaps is still kept
// here (it joined one when that split was read first); one whose own
// session the job's watermark has not closed starts it open, not fired
// (written at once with that record alone, the on-time records that
// join it coming after it or not, as the splits were read).
func TestLateSessionUpdatesAreDeterministic(t *testing.T) {
	path := writeTrades(t, gen.Options{Generator: "trades", Count: 4000, DisorderMs: 40, Seed: 3})
	props := fmt.Sprintf(`'trades.type' = 'file_source', 'trades.path' = '%s', 'trades.split.size' = '64KB',
		'watermark.max_out_of_orderness' = '5ms', 'late.data.strategy' = 'update'`, path)
	query := `SELECT symbol, _WINDOW_START AS ws, _WINDOW_END AS we, COUNT(*) AS c, SUM(quantity) AS q FROM trades
		GROUP BY symbol WINDOW SESSION(trade_time, INTERVAL '12' MILLISECOND) EMIT FINAL`
	table := func(r runResult) []string {
		rows := map[string]string{}
		for _, line := range r.out {
			var s struct {
				Symbol, Ws, We string
				C              *int64
			}
			if err := json.Unmarshal([]byte(line), &s); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			if k := s.Symbol + "@" + s.Ws + "/" + s.We; s.C == nil {
				delete(rows, k) // a retraction
			} else {
				rows[k] = line
			}
		}
		out := slices.Collect(maps.Values(rows))
		slices.Sort(out)
		return out
	}
	ref := runBounded(t, props, query, 1024, 1, false, true)
	want, wantTable := slices.Sorted(slices.Values(ref.out)), table(ref)
	dropped := runBounded(t, strings.Replace(props, "'update'", "'drop'", 1), query, 1024, 1, false, true)
	if ref.late == 0 || slices.Equal(table(dropped), wantTable) || len(wantTable) < 10 {
		t.Fatalf("%d sessions, %d late records, as many with the late records dropped: the test checks little", len(wantTable), ref.late)
	}
	for run := range 20 {
		for _, parts := range []int{1, 2, 4} {
			got := runBounded(t, props, query, 1024, parts, run%2 == 1, true)
			if g := slices.Sorted(slices.Values(got.out)); !slices.Equal(g, want) {
				t.Fatalf("run %d, partitions %d: the sorted output differs (%d rows, want %d)\n%s", run, parts, len(g), len(want), firstDiff(g, want))
			}
		}
	}
	for _, batch := range []int{1, 64} {
		for _, parts := range []int{2, 4} {
			if g := table(runBounded(t, props, query, batch, parts, true, true)); !slices.Equal(g, wantTable) {
				t.Errorf("batch size %d, partitions %d: the sessions the rows leave differ (%d, want %d)\n%s", batch, parts, len(g), len(wantTable), firstDiff(g, wantTable))
			}
		}
	}
}

// firstDiff shows the first line where got and want differ.
func firstDiff(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("line %d:\n got  %s\n want %s", i+1, got[i], want[i])
		}
	}
	return fmt.Sprintf("one is a prefix of the other (%d vs %d lines)", len(got), len(want))
}

// TestOrderSensitiveResultsAreDeterministic runs queries whose answer could
// depend on the order in which records of several source partitions
// arrive (ties in ORDER BY with LIMIT, FIRST_VALUE, LAST_VALUE, STRING_AGG,
// floating-point statistics, ties in a Top-N, over grouped rows and in a
// row window ordered by event time) at every partition count and
// batch size, and requires the same output byte for byte.
func TestOrderSensitiveResultsAreDeterministic(t *testing.T) {
	path := writeTrades(t, gen.Options{Generator: "trades", Count: 3000, DisorderMs: 40, Seed: 5})
	props := fmt.Sprintf(`'trades.type' = 'file_source', 'trades.path' = '%s', 'trades.split.size' = '32KB',
		'watermark.max_out_of_orderness' = '1h'`, path)
	// rows of equal event time in every split: ties in event-time order
	ties := filepath.Join(t.TempDir(), "ties.jsonl")
	var b strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&b, `{"k":"%c","ts":%d,"v":%d}`+"\n", 'a'+rune(i%3), 1700000000000+int64(i/40)*1000, i)
	}
	if err := os.WriteFile(ties, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	tieProps := fmt.Sprintf(`'t.type' = 'file_source', 't.path' = '%s', 't.split.size' = '16KB', 'watermark.max_out_of_orderness' = '1h'`, ties)
	queries := []struct {
		name, query, props string
		ordered            bool
	}{
		{name: "order_by_ties_limit", ordered: true, query: `SELECT symbol, trader_id, quantity FROM trades ORDER BY symbol LIMIT 250`},
		{name: "first_last", query: `SELECT symbol, FIRST_VALUE(price) AS f, LAST_VALUE(quantity) AS l FROM trades GROUP BY symbol EMIT FINAL`},
		{name: "first_last_window", query: `SELECT symbol, _WINDOW_START AS ws, FIRST_VALUE(trader_id) AS f, LAST_VALUE(trader_id) AS l FROM trades
			GROUP BY symbol WINDOW TUMBLING(trade_time, INTERVAL '1' SECOND) EMIT FINAL`},
		{name: "string_agg", query: `SELECT symbol, STRING_AGG(CAST(trader_id AS STRING), ',') AS s FROM trades GROUP BY symbol EMIT FINAL`},
		{name: "stddev", query: `SELECT symbol, STDDEV(price) AS sd, VARIANCE(quantity) AS v, AVG(price) AS a FROM trades GROUP BY symbol EMIT FINAL`},
		{name: "top_n_ties", query: `SELECT symbol, trader_id, quantity, ROW_NUMBER() OVER (PARTITION BY symbol ORDER BY quantity DESC) AS rn
			FROM trades QUALIFY rn <= 3 EMIT FINAL`},
		{name: "row_window_ties", props: tieProps,
			query: `SELECT k, ts, v, LAG(v) OVER (PARTITION BY k ORDER BY ts) AS prev, ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts) AS rn FROM t`},
		{name: "grouped_top_n_ties", props: tieProps,
			query: `SELECT * FROM (SELECT k, v % 4 AS m, COUNT(*) AS n, ROW_NUMBER() OVER (PARTITION BY k ORDER BY COUNT(*) DESC) AS rn
			FROM t GROUP BY k, v % 4 EMIT FINAL) WHERE rn <= 1`},
	}
	for _, q := range queries {
		t.Run(q.name, func(t *testing.T) {
			if q.props == "" {
				q.props = props
			}
			want := runBounded(t, q.props, q.query, 1024, 1, false, q.ordered)
			if len(want.out) < 3 {
				t.Fatalf("only %d rows", len(want.out))
			}
			for _, parts := range []int{1, 2, 4, 8} {
				for _, batch := range []int{1, 64, 4096} {
					got := runBounded(t, q.props, q.query, batch, parts, parts == 4, q.ordered)
					if !slices.Equal(got.out, want.out) {
						t.Errorf("partitions %d, batch size %d: output differs (%d rows, want %d)\n%s",
							parts, batch, len(got.out), len(want.out), firstDiff(got.out, want.out))
					}
				}
			}
		})
	}
}

// writeTrades writes generated records to a JSON-lines file and returns its path.
func writeTrades(t *testing.T, o gen.Options) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "trades.jsonl")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gen.WriteFile(f, o, "jsonl"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

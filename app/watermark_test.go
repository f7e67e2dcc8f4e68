package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicesql/sluice/app"
	"github.com/sluicesql/sluice/job"
	"github.com/sluicesql/sluice/runner"
)

// runLate runs the application src to its end and returns the late
// records counted by its job called name.
func runLate(t *testing.T, src, name string, parts int) int64 {
	t.Helper()
	for _, r := range runApp(t, src, runner.Options{Partitions: parts}) {
		if r.Name == name {
			return r.Summary.Total.Late
		}
	}
	return -1
}

// A windowed statement reading an in-process stream fires on the
// upstream's watermark, not on the event times it sees: a chain of
// generator -> filter -> windowed GROUP BY over disordered events finds
// the same late records, and writes the same windows, as the one
// statement doing it all, at every partition count. (Judged from the rows
// it sees, the filter's reader had a lower watermark and took records the
// single statement finds late.)
func TestChainCarriesWatermarks(t *testing.T) {
	const gen = "'g.type'='generator','g.generator'='trades','g.count'='20000','g.partitions'='2','g.disorder'='400'"
	window := "SELECT trader_id, _WINDOW_START AS ws, COUNT(*) AS n, SUM(quantity) AS volume FROM %s%s " +
		"GROUP BY trader_id WINDOW TUMBLING(trade_time, INTERVAL '1' SECOND) EMIT FINAL " +
		"WITH (%s'watermark.max_out_of_orderness'='150ms','late.data.strategy'='drop','w.type'='file_sink','w.path'='%s')"
	one := t.TempDir()
	wantLate := runLate(t, "CREATE STREAM w AS "+fmt.Sprintf(window, "g", " WHERE quantity >= 950", gen+",", filepath.Join(one, "w.jsonl")), "w", 2)
	want := lines(t, filepath.Join(one, "w.jsonl"))
	if wantLate == 0 || len(want) == 0 {
		t.Fatalf("the single statement found %d late records and wrote %d rows: the test needs both", wantLate, len(want))
	}
	for _, parts := range []int{1, 2, 3} {
		dir := t.TempDir()
		src := "CREATE STREAM trades AS SELECT trader_id, quantity, trade_time FROM g WITH (" + gen + ");\n" +
			"CREATE STREAM big AS SELECT * FROM trades WHERE quantity >= 950;\n" +
			"CREATE STREAM w AS " + fmt.Sprintf(window, "big", "", "", filepath.Join(dir, "w.jsonl"))
		late := runLate(t, src, "w", parts)
		if got := lines(t, filepath.Join(dir, "w.jsonl")); late != wantLate || !slices.Equal(got, want) {
			t.Fatalf("%d partitions: the chain found %d late records and wrote %d rows; the single statement %d and %d", parts, late, len(got), wantLate, len(want))
		}
	}
}

// A reader rolling up an endless windowed writer's rows (one-second
// windows into ten-second ones, on the window's start) fires each window
// once every writer partition has passed it: every window it fires holds
// exactly the count the one statement over the source gives, none cut
// short by rows it took for late.
func TestRollUpOfAnEndlessWindowedWriter(t *testing.T) {
	const gen = "'g.type'='generator','g.generator'='trades','g.partitions'='2','g.keys'='10'"
	dir := t.TempDir()
	ref := filepath.Join(dir, "ref.jsonl")
	runApp(t, "CREATE STREAM r AS SELECT trader_id, _WINDOW_START AS w, COUNT(*) AS n FROM g GROUP BY trader_id "+
		"WINDOW TUMBLING(trade_time, INTERVAL '10' SECOND) EMIT FINAL WITH ("+gen+",'g.count'='60000','r.type'='file_sink','r.path'='"+ref+"')",
		runner.Options{})
	want := map[string]string{} // trader and window -> the row
	last := ""
	for _, l := range lines(t, ref) {
		var r struct {
			T int64  `json:"trader_id"`
			W string `json:"w"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		want[fmt.Sprint(r.T, r.W)] = l
		last = max(last, r.W)
	}
	out := filepath.Join(dir, "out.jsonl")
	a, err := build(t, "CREATE STREAM per_sec AS SELECT trader_id, _WINDOW_START AS ws, COUNT(*) AS n FROM g GROUP BY trader_id "+
		"WINDOW TUMBLING(trade_time, INTERVAL '1' SECOND) EMIT FINAL WITH ("+gen+",'g.count'='unbounded');\n"+
		"CREATE STREAM r AS SELECT trader_id, _WINDOW_START AS w, SUM(n) AS n FROM per_sec GROUP BY trader_id "+
		"WINDOW TUMBLING(ws, INTERVAL '10' SECOND) EMIT FINAL WITH ('r.type'='file_sink','r.path'='"+out+"');")
	if err != nil {
		t.Fatal(err)
	}
	var fired atomic.Int64
	run, err := a.Start(context.Background(), runner.Options{Partitions: 2, ProgressInterval: 5_000_000},
		app.Hooks{Progress: func(name string, s *job.Summary) {
			if name == "r" {
				fired.Store(s.Total.Out)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for fired.Load() < 60 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	run.Stop()
	results, err := run.Wait()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Err != nil || (r.Name == "r" && r.Summary.Total.Late != 0) {
			t.Fatalf("job %s: %v, summary %+v", r.Name, r.Err, r.Summary)
		}
	}
	checked := 0
	for _, l := range lines(t, out) {
		var r struct {
			T int64  `json:"trader_id"`
			W string `json:"w"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		if r.W >= last {
			continue // the reference's last window is cut by its count
		}
		if want[fmt.Sprint(r.T, r.W)] != l {
			t.Errorf("the roll-up wrote %s, the one statement %s", l, want[fmt.Sprint(r.T, r.W)])
		}
		checked++
	}
	if checked < 30 {
		t.Fatalf("only %d rolled-up windows to check", checked)
	}
}

package app_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sluicesql/sluice/app"
	"github.com/sluicesql/sluice/runner"
)

// runLate runs the application src to its end and returns the late
// records counted by its job called name.
func runLate(t *testing.T, src, name string, parts int) int64 {
	t.Helper()
	a, err := build(t, src)
	if err != nil {
		t.Fatal(err)
	}
	run, err := a.Start(context.Background(), runner.Options{Partitions: parts}, app.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	results, err := run.Wait()
	if err != nil {
		t.Fatal(err)
	}
	late := int64(-1)
	for _, r := range results {
		if r.Summary == nil || r.Summary.Interrupted {
			t.Fatalf("job %s did not run to its end: %+v", r.Name, r.Summary)
		}
		if r.Name == name {
			late = r.Summary.Total.Late
		}
	}
	return late
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

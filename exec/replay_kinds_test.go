package exec

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/internal/replaytest"
	"github.com/sluicesql/sluice/record"
)

// replayKind is a statement kind stage 2 of a repartitioned statement may
// run, with how its output is compared: as a set of rows (each row written
// at least once, none the one run does not write), or by the last row of
// each key (updates: only the last one of a key is the result).
type replayKind struct {
	name  string
	query string
	props map[string]string
	// key gives the columns of an update's key; nil compares sets of rows.
	key []int
	// retract says that a row whose column retract is NULL deletes its key
	// (RANK's retractions, and those of a group HAVING no longer keeps).
	retract int
	// count is the column of a window's COUNT(*) under the update
	// strategy: no row written may count less than the window's first row
	// when the watermark moves after every record (a window written again
	// with part of its rows).
	count int
}

// TestRepartitionReplayStateKinds runs every kind of keyed state that a
// repartitioned statement may keep (besides joins and SESSION windows,
// see TestRepartitionReplaySessionsWriteTheOneRunRows; row windows other
// than a Top-N, and SESSION windows with 'update' run in one process per
// group: plan.TestRepartitionStateKinds)
// over a repartition topic's partition with late records, as one run and
// as generations killed at random points (see
// TestRepartitionReplayWritesTheOneRunRows), at their commits or some way
// past them (runGenerations): the generations write the one run's
// result, and dead-letter each record the one run dead-letters exactly
// once, however often it is read again (at least once when a generation
// was killed past its commit: it wrote dead letters the commit does not
// cover).
func TestRepartitionReplayStateKinds(t *testing.T) {
	update := map[string]string{PropLateDataStrategy: "update"}
	for _, k := range []replayKind{
		{name: "tumbling", query: "SELECT k, _WINDOW_START AS ws, COUNT(*) AS n, SUM(v) AS s FROM rp GROUP BY k WINDOW TUMBLING(INTERVAL '100' MILLISECONDS) EMIT FINAL"},
		{name: "sliding", query: "SELECT k, _WINDOW_START AS ws, COUNT(*) AS n, SUM(v) AS s FROM rp GROUP BY k WINDOW SLIDING(INTERVAL '300' MILLISECONDS, INTERVAL '100' MILLISECONDS) EMIT FINAL"},
		{name: "having", query: "SELECT k, _WINDOW_START AS ws, COUNT(*) AS n FROM rp GROUP BY k HAVING SUM(v) % 3 <> 0 WINDOW SLIDING(INTERVAL '300' MILLISECONDS, INTERVAL '100' MILLISECONDS) EMIT FINAL"},
		{name: "count-distinct", query: "SELECT k, _WINDOW_START AS ws, COUNT(DISTINCT v % 5) AS d FROM rp GROUP BY k WINDOW SLIDING(INTERVAL '250' MILLISECONDS, INTERVAL '50' MILLISECONDS) EMIT FINAL"},
		{name: "eval-error", query: "SELECT k, _WINDOW_START AS ws, SUM(1000 / (v % 50)) AS s FROM rp GROUP BY k WINDOW SLIDING(INTERVAL '300' MILLISECONDS, INTERVAL '100' MILLISECONDS) EMIT FINAL"},
		{name: "update-tumbling", query: "SELECT k, _WINDOW_START AS ws, COUNT(*) AS n, SUM(v) AS s FROM rp GROUP BY k WINDOW TUMBLING(INTERVAL '100' MILLISECONDS) EMIT FINAL",
			props: update, key: []int{0, 1}, count: 2},
		{name: "update-sliding", query: "SELECT k, _WINDOW_START AS ws, COUNT(*) AS n, SUM(v) AS s FROM rp GROUP BY k WINDOW SLIDING(INTERVAL '300' MILLISECONDS, INTERVAL '100' MILLISECONDS) EMIT FINAL",
			props: update, key: []int{0, 1}, count: 2},
		{name: "update-sliding-retention", query: "SELECT k, _WINDOW_START AS ws, COUNT(*) AS n FROM rp GROUP BY k WINDOW SLIDING(INTERVAL '300' MILLISECONDS, INTERVAL '100' MILLISECONDS) EMIT CHANGES",
			props: map[string]string{PropLateDataStrategy: "update", "late.data.retention": "100ms"}, key: []int{0, 1}},
		{name: "update-changes", query: "SELECT k, _WINDOW_START AS ws, COUNT(*) AS n FROM rp GROUP BY k WINDOW TUMBLING(INTERVAL '100' MILLISECONDS) EMIT CHANGES",
			props: update, key: []int{0, 1}},
		{name: "having-changes", query: "SELECT k, COUNT(*) AS n FROM rp GROUP BY k HAVING COUNT(*) > 100 EMIT CHANGES", key: []int{0}},
		{name: "having-flips", query: "SELECT k, SUM(v) AS s FROM rp GROUP BY k HAVING SUM(v) % 7 <> 0 EMIT CHANGES", key: []int{0}, retract: 1},
		{name: "having-flips-window", query: "SELECT k, _WINDOW_START AS ws, COUNT(*) AS n FROM rp GROUP BY k HAVING COUNT(*) % 3 <> 0 WINDOW TUMBLING(INTERVAL '100' MILLISECONDS) EMIT CHANGES",
			key: []int{0, 1}, retract: 2},
		{name: "having-flips-update", query: "SELECT k, _WINDOW_START AS ws, COUNT(*) AS n FROM rp GROUP BY k HAVING COUNT(*) % 3 <> 0 WINDOW TUMBLING(INTERVAL '100' MILLISECONDS) EMIT FINAL",
			props: update, key: []int{0, 1}, retract: 2},
		{name: "count-distinct-changes", query: "SELECT k, COUNT(DISTINCT v % 50) AS d, COUNT(*) AS n FROM rp GROUP BY k EMIT CHANGES", key: []int{0}},
		{name: "distinct", query: "SELECT DISTINCT k, v % 10 AS m FROM rp"},
		{name: "lag-event-time", query: "SELECT k, v, LAG(v) OVER (PARTITION BY k ORDER BY _EVENT_TIME) AS prev, ROW_NUMBER() OVER (PARTITION BY k ORDER BY _EVENT_TIME) AS n FROM rp"},
		{name: "running-sum-arrival", query: "SELECT k, v, SUM(v) OVER (PARTITION BY k) AS s, COUNT(*) OVER (PARTITION BY k) AS n FROM rp"},
		{name: "top-n-window", query: "SELECT k, v, _WINDOW_START AS ws, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v % 10 DESC) AS rn FROM rp WINDOW TUMBLING(INTERVAL '100' MILLISECONDS) QUALIFY rn <= 2"},
		{name: "top-n-final", query: "SELECT k, v, RANK() OVER (PARTITION BY k ORDER BY v % 100 DESC) AS r FROM rp QUALIFY r <= 3"},
		{name: "top-n-row-number", query: "SELECT k, v, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v % 100 DESC) AS rn FROM rp QUALIFY rn <= 3", key: []int{0, 2}},
		{name: "top-n-rank-changes", query: "SELECT k, v, v % 100 AS m, RANK() OVER (PARTITION BY k ORDER BY v % 100 DESC) AS r FROM rp QUALIFY r <= 3 EMIT CHANGES", key: []int{0, 1, 2}, retract: 3},
		{name: "top-n-grouped", query: "SELECT * FROM (SELECT k, g, ws, n, ROW_NUMBER() OVER (PARTITION BY ws, k ORDER BY n DESC) AS rn FROM (SELECT k, v % 3 AS g, _WINDOW_START AS ws, COUNT(*) AS n FROM rp GROUP BY k, v % 3 WINDOW SLIDING(INTERVAL '300' MILLISECONDS, INTERVAL '100' MILLISECONDS))) WHERE rn <= 2"},
	} {
		t.Run(k.name, func(t *testing.T) {
			prog := compileSQL(t, k.query, Options{ExternalWatermark: true, Properties: k.props}, "k", "v")
			prog.HoldChanges()
			p := newReplayPartition(uint64(len(k.query)), true)
			one := p.oneRun(prog)
			if len(one.rows) == 0 {
				t.Fatal("the one run wrote nothing")
			}
			want := k.result(one.rows)
			floor := k.firstCounts(p.eachRun(prog))
			for round := range 20 {
				// every other round the generations are killed past
				// their commits (see runGenerations)
				killed := round%2 == 1
				gens := p.runGenerations(prog, killed)
				if got := k.result(gens.rows); !slices.Equal(got, want) {
					t.Fatalf("round %d (killed %v): %d rows, one run %d: extra %v, missing %v", round, killed, len(got), len(want), replaytest.Minus(got, want), replaytest.Minus(want, got))
				}
				if dead := deadOnce(gens.dead, killed); !slices.Equal(dead, sortedInts(one.dead)) {
					t.Fatalf("round %d (killed %v): dead-lettered offsets %v, one run %v", round, killed, dead, sortedInts(one.dead))
				}
				for key, n := range k.firstCounts(gens.rows) {
					if n < floor[key] {
						t.Fatalf("round %d (killed %v): window %s written with count %d, the one run never counts less than %d", round, killed, key, n, floor[key])
					}
				}
			}
		})
	}
}

// keyOf returns the key of row (its columns k.key).
func (k replayKind) keyOf(f []string) string {
	var parts []string
	for _, i := range k.key {
		parts = append(parts, f[i])
	}
	return strings.Join(parts, "|")
}

// result returns the rows as a sorted set, or the last row of each key
// (but the keys a retraction deleted).
func (k replayKind) result(rows []string) []string {
	if k.key == nil {
		return replaytest.Distinct(rows)
	}
	last := map[string]string{}
	for _, r := range rows {
		f := strings.Split(r, "|")
		last[k.keyOf(f)] = r
		if k.retract > 0 && f[k.retract] == "NULL" {
			delete(last, k.keyOf(f))
		}
	}
	var out []string
	for _, r := range last {
		out = append(out, r)
	}
	return replaytest.Distinct(out)
}

// firstCounts returns, for a kind with a count column, the smallest count
// written for each key.
func (k replayKind) firstCounts(rows []string) map[string]int {
	least := map[string]int{}
	if k.count == 0 {
		return least
	}
	for _, r := range rows {
		f := strings.Split(r, "|")
		n, _ := strconv.Atoi(f[k.count])
		if have, ok := least[k.keyOf(f)]; !ok || n < have {
			least[k.keyOf(f)] = n
		}
	}
	return least
}

// sortedInts returns xs sorted.
func sortedInts(xs []int64) []int64 {
	out := slices.Clone(xs)
	slices.Sort(out)
	return out
}

// eachRun returns the rows of prog over the partition in one run that
// moves the watermark after every record, so that each window fires as
// early as it can, with the fewest records.
func (p *replayPartition) eachRun(prog *Program) []string {
	out := &collector{}
	pl := prog.NewPipeline()
	for i := range p.ts {
		pl.Process([]record.Record{p.rec(i)}, out)
		pl.Advance(p.wms[i+1], out)
	}
	pl.Finish(out)
	return out.texts()
}

// TestTopNTiesRankBySourceThroughRepartition: tied rows read through a
// repartition topic rank by their places in the source, as in one
// process, not by their offsets in the topic (where rows of several
// source partitions interleave as stage 1's processes wrote them).
func TestTopNTiesRankBySourceThroughRepartition(t *testing.T) {
	prog := compileSQL(t, "SELECT k, id, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn FROM rp QUALIFY rn <= 2 EMIT FINAL", Options{}, "k", "v", "id")
	data := recs([]any{"a", 5, 1}, []any{"a", 5, 2}, []any{"a", 5, 3}, []any{"a", 5, 4})
	// the topic's order: source partition 1 first, then 0
	for i, o := range [][2]int64{{1, 7}, {1, 8}, {0, 40}, {0, 41}} {
		data[i].HasOrigin, data[i].OriginPartition, data[i].OriginOffset = true, int32(o[0]), o[1]
	}
	got := runEach(prog, data).texts()
	if want := []string{"a|3|1", "a|4|2"}; !slices.Equal(got, want) {
		t.Fatalf("rows %v, want %v", got, want)
	}
}

// TestTopNHoldsItsTopRows: a Top-N without a window holds only the rows in
// its top n (a replay from the oldest of them rebuilds it), so its commits
// move on and a repartition topic is purged behind them; within a window
// it holds every record of the open windows.
func TestTopNHoldsItsTopRows(t *testing.T) {
	for _, tt := range []struct {
		query string
		want  int64
	}{
		{"SELECT k, v, RANK() OVER (PARTITION BY k ORDER BY v DESC) AS r FROM t QUALIFY r <= 3", 97},
		{"SELECT k, v, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn FROM t QUALIFY rn <= 3", 97},
		{"SELECT k, v, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC) AS rn FROM t WINDOW TUMBLING(INTERVAL '1' HOUR) QUALIFY rn <= 3", 0},
	} {
		pl := holdingPipeline(t, tt.query)
		if held := heldFrom(pl); held != tt.want {
			t.Errorf("%s: holds from offset %d, want %d", tt.query, held, tt.want)
		}
	}
}

// TestRowWindowHoldsItsFirstRows: under HoldChanges a row window holds
// the commit at the first row of its source partition while it runs (every
// later row carries it), and nothing once its input ended: a bounded run
// commits its end (an aligned member of a group waits for that commit
// before it ends, and waited for ever).
func TestRowWindowHoldsItsFirstRows(t *testing.T) {
	for _, q := range []string{
		"SELECT k, v, LAG(v) OVER (PARTITION BY k) AS prev FROM t",
		"SELECT k, v, SUM(v) OVER (PARTITION BY k ORDER BY _EVENT_TIME) AS s FROM t",
	} {
		pl := holdingPipeline(t, q)
		pl.Advance(math.MaxInt64-1, &collector{})
		if held := heldFrom(pl); held != 0 {
			t.Errorf("%s: holds from offset %d while it runs, want 0", q, held)
		}
		pl.Finish(&collector{})
		if held := heldFrom(pl); held != -1 {
			t.Errorf("%s: holds from offset %d once its input ended, want nothing", q, held)
		}
	}
}

// holdingPipeline compiles query over t (k, v) under HoldChanges and
// runs 100 rows of key "a" through it, v their offsets.
func holdingPipeline(t *testing.T, query string) *Pipeline {
	t.Helper()
	prog := compileSQL(t, query, Options{}, "k", "v")
	prog.HoldChanges()
	var rows [][]any
	for i := range 100 {
		rows = append(rows, []any{"a", i})
	}
	pl := prog.NewPipeline()
	pl.Process(recs(rows...), &collector{})
	return pl
}

// heldFrom returns the offset pl holds its partition's commit at, -1 for
// none.
func heldFrom(pl *Pipeline) int64 {
	held := int64(-1)
	pl.Held(func(_ string, _ int32, off int64) { held = off })
	return held
}

// TestRecordAfterFenceJudgedByIt: in stage 2 a record after its
// partition's fence is judged late against the fence's watermark, which
// the run before had reached before reading it, although the replay's own
// watermark is still unknown (its source partitions not yet reported
// again) and the watermark the record carries is behind: it must not open
// again a window that fired before the rebalance. A record read again
// before the fence (Replay) is left to Program.Replayed.
func TestRecordAfterFenceJudgedByIt(t *testing.T) {
	prog := compileSQL(t, "SELECT k, _WINDOW_START AS ws, COUNT(*) AS n FROM rp GROUP BY k WINDOW TUMBLING(INTERVAL '100' MILLISECONDS) EMIT FINAL",
		Options{ExternalWatermark: true, Properties: map[string]string{PropLateDataStrategy: "drop"}}, "k", "v")
	prog.SetReplayFences(FenceFunc(func(int32) (int64, bool) { return 1000, true }))
	defer prog.SetReplayFences(nil)
	pl := prog.NewPipeline()
	out := &collector{}
	rec := func(ts int64, replay bool) record.Record {
		return record.Record{Values: []record.Value{record.IntValue(1), record.IntValue(ts)}, Timestamp: ts, Watermark: 400, Topic: "rp", Offset: ts, Replay: replay}
	}
	pl.Process([]record.Record{rec(500, false), rec(1500, false)}, out)
	pl.Finish(out)
	if got := out.texts(); len(got) != 1 || !strings.HasPrefix(got[0], "1|1970-01-01T00:00:01.500Z|1") {
		t.Errorf("rows %v, want only the window at 1.5 s: the record at 0.5 s is late by the fence", got)
	}
	if s := pl.Stats(); s.LateDropped != 1 {
		t.Errorf("late dropped %d, want 1", s.LateDropped)
	}
}

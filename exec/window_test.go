package exec

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// windowQuery is SELECT g, COUNT(*), SUM(x), _WINDOW_START, _WINDOW_END
// FROM t GROUP BY g WINDOW w.
func windowQuery(w *sql.Window, emit sql.EmitMode) *sql.Select {
	return &sql.Select{
		Items:   items(id("g"), countStarCall(), call("SUM", id("x")), id("_window_start"), id("_WINDOW_END")),
		GroupBy: []sql.Expr{id("g")}, Window: w, Emit: emit,
	}
}

// ev is one event: group, value, event time in ms.
type ev struct {
	g  string
	x  int
	ts int64
}

func evRecs(evs ...ev) []record.Record {
	rows := make([][]any, len(evs))
	for i, e := range evs {
		rows[i] = []any{e.g, e.x, e.ts}
	}
	return recs(rows...)
}

// ms renders a millisecond time as the TIMESTAMP text in output rows.
func ms(t int64) string { return record.TimestampValue(t).String() }

// run feeds each event as its own Process call, then Finish unless
// finish is false.
func run(t *testing.T, p *Program, finish bool, evs ...ev) (*Pipeline, *collector) {
	t.Helper()
	pl := p.NewPipeline()
	out := &collector{}
	for _, r := range evRecs(evs...) {
		pl.Process([]record.Record{r}, out)
	}
	if finish {
		pl.Finish(out)
	}
	checkStats(t, pl.Stats())
	return pl, out
}

func TestTumblingEdges(t *testing.T) {
	p := compile(t, windowQuery(tumbling("ts", 10*time.Second), sql.EmitDefault), nil, "g", "x", "ts")
	_, out := run(t, p, false, ev{"a", 1, 0}, ev{"a", 2, 9999}, ev{"a", 4, 10000}, ev{"a", 8, 19999})
	want := []string{"a|2|3|" + ms(0) + "|" + ms(10000)}
	if got := out.texts(); strings.Join(got, ";") != strings.Join(want, ";") {
		t.Fatalf("before Finish got %v, want %v (a record at 10000 belongs to the next window and fires the first)", got, want)
	}
	_, out = run(t, p, true, ev{"a", 1, 0}, ev{"a", 2, 9999}, ev{"a", 4, 10000}, ev{"a", 8, 19999}, ev{"b", 16, 20000})
	want = append(want, "a|2|12|"+ms(10000)+"|"+ms(20000), "b|1|16|"+ms(20000)+"|"+ms(30000))
	if got := out.texts(); strings.Join(got, ";") != strings.Join(want, ";") {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestTumblingNegativeTimes(t *testing.T) {
	p := compile(t, windowQuery(tumbling("ts", 10*time.Second), sql.EmitFinal), nil, "g", "x", "ts")
	_, out := run(t, p, true, ev{"a", 4, -10001}, ev{"a", 1, -1}, ev{"a", 2, -10000})
	want := "a|1|4|" + ms(-20000) + "|" + ms(-10000) + ";a|2|3|" + ms(-10000) + "|" + ms(0)
	if got := strings.Join(out.texts(), ";"); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestSlidingMembership(t *testing.T) {
	w := &sql.Window{Kind: sql.Sliding, TimeColumn: "ts", Size: 10 * time.Second, Advance: 5 * time.Second}
	p := compile(t, windowQuery(w, sql.EmitFinal), nil, "g", "x", "ts")
	pl, out := run(t, p, true, ev{"a", 1, 7000}, ev{"a", 2, 12000})
	want := []string{
		"a|1|1|" + ms(0) + "|" + ms(10000),
		"a|2|3|" + ms(5000) + "|" + ms(15000),
		"a|1|2|" + ms(10000) + "|" + ms(20000),
	}
	if got := out.texts(); strings.Join(got, ";") != strings.Join(want, ";") {
		t.Fatalf("got %v, want %v", got, want)
	}
	if s := pl.Stats(); s.In != 2 || s.Accepted != 2 {
		t.Errorf("a record in several windows must count once: %+v", s)
	}
}

func TestSessionMerge(t *testing.T) {
	w := &sql.Window{Kind: sql.Session, TimeColumn: "ts", Gap: 5 * time.Second}
	p, err := Compile(windowQuery(w, sql.EmitFinal), Options{Schema: record.NewSchema("g", "x", "ts"), ExternalWatermark: true})
	if err != nil {
		t.Fatal(err)
	}
	_, out := run(t, p, true, ev{"a", 1, 0}, ev{"a", 2, 8000}, ev{"b", 100, 1000}, ev{"a", 4, 4000}, ev{"a", 8, 30000})
	want := []string{
		"a|3|7|" + ms(0) + "|" + ms(13000),
		"b|1|100|" + ms(1000) + "|" + ms(6000),
		"a|1|8|" + ms(30000) + "|" + ms(35000),
	}
	if got := out.texts(); strings.Join(got, ";") != strings.Join(want, ";") {
		t.Fatalf("got %v, want %v (the record at 4000 bridges the sessions at 0 and 8000)", got, want)
	}
}

func TestSessionFiresOnWatermark(t *testing.T) {
	w := &sql.Window{Kind: sql.Session, TimeColumn: "ts", Gap: 5 * time.Second}
	p := compile(t, windowQuery(w, sql.EmitFinal), nil, "g", "x", "ts")
	// the session [0, 8000) closes when the watermark passes its end plus
	// the gap: until then a record at 7999, not late, could extend it
	_, out := run(t, p, false, ev{"a", 1, 0}, ev{"a", 2, 3000}, ev{"b", 1, 12999}, ev{"b", 1, 13000})
	want := "a|2|3|" + ms(0) + "|" + ms(8000)
	if got := strings.Join(out.texts(), ";"); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestLateData(t *testing.T) {
	tests := []struct {
		strategy string
		props    map[string]string
		rows     []string
		dead     int
		dropped  int64
	}{
		{"dead_letter", nil, []string{"a|1|1", "a|1|2"}, 1, 0},
		{"drop", map[string]string{PropLateDataStrategy: "drop"}, []string{"a|1|1", "a|1|2"}, 0, 1},
		{"update", map[string]string{PropLateDataStrategy: "update"}, []string{"a|1|1", "a|2|5", "a|1|2"}, 0, 0},
		{"update beyond retention", map[string]string{PropLateDataStrategy: "update", PropLateRetention: "1s"}, []string{"a|1|1", "a|1|2"}, 1, 0},
		{"allowed lateness", map[string]string{PropAllowedLateness: "6s"}, []string{"a|2|5", "a|1|2"}, 0, 0},
		{"out of orderness", map[string]string{PropOutOfOrderness: "5500ms"}, []string{"a|2|5", "a|1|2"}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.strategy, func(t *testing.T) {
			sel := &sql.Select{Items: items(id("g"), countStarCall(), call("SUM", id("x"))), GroupBy: []sql.Expr{id("g")},
				Window: tumbling("ts", 10*time.Second)}
			p := compile(t, sel, tt.props, "g", "x", "ts")
			pl, out := run(t, p, true, ev{"a", 1, 1000}, ev{"a", 2, 15000}, ev{"a", 4, 5000})
			if got := strings.Join(out.texts(), ";"); got != strings.Join(tt.rows, ";") {
				t.Errorf("rows %s, want %s", got, strings.Join(tt.rows, ";"))
			}
			if len(out.dead) != tt.dead {
				t.Fatalf("dead letters %v, want %d", out.dead, tt.dead)
			}
			for _, err := range out.dead {
				if !errors.Is(err, ErrLate) {
					t.Errorf("reason %v does not wrap ErrLate", err)
				}
			}
			if s := pl.Stats(); s.LateDropped != tt.dropped || s.DeadLettered != int64(tt.dead) {
				t.Errorf("stats %+v", s)
			}
		})
	}
}

func TestExternalWatermark(t *testing.T) {
	sel := windowQuery(tumbling("ts", 10*time.Second), sql.EmitFinal)
	p, err := Compile(sel, Options{Schema: record.NewSchema("g", "x", "ts"), ExternalWatermark: true})
	if err != nil {
		t.Fatal(err)
	}
	pl, out := run(t, p, false, ev{"a", 1, 0}, ev{"a", 2, 15000}, ev{"a", 3, 25000})
	if len(out.rows) != 0 {
		t.Fatalf("records moved an external watermark: %v", out.texts())
	}
	pl.Advance(9999, out)
	if len(out.rows) != 0 {
		t.Fatalf("fired before the window end: %v", out.texts())
	}
	pl.Advance(20000, out)
	pl.Advance(5000, out) // never moves back
	want := "a|1|1|" + ms(0) + "|" + ms(10000) + ";a|1|2|" + ms(10000) + "|" + ms(20000)
	if got := strings.Join(out.texts(), ";"); got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
	var held []int64
	pl.Held(func(topic string, part int32, off int64) { held = append(held, off) })
	if len(held) != 1 || held[0] != 2 {
		t.Errorf("held %v, want [2] (the record at 25000 is still only in open state)", held)
	}
	pl.Finish(out)
	if len(out.rows) != 3 {
		t.Fatalf("Finish did not flush: %v", out.texts())
	}
	held = nil
	pl.Held(func(topic string, part int32, off int64) { held = append(held, off) })
	if len(held) != 0 {
		t.Errorf("held %v after Finish", held)
	}
}

func TestEventTimeSources(t *testing.T) {
	sel := &sql.Select{Items: items(countStarCall(), id("_window_start")), Window: tumbling("", time.Minute)}
	tests := []struct {
		name  string
		props map[string]string
		v     any
		meta  int64
		want  string
	}{
		{"metadata timestamp", nil, nil, 90_000, ms(60_000)},
		{"field millis", map[string]string{PropEventTimeField: "t"}, 150_000, 0, ms(120_000)},
		{"field seconds", map[string]string{PropEventTimeField: "t", PropEventTimeFormat: "epoch_seconds"}, 150, 0, ms(120_000)},
		{"field iso", map[string]string{PropEventTimeField: "t"}, "1970-01-01T00:03:10Z", 0, ms(180_000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := compile(t, sel, tt.props, "t")
			r := recs([]any{tt.v})
			r[0].Timestamp = tt.meta
			if et, ok := p.EventTime(&r[0]); !ok || ms(et/60000*60000) != tt.want {
				t.Errorf("EventTime = %d, %v", et, ok)
			}
			pl := p.NewPipeline()
			var out collector
			pl.Process(r, &out)
			pl.Finish(&out)
			if got := strings.Join(out.texts(), ";"); got != "1|"+tt.want {
				t.Errorf("got %s, want 1|%s", got, tt.want)
			}
		})
	}
	p := compile(t, sel, map[string]string{PropEventTimeField: "t"}, "t")
	pl := p.NewPipeline()
	var out collector
	pl.Process(recs([]any{"not a time"}, []any{nil}), &out)
	if len(out.dead) != 2 || pl.Stats().DeadLettered != 2 {
		t.Errorf("records without event time must be dead-lettered: %v", out.dead)
	}
}

func TestSessionLateUpdate(t *testing.T) {
	w := &sql.Window{Kind: sql.Session, TimeColumn: "ts", Gap: 5 * time.Second}
	p := compile(t, windowQuery(w, sql.EmitFinal), map[string]string{PropLateDataStrategy: "update", PropLateRetention: "30s"}, "g", "x", "ts")
	// The session [0, 5000) fires at 20000 and is retained; the late record
	// at 2000 updates it and its corrected row is emitted again. It ends
	// later, so the row written for [0, 5000) is retracted first.
	_, out := run(t, p, true, ev{"a", 1, 0}, ev{"b", 1, 20000}, ev{"a", 2, 2000})
	want := "a|1|1|" + ms(0) + "|" + ms(5000) + ";a|NULL|NULL|" + ms(0) + "|" + ms(5000) +
		";a|2|3|" + ms(0) + "|" + ms(7000) + ";b|1|1|" + ms(20000) + "|" + ms(25000)
	if got := strings.Join(out.texts(), ";"); got != want || !slices.Equal(out.retract, []bool{false, true, false, false}) {
		t.Fatalf("got  %s %v\nwant %s", got, out.retract, want)
	}
}

func TestHeldUnwindowedFinal(t *testing.T) {
	sel := &sql.Select{Items: items(id("g"), countStarCall()), GroupBy: []sql.Expr{id("g")}, Emit: sql.EmitFinal}
	pl := compile(t, sel, nil, "g").NewPipeline()
	batch := recs([]any{"a"}, []any{"b"})
	batch[0].Offset, batch[1].Offset = 7, 3
	batch[1].Partition = 1
	var out collector
	pl.Process(batch, &out)
	held := map[int32]int64{}
	pl.Held(func(topic string, part int32, off int64) { held[part] = off })
	if len(held) != 2 || held[0] != 7 || held[1] != 3 {
		t.Fatalf("held %v", held)
	}
	pl.Finish(&out)
	clear(held)
	pl.Held(func(topic string, part int32, off int64) { held[part] = off })
	if len(held) != 0 || len(out.rows) != 2 {
		t.Fatalf("after Finish: held %v, rows %v", held, out.texts())
	}
}

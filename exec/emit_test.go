package exec

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

func TestStatelessProjection(t *testing.T) {
	// SELECT DISTINCT g, x * 2 AS twice FROM t WHERE x > 1 and SELECT * FROM t WHERE x > 1 LIMIT 2
	where := bin(sql.Gt, id("x"), num("1"))
	data := recs([]any{"a", 1}, []any{"b", 2}, []any{"a", 3}, []any{"b", 2}, []any{"c", 0})
	tests := []struct {
		name string
		sel  *sql.Select
		cols string
		want string
		st   Stats
	}{
		{"project", &sql.Select{Items: []sql.SelectItem{item(id("g"), ""), item(bin(sql.Mul, id("x"), num("2")), "twice")}, Where: where},
			"g,twice", "b|4;a|6;b|4", Stats{In: 5, Filtered: 2, Accepted: 3}},
		{"distinct", &sql.Select{Distinct: true, Items: []sql.SelectItem{item(id("g"), ""), item(bin(sql.Mul, id("x"), num("2")), "twice")}, Where: where},
			"g,twice", "b|4;a|6", Stats{In: 5, Filtered: 2, Accepted: 3}},
		{"star limit", &sql.Select{Items: []sql.SelectItem{{Star: true}}, Where: where, Limit: &sql.Limit{Count: 2}},
			"g,x", "b|2;a|3", Stats{In: 5, Filtered: 2, Limited: 1, Accepted: 2}},
		{"order within batch", &sql.Select{Items: items(id("g"), id("x")), OrderBy: []sql.OrderItem{{Expr: id("x"), Desc: true}, {Expr: id("g")}}},
			"g,x", "a|3;b|2;b|2;a|1;c|0", Stats{In: 5, Accepted: 5}},
		{"unnamed expression", &sql.Select{Items: items(call("UPPER", id("g")))}, "UPPER(g)", "A;B;A;B;C", Stats{In: 5, Accepted: 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := compile(t, tt.sel, nil, "g", "x")
			if got := strings.Join(p.OutputSchema().Names(), ","); got != tt.cols {
				t.Errorf("columns %s, want %s", got, tt.cols)
			}
			pl := p.NewPipeline()
			var out collector
			pl.Process(data, &out)
			pl.Finish(&out)
			if got := strings.Join(out.texts(), ";"); got != tt.want {
				t.Errorf("rows %s, want %s", got, tt.want)
			}
			if s := pl.Stats(); s != tt.st {
				t.Errorf("stats %+v, want %+v", s, tt.st)
			}
		})
	}
}

func TestStatelessErrorsDeadLetter(t *testing.T) {
	sel := &sql.Select{Items: items(bin(sql.Div, num("10"), id("x")))}
	pl := compile(t, sel, nil, "x").NewPipeline()
	var out collector
	pl.Process(recs([]any{2}, []any{0}, []any{5}), &out)
	if got := strings.Join(out.texts(), ";"); got != "5;2" || len(out.dead) != 1 || out.deadRec[0].Offset != 1 {
		t.Fatalf("rows %s, dead %v", got, out.dead)
	}
	checkStats(t, pl.Stats())
}

func TestOrderAndLimitWithinWindow(t *testing.T) {
	sel := windowQuery(tumbling("ts", 10*time.Second), sql.EmitFinal)
	// led by the window's start, so that the windows' emissions come in
	// the ORDER BY's order (checkLimitOrder)
	sel.OrderBy = []sql.OrderItem{{Expr: num("4")}, {Expr: num("3"), Desc: true}}
	sel.Limit = &sql.Limit{Count: 2}
	p := compile(t, sel, nil, "g", "x", "ts")
	if !p.Ordered() {
		t.Error("Ordered() = false")
	}
	if n, ok := p.Limit(); !ok || n != 2 {
		t.Errorf("Limit() = %d, %v", n, ok)
	}
	_, out := run(t, p, true, ev{"a", 1, 0}, ev{"b", 5, 1}, ev{"c", 3, 2}, ev{"a", 1, 10000}, ev{"b", 2, 10001}, ev{"c", 3, 10002})
	var got []string
	for _, r := range out.rows {
		got = append(got, r[0].Str()+r[2].String())
	}
	if strings.Join(got, " ") != "b5 c3 c3 b2" {
		t.Fatalf("got %v, want the top two per window", got)
	}
}

// lastRows keeps the last row per key (the first n columns).
func lastRows(rows [][]record.Value, keyCols []int) map[string]string {
	m := make(map[string]string)
	for _, r := range rows {
		var k []string
		for _, c := range keyCols {
			k = append(k, r[c].String())
		}
		m[strings.Join(k, "|")] = rowText(r)
	}
	return m
}

func TestEmitChangesLastRowEqualsFinal(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var evs []ev
	for i := range 3000 {
		evs = append(evs, ev{string(rune('a' + rng.IntN(7))), rng.IntN(100), int64(i*37) + rng.Int64N(500)})
	}
	shapes := []struct {
		name   string
		window *sql.Window
		keys   []int
	}{
		{"unwindowed", nil, []int{0}},
		{"tumbling", tumbling("ts", 10*time.Second), []int{0, 3}},
		{"sliding", &sql.Window{Kind: sql.Sliding, TimeColumn: "ts", Size: 10 * time.Second, Advance: 3 * time.Second}, []int{0, 3}},
		{"session", &sql.Window{Kind: sql.Session, TimeColumn: "ts", Gap: 200 * time.Millisecond}, []int{0, 3}},
	}
	for _, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			results := map[sql.EmitMode]map[string]string{}
			for _, mode := range []sql.EmitMode{sql.EmitChanges, sql.EmitFinal} {
				sel := windowQuery(sh.window, mode)
				if sh.window == nil {
					sel.Items = sel.Items[:3]
				}
				sel.Items = append(sel.Items, items(call("AVG", id("x")), call("MAX", id("x")), call("STDDEV", id("x")))...)
				p, err := Compile(sel, Options{Schema: record.NewSchema("g", "x", "ts"), Properties: map[string]string{PropOutOfOrderness: "1s"}})
				if err != nil {
					t.Fatal(err)
				}
				pl := p.NewPipeline()
				var out collector
				data := evRecs(evs...)
				for i := 0; i < len(data); i += 100 {
					pl.Process(data[i:min(i+100, len(data))], &out)
				}
				pl.Finish(&out)
				checkStats(t, pl.Stats())
				if mode == sql.EmitChanges && len(out.rows) <= len(lastRows(out.rows, sh.keys)) && sh.window == nil {
					t.Errorf("EMIT CHANGES emitted no intermediate rows")
				}
				results[mode] = lastRows(out.rows, sh.keys)
			}
			ch, fin := results[sql.EmitChanges], results[sql.EmitFinal]
			// Sessions that merged leave the superseded session's earlier
			// rows behind (there are no retractions), so for sessions only
			// every final row is checked.
			if len(fin) == 0 || len(ch) != len(fin) && (sh.window == nil || sh.window.Kind != sql.Session) {
				t.Fatalf("CHANGES has %d groups, FINAL %d", len(ch), len(fin))
			}
			for k, v := range fin {
				if ch[k] != v {
					t.Fatalf("group %s: last change %s, final %s", k, ch[k], v)
				}
			}
		})
	}
}

// TestGroupDeadLetter: a group row that fails to evaluate goes to the
// dead-letter output as its GROUP BY keys and window (JSON), not as input
// columns filled with the group row's values.
func TestGroupDeadLetter(t *testing.T) {
	p := compileSQL(t, "SELECT k, SUM(v) / (COUNT(*) - 1) AS x FROM t GROUP BY k WINDOW TUMBLING(ts, 1m) EMIT FINAL", Options{}, "k", "v", "ts")
	c := runEach(p, recs([]any{"a", 1, 1000}, []any{"a", 2, 2000}, []any{"b", 3, 3000}))
	if len(c.rows) != 1 || len(c.deadRec) != 1 {
		t.Fatalf("rows %v, dead letters %v", c.rows, c.dead)
	}
	want := `{"k":"b","window_start":"1970-01-01T00:00:00.000Z","window_end":"1970-01-01T00:01:00.000Z"}`
	if got := string(c.deadRec[0].Raw); got != want || !strings.Contains(c.dead[0].Error(), "group (b): division by zero") {
		t.Errorf("dead letter %s: %v\nwant %s", got, c.dead[0], want)
	}
}

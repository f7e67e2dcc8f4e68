package exec

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sluicesql/sluice/record"
)

// Aggregates give the same result whatever order a group's records arrive
// in, as long as each source partition's records keep their order: float
// sums and statistics are exact until the final rounding, and FIRST_VALUE,
// LAST_VALUE and STRING_AGG follow event time, then the place in the source.
func TestAggregatesDoNotDependOnArrivalOrder(t *testing.T) {
	src := `SELECT g, SUM(f) AS s, AVG(f) AS a, STDDEV(f) AS sd, VAR_POP(d) AS vp,
	        FIRST_VALUE(v) AS fv, LAST_VALUE(v) AS lv, STRING_AGG(v, '-') AS sa
	        FROM t GROUP BY g EMIT FINAL`
	p := compileSQL(t, src, Options{}, "g", "f", "d", "v")
	floats := []float64{1e16, 1, -1e16, 0.1, 3.3, 1e-3, 2.5e15, -7.25}
	var parts [3][]record.Record
	for i, f := range floats {
		part := i % 3
		r := record.Record{Values: []record.Value{record.StringValue("a"), record.FloatValue(f), dec([]string{"0.1", "2.35", "7"}[i%3]),
			record.IntValue(int64(i))}, Topic: "t", Partition: int32(part), Offset: int64(len(parts[part]))}
		r.Timestamp = int64(1000 + i%4) // ties in time: the source place decides
		parts[part] = append(parts[part], r)
	}
	rng := rand.New(rand.NewPCG(7, 8))
	var want []string
	for round := range 40 {
		var data []record.Record
		next := [3]int{}
		for len(data) < len(floats) {
			part := rng.IntN(3)
			if next[part] < len(parts[part]) {
				data = append(data, parts[part][next[part]])
				next[part]++
			}
		}
		got := runEach(p, data).texts()
		if round == 0 {
			want = got
			continue
		}
		if !slices.Equal(got, want) {
			t.Fatalf("arrival order %d: got %v, want %v", round, got, want)
		}
	}
	// the exact sum 2499999999999997.151 rounded once; FIRST_VALUE and
	// LAST_VALUE by time then source place; STRING_AGG in that order
	if w := "a|2.499999999999997e+15|3.124999999999996e+14|5.417811234385024e+15|7.2024609375|0|7|0-4-1-5-6-2-3-7"; want[0] != w {
		t.Errorf("got %s, want %s", want[0], w)
	}
}

// TestTiesFollowTheSourceThroughRepartition: records of equal event time
// read through a repartition topic (where stage 1's processes interleave
// the source partitions as they wrote them) keep the order of their
// places in the source, as in one process: FIRST_VALUE, LAST_VALUE,
// STRING_AGG and LAG see source partition 0's record first although the
// topic holds partition 1's before it.
func TestTiesFollowTheSourceThroughRepartition(t *testing.T) {
	for _, tt := range []struct {
		query string
		want  []string
	}{
		{"SELECT g, FIRST_VALUE(v) AS f, LAST_VALUE(v) AS l, STRING_AGG(v, '-') AS s FROM rp GROUP BY g EMIT FINAL", []string{"a|3|2|3-4-1-2"}},
		{"SELECT g, v, LAG(v) OVER (PARTITION BY g ORDER BY ts) AS p FROM rp", []string{"a|1|4", "a|2|1", "a|3|NULL", "a|4|3"}},
	} {
		prog := compileSQL(t, tt.query, Options{}, "g", "v", "ts")
		data := recs([]any{"a", 1, 1000}, []any{"a", 2, 1000}, []any{"a", 3, 1000}, []any{"a", 4, 1000})
		// the topic's order: source partition 1 first, then 0
		for i, o := range [][2]int64{{1, 7}, {1, 8}, {0, 40}, {0, 41}} {
			data[i].Timestamp = 1000
			data[i].Topic, data[i].Offset = "rp", int64(i)
			data[i].HasOrigin, data[i].OriginPartition, data[i].OriginOffset = true, int32(o[0]), o[1]
		}
		pl := prog.NewPipeline()
		var out collector
		pl.Process(data, &out)
		pl.Finish(&out)
		got := out.texts()
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: rows %v, want %v", tt.query, got, tt.want)
		}
	}
}

// TestExtremesOfEqualValuesDoNotDependOnArrivalOrder: MIN, MAX and MEDIAN
// over equal values written differently (7.5 and 7.50, 150 and 1.5e2,
// -0.0 and 0.0) return one form whichever came first: the greater by
// record.CompareForm. Like any aggregate's value, it is one of the values
// as written, not the key form of the column's type.
func TestExtremesOfEqualValuesDoNotDependOnArrivalOrder(t *testing.T) {
	p := compileSQL(t, `SELECT g, MIN(lvl) AS lo, MAX(lvl) AS hi, MEDIAN(lvl) AS m, MIN(x) AS z FROM t GROUP BY g EMIT FINAL`,
		Options{}, "g", "lvl", "x", "ts", "v")
	want := []string{"g|7.50|150.00|125|0"}
	for rotate := range 4 {
		if got := runEach(p, keyFormData(rotate)).texts(); !slices.Equal(got, want) {
			t.Errorf("forms rotated by %d: rows %v, want %v", rotate, got, want)
		}
	}
}

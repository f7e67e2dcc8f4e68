package exec

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// keyFormData returns (g, lvl, x, ts, v) records whose lvl is one of the
// numbers 150, 7.5 and 100 and whose x is 0, each written in several forms
// (as an inferred column keeps them: 150, 150.0, 150.00, 1.5e2; -0.0 and
// 0.0). rotate shifts which form of each number comes at each of its
// places, so two rotations differ only in which of equal values arrives
// first.
func keyFormData(rotate int) []record.Record {
	forms := map[string][]record.Value{
		"150": {record.IntValue(150), dec("150.0"), dec("150.00"), record.FloatValue(1.5e2)},
		"7.5": {dec("7.5"), dec("7.50")},
		"100": {record.IntValue(100), dec("100.000")},
	}
	zeros := []record.Value{record.FloatValue(math.Copysign(0, -1)), record.FloatValue(0)}
	order := []string{"150", "7.5", "150", "100", "7.5", "150", "100", "150"}
	seen := map[string]int{}
	var out []record.Record
	for i, k := range order {
		f := forms[k]
		lvl := f[(seen[k]+rotate)%len(f)]
		seen[k]++
		out = append(out, record.Record{Values: []record.Value{
			record.StringValue("g"), lvl, zeros[(i+rotate)%2], record.TimestampValue(int64(1000 + 100*i)), record.IntValue(int64(i)),
		}, Topic: "t", Offset: int64(i)})
	}
	return out
}

// TestKeysPrintAlikeWhateverArrivesFirst: a key whose equal values come in
// several forms (an inferred DECIMAL column's 150 and 150.00, a DOUBLE's
// -0.0 and 0.0) prints in the form of its type (record.Value.KeyForm),
// not in that of the value that arrived first: GROUP BY with and without
// a window, a session, EMIT CHANGES, DISTINCT, a PRIMARY KEY and a Top-N's
// PARTITION BY columns. A value an aggregate returns keeps its form.
func TestKeysPrintAlikeWhateverArrivesFirst(t *testing.T) {
	schema := record.NewSchemaOf(
		record.Field{Name: "g", Type: record.StringType, Inferred: true},
		record.Field{Name: "lvl", Type: record.DecimalType(6, 3), Inferred: true},
		record.Field{Name: "x", Type: record.DoubleType},
		record.Field{Name: "ts", Type: record.TimestampType},
		record.Field{Name: "v", Type: record.BigintType},
	)
	tests := []struct {
		name, src string
		want      string // a row of the output
	}{
		{"group by", `SELECT lvl, COUNT(*) AS n FROM t GROUP BY lvl EMIT FINAL`, "150.000|4"},
		{"tumbling", `SELECT lvl, COUNT(*) AS n FROM t GROUP BY lvl WINDOW TUMBLING(ts, INTERVAL '1' SECOND) EMIT FINAL`, "7.500|2"},
		{"session", `SELECT lvl, COUNT(*) AS n FROM t GROUP BY lvl WINDOW SESSION(ts, INTERVAL '1' SECOND) EMIT FINAL`, "100.000|2"},
		{"changes", `SELECT lvl, COUNT(*) AS n FROM t GROUP BY lvl EMIT CHANGES`, "150.000|3"},
		{"key expression", `SELECT lvl + 1 AS k, COUNT(*) AS n FROM t GROUP BY lvl + 1 EMIT FINAL`, "151.000|4"},
		{"double", `SELECT x, COUNT(*) AS n FROM t GROUP BY x EMIT FINAL`, "0|8"},
		{"distinct", `SELECT DISTINCT lvl FROM t`, "150.000"},
		{"distinct aggregate", `SELECT DISTINCT g, MAX(lvl) AS m FROM t GROUP BY g EMIT FINAL`, "g|150.000"},
		{"primary key", `SELECT lvl PRIMARY KEY, v FROM t`, "150.000|7"},
		{"top-n", `SELECT lvl, v, ROW_NUMBER() OVER (PARTITION BY lvl ORDER BY v DESC) AS rn FROM t QUALIFY rn <= 1 EMIT CHANGES`, "7.500|4|1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := compileSchema(t, tt.src, schema)
			want := runEach(p, keyFormData(0)).texts()
			if !slices.Contains(want, tt.want) {
				t.Fatalf("rows %v, want one %s", want, tt.want)
			}
			for rotate := 1; rotate < 4; rotate++ {
				if got := runEach(p, keyFormData(rotate)).texts(); !slices.Equal(got, want) {
					t.Errorf("other forms first (%d): rows %v, want %v", rotate, got, want)
				}
			}
		})
	}
	t.Run("untyped", func(t *testing.T) {
		p := compileSQL(t, `SELECT lvl, COUNT(*) AS n FROM t GROUP BY lvl EMIT FINAL`, Options{}, "g", "lvl", "x", "ts", "v")
		want := runEach(p, keyFormData(0)).texts()
		for rotate := 1; rotate < 4; rotate++ {
			if got := runEach(p, keyFormData(rotate)).texts(); !slices.Equal(got, want) {
				t.Errorf("other forms first (%d): rows %v, want %v", rotate, got, want)
			}
		}
		if strings.Join(want, " ") != "150|4 7.5|2 100|2" {
			t.Errorf("rows %v, want numbers without trailing zeros", want)
		}
	})
	t.Run("values keep their form", func(t *testing.T) {
		p := compileSchema(t, `SELECT g, FIRST_VALUE(lvl) AS f, LAST_VALUE(lvl) AS l FROM t GROUP BY g EMIT FINAL`, schema)
		if got := runEach(p, keyFormData(1)).texts(); !slices.Equal(got, []string{"g|150.0|150"}) {
			t.Errorf("rows %v, want g|150.0|150: an aggregate's value as it came", got)
		}
	})
}

// compileSchema compiles the query src over the typed input schema.
func compileSchema(t *testing.T, src string, schema *record.Schema) *Program {
	t.Helper()
	stmts, err := sql.Parse("q.sql", src)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Compile(stmts[0].Select(), Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEqualNumbersAreOneKey: in an inferred DOUBLE column, numbers that =
// finds equal however they are written (7.5 and 7.5e0, 0.1 and 1e-1, 100
// and 1e2) are one group and one DISTINCT row, printed as the FLOAT, and
// each matches a WHERE on the other form.
func TestEqualNumbersAreOneKey(t *testing.T) {
	schema := record.NewSchemaOf(record.Field{Name: "x", Type: record.DoubleType, Inferred: true})
	var in []record.Record
	for i, v := range []record.Value{dec("7.5"), record.FloatValue(7.5), dec("0.1"), record.FloatValue(0.1),
		record.IntValue(100), record.FloatValue(1e2), dec("7.50")} {
		in = append(in, record.Record{Values: []record.Value{v}, Topic: "t", Offset: int64(i)})
	}
	for src, want := range map[string][]string{
		`SELECT x, COUNT(*) AS n FROM t GROUP BY x EMIT FINAL`:  {"7.5|3", "0.1|2", "100|2"},
		`SELECT DISTINCT x FROM t`:                              {"7.5", "0.1", "100"},
		`SELECT x FROM t WHERE x = 7.5e0 OR x = 0.1 OR x = 1e2`: {"7.5", "7.5", "0.1", "0.1", "100", "100", "7.50"},
	} {
		if got := runEach(compileSchema(t, src, schema), in).texts(); !slices.Equal(got, want) {
			t.Errorf("%s: rows %v, want %v", src, got, want)
		}
	}
}

// TestProductKeyHasTheProductScale: GROUP BY p * q over DECIMAL(10,2)
// columns is a DECIMAL of scale 4, the scale of its values, and its key
// prints at it (2.5000, not 2.50).
func TestProductKeyHasTheProductScale(t *testing.T) {
	schema := record.NewSchemaOf(
		record.Field{Name: "p", Type: record.DecimalType(10, 2)},
		record.Field{Name: "q", Type: record.DecimalType(10, 2)},
	)
	in := []record.Record{
		{Values: []record.Value{dec("1.00"), dec("2.50")}, Topic: "t", Offset: 0},
		{Values: []record.Value{dec("0.50"), dec("5.00")}, Topic: "t", Offset: 1},
		{Values: []record.Value{dec("1.25"), dec("1.25")}, Topic: "t", Offset: 2},
	}
	p := compileSchema(t, `SELECT p * q AS k, COUNT(*) AS n FROM t GROUP BY p * q EMIT FINAL`, schema)
	if got, want := runEach(p, in).texts(), []string{"2.5000|2", "1.5625|1"}; !slices.Equal(got, want) {
		t.Errorf("rows %v, want %v", got, want)
	}
}

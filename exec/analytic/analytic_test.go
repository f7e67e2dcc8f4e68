package analytic

import (
	"strings"
	"testing"

	"github.com/sluicesql/sluice/record"
)

// TestApply runs each case's calls over its rows and checks every result.
func TestApply(t *testing.T) {
	d := func(s string) record.Value { return dec(t, s) }
	cases := []struct {
		name  string
		cols  []string
		calls []string
		rows  [][]record.Value
		want  [][]record.Value // per row, per call
	}{
		{
			name:  "moving average over BUFFER 3",
			cols:  []string{"price"},
			calls: []string{"AVG(price) OVER (ROWS WINDOW BUFFER 3 ROWS)"},
			rows:  [][]record.Value{{fl(1)}, {fl(2)}, {fl(3)}, {fl(4)}, {fl(5)}, {fl(9)}},
			want:  [][]record.Value{{fl(1)}, {fl(1.5)}, {fl(2)}, {fl(3)}, {fl(4)}, {fl(6)}},
		},
		{
			name: "partitions are independent",
			cols: []string{"sym", "price"},
			calls: []string{
				"SUM(price) OVER (ROWS WINDOW BUFFER 2 ROWS PARTITION BY sym ORDER BY price)",
				"ROW_NUMBER() OVER (PARTITION BY sym)",
				"COUNT(*) OVER (ROWS WINDOW BUFFER 2 ROWS)",
			},
			rows: [][]record.Value{{st("A"), in(1)}, {st("B"), in(10)}, {st("A"), in(2)}, {st("B"), in(20)}, {st("A"), in(3)}, {null, in(7)}},
			want: [][]record.Value{
				{in(1), in(1), in(1)}, {in(10), in(1), in(2)}, {in(3), in(2), in(2)},
				{in(30), in(2), in(2)}, {in(5), in(3), in(2)}, {in(7), in(1), in(2)},
			},
		},
		{
			name: "partition keys are typed: 1 and 1.0 are one key, '1' another",
			cols: []string{"k"},
			calls: []string{
				"COUNT(*) OVER (PARTITION BY k)",
			},
			rows: [][]record.Value{{in(1)}, {d("1.0")}, {st("1")}, {fl(1)}},
			want: [][]record.Value{{in(1)}, {in(2)}, {in(1)}, {in(3)}},
		},
		{
			name: "LAG with offset and default",
			cols: []string{"k", "x"},
			calls: []string{
				"LAG(x) OVER (PARTITION BY k ORDER BY x)",
				"LAG(x, 2, -1) OVER (PARTITION BY k)",
				"LAG(x, 0) OVER (PARTITION BY k)",
				"LAG(x, 1, x * 100) OVER (PARTITION BY k)",
			},
			rows: [][]record.Value{{st("a"), in(1)}, {st("a"), in(2)}, {st("b"), in(5)}, {st("a"), null}, {st("a"), in(4)}},
			want: [][]record.Value{
				{null, in(-1), in(1), in(100)},
				{in(1), in(-1), in(2), in(1)},
				{null, in(-1), in(5), in(500)},
				{in(2), in(1), null, in(2)},
				{null, in(2), in(4), null},
			},
		},
		{
			name:  "LAG of strings keeps its own copies",
			cols:  []string{"s"},
			calls: []string{"LAG(s, 1, 'none') OVER ()"},
			rows:  [][]record.Value{{st("x")}, {st("y")}, {st("z")}},
			want:  [][]record.Value{{st("none")}, {st("x")}, {st("y")}},
		},
		{
			name: "ROW_NUMBER, RANK, DENSE_RANK with ties",
			cols: []string{"k", "t"},
			calls: []string{
				"ROW_NUMBER() OVER (PARTITION BY k ORDER BY t)",
				"RANK() OVER (PARTITION BY k ORDER BY t)",
				"DENSE_RANK() OVER (PARTITION BY k ORDER BY t)",
				"RANK() OVER (PARTITION BY k)",
			},
			rows: [][]record.Value{
				{st("a"), in(1)}, {st("a"), d("1.00")}, {st("b"), in(1)}, {st("a"), in(2)},
				{st("a"), in(3)}, {st("a"), in(3)}, {st("a"), in(3)}, {st("a"), in(5)},
			},
			want: [][]record.Value{
				{in(1), in(1), in(1), in(1)}, {in(2), in(1), in(1), in(1)}, {in(1), in(1), in(1), in(1)},
				{in(3), in(3), in(2), in(1)}, {in(4), in(4), in(3), in(1)}, {in(5), in(4), in(3), in(1)},
				{in(6), in(4), in(3), in(1)}, {in(7), in(7), in(4), in(1)},
			},
		},
		{
			name:  "an out-of-order ORDER BY value is a new rank in arrival order",
			cols:  []string{"t"},
			calls: []string{"RANK() OVER (ORDER BY t)", "DENSE_RANK() OVER (ORDER BY t)", "SUM(t) OVER (ORDER BY t ROWS 1 PRECEDING)"},
			rows:  [][]record.Value{{in(5)}, {in(7)}, {in(2)}, {in(2)}, {null}, {null}},
			want: [][]record.Value{
				{in(1), in(1), in(5)}, {in(2), in(2), in(12)}, {in(3), in(3), in(9)},
				{in(3), in(3), in(4)}, {in(5), in(4), in(2)}, {in(5), in(4), null},
			},
		},
		{
			name: "k PRECEDING versus UNBOUNDED PRECEDING versus no frame",
			cols: []string{"x"},
			calls: []string{
				"SUM(x) OVER (ORDER BY x ROWS BETWEEN 1 PRECEDING AND CURRENT ROW)",
				"SUM(x) OVER (ORDER BY x ROWS BETWEEN 0 PRECEDING AND CURRENT ROW)",
				"SUM(x) OVER (ORDER BY x ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)",
				"SUM(x) OVER (ORDER BY x)",
				"MAX(x) OVER (ROWS 2 PRECEDING)",
				"MIN(x) OVER (ROWS UNBOUNDED PRECEDING)",
			},
			rows: [][]record.Value{{in(4)}, {in(1)}, {in(3)}, {in(2)}, {in(0)}},
			want: [][]record.Value{
				{in(4), in(4), in(4), in(4), in(4), in(4)},
				{in(5), in(1), in(5), in(5), in(4), in(1)},
				{in(4), in(3), in(8), in(8), in(4), in(1)},
				{in(5), in(2), in(10), in(10), in(3), in(1)},
				{in(2), in(0), in(10), in(10), in(3), in(0)},
			},
		},
		{
			name: "NULLs are skipped; a frame of only NULLs gives NULL (COUNT 0)",
			cols: []string{"x"},
			calls: []string{
				"SUM(x) OVER (ROWS WINDOW BUFFER 2 ROWS)",
				"AVG(x) OVER (ROWS WINDOW BUFFER 2 ROWS)",
				"COUNT(x) OVER (ROWS WINDOW BUFFER 2 ROWS)",
				"COUNT(*) OVER (ROWS WINDOW BUFFER 2 ROWS)",
				"MIN(x) OVER (ROWS WINDOW BUFFER 2 ROWS)",
				"MAX(x) OVER ()",
				"COUNT(x) OVER ()",
			},
			rows: [][]record.Value{{null}, {in(3)}, {null}, {null}, {in(1)}},
			want: [][]record.Value{
				{null, null, in(0), in(1), null, null, in(0)},
				{in(3), d("3.000000"), in(1), in(2), in(3), in(3), in(1)},
				{in(3), d("3.000000"), in(1), in(2), in(3), in(3), in(1)},
				{null, null, in(0), in(2), null, in(3), in(1)},
				{in(1), d("1.000000"), in(1), in(2), in(1), in(3), in(2)},
			},
		},
		{
			name: "decimals are exact; the result scale follows the frame",
			cols: []string{"x"},
			calls: []string{
				"SUM(x) OVER (ROWS WINDOW BUFFER 2 ROWS)",
				"AVG(x) OVER (ROWS WINDOW BUFFER 2 ROWS)",
				"SUM(x) OVER ()",
			},
			rows: [][]record.Value{{d("0.25")}, {d("0.5")}, {d("1.5")}, {in(2)}, {in(3)}, {d("0.1")}},
			want: [][]record.Value{
				{d("0.25"), d("0.250000"), d("0.25")},
				{d("0.75"), d("0.375000"), d("0.75")},
				{d("2.0"), d("1.000000"), d("2.25")},
				{d("3.5"), d("1.750000"), d("4.25")},
				{in(5), d("2.500000"), d("7.25")},
				{d("3.1"), d("1.550000"), d("7.35")},
			},
		},
		{
			name:  "a FLOAT in the frame makes the result FLOAT",
			cols:  []string{"x"},
			calls: []string{"SUM(x) OVER (ROWS WINDOW BUFFER 2 ROWS)", "AVG(x) OVER (ROWS WINDOW BUFFER 2 ROWS)"},
			rows:  [][]record.Value{{in(1)}, {fl(0.5)}, {d("2.5")}, {in(1)}},
			want:  [][]record.Value{{in(1), d("1.000000")}, {fl(1.5), fl(0.75)}, {fl(3), fl(1.5)}, {d("3.5"), d("1.750000")}},
		},
		{
			name:  "infinities and NaN leave a sliding frame cleanly",
			cols:  []string{"x"},
			calls: []string{"SUM(x) OVER (ROWS WINDOW BUFFER 2 ROWS)"},
			rows:  [][]record.Value{{fl(1)}, {fl(inf)}, {fl(-inf)}, {fl(2)}, {fl(nan)}, {fl(3)}, {fl(4)}},
			want:  [][]record.Value{{fl(1)}, {fl(inf)}, {fl(nan)}, {fl(-inf)}, {fl(nan)}, {fl(nan)}, {fl(7)}},
		},
		{
			name:  "MIN and MAX of strings and timestamps",
			cols:  []string{"s", "t"},
			calls: []string{"MIN(s) OVER (ROWS WINDOW BUFFER 2 ROWS)", "MAX(t) OVER (ROWS 1 PRECEDING)"},
			rows: [][]record.Value{
				{st("b"), record.TimestampValue(20)}, {st("a"), record.TimestampValue(10)},
				{st("c"), record.TimestampValue(5)}, {st("d"), null},
			},
			want: [][]record.Value{
				{st("b"), record.TimestampValue(20)}, {st("a"), record.TimestampValue(20)},
				{st("a"), record.TimestampValue(10)}, {st("c"), record.TimestampValue(5)},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := compile(t, tc.cols, tc.calls)
			state := s.NewState()
			out := make([]record.Value, s.Len())
			for i, row := range tc.rows {
				r := &record.Record{Values: row}
				if err := state.Apply(r, out); err != nil {
					t.Fatalf("row %d: %v", i, err)
				}
				for j := range tc.calls {
					if !same(out[j], tc.want[i][j]) {
						t.Errorf("row %d, %s = %s, want %s", i, tc.calls[j], show(out[j]), show(tc.want[i][j]))
					}
				}
			}
		})
	}
}

// TestEvalErrors checks that a row failing evaluation is reported and
// enters no window, and that the next rows are unaffected.
func TestEvalErrors(t *testing.T) {
	cases := []struct {
		name  string
		calls []string
		rows  [][]record.Value
		bad   string         // error substring of the failing row
		want  []record.Value // first call's result per row; unchecked at the failing row
	}{
		{
			name:  "SUM of a string",
			calls: []string{"COUNT(*) OVER ()", "SUM(x) OVER (ROWS WINDOW BUFFER 2 ROWS)"},
			rows:  [][]record.Value{{in(1)}, {st("x")}, {in(2)}},
			bad:   "SUM(x) OVER (ROWS WINDOW BUFFER 2 ROWS): SUM of STRING x: want a number",
			want:  []record.Value{in(1), null, in(2)},
		},
		{
			name:  "MIN over mixed types",
			calls: []string{"MIN(x) OVER (ROWS WINDOW BUFFER 3 ROWS)"},
			rows:  [][]record.Value{{in(3)}, {st("a")}, {in(2)}},
			bad:   "MIN over mixed types: STRING value after numbers",
			want:  []record.Value{in(3), null, in(2)},
		},
		{
			name:  "division by zero in an argument",
			calls: []string{"MAX(10 / x) OVER ()"},
			rows:  [][]record.Value{{in(5)}, {in(0)}, {in(10)}},
			bad:   "division by zero",
			want:  []record.Value{in(2), null, in(2)},
		},
		{
			name:  "partition key failure",
			calls: []string{"ROW_NUMBER() OVER (PARTITION BY 1 / x)"},
			rows:  [][]record.Value{{in(1)}, {in(0)}, {in(1)}},
			bad:   "PARTITION BY: ",
			want:  []record.Value{in(1), null, in(2)},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := compile(t, []string{"x"}, tc.calls)
			state := s.NewState()
			out := make([]record.Value, s.Len())
			for i, row := range tc.rows {
				err := state.Apply(&record.Record{Values: row}, out)
				if tc.want[i].IsNull() {
					if err == nil || !strings.Contains(err.Error(), tc.bad) {
						t.Fatalf("row %d: error %v, want one containing %q", i, err, tc.bad)
					}
					continue
				}
				if err != nil {
					t.Fatalf("row %d: %v", i, err)
				}
				if !same(out[0], tc.want[i]) {
					t.Errorf("row %d = %s, want %s", i, show(out[0]), show(tc.want[i]))
				}
			}
		})
	}
}

// TestApplyShortOut checks that too small an out slice is an error.
func TestApplyShortOut(t *testing.T) {
	s := compile(t, []string{"x"}, []string{"COUNT(*) OVER ()", "COUNT(x) OVER ()"})
	if err := s.NewState().Apply(&record.Record{}, make([]record.Value, 1)); err == nil {
		t.Fatal("Apply with 1 slot for 2 calls succeeded")
	}
}

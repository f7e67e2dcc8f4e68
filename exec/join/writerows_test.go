package join

import (
	"slices"
	"testing"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// TestTablesWriteJoinedRows is stage 1 of a statement whose routing key
// reads a table's column: the pipeline writes each record's joined row
// (the record's place and times kept) instead of aggregating it, the key
// over the joined row is the table's value (NULL for a LEFT JOIN's
// unmatched record, so those share one key), an inner join's unmatched
// record is filtered, and stage 2, the query after the join over those
// rows, counts the values stage 1 joined although the table changed since.
func TestTablesWriteJoinedRows(t *testing.T) {
	for _, tt := range []struct {
		join string
		keys []string // the routing key of each row written
		want []string // stage 2's counts per name
	}{
		{"JOIN", []string{"100", "101", "102", "100", "101"}, []string{"100,2", "101,2", "102,1"}},
		{"LEFT JOIN", []string{"100", "101", "102", "NULL", "NULL", "100", "101"}, []string{"100,2", "101,2", "102,1", "NULL,2"}},
	} {
		t.Run(tt.join, func(t *testing.T) {
			// u 3 and 4 meet no row of t
			prog := compileTableJoin(t, "SELECT t.name, COUNT(*) AS n FROM s "+tt.join+" t ON s.u = t.u GROUP BY t.name EMIT FINAL", 3)
			table := prog.Tables()[0]
			if err := prog.WriteRows(); err != nil {
				t.Fatal(err)
			}
			key, err := prog.JoinedRoutingKey([]sql.Expr{&sql.Ident{Qualifier: "t", Name: "name"}})
			if err != nil {
				t.Fatal(err)
			}
			var recs []record.Record
			for i := range int64(7) {
				recs = append(recs, record.Record{Values: []record.Value{record.IntValue(i), record.IntValue(i % 5), record.IntValue(10 * i)},
					Topic: "s", Partition: 3, Offset: 40 + i, Timestamp: 1000 + i})
			}
			var written []record.Record
			var keys []string
			pl := prog.NewPipeline()
			pl.Process(recs, emitFunc(func(rows []record.Record) {
				for _, r := range rows {
					if r.Partition != 3 || r.Offset < 40 || r.Timestamp != 1000+r.Offset-40 {
						t.Errorf("joined row %v lost its record's place or time", r)
					}
					k, err := key[0](&r)
					if err != nil {
						t.Fatal(err)
					}
					keys = append(keys, k.String())
					r.Values = slices.Clone(r.Values)
					written = append(written, r)
				}
			}))
			pl.Finish(emitFunc(func(rows []record.Record) { t.Errorf("stage 1 wrote %d rows at the end", len(rows)) }))
			if !slices.Equal(keys, tt.keys) {
				t.Errorf("routing keys %v, want %v", keys, tt.keys)
			}
			if s := pl.Stats(); s.In != 7 || s.Accepted != int64(len(tt.keys)) || s.Filtered != 7-int64(len(tt.keys)) {
				t.Errorf("stats %+v: want 7 in, %d accepted, the rest filtered", s, len(tt.keys))
			}
			// the table changes before stage 2 reads the rows (a replay
			// after a rebalance): the rows keep what stage 1 joined
			table.Apply(&record.Record{Values: []record.Value{record.IntValue(0), record.IntValue(900)}})
			table.Apply(&record.Record{Values: []record.Value{record.IntValue(3), record.IntValue(903)}})
			out := &rows{}
			two := prog.Program.NewPipeline()
			two.Process(written, out)
			two.Finish(out)
			slices.Sort(out.out)
			if !slices.Equal(out.out, tt.want) {
				t.Errorf("stage 2 wrote %v, want %v", out.out, tt.want)
			}
		})
	}
}

// emitFunc is an exec.Output that hands the rows to its function and
// fails on dead letters.
type emitFunc func([]record.Record)

func (f emitFunc) Emit(rows []record.Record)              { f(rows) }
func (f emitFunc) DeadLetter(r *record.Record, err error) { panic(err) }

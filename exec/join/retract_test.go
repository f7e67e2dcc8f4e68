package join

import (
	"slices"
	"testing"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// TestTableRetraction: a retracted row (a group its writer's HAVING no
// longer keeps) deletes its key from the table; the key's next row stores
// it again.
func TestTableRetraction(t *testing.T) {
	table, err := NewTable("big", record.NewSchema("k", "s"), []string{"k"})
	if err != nil {
		t.Fatal(err)
	}
	row := func(k string, s record.Value, retract bool) *record.Record {
		return &record.Record{Values: []record.Value{record.StringValue(k), s}, Retract: retract}
	}
	table.Apply(row("a", record.IntValue(50), false))
	table.Apply(row("b", record.IntValue(7), false))
	table.Apply(row("a", record.Value{}, true))
	if n := table.Rows(); n != 1 {
		t.Fatalf("%d rows after the retraction of a, want 1", n)
	}
	table.Apply(row("c", record.Value{}, true)) // a key never written
	table.Apply(row("a", record.IntValue(80), false))
	if n := table.Rows(); n != 2 {
		t.Fatalf("%d rows after a was written again, want 2", n)
	}
}

// changelog keeps copies of the rows a pipeline emits.
type changelog struct{ recs []record.Record }

func (c *changelog) Emit(recs []record.Record) {
	for _, r := range recs {
		r.Values = slices.Clone(r.Values)
		c.recs = append(c.recs, r)
	}
}
func (c *changelog) DeadLetter(*record.Record, error) {}

// TestTableOfSessionsKeepsTheLatest: a table keyed by the GROUP BY column
// of SESSION windows with EMIT CHANGES (an in-process CREATE TABLE ...
// GROUP BY k WINDOW SESSION ...) holds each key's latest session. A
// retraction of an older session's row (HAVING no longer met, or its
// bounds moved when a late record extended it) removes that session's row
// only, not the key's row of a later session, and an update of the older
// session does not replace the later one's: the stream rows joined with
// the table after the changelog meet each key's latest session.
func TestTableOfSessionsKeepsTheLatest(t *testing.T) {
	writer, err := sql.Parse("w", "SELECT k, _WINDOW_START AS ws, COUNT(*) AS n FROM ev GROUP BY k HAVING COUNT(*) < 3 "+
		"WINDOW SESSION(ts, INTERVAL '100' MILLISECOND) EMIT CHANGES")
	if err != nil {
		t.Fatal(err)
	}
	wprog, err := exec.Compile(writer[0].Select(), exec.Options{Properties: map[string]string{
		"watermark.max_out_of_orderness": "0ms", "window.allowed_lateness": "5s"}, Schema: record.NewSchema("k", "ts")})
	if err != nil {
		t.Fatal(err)
	}
	// a: sessions [0, 10] (2 rows) and [1000]; a late 20 gives the first
	// 3 rows, which HAVING drops: its row is retracted. b: sessions [0]
	// and [1000]; a late 20 extends the first: its row is retracted and
	// written again with the new bounds.
	const base = 1_700_000_000_000
	pl, log := wprog.NewPipeline(), &changelog{}
	for _, e := range []struct {
		k  string
		ts int64
	}{{"a", 0}, {"a", 10}, {"b", 0}, {"a", 1000}, {"b", 1000}, {"a", 20}, {"b", 20}} {
		pl.Process([]record.Record{{Values: []record.Value{record.StringValue(e.k), record.IntValue(base + e.ts)}, Timestamp: base + e.ts}}, log)
	}
	retracted := 0
	for _, r := range log.recs {
		if r.Retract {
			retracted++
		}
	}
	if retracted != 3 { // a's first session as it grew to 10, then at 20; b's at 20
		t.Fatalf("the writer retracted %d rows, want 3 (the test checks little): %v", retracted, log.recs)
	}
	reader, err := sql.Parse("r", "SELECT p.k, s.ws, s.n FROM probes p LEFT JOIN sessions s ON p.k = s.k")
	if err != nil {
		t.Fatal(err)
	}
	for _, windowed := range []bool{true, false} {
		prog, err := Compile(reader[0].Select(), Options{Inputs: []Input{{Name: "probes", Alias: "p", Schema: record.NewSchema("k")},
			{Name: "sessions", Alias: "s", Schema: wprog.OutputSchema(), PrimaryKey: []string{"k"}, Windowed: windowed}}})
		if err != nil {
			t.Fatal(err)
		}
		table := prog.Tables()[0]
		for i := range log.recs {
			table.Apply(&log.recs[i])
		}
		out := &rows{}
		prog.NewPipeline().Process([]record.Record{{Values: []record.Value{record.StringValue("a")}}, {Values: []record.Value{record.StringValue("b")}}}, out)
		latest := record.TimestampValue(base + 1000).String()
		want := []string{"a," + latest + ",1", "b," + latest + ",1"}
		if got := out.out; slices.Equal(got, want) != windowed {
			t.Errorf("windowed %v: the stream met %v; each key's latest session is %v", windowed, got, want)
		}
	}
}

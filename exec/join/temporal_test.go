package join

import (
	"errors"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// rows collects a pipeline's output and dead letters.
type rows struct {
	out     []string
	retract []bool // per row: record.Record.Retract
	dead    []error
}

func (r *rows) Emit(recs []record.Record) {
	for _, rec := range recs {
		r.retract = append(r.retract, rec.Retract)
		var s []string
		for _, v := range rec.Values {
			s = append(s, v.String())
		}
		r.out = append(r.out, strings.Join(s, ","))
	}
}
func (r *rows) DeadLetter(_ *record.Record, err error) { r.dead = append(r.dead, err) }

// TestTemporalVersionsDropped feeds a temporal table many versions of a few
// keys while the watermark rises: it keeps, per key, the versions from the
// newest at or below the watermark on, so its size stays bounded, stream
// records on time still meet the right version, and one too late for the
// versions left is dead-lettered, not joined with a wrong one.
func TestTemporalVersionsDropped(t *testing.T) {
	prog := ratesAsOfTs(t, "LEFT JOIN")
	table := prog.Tables()[0]
	pl := prog.NewPipeline()
	other := prog.NewPipeline() // a second worker: its watermark holds versions back too
	var out rows
	keys := []string{"EUR", "GBP", "USD"}
	version := func(key string, ts, rate int64) {
		table.Apply(&record.Record{Values: []record.Value{record.StringValue(key), record.IntValue(rate), record.IntValue(ts)}})
	}
	order := func(id int64, key string, ts int64) {
		pl.Process([]record.Record{{Values: []record.Value{record.IntValue(id), record.StringValue(key), record.IntValue(ts)}}}, &out)
	}
	const steps = 2000
	for i := range int64(steps) {
		for k, key := range keys {
			version(key, i*10, i*100+int64(k)) // one version per key every 10 ms
		}
		if i == 50 {
			table.Shard(ByKey, 2) // split over two workers, histories and all
		}
		if i%100 == 99 {
			wm := i*10 - 50
			pl.Advance(wm, &out)
			other.Advance(wm, &out)
			if n := table.Versions(); n > int64(len(keys)*10) {
				t.Fatalf("at watermark %d the table holds %d versions of %d keys", wm, n, len(keys))
			}
		}
	}
	if n := table.Versions(); n > int64(len(keys)*10) {
		t.Fatalf("the table holds %d versions of %d keys", table.Versions(), len(keys))
	}
	wm := int64(steps*10 - 50)
	order(1, "GBP", wm)     // the newest version at or below the watermark: kept
	order(2, "GBP", wm+25)  // a version above it
	order(3, "EUR", wm-200) // late: its version was dropped
	want := []string{"1,199501", "2,199701"}
	if strings.Join(out.out, " ") != strings.Join(want, " ") {
		t.Errorf("rows %v, want %v", out.out, want)
	}
	if len(out.dead) != 1 || !errors.Is(out.dead[0], errPruned) {
		t.Errorf("dead letters %v, want the late order", out.dead)
	}
}

// TestTemporalVersionsKeptWithoutWatermark checks that a temporal table
// looked up by a column that is not the event time keeps every version:
// the watermark says nothing about that column.
func TestTemporalVersionsKeptWithoutWatermark(t *testing.T) {
	stmts, err := sql.Parse("t", "SELECT o.id, r.rate FROM orders o JOIN rates FOR SYSTEM_TIME AS OF o.placed AS r ON o.cur = r.cur")
	if err != nil {
		t.Fatal(err)
	}
	prog, err := Compile(stmts[0].Select(), Options{Properties: map[string]string{"event.time.field": "ts"}, Inputs: []Input{
		{Name: "orders", Alias: "o", Schema: record.NewSchema("id", "cur", "ts", "placed")},
		{Name: "rates", Alias: "r", Schema: record.NewSchema("cur", "rate", "ts"), PrimaryKey: []string{"cur"}}}})
	if err != nil {
		t.Fatal(err)
	}
	table := prog.Tables()[0]
	pl := prog.NewPipeline()
	for i := range int64(100) {
		table.Apply(&record.Record{Values: []record.Value{record.StringValue("EUR"), record.IntValue(i), record.IntValue(i * 10)}})
	}
	pl.Advance(10_000, &rows{})
	if n := table.Versions(); n != 100 {
		t.Errorf("%d versions kept, want all 100", n)
	}
}

// TestStreamJoinHoldsRows checks that a stream-stream join says it holds
// rows until the watermark (the job then aligns its source partitions),
// and a stream-table join does not.
func TestStreamJoinHoldsRows(t *testing.T) {
	tests := []struct {
		query string
		pk    []string
		holds bool
	}{
		{"SELECT a.v, b.w FROM a JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND", nil, true},
		{"SELECT a.v, b.w FROM a JOIN b ON a.k = b.k", []string{"k"}, false},
	}
	for _, tt := range tests {
		stmts, err := sql.Parse("q", tt.query)
		if err != nil {
			t.Fatal(err)
		}
		prog, err := Compile(stmts[0].Select(), Options{Inputs: []Input{
			{Name: "a", Schema: record.NewSchema("k", "v")}, {Name: "b", Schema: record.NewSchema("k", "w"), PrimaryKey: tt.pk}}})
		if err != nil {
			t.Fatal(err)
		}
		if got := prog.HoldsRows(); got != tt.holds {
			t.Errorf("%s: HoldsRows = %v, want %v", tt.query, got, tt.holds)
		}
	}
}

// TestReplayedRecordMissingItsVersionIsDeadLettered: a record read again
// after a rebalance (record.Record.Replay) whose table version was dropped
// is dead-lettered, as a late record is, with a reason that says so, not
// dropped silently; another failed lookup of a replayed record is not (the
// run before dead-lettered it).
func TestReplayedRecordMissingItsVersionIsDeadLettered(t *testing.T) {
	prog := ratesAsOfTs(t, "JOIN")
	table := prog.Tables()[0]
	pl := prog.NewPipeline()
	for i := range int64(10) {
		table.Apply(&record.Record{Values: []record.Value{record.StringValue("EUR"), record.IntValue(i), record.IntValue(i * 100)}})
	}
	var out rows
	pl.Advance(800, &out) // drops the versions before 800
	pl.Process([]record.Record{
		{Values: []record.Value{record.IntValue(1), record.StringValue("EUR"), record.IntValue(150)}, Replay: true},    // its version is gone
		{Values: []record.Value{record.IntValue(2), record.StringValue("EUR"), record.StringValue("x")}, Replay: true}, // not a time: dead-lettered before
		{Values: []record.Value{record.IntValue(3), record.StringValue("EUR"), record.IntValue(850)}, Replay: true},
	}, &out)
	if strings.Join(out.out, " ") != "3,8" {
		t.Errorf("rows %v, want 3,8", out.out)
	}
	if len(out.dead) != 1 || !errors.Is(out.dead[0], errPruned) || !strings.Contains(out.dead[0].Error(), "read again after a rebalance") {
		t.Errorf("dead letters %v, want the replayed record whose version was dropped", out.dead)
	}
}

// ratesAsOfTs compiles orders joined (join: "JOIN" or "LEFT JOIN") with
// rates FOR SYSTEM_TIME AS OF the orders' event time, o.ts.
func ratesAsOfTs(t *testing.T, join string) *Program {
	t.Helper()
	stmts, err := sql.Parse("t", "SELECT o.id, r.rate FROM orders o "+join+" rates FOR SYSTEM_TIME AS OF o.ts AS r ON o.cur = r.cur")
	if err != nil {
		t.Fatal(err)
	}
	prog, err := Compile(stmts[0].Select(), Options{Properties: map[string]string{"event.time.field": "ts"}, Inputs: []Input{
		{Name: "orders", Alias: "o", Schema: record.NewSchema("id", "cur", "ts")},
		{Name: "rates", Alias: "r", Schema: record.NewSchema("cur", "rate", "ts"), PrimaryKey: []string{"cur"}}}})
	if err != nil {
		t.Fatal(err)
	}
	return prog
}

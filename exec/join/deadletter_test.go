package join

import (
	"testing"

	"github.com/sluicesql/sluice/record"
)

// TestReplayedRecordNotDeadLetteredAgain: a record stage 2 reads again
// after a rebalance from before its partition's fence (record.Record.Replay)
// had its dead letter written by the run before: a join whose key fails to
// evaluate on it counts it, but does not send it again. A new record that
// fails is sent.
func TestReplayedRecordNotDeadLetteredAgain(t *testing.T) {
	prog := compileAB(t, "SELECT a.k, b.w FROM a JOIN b ON a.k / a.v = b.k WITHIN INTERVAL '1' SECOND")
	side := prog.Sides()[0]
	rec := func(replay bool) record.Record {
		vals := make([]record.Value, side.Width)
		vals[side.Offset] = record.IntValue(1)
		vals[side.Offset+1] = record.IntValue(1000)
		vals[side.Offset+2] = record.IntValue(0) // a.k / a.v: division by zero
		vals[side.Slot] = record.IntValue(0)
		return record.Record{Values: vals, Timestamp: 1000, Topic: "rp", Replay: replay}
	}
	pl := prog.NewPipeline()
	out := &rows{}
	pl.Process([]record.Record{rec(true)}, out)
	if len(out.dead) != 0 {
		t.Fatalf("a replayed record was dead-lettered again: %v", out.dead)
	}
	pl.Process([]record.Record{rec(false)}, out)
	if len(out.dead) != 1 {
		t.Fatalf("a new record that fails: %d dead letters, want 1", len(out.dead))
	}
	if s := pl.Stats(); s.DeadLettered != 2 {
		t.Errorf("DeadLettered = %d, want both counted", s.DeadLettered)
	}
}

// TestReplayedRecordsRowWithNullsDeadLettered: a record read again after a
// rebalance (record.Record.Replay) whose row with NULLs the join decides
// now, as the watermark passes it or at the end, had no such row before
// (a record whose row was written is Settled and gets none): the row's
// failure after the join is dead-lettered, as for a row emitted with
// NULLs on arrival.
func TestReplayedRecordsRowWithNullsDeadLettered(t *testing.T) {
	prog := compileAB(t, "SELECT a.k, 100 / a.v AS x FROM a LEFT JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND")
	side := prog.Sides()[0]
	rec := func(k, ts int64) record.Record {
		vals := make([]record.Value, side.Width)
		vals[side.Offset] = record.IntValue(k)
		vals[side.Offset+1] = record.IntValue(ts)
		vals[side.Offset+2] = record.IntValue(0) // 100 / a.v: division by zero
		vals[side.Slot] = record.IntValue(0)
		return record.Record{Values: vals, Timestamp: ts, Offset: k, Topic: "rp", Replay: true}
	}
	pl := prog.NewPipeline()
	out := &rows{}
	pl.Process([]record.Record{rec(1, 1000)}, out)
	pl.Advance(10_000, out) // past the row's bound: decided with NULLs
	if len(out.dead) != 1 {
		t.Fatalf("the row decided as the watermark passed: %d dead letters, want 1", len(out.dead))
	}
	pl.Process([]record.Record{rec(2, 20_000)}, out)
	pl.Finish(out)
	if len(out.dead) != 2 {
		t.Errorf("the row decided at the end: %d dead letters in all, want 2", len(out.dead))
	}
}

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

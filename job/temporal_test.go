package job

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/exec/join"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// temporalJob runs a join program as the runner does.
type temporalJob struct{ *join.Program }

func (p temporalJob) NewPipeline() Pipeline { return p.Program.NewPipeline() }

// TestTemporalReplayMeetsTheVersionsOfTheFirstRun: a restart from a
// checkpoint whose watermark is past the records it reads again (their
// window is open) joins each with the version of the temporal table AS OF
// its time that one run joins it with. Exactly once, the job's watermark
// starts at the checkpoint's (seedWatermark) before any record: the
// table dropped every version older than its newest at or below it, and
// the records read again, marked Replay, met none and were dropped
// without a dead letter (a Replay record's was written the first time):
// each window came out with 1 record of 18, the one after the checkpoint. The job now tells the program where its
// partitions resume (Resumer) first. Aligned, where each partition's
// checkpoint reaches the job through its reader, the same holds.
func TestTemporalReplayMeetsTheVersionsOfTheFirstRun(t *testing.T) {
	const base = 1_700_000_000_000
	msg := func(k string, u, at int64) mem.Message {
		return mem.Message{Fields: map[string]record.Value{"k": record.StringValue(k), "u": record.IntValue(u),
			"ts": record.TimestampValue(base + at)}, Timestamp: base + at}
	}
	// two partitions, records each 500 ms from 0.5s to 9s: the 10s window
	// stays open, holding the commits at the first records, while the
	// watermark reaches 8.5s
	var input [][]mem.Message
	for p := range 2 {
		var part []mem.Message
		for i := range int64(18) {
			part = append(part, msg([]string{"a", "b"}[p], i%3, 500+500*i))
		}
		input = append(input, part)
	}
	stmts, err := sql.Parse("q", "SELECT s.k, COUNT(*) AS c, SUM(r.rate) AS sr FROM s JOIN rates FOR SYSTEM_TIME AS OF s.ts AS r ON s.u = r.u "+
		"GROUP BY s.k WINDOW TUMBLING(s.ts, INTERVAL '10' SECONDS)")
	if err != nil {
		t.Fatal(err)
	}
	program := func() temporalJob {
		prog, err := join.Compile(stmts[0].Select(), join.Options{Properties: map[string]string{"event.time.field": "ts"}, Inputs: []join.Input{
			{Name: "s", Schema: record.NewSchema("k", "u", "ts")},
			{Name: "rates", Alias: "r", Schema: record.NewSchema("u", "rate", "ts"), PrimaryKey: []string{"u"}}}})
		if err != nil {
			t.Fatal(err)
		}
		for at := int64(0); at <= 10_000; at += 250 { // a new rate every 250 ms
			for u := range int64(3) {
				prog.Tables()[0].Apply(&record.Record{Values: []record.Value{record.IntValue(u), record.IntValue(1000*u + at), record.TimestampValue(base + at)}})
			}
		}
		return temporalJob{prog}
	}
	run := func(ctx context.Context, src *checkpointSource, sink *mem.Sink) {
		cfg := baseConfig(t, program(), "hash", 2, src, sink)
		cfg.MaxOutOfOrder, cfg.CommitInterval = 0, 2*time.Millisecond
		if _, err := Run(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	full := &mem.Sink{}
	run(context.Background(), &checkpointSource{Source: mem.NewSource("s", input)}, full)
	want := rowStrings(full.Rows())
	if len(want) != 2 {
		t.Fatalf("one run wrote %v, want a row per partition's key", want)
	}
	for _, aligned := range []bool{false, true} {
		src := &checkpointSource{Source: mem.NewSource("s", input, mem.Live(time.Millisecond))}
		first := &mem.Sink{}
		cp, ok := runUntilRead(func(ctx context.Context) { run(ctx, src, first) }, src, map[int32]int64{0: 18, 1: 18})
		if !ok || cp.Watermark < base+8000 {
			t.Fatalf("aligned %v: the first run committed no checkpoint of every record read at watermark 8.5s or more: %+v", aligned, cp)
		}
		committed := src.Committed()
		again := &checkpointSource{Source: mem.NewSource("s", input, mem.WithStart(committed)), restored: &cp, aligned: aligned}
		second := &mem.Sink{}
		run(context.Background(), again, second)
		if got := rowStrings(append(first.Flushed(), second.Rows()...)); !slices.Equal(got, want) {
			t.Errorf("aligned %v: stopped at %v (checkpoint at watermark %d) and restarted, wrote %v; one run wrote %v", aligned, committed, cp.Watermark-base, got, want)
		}
	}
}

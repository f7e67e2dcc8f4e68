package job

import (
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/record"
)

// Output receives what a pipeline produces (exec.Output).
type Output = exec.Output

// Stats are a pipeline's cumulative counters (exec.Stats):
// In == Accepted + Filtered + Limited + DeadLettered + LateDropped.
type Stats = exec.Stats

// Pipeline is one partition's share of the query: the state a worker owns.
// It is used by one goroutine. Process must not keep recs or their Values
// slices after it returns (it may keep copies of values).
type Pipeline interface {
	// Process runs a batch of records of one source partition.
	Process(recs []record.Record, out Output)
	// Advance moves the watermark and fires what it closes.
	Advance(watermark int64, out Output)
	// Finish ends a bounded input: everything still held is emitted.
	Finish(out Output)
	// Stats returns the cumulative counters.
	Stats() Stats
	// Held reports, per source partition, the smallest offset whose effect
	// is still only in open state.
	Held(fn func(topic string, partition int32, minOffset int64))
}

// Releaser is an optional interface of a Pipeline registered in state
// that outlives its job (a temporal join's table, which a process keeps
// across the jobs it runs one per rebalance): Release, called once its
// worker stopped, takes it out, so that its last watermark no longer
// holds that state back.
type Releaser interface {
	Release()
}

// Pender is an optional interface of a Pipeline that may still write rows
// whose event times the watermark passed: a stream-stream join that
// decides its rows with NULLs by the watermarks its records carry
// (join.Pipeline.Pending). Pending reports, per source partition, the
// least event time of such a row; the job commits it with its checkpoint
// (connector.Checkpoint.Pending).
type Pender interface {
	Pending(fn func(topic string, partition int32, minEventTime int64))
}

// selector is a Pipeline that runs a selection of a batch in place
// (exec.Pipeline does). A worker gives it its shares of batches that other
// partitions share; other pipelines get copies of the selected records.
type selector interface {
	// Add is Process over recs[i] for i in sel, in that order, without
	// the output Process leaves for the end of a call.
	Add(recs []record.Record, sel []int32, out Output)
	// Flush emits what the Adds since the last Flush left for the end.
	Flush(out Output)
}

// Program is the compiled query as the job uses it.
type Program interface {
	// InputSchema gives the columns the sources decode.
	InputSchema() *record.Schema
	// OutputSchema gives the columns of output rows.
	OutputSchema() *record.Schema
	// KeySlots are the output slots forming the message key (nil: none).
	KeySlots() []int
	// EventTime returns a record's event time, if it has one. The job
	// stamps it on the record at ingest (EventTime, HasEventTime) unless it
	// equals the record's Timestamp: a pipeline reads an unstamped record's
	// event time from its Timestamp (or computes it again).
	EventTime(r *record.Record) (int64, bool)
	// Windowed reports whether the query has event-time windows: the job
	// then stamps every record with the watermark of its source partition
	// when it was read (record.Record.Watermark), which decides whether the
	// record is late.
	Windowed() bool
	// Ordered reports whether the output order must be kept across partitions.
	Ordered() bool
	// Less orders output rows when Ordered.
	Less(a, b *record.Record) bool
	// Limit returns the LIMIT, if any.
	Limit() (int64, bool)
	// NewPipeline returns fresh per-partition state.
	NewPipeline() Pipeline
}

// execProgram adapts *exec.Program to Program.
type execProgram struct{ *exec.Program }

// Exchanger is implemented by pipelines whose workers hand rows to each
// other (a join's exchange between two stream-stream joins on different
// keys): when Exchanges reports true every worker is finished at the end
// of the input, even one that read nothing, since others send it rows; a
// Finish may wait for the other workers' Finish. The Program then
// implements Aborter, which the job calls when it stops, so that no
// Finish waits for a worker that will not finish.
type Exchanger interface{ Exchanges() bool }

// Aborter is implemented by programs whose pipelines exchange rows (see
// Exchanger).
type Aborter interface{ Abort() }

func exchanges(p Pipeline) bool {
	x, ok := p.(Exchanger)
	return ok && x.Exchanges()
}

// NewPipeline returns a fresh exec pipeline.
func (p execProgram) NewPipeline() Pipeline { return p.Program.NewPipeline() }

// FromExec returns the Program view of a compiled query. The query must
// have been compiled with exec.Options.ExternalWatermark set, so that
// results do not depend on routing.
func FromExec(p *exec.Program) Program { return execProgram{p} }

var (
	_ Pipeline = (*exec.Pipeline)(nil)
	_ selector = (*exec.Pipeline)(nil)
)

// Package connector defines how Sluice reads sources and writes sinks. The
// implementations live in its sub-packages (file, kafka, gen, mem); the job
// coordinator drives them only through these interfaces.
package connector

import (
	"context"
	"time"

	"github.com/sluicesql/sluice/record"
)

// Facts is what a source knows about its own partitioning. The planner uses
// it to decide whether records of one routing key already share a source
// partition.
type Facts struct {
	// Key lists the columns the source is partitioned by; nil when unknown
	// or unpartitioned.
	Key []string
	// Partitions is the number of source partitions; 0 when not yet known.
	Partitions int
	// Origin says where Key comes from: "declared" (WITH '<src>.partition.key'),
	// "observed" (sampled message keys confirmed by the partitioner), or "".
	Origin string
	// Note explains a declared key that was contradicted by the data, if any.
	Note string
}

// DeadLetter is one record that could not be processed, kept with its
// original bytes so that nothing is lost. Its JSON form, the one every
// dead-letter queue writes, is DeadLetterJSON (see DeadLetter.AppendJSON).
//
// Source, Partition and Offset say where the record is in its source, also
// when the job read it through a repartition topic (stage 2 of a statement
// repartitioned across processes): Via then says where in that topic, and
// Raw holds the row stage 1 decoded, as JSON (the topic carries the row,
// not the source's bytes, which are in the source at Partition and Offset).
type DeadLetter struct {
	Source    string    `json:"source"`
	Partition int32     `json:"partition"`
	Offset    int64     `json:"offset"`
	Raw       []byte    `json:"raw"`
	Reason    string    `json:"reason"`
	Time      time.Time `json:"time"`
	// Key is the record's Kafka message key, if it had one; a dead-letter
	// topic keys the entry by it.
	Key []byte `json:"key,omitempty"`
	// Via is, for a record read through a repartition topic, its place
	// there; nil for a record read from its source.
	Via *Place `json:"via,omitempty"`
	// Tombstone marks a Kafka message with no value, which is no record:
	// a table deletes its key with it, and a stream (the job's sources)
	// skips it, counted as filtered, as ksqlDB does; it is not written to
	// the dead-letter queue. A table that cannot apply one clears the mark.
	Tombstone bool `json:"-"`
}

// Place is a record's place in a Kafka topic.
type Place struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// ReadAt returns the partition and offset the job read the dead letter's
// record at: its place in the repartition topic (Via) when it came through
// one, else in its source. The job commits past it by that place.
func (d DeadLetter) ReadAt() (int32, int64) {
	if d.Via != nil {
		return d.Via.Partition, d.Via.Offset
	}
	return d.Partition, d.Offset
}

// Upstream is an optional interface of a Source whose records an upstream
// stage read from sources of its own and passed on (a repartition topic's,
// whose records carry record.Record.HasOrigin): Origin returns the name of
// the source, and its partition, that a record's OriginPartition numbers.
type Upstream interface {
	Origin(partition int32) (source string, sourcePartition int32)
}

// DeadLetters receives dead letters. Implementations are safe for concurrent use.
type DeadLetters interface {
	Add(d DeadLetter)
}

// Positioner is an optional interface of a PartitionReader: Position is
// the offset after the last message the reader has consumed, counting the
// messages it dead-lettered (-1 before any). The job commits past trailing
// dead letters with it, so they are not read and dead-lettered again after
// a restart.
type Positioner interface {
	Position() int64
}

// Watermarker is an optional interface of a PartitionReader whose records
// were read and judged by an upstream stage (a repartition topic's): the
// reader sets each record's Watermark itself, to the watermark of the
// record's own upstream partition before it (or the partition's highest
// watermark before it, when higher), and Watermark returns the
// partition's watermark, which only the upstream stage's reports move (ok
// is false before there is one). The job then neither stamps the records
// nor derives the partition's watermark from their event times, and never
// takes the partition for idle: its upstream partitions are idle or not
// there. Unlike a
// WatermarkCarrier's (one writer partition per reader partition), such a
// partition holds records of many upstream partitions, so its watermark
// is the upstream's minimum, reported apart from the records.
type Watermarker interface {
	Watermark() (wm int64, ok bool)
}

// Backlog is an optional interface of a PartitionReader that knows
// whether its partition holds records it has not handed out yet:
// RecordsWaiting reports true while it does, or while the reader does not
// know its position or the partition's end yet (a Kafka partition before
// its first fetch). The job does not take such a partition for idle,
// however long its reader takes to hand the records out: the watermark
// would pass them, and they would come late.
type Backlog interface {
	RecordsWaiting() bool
}

// Fenced is an optional interface of a PartitionReader whose partition
// resumed from a Checkpoint committed with its offset (a consumer-group
// member given a partition another member, or a run before, read): Fence
// returns that checkpoint's part for the partition, ok false when the
// commit held none. It is known once the reader has returned its first
// records.
type Fenced interface {
	Fence() (f Fence, ok bool)
}

// Fence is the checkpoint one partition resumed from: a record before
// Read whose windows had all fired under Watermark had its effect already;
// one after it is judged late by Watermark at least. When HasStart, Start
// says where the offset it resumed from stands in its records
// (Checkpoint.Starts).
type Fence struct {
	Read, Watermark int64
	Start           Start
	HasStart        bool
}

// Join returns the read offset and watermark of the fence to commit with
// a checkpoint that read up to read under watermark wm, for a partition
// that resumed from f (from none when f.Read is 0): f joined with it. The
// run that wrote f wrote every window that fired under its watermark, and
// each such window had every record it counts before f's read offset (the
// partition's watermark passed the window only after them), so whoever
// resumes skips the records before the later read offset whose windows
// fired under the higher watermark. Committing the new checkpoint alone
// would let a replay count a window again from only its records after the
// commit, when this run had not yet read as far or seen as high a
// watermark as the one before it.
//
// ok is false while the run is behind f, not yet read up to f.Read, with
// a watermark above f's: then it commits nothing, neither offset nor
// fence, and the partition stays at the checkpoint it resumed from, as if
// the run had stopped before that commit (its rows are written again). It
// may have fired a window above f's watermark before replaying a record of
// it that the run before read before f.Read: one late by its own
// watermark, which 'late.data.strategy'='update' adds to the window after
// it fired (to a SESSION window, one that also extends it). The joined
// fence would have the next replay take that window for written whole and
// write nothing of it, leaving this run's row without the record as the
// window's last; f itself, with this run's commit offset (past the windows
// released under its own, higher watermark), would have the next replay
// rebuild those from part of their records and write them again.
func (f Fence) Join(read, wm int64) (joinedRead, joinedWM int64, ok bool) {
	if f.Read <= 0 {
		return read, wm, true
	}
	return max(read, f.Read), max(wm, f.Watermark), read >= f.Read || wm <= f.Watermark
}

// PartitionReader reads one source partition (a Kafka partition or a file
// split) in source order. It is used by one goroutine.
type PartitionReader interface {
	// Partition returns the source partition number.
	Partition() int32
	// Next replaces b.Records with the next decoded records (at most max;
	// after b.Reset, reusing the storage the batch owns) and sets b.Source
	// and b.Partition. A reader that keeps its records decoded in memory may
	// hand them out without copying and set b.Borrowed: the job then only
	// sets their EventTime, HasEventTime, Watermark and Input and never
	// keeps them past the batch's processing. Each record carries its
	// Partition, Offset, Topic, Timestamp and Raw bytes.
	// A record that fails to decode goes to the DeadLetters given to Open and
	// is not returned. Next returns io.EOF when a bounded partition ends and
	// may return fewer records than max (even none) when the input is slow.
	Next(ctx context.Context, b *record.Batch, max int) error
	// Close releases the reader.
	Close() error
}

// Source is one input of a job.
type Source interface {
	// Name returns the source's name in the statement (the FROM name).
	Name() string
	// Facts returns what the source knows about its partitioning.
	Facts() Facts
	// Open starts reading with the given input schema (decoders fill exactly
	// these slots; absent fields are NULL). The source sends a reader for each
	// partition it is assigned and closes the channel when no more will come
	// (at once for files; on shutdown for Kafka). A reader revoked by a
	// rebalance returns io.EOF after its last record.
	Open(ctx context.Context, schema *record.Schema, dlq DeadLetters) (<-chan PartitionReader, error)
	// Commit marks, per source partition, the next offset to read after a
	// restart: every effect of the records before it has reached a flushed sink.
	Commit(ctx context.Context, offsets map[int32]int64) error
	// Close stops the source.
	Close() error
}

// Sink is one output of a job.
type Sink interface {
	// Open prepares the sink for rows of schema; keySlots form the message key.
	Open(ctx context.Context, schema *record.Schema, keySlots []int) error
	// Write takes rows that are valid only during the call.
	Write(ctx context.Context, rows []record.Record) error
	// Flush makes everything written so far durable (flushed, acknowledged).
	Flush(ctx context.Context) error
	// Close flushes and finalises the output of a run that ended normally.
	Close() error
	// Abort ends a failed run without leaving output that looks complete.
	Abort()
}

// Checkpoint is the job's progress stored with a source's committed offsets:
// its watermark when the offsets were committed and, per partition, the
// offset after the last record read by then. After a restart or a
// rebalance, a record before Read whose windows had all fired under
// Watermark already had its effect in the committed output.
type Checkpoint struct {
	Watermark int64
	Read      map[int32]int64
	// Starts holds, per partition whose watermark comes from its own
	// event times, where its committed offset stands in its records (the
	// others have none).
	Starts map[int32]Start
	// Pending holds, per partition whose records left the job rows it
	// may still write with event times the watermark passed (a join's
	// rows with NULLs that its records' watermarks decide), the least of
	// those event times: a reader of the output must not take its
	// watermark past it.
	Pending map[int32]int64
}

// Start tells a replay from a partition's committed offset what the
// records before it were, so that it judges lateness as the run that
// committed it did: the partition's watermark before a record depends on
// every record before it, those that had no effect (dropped by WHERE, late,
// or in windows that fired) too, and a replay that started its watermark
// afresh at the committed offset would take a record for on time that
// was late.
type Start struct {
	// MaxEvent is the highest event time of the records before the
	// committed offset (math.MinInt64: none).
	MaxEvent int64
	// Skip is the offset up to which the records from the committed
	// offset on had their whole effect: a replay reads them only for their
	// event times. A job commits the offset of a batch it read, whose
	// MaxEvent it knows, at or before the one its records' effect ends at.
	Skip int64
}

// Checkpointer is implemented by sources that keep a Checkpoint with their
// committed offsets: the job commits every partition it has read at each
// commit, moved or not, as the checkpoint moves on without it. Exactly-once
// (Config.Transactional) the offsets commit in one transaction with the
// job's output; at least once they do not, and a partition's checkpoint
// reaches the job through its reader (Fenced).
type Checkpointer interface {
	// CommitCheckpoint is Commit that also stores cp; a transactional
	// source commits the transaction that holds everything written since
	// the last commit.
	CommitCheckpoint(ctx context.Context, offsets map[int32]int64, cp Checkpoint) error
	// Restored returns the checkpoint stored with the offsets the source
	// resumed from, once Open has returned (ok false when there is none).
	Restored() (cp Checkpoint, ok bool)
}

// Failer is implemented by sources that can fail while they have no reader
// to report it through (a Kafka source whose brokers stay unreachable). The
// job stops with the failure.
type Failer interface {
	// Failed is closed when the source cannot go on.
	Failed() <-chan struct{}
	// Failure says why, once Failed is closed.
	Failure() error
}

// WriteThrough is an optional interface of a Sink whose Write makes rows
// durable by itself (stdout: once written they are out): the job counts
// them as written when Write returns, not at the next Flush.
type WriteThrough interface {
	WriteThrough() bool
}

// Bounded is an optional interface of a Source: Bounded reports whether
// every partition of the source ends (a file, a generator with a count, a
// Kafka source that stops at the end of its topic). The job never counts a
// partition of a bounded source as idle: it can only be slow, and letting
// the watermark pass it would make late records depend on thread timing.
type Bounded interface {
	Bounded() bool
}

// Sequenced is an optional interface of a Source whose partitions follow
// one another (the splits of its files, in file order): every record of a
// partition comes after every record of a lower one, so a record's
// partition and offset place it among all of the source's records. A table
// read from it keeps the last row of each key in that order, whichever of
// its partitions is read first.
type Sequenced interface {
	Sequenced() bool
}

// AllAtOnce is an optional interface of a Source whose partition readers
// must all be read at once: one loop of the source feeds them all (Kafka's
// poll loop), so a reader left waiting for its turn would stop the loop,
// and every other reader with it, once its queue filled; a reader of an
// unbounded partition would never get its turn. The job reads them all,
// whatever its bound on the partitions it reads at once.
type AllAtOnce interface {
	ReadAllAtOnce() bool
}

// WatermarkCarrier is implemented by sources whose records carry the
// watermark of the job that wrote them (record.Record.Watermark: the
// writer's watermark of the record's source partition when it read the
// record), in the event time the reading job uses: another statement's
// output in one application. The reading job then takes that watermark,
// less its own allowed out-of-orderness, instead of judging from the
// event times it sees, which a filter upstream has thinned out.
type WatermarkCarrier interface {
	CarriesWatermarks() bool
}

// KeyChecker is implemented by sources that check the partition key they
// report in Facts against every record they read. A job whose routing relies
// on that key stops when it is contradicted, since groups may already have
// been split.
type KeyChecker interface {
	// Contradicted is closed when a record contradicts the partition key.
	Contradicted() <-chan struct{}
	// Contradiction says which record and why, once Contradicted is closed.
	Contradiction() error
}

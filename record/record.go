package record

// Header is one Kafka-style record header.
type Header struct {
	Key   string
	Value []byte
}

// Record is one input or output row. Values are addressed by slot: the
// positions are fixed by a Schema when the plan is built, so nothing looks a
// column up by name per record. The remaining fields are the source metadata
// that the system columns read.
type Record struct {
	// Values holds the record's columns by slot.
	Values []Value
	// Timestamp is the processing (or Kafka) time in Unix milliseconds.
	Timestamp int64
	// EventTime is the event time in Unix milliseconds; valid when HasEventTime.
	EventTime int64
	// Watermark is, under a job running an event-time window, the watermark
	// of the record's source partition when the record was read: the
	// highest event time read before it in that partition minus the allowed
	// out-of-orderness (math.MinInt64 before any). A window that closes at or
	// before it does not take the record, which is then late. It depends
	// only on the data, so the late records are the same on every run.
	Watermark int64
	// HasEventTime says whether EventTime is set.
	HasEventTime bool
	// Settled marks a record read again after a rebalance (a repartition
	// topic replayed from its committed offset) whose own outcome in an
	// outer stream-stream join was written before: it was matched, or
	// written with NULLs. The join pairs it again, but never writes it
	// with NULLs.
	Settled bool
	// Replay marks a record read again after a rebalance from before its
	// partition's fence (how far the last commit had read): a run of the
	// job processed it before and wrote its dead letter, if it had one,
	// so it is not dead-lettered again. A Replay record counts as Reread
	// too (MayBeWritten).
	Replay bool
	// Reread marks a record read after a rebalance that a run of the job
	// before it may have processed, writing rows after it: one before the
	// end its partition had when the partition was assigned (the member
	// that had it, killed or revoked, read no further). Past the fence
	// (not Replay) that run's dead letter was not committed, so it is
	// written again (at least once), but a row the run may have written
	// (a session's bounds after the record, a group meeting HAVING, a
	// Top-N rank) is retracted as if written when this run moves on.
	Reread bool
	// HasOrigin says that OriginPartition and OriginOffset are set.
	HasOrigin bool
	// Retract marks a result row that withdraws its key's earlier row
	// (under EMIT CHANGES, a group that no longer meets HAVING): its key
	// and window columns hold the group's, its aggregates are NULL. A
	// keyed Kafka sink writes it as a tombstone (a message with no value).
	Retract bool
	// Input is the index, among the job's sources (job.Config.Sources),
	// of the source the record was read from: the job sets it as it
	// routes the record, and a row made from the record (a joined row,
	// one written with NULLs) keeps it, so that its dead letter names the
	// stream its bytes and place are in, whichever batch the worker has
	// in hand when the row fails.
	Input uint16
	// WindowStart is, on a result row of a windowed aggregate, the start
	// of its window in Unix milliseconds; the window ends at EventTime+1
	// (the row's event time is the window's last millisecond).
	WindowStart int64
	// Partition is the source partition (a Kafka partition or a file split); -1 if unknown.
	Partition int32
	// OriginPartition and OriginOffset are, on a record read through a
	// repartition topic (stage 2 of a repartitioned statement), its
	// partition and offset in its source (HasOrigin): Partition and
	// Offset are the topic's. On a joined row read through an exchange
	// topic (stage 3) they are those of the record whose arrival in stage
	// 2 made it, or of the row's own record for a row with NULLs. See
	// SourcePosition.
	OriginPartition int32
	// Offset is the record's position within its source partition.
	Offset int64
	// OriginOffset: see OriginPartition.
	OriginOffset int64
	// Sub is, on a joined row that stage 2 writes to an exchange topic
	// (exec/join Program.WriteRows), the second part of its identity
	// after Offset: the offset of the record it met, or, for a row with
	// NULLs, its own offset past the rows decided before it.
	Sub int64
	// Topic names the Kafka topic or file the record came from.
	Topic string
	// Key is the Kafka message key, if any.
	Key []byte
	// Headers are the Kafka message headers, if any.
	Headers []Header
	// Raw is the record's original bytes, kept for the dead-letter queue.
	Raw []byte
}

// SourcePosition returns the record's partition and offset in its source:
// its origin when it was read through a repartition topic, else Partition
// and Offset.
func (r *Record) SourcePosition() (partition int32, offset int64) {
	if r.HasOrigin {
		return r.OriginPartition, r.OriginOffset
	}
	return r.Partition, r.Offset
}

// MayBeWritten reports whether a run of the job before a rebalance may
// have written rows after r (Replay or Reread): a row that r leaves with
// other contents is then retracted as if written.
func (r *Record) MayBeWritten() bool { return r.Replay || r.Reread }

// Batch is a run of records from one source partition, in source order.
type Batch struct {
	// Source names the source (the FROM name) the records came from.
	Source string
	// Partition is the source partition all records share.
	Partition int32
	// Records are the batch's records in source order.
	Records []Record
	// Borrowed reports that Records point into storage the batch does not
	// own (a source's own decoded records, handed out without copying).
	// Such records are read-only, and whoever refills the batch calls Reset,
	// which drops that storage instead of writing into it.
	Borrowed bool
}

// Reset empties the batch for refilling: it keeps the record storage the
// batch owns and drops borrowed storage.
func (b *Batch) Reset() {
	if b.Borrowed {
		b.Records, b.Borrowed = nil, false
		return
	}
	b.Records = b.Records[:0]
}

// Extend returns recs one record longer. Within its capacity the new last
// record is the one the slot held before (a refilled batch's earlier
// record), whose Values storage the caller may reuse and must overwrite;
// at capacity it is a zero Record.
func Extend(recs []Record) []Record {
	if len(recs) < cap(recs) {
		return recs[:len(recs)+1]
	}
	return append(recs, Record{})
}

package job

import (
	"cmp"
	"time"
)

// PartitionStats are one partition worker's counters. In == Accepted +
// Filtered + Limited + DeadLettered + LateDropped.
type PartitionStats struct {
	In, Accepted, Filtered, DeadLettered, LateDropped int64
	// Limited counts the records read after a LIMIT on rows (without
	// ORDER BY or grouping) was reached: counted, not output.
	Limited int64
	// Late counts the late records, dropped (LateDropped) or dead-lettered
	// (part of DeadLettered).
	Late int64
	// Out counts the rows the partition's pipeline emitted.
	Out int64
	// RowErrors counts output rows that failed to evaluate and were
	// dead-lettered (they are not input records).
	RowErrors int64
	// Busy is the time the worker spent processing.
	Busy time.Duration
	// QueueDepth is the number of batches waiting in the partition's queue
	// now; MaxQueueDepth the most seen (at most QueueCap).
	QueueDepth, MaxQueueDepth, QueueCap int
	// BackpressureWaits counts the batches an ingest goroutine could not
	// hand over at once because the partition's queue was full;
	// BackpressureWait is the total time spent waiting for room.
	BackpressureWaits int64
	BackpressureWait  time.Duration
}

// Summary describes a run, or a running job at one moment.
type Summary struct {
	// Strategy names the partitioning strategy.
	Strategy string
	// Partitions holds each partition's counters; Total their sum plus the
	// records dead-lettered by the sources (which no partition saw).
	Partitions []PartitionStats
	Total      PartitionStats
	// SourceDeadLettered counts records that failed to decode, per source.
	SourceDeadLettered map[string]int64
	// SourceSkipped counts the records a source read that are no row, per
	// source: a stream's Kafka messages with no value (tombstones), which
	// ksqlDB skips too. They count in Total.In and Total.Filtered.
	SourceSkipped map[string]int64
	// RowsWritten counts the rows the sinks made durable (after LIMIT):
	// written, then flushed or acknowledged by the broker. Rows written
	// after the last successful flush do not count.
	RowsWritten int64
	// Skew is the largest partition's records in divided by the mean (1 when even).
	Skew float64
	// Watermark is the job's event-time watermark in Unix milliseconds
	// (math.MinInt64 before any); WatermarkLag is how far it trails the
	// highest event time read.
	Watermark    int64
	WatermarkLag time.Duration
	// DeadLetters counts every dead-lettered record; DLQPath names the
	// dead-letter file when the job wrote one, DLQTopic the Kafka
	// dead-letter topic (a DLQ that is a TopicNamer) when it got entries.
	DeadLetters int64
	DLQPath     string
	DLQTopic    string
	// Committed holds the last committed offset per source and partition.
	Committed map[string]map[int32]int64
	// Elapsed is the run's duration so far.
	Elapsed time.Duration
	// Interrupted is set when the run was stopped by cancelling its context.
	Interrupted bool
	// Failed is set when the run stopped on an error (Run returned it).
	Failed bool
}

// summary assembles the run's Summary from the live counters.
func (r *run) summary(interrupted bool) *Summary {
	s := &Summary{Strategy: r.cfg.Strategy.Name(), SourceDeadLettered: map[string]int64{}, SourceSkipped: map[string]int64{},
		RowsWritten: r.written.Load(), Watermark: r.wm.Load(), DeadLetters: r.dlq.total.Load(),
		Committed: map[string]map[int32]int64{}, Elapsed: time.Since(r.start), Interrupted: interrupted}
	var maxIn int64
	for _, w := range r.workers {
		p := PartitionStats{In: w.in64.Load(), Accepted: w.accepted.Load(), Filtered: w.filtered.Load(), Limited: w.limited.Load(),
			DeadLettered: w.deadLettered.Load(), LateDropped: w.lateDropped.Load(), Late: w.late.Load(), Out: w.out.Load(),
			RowErrors: w.rowErrors.Load(),
			Busy:      time.Duration(w.busy.Load()), QueueDepth: len(w.in), MaxQueueDepth: int(w.maxDepth.Load()),
			QueueCap: cap(w.in), BackpressureWaits: w.waits.Load(), BackpressureWait: time.Duration(w.waited.Load())}
		s.Partitions = append(s.Partitions, p)
		s.Total.add(p)
		maxIn = max(maxIn, p.In)
	}
	for i, sd := range r.srcDLQ {
		n := sd.count.Load()
		s.SourceDeadLettered[r.cfg.Sources[i].Name()] += n
		s.Total.In += n
		s.Total.DeadLettered += n
		if n := sd.skipped.Load(); n > 0 {
			s.SourceSkipped[r.cfg.Sources[i].Name()] += n
			s.Total.In += n
			s.Total.Filtered += n
		}
	}
	if mean := float64(s.Total.In-s.sourceOnly()) / float64(len(r.workers)); mean > 0 {
		s.Skew = float64(maxIn) / mean
	}
	if hi := highestEvent(r.sourcePartitions()); hi != noWatermark && s.Watermark != noWatermark {
		s.WatermarkLag = time.Duration(hi-s.Watermark) * time.Millisecond
	}
	if f, ok := r.cfg.DLQ.(*FileDLQ); ok && f.Count() > 0 {
		// the job's own file, or one it shares (the stages of a
		// repartitioned statement)
		s.DLQPath = f.Path()
	}
	if t, ok := r.cfg.DLQ.(TopicNamer); ok && s.DeadLetters > 0 {
		s.DLQTopic = t.Topic()
	}
	r.commitMu.Lock()
	for name, m := range r.committed {
		c := map[int32]int64{}
		for p, o := range m {
			c[p] = o
		}
		s.Committed[name] = c
	}
	r.commitMu.Unlock()
	return s
}

// add sums p into t (queue depths add up; the maximum takes the largest).
func (t *PartitionStats) add(p PartitionStats) {
	t.In += p.In
	t.Accepted += p.Accepted
	t.Filtered += p.Filtered
	t.Limited += p.Limited
	t.DeadLettered += p.DeadLettered
	t.LateDropped += p.LateDropped
	t.Late += p.Late
	t.Out += p.Out
	t.RowErrors += p.RowErrors
	t.Busy += p.Busy
	t.QueueDepth += p.QueueDepth
	t.MaxQueueDepth = max(t.MaxQueueDepth, p.MaxQueueDepth)
	t.QueueCap += p.QueueCap
	t.BackpressureWaits += p.BackpressureWaits
	t.BackpressureWait += p.BackpressureWait
}

// Add adds the counts of an earlier run of the same job to s (a
// repartitioned statement's stage 2 runs one generation after another,
// each rebalance starting the next): records and rows of each partition
// and in total, rows written and dead letters sum, and the commits of
// partitions s did not commit are kept; the rest (queue depths, the
// watermark, the elapsed time) stays s's.
func (s *Summary) Add(earlier *Summary) {
	if earlier == nil {
		return
	}
	for i := range min(len(s.Partitions), len(earlier.Partitions)) {
		s.Partitions[i].addCounts(earlier.Partitions[i])
	}
	s.Total.addCounts(earlier.Total)
	s.SourceDeadLettered = addCounts(s.SourceDeadLettered, earlier.SourceDeadLettered)
	s.SourceSkipped = addCounts(s.SourceSkipped, earlier.SourceSkipped)
	s.RowsWritten += earlier.RowsWritten
	s.DeadLetters += earlier.DeadLetters
	s.DLQPath = cmp.Or(s.DLQPath, earlier.DLQPath)
	s.DLQTopic = cmp.Or(s.DLQTopic, earlier.DLQTopic)
	for name, m := range earlier.Committed {
		if s.Committed == nil {
			s.Committed = map[string]map[int32]int64{}
		}
		if s.Committed[name] == nil {
			s.Committed[name] = map[int32]int64{}
		}
		for p, o := range m {
			if _, ok := s.Committed[name][p]; !ok {
				s.Committed[name][p] = o
			}
		}
	}
	var maxIn int64
	for _, p := range s.Partitions {
		maxIn = max(maxIn, p.In)
	}
	s.Skew = 0
	if mean := float64(s.Total.In-s.sourceOnly()) / float64(len(s.Partitions)); len(s.Partitions) > 0 && mean > 0 {
		s.Skew = float64(maxIn) / mean
	}
}

// addCounts adds p's counters to t, keeping t's queue depth and capacity
// (p is an earlier run's).
func (t *PartitionStats) addCounts(p PartitionStats) {
	depth, capacity := t.QueueDepth, t.QueueCap
	t.add(p)
	t.QueueDepth, t.QueueCap = depth, capacity
}

// addCounts adds the counts of earlier to m, by name, and returns m.
func addCounts(m, earlier map[string]int64) map[string]int64 {
	for name, n := range earlier {
		if m == nil {
			m = map[string]int64{}
		}
		m[name] += n
	}
	return m
}

// sourceOnly returns the records of Total.In that no partition saw: the
// sources' dead letters and skipped records.
func (s *Summary) sourceOnly() int64 {
	return sumValues(s.SourceDeadLettered) + sumValues(s.SourceSkipped)
}

func sumValues(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// Package job runs one statement: it reads every source partition in
// parallel, routes each decoded batch with the partitioning strategy to N
// partition workers over bounded queues, runs one pipeline per worker, and
// writes the results to the sinks. It tracks watermarks per source
// partition, commits source offsets only for records whose every effect has
// reached a flushed sink, and sends failing records to a dead-letter queue.
package job

import (
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"time"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/partition"
)

// Defaults for the zero values of Config.
const (
	DefaultBatchSize      = 1024
	DefaultLinger         = 5 * time.Millisecond
	DefaultCommitInterval = 5 * time.Second
	DefaultIdleTimeout    = 30 * time.Second
	DefaultDrainTimeout   = 30 * time.Second
	DefaultQueueSize      = 8
	DefaultReaders        = 64
	DefaultJobName        = "sluice"
)

// Config describes one job.
type Config struct {
	// Name names the job; the default dead-letter file is DefaultDLQPath(Name).
	Name string
	// Program is the compiled query.
	Program Program
	// Strategy routes records to partitions; Routing is its context (key
	// function, source facts). Routing.Partitions is set from Partitions.
	Strategy partition.Strategy
	Routing  partition.Context
	// Partitions is the number of workers (default 1).
	Partitions int
	// BatchSize is the number of records per hand-over (default 1024).
	BatchSize int
	// Linger is how long a partly filled batch may wait before it is handed
	// over anyway (default 5ms).
	Linger time.Duration
	// QueueSize is the capacity, in batches, of each worker's queue (default 8).
	QueueSize int
	// Readers bounds the number of source partitions read at once (default
	// 64), except those of a source that has them all read at once
	// (connector.AllAtOnce: Kafka's).
	Readers int
	// CommitInterval is the period of offset commits (default 5s; negative:
	// commit only at the end).
	CommitInterval time.Duration
	// CommitOnEnd commits as soon as a source partition ends, besides
	// every CommitInterval: a job whose commits another job waits for
	// (stage 1 of a repartitioned statement, whose stage 2 finishes a
	// bounded run only at stage 1's commits of the source's end).
	CommitOnEnd bool
	// Transactional: the sources commit in the transaction that holds the
	// output written since their last commit (exactly-once), so a commit's
	// transaction must hold exactly the rows emitted before its barrier:
	// rows a worker emits after passing it wait until it is committed.
	Transactional bool
	// DrainTimeout bounds how long a stopping job (cancelled, failed or at
	// its LIMIT) may take to drain what is in flight: then the sinks'
	// context is cancelled, so a sink blocked on a stalled reader or an
	// unreachable broker gives up, and the job fails (default 30s).
	DrainTimeout time.Duration
	// IdleTimeout is how long a source partition may go without data before
	// it stops holding the watermark back (default 30s).
	IdleTimeout time.Duration
	// MaxOutOfOrder is subtracted from a source partition's highest event
	// time to give its watermark.
	MaxOutOfOrder time.Duration
	// StampWatermarks stamps every record with its source partition's
	// watermark (record.Record.Watermark) even when the program has no
	// event-time window: the job's output carries it to a job reading it
	// (connector.WatermarkCarrier).
	StampWatermarks bool
	// Sources and Sinks are the job's inputs and outputs.
	Sources []connector.Source
	Sinks   []connector.Sink
	// DLQ receives dead letters; nil means a FileDLQ at DLQPath. A DLQ that
	// implements Flusher is flushed before every offset commit; one given
	// here is closed by the caller after Run.
	DLQ connector.DeadLetters
	// DLQPath is the default dead-letter file (default DefaultDLQPath(Name)).
	DLQPath string
	// MaxErrors stops the job once more than this many records were
	// dead-lettered, when LimitErrors is set (0 then stops it at the first).
	MaxErrors int64
	// LimitErrors applies MaxErrors ('dlq.max_errors' given); without it
	// any number of records may be dead-lettered.
	LimitErrors bool
	// Progress, when set, is called with a snapshot of the running job's
	// counters every ProgressInterval (default 1s), from one goroutine.
	Progress         func(*Summary)
	ProgressInterval time.Duration
	// OnBatch, when set, is called by the partition's worker goroutine after it
	// processed a batch of records, with the time that took. It must be
	// fast and safe for concurrent use (workers call it in parallel).
	OnBatch func(partition, records int, d time.Duration)
	// OnOpen, when set, is called once every sink is open (a Kafka sink's
	// topic exists, its schema is registered), before any record is read.
	OnOpen func()
}

// DefaultDLQDir is the directory of the default dead-letter files, relative
// to the working directory: hidden and two levels down, so that no glob a
// source is likely to read (*.jsonl, data/*, */*.jsonl) matches them.
const DefaultDLQDir = ".sluice/dlq"

// DefaultDLQPath returns the default dead-letter file of the job called
// name: .sluice/dlq/<name>.dlq.jsonl.
func DefaultDLQPath(name string) string {
	return filepath.Join(DefaultDLQDir, name+".dlq.jsonl")
}

// withDefaults returns c with its zero values filled in, or an error for an
// unusable configuration.
func (c Config) withDefaults() (Config, error) {
	if c.Program == nil {
		return c, fmt.Errorf("job: no program")
	}
	if c.Strategy == nil {
		return c, fmt.Errorf("job: no partitioning strategy")
	}
	if len(c.Sources) == 0 {
		return c, fmt.Errorf("job: no source")
	}
	if len(c.Sources) > math.MaxUint16+1 {
		// a record names its source by a 16-bit index (record.Record.Input)
		return c, fmt.Errorf("job: %d sources, more than %d", len(c.Sources), math.MaxUint16+1)
	}
	if c.Partitions < 0 || c.BatchSize < 0 || c.QueueSize < 0 || c.Readers < 0 || c.MaxErrors < 0 {
		return c, fmt.Errorf("job: negative partitions, batch size, queue size, readers or max errors")
	}
	if c.Name == "" {
		c.Name = DefaultJobName
	}
	if c.Partitions == 0 {
		c.Partitions = 1
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.Linger <= 0 {
		c.Linger = DefaultLinger
	}
	if c.QueueSize == 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.Readers == 0 {
		c.Readers = DefaultReaders
	}
	if c.CommitInterval == 0 {
		c.CommitInterval = DefaultCommitInterval
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = DefaultDrainTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.ProgressInterval <= 0 {
		c.ProgressInterval = time.Second
	}
	if c.DLQPath == "" {
		c.DLQPath = DefaultDLQPath(c.Name)
	}
	c.Routing.Partitions = c.Partitions
	if c.Routing.CPUs == 0 {
		c.Routing.CPUs = runtime.NumCPU()
	}
	return c, nil
}

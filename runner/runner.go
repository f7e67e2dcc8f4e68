// Package runner turns a parsed statement and its WITH properties into a
// runnable job: it opens the sources and sinks the statement names, asks the
// planner for the partitioning, compiles the query and configures the
// coordinator.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/file"
	"github.com/sluicesql/sluice/connector/gen"
	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/connector/stdout"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/job"
	"github.com/sluicesql/sluice/plan"
	"github.com/sluicesql/sluice/sql"
)

// Options configure how statements become jobs.
type Options struct {
	// Strategy is the --strategy flag ("" for none).
	Strategy string
	// Partitions is the --partitions flag (0 for none).
	Partitions int
	// Set holds --set key=value overrides of WITH properties.
	Set map[string]string
	// UntilEnd makes Kafka sources stop at the end of what exists at start.
	UntilEnd bool
	// Stdout receives the rows of a statement with no sink (default os.Stdout).
	Stdout io.Writer
	// Env looks up ${VAR} references (default os.LookupEnv).
	Env func(string) (string, bool)
	// Progress, when set, is called with a snapshot of the running job every
	// ProgressInterval (default 1s).
	Progress         func(*job.Summary)
	ProgressInterval time.Duration
	// KafkaOpts, when set, returns extra options for the Kafka clients a
	// job reads and writes with: client is "source:<name>" for a source's
	// consumer, "sink:<name>" for a sink's producer, "dlq:<topic>" for the
	// dead-letter topic's producer, and job the job's name.
	// It suits metrics hooks (kgo.WithHooks).
	KafkaOpts func(job, client string) []kgo.Opt
	// JobName, when set, names the job instead of its target or source.
	JobName string
	// KeepOrder: another statement reads this one's rows in order (see
	// plan.Options.KeepOrder).
	KeepOrder bool
	// CarryWatermarks stamps every row the job writes with its watermark,
	// for the statements reading its rows in process (job.Config.StampWatermarks).
	CarryWatermarks bool
	// InProcess, when set, connects the statement to the other statements
	// of its application (see package app).
	InProcess InProcess
	// Catalog holds the sources the file declares with DDL; nil for none.
	Catalog *Catalog
	// NoInfer skips inferring an undeclared source's schema from a sample.
	NoInfer bool
	// Streams are, for Check, the other statements' outputs the statement
	// reads (in process, or through a topic or file that does not exist
	// before they run), by lower-cased name.
	Streams map[string]Stream
	// Schemas, when set, remembers the schemas found (inferred) for
	// sources across Check and Prepare.
	Schemas *Schemas
}

// Stream is another statement's output that a statement reads.
type Stream struct {
	// Schema is the writing statement's output schema.
	Schema connector.Schema
	// Bounded: the writing statement's input ends.
	Bounded bool
}

// InProcess connects the statements of one application in process.
type InProcess interface {
	// Source returns the in-process source called name with the writing
	// statement's output schema (typed columns, and the primary key when it
	// writes a keyed table), or nil when name is not one.
	Source(name string) (connector.Source, connector.Schema)
	// Sink returns the in-process sink called name, or nil.
	Sink(name string) connector.Sink
	// Gate wraps the job's source so that its commits wait for the jobs
	// reading this one's in-process output, or returns it as it is.
	Gate(src connector.Source) connector.Source
}

// ConfigError is an error in a statement or its options (SQL, WITH
// properties, flags): the user's to fix. Prepare returns every other error
// (a broker that cannot be reached) unwrapped.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *ConfigError) Unwrap() error { return e.Err }

// UsersToFix reports whether err is the user's to fix: an error in the
// statement or its options (ConfigError, sql.PropertyError), credentials
// or certificates a Kafka cluster refuses (kafka.AuthError), a source
// topic it does not have (kafka.UnknownTopicError). Any other error is a
// runtime failure, such as brokers that cannot be reached.
func UsersToFix(err error) bool {
	var ce *ConfigError
	var ae *kafka.AuthError
	var ute *kafka.UnknownTopicError
	var pe *sql.PropertyError // an option found wrong only when used
	return errors.As(err, &ce) || errors.As(err, &ae) || errors.As(err, &ute) || errors.As(err, &pe)
}

// configErr wraps a non-nil err as a ConfigError.
func configErr(err error) error {
	if err == nil {
		return nil
	}
	return &ConfigError{Err: err}
}

// Job is one statement ready to run.
type Job struct {
	// Name is the job's name: the statement's target, else its source.
	Name string
	// Plan is the planner's decision; Program the compiled query.
	Plan    *plan.Plan
	Program *exec.Program
	// Props are the statement's WITH properties after overrides and expansion.
	Props map[string]string
	// Source names the statement's FROM source; Sink its target ("" for stdout).
	Source, Sink string
	// WritesStdout is set when the rows go to the Options.Stdout writer.
	WritesStdout bool
	// Facts are the source's partitioning facts the plan was made with.
	Facts connector.Facts
	// Schema is the source's schema and where it comes from; its primary
	// key makes the source a table.
	Schema connector.Schema
	src    connector.Source
	// inputs are the statement's sources, FROM first, then each JOIN's
	// (a table or another stream); only src when it joins nothing
	inputs []connector.Source
	dlq    *kafka.DeadLetterQueue // the 'dlq.topic' queue, closed after Run
	config job.Config
	// closers end what the job's inputs keep running (a join's tables) after Run
	closers []func() error
	// stages, when set, are the two stages of a statement repartitioned
	// through a topic (Plan.Repartition), which Run runs instead of config
	stages *twoStages
	// restarts, when set, runs config once per group assignment (an
	// aligned consumer-group member: replayAligned)
	restarts *restarting
}

// Source and sink types accepted in '<name>.type'.
var (
	sourceTypes = []string{"kafka_source", "file_source", "generator"}
	sinkTypes   = []string{"kafka_sink", "file_sink", "stdout"}
)

// Prepare opens the statement's sources and sinks, plans and compiles it.
// On error everything opened is closed again. Errors in the statement or
// its properties are *ConfigError; a failure to reach a source is not.
func Prepare(ctx context.Context, stmt *sql.Statement, opts Options) (j *Job, err error) {
	if isJoin(stmt) {
		return prepareJoin(ctx, stmt, opts)
	}
	c, err := check(ctx, stmt, opts)
	if err != nil {
		return nil, err
	}
	name, srcName, props, src, schema, prog, kafkaOpts := c.name, c.srcName, c.props, c.src, c.schema, c.prog, c.kafkaOpts
	var sink connector.Sink
	var dlq *kafka.DeadLetterQueue
	defer func() {
		if err != nil {
			src.Close()
			if sink != nil {
				sink.Abort()
			}
			if dlq != nil {
				dlq.Close()
			}
		}
	}()
	facts := src.Facts()
	if ks, ok := src.(*kafka.Source); ok {
		if facts, err = ks.CheckFacts(ctx, prog.InputSchema().Names()); err != nil {
			return nil, fmt.Errorf("source %q: %w", srcName, err)
		}
	}
	p, err := c.build(stmt, opts, facts)
	if err != nil {
		return nil, err
	}
	if p, err = c.stickyRepartition(ctx, stmt, opts, p, facts); err != nil {
		return nil, err
	}
	guardScaleOut(p, src)
	runSrc, gen := replayAligned(p, prog, src, restartsAtLeastOnce(props))
	cfg, err := job.FromPlan(p, prog, props)
	if err != nil {
		return nil, c.errorAt(err, stmt)
	}
	var stdoutSink bool
	if sink, stdoutSink, err = c.sink(stmt, opts); err != nil {
		return nil, err
	}
	if ks, ok := sink.(*kafka.Sink); ok {
		ks.SetDefaultPartitions(facts.Partitions)
		if prog.WindowedRows() {
			ks.KeyByWindow()
		}
	}
	if dlq, err = openDLQ(ctx, props, src, sink, facts.Partitions, kafkaOpts); err != nil {
		return nil, err
	}
	if dlq != nil {
		cfg.DLQ = dlq
	}
	cfg.Name = name
	cfg.Sources = []connector.Source{runSrc}
	if opts.InProcess != nil {
		cfg.Sources[0] = opts.InProcess.Gate(runSrc)
	}
	cfg.Sinks = []connector.Sink{sink}
	if g, err := guarantee(props); err != nil {
		return nil, configErr(err)
	} else if g == ExactlyOnce {
		// a repartitioned statement's stage 2 is transactional (twoStages.exactlyOnce)
		if err := exactlyOnce(&cfg, src, sink, dlq, prog, lookup(props, stmt.Name+".type"), p.Repartition == nil); err != nil {
			return nil, configErr(err)
		}
	}
	cfg.Progress, cfg.ProgressInterval = opts.Progress, opts.ProgressInterval
	cfg.StampWatermarks = opts.CarryWatermarks
	sinkName := stmt.Name
	if stdoutSink {
		sinkName = ""
	}
	var restarts *restarting
	if gen != nil {
		restarts = restartPerAssignment(&cfg, gen, src.(*kafka.Source))
	}
	j = &Job{Name: name, Plan: p, Program: prog, Props: props, Source: srcName, Sink: sinkName,
		WritesStdout: stdoutSink, Facts: facts, Schema: schema, src: src, inputs: []connector.Source{src}, dlq: dlq, config: cfg, restarts: restarts}
	if ks, ok := src.(*kafka.Source); ok && p.Repartition != nil {
		if err := c.repartition(ctx, stmt, opts, j, ks); err != nil {
			return nil, err
		}
	}
	return j, nil
}

// FactsNote says why the source's partition key is not trusted (the data
// contradicted it, before planning or while running), or "" when it is.
func (j *Job) FactsNote() string {
	if ks, ok := j.src.(*kafka.Source); ok {
		if err := ks.Contradiction(); err != nil {
			return err.Error()
		}
	}
	return j.Facts.Note
}

// Bounded reports whether every input of the job ends (connector.Bounded).
func (j *Job) Bounded() bool {
	for _, s := range j.config.Sources {
		if b, ok := s.(connector.Bounded); !ok || !b.Bounded() {
			return false
		}
	}
	return true
}

// KafkaSources returns the job's Kafka sources, for their consumer lag
// and health: the FROM source and every joined one (a table, another
// stream), one per source name (a self-join reads its topic twice), in
// the statement's order; none when it reads no Kafka topic.
func (j *Job) KafkaSources() []*kafka.Source {
	var out []*kafka.Source
	seen := map[string]bool{}
	for _, src := range j.inputs {
		if ks, ok := src.(*kafka.Source); ok && !seen[ks.Name()] {
			seen[ks.Name()] = true
			out = append(out, ks)
		}
	}
	return out
}

// Status describes the state of the job's sources worth showing beside its
// progress (brokers that do not answer, and how long they are retried), or
// "" when there is none.
func (j *Job) Status() string {
	var out []string
	for _, ks := range j.KafkaSources() {
		if st := ks.Status(); st != "" {
			out = append(out, st)
		}
	}
	return strings.Join(out, "; ")
}

// InputProgress reports how much of a bounded input of known size (a file
// source) has been read, in bytes, and its total; ok is false for other
// sources.
func (j *Job) InputProgress() (read, total int64, ok bool) {
	if fs, isFile := j.src.(*file.Source); isFile {
		read, total = fs.Progress()
		return read, total, true
	}
	return 0, 0, false
}

// SetOnBatch sets the function the job's workers call after each batch
// (job.Config.OnBatch; with two stages, those of stage 2, which runs the
// statement); call it before Run.
func (j *Job) SetOnBatch(f func(partition, records int, d time.Duration)) {
	if j.stages != nil {
		j.stages.last().OnBatch = f
		return
	}
	j.config.OnBatch = f
}

// SetOnOpen sets the function called once the job's sinks are open
// (job.Config.OnOpen; with two stages, those of stage 2, at each of its
// generations); call it before Run.
func (j *Job) SetOnOpen(f func()) {
	if j.stages != nil {
		j.stages.last().OnOpen = f
		return
	}
	j.config.OnOpen = f
}

// Run runs the job until its bounded input ends or ctx is cancelled, then
// closes its dead-letter topic's producer: flushing it after a run that
// ended, for a few seconds at most after one that failed or was stopped
// (kafka.DeadLetterQueue.Stop).
func (j *Job) Run(ctx context.Context) (*job.Summary, error) {
	var sum *job.Summary
	var err error
	switch {
	case j.stages != nil:
		sum, err = j.stages.run(ctx)
	case j.restarts != nil:
		sum, err = j.restarts.run(ctx, j.config)
	default:
		sum, err = job.Run(ctx, j.config)
	}
	for _, c := range j.closers {
		if cerr := c(); cerr != nil && err == nil {
			err = cerr
		}
	}
	switch {
	case j.dlq == nil:
	case err != nil || ctx.Err() != nil:
		// failed or stopped: what the last commit covers is flushed
		if cerr := j.dlq.Stop(); cerr != nil && err == nil {
			err = cerr
		}
	default:
		if cerr := j.dlq.Close(); cerr != nil {
			err = cerr
		}
	}
	return sum, err
}

// Discard releases a prepared job that will not run: it closes its
// sources and dead-letter producer and aborts its sinks.
func (j *Job) Discard() {
	for _, s := range j.config.Sources {
		s.Close()
	}
	if j.restarts != nil {
		j.restarts.src.Close() // its generations' source does not close it
	}
	for _, s := range j.config.Sinks {
		s.Abort()
	}
	if j.dlq != nil {
		j.dlq.Close()
	}
}

// openSource opens the source name declared by '<name>.type', and returns
// the columns it is known to have (nil when only the data can tell).
// kafkaOpts gives a Kafka source's client options; a file source never
// reads the files in written.
func openSource(name string, props map[string]string, untilEnd bool, kafkaOpts func(client string) []kgo.Opt, written []string) (connector.Source, []string, error) {
	switch typ := lookup(props, name+".type"); typ {
	case "kafka_source":
		if untilEnd {
			props[name+".stop.at"] = "end"
		}
		s, err := kafka.NewSource(name, props, kafkaOpts("source:"+name)...)
		return s, nil, err
	case "file_source":
		s, err := file.NewSource(name, props, written...)
		return s, nil, err
	case "generator":
		s, err := gen.NewSource(name, props)
		if err != nil {
			return nil, nil, err
		}
		cols, err := gen.Columns(lookup(props, name+".generator"))
		return s, cols, err
	default:
		return nil, nil, checkType(name, typ)
	}
}

// writtenFiles lists the files the job called jobName writes: its file sink
// (the statement's target) and its dead-letter file.
func writtenFiles(target, jobName string, props map[string]string) []string {
	var files []string
	if target != "" && props[target+".type"] == "file_sink" && props[target+".path"] != "" {
		files = append(files, props[target+".path"])
	}
	switch {
	case strings.TrimSpace(props[job.PropDLQTopic]) != "":
	case strings.TrimSpace(props[job.PropDLQPath]) != "":
		files = append(files, strings.TrimSpace(props[job.PropDLQPath]))
	default:
		files = append(files, job.DefaultDLQPath(jobName))
	}
	return files
}

// writesStdout reports whether the statement's rows go to stdout: it has
// no target, or its target has no type or the type stdout.
func writesStdout(name string, props map[string]string) bool {
	typ := lookup(props, name+".type")
	return name == "" || typ == "" || typ == "stdout"
}

// openSink opens the sink of the statement's target; a statement with no
// target, or a target with no type, writes JSON lines to stdout. A file
// sink's directory is created if it does not exist. kafkaOpts gives a Kafka
// sink's client options.
func openSink(name string, props map[string]string, w io.Writer, kafkaOpts func(client string) []kgo.Opt) (connector.Sink, error) {
	if w == nil {
		w = os.Stdout
	}
	if writesStdout(name, props) {
		return stdout.New(w), nil
	}
	switch typ := lookup(props, name+".type"); typ {
	case "file_sink":
		if path := props[name+".path"]; path != "" {
			if err := os.MkdirAll(filepath.Dir(filepath.Clean(path)), 0o777); err != nil { // the umask applies
				return nil, fmt.Errorf("file sink %q: %w", name, err)
			}
		}
		return file.NewSink(name, props)
	case "kafka_sink":
		return kafka.NewSink(name, props, kafkaOpts("sink:"+name)...)
	default:
		return nil, badType(name, typ, "sink", sinkTypes)
	}
}

// Package runner turns a parsed statement and its WITH properties into a
// runnable job: it opens the sources and sinks the statement names, asks the
// planner for the partitioning, compiles the query and configures the
// coordinator.
package runner

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/file"
	"github.com/sluicesql/sluice/connector/gen"
	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/connector/stdout"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/job"
	"github.com/sluicesql/sluice/partition"
	"github.com/sluicesql/sluice/plan"
	"github.com/sluicesql/sluice/record"
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
	// Progress, when set, is called with a snapshot of the running job about
	// once a second.
	Progress func(*job.Summary)
}

// Job is one statement ready to run.
type Job struct {
	// Name is the job's name: the statement's target, else its source.
	Name string
	// Plan is the planner's decision; Program the compiled query.
	Plan    *plan.Plan
	Program *exec.Program
	// Props are the statement's WITH properties after overrides and expansion.
	Props  map[string]string
	config job.Config
}

// Source and sink types accepted in '<name>.type'.
var (
	sourceTypes = []string{"kafka_source", "file_source", "generator"}
	sinkTypes   = []string{"kafka_sink", "file_sink", "stdout"}
)

// Prepare opens the statement's sources and sinks, plans and compiles it.
// On error everything opened is closed again.
func Prepare(ctx context.Context, stmt *sql.Statement, opts Options) (j *Job, err error) {
	sel := stmt.Select()
	props, err := Properties(sel, opts.Set, opts.Env)
	if err != nil {
		return nil, err
	}
	if len(sel.Joins) > 0 {
		return nil, fmt.Errorf("%d:%d: JOIN is parsed and planned but not executed yet", sel.Joins[0].Line, sel.Joins[0].Col)
	}
	srcName := sel.From.Name
	src, columns, err := openSource(srcName, props, opts.UntilEnd)
	if err != nil {
		return nil, err
	}
	var sink connector.Sink
	defer func() {
		if err != nil {
			src.Close()
			if sink != nil {
				sink.Abort()
			}
		}
	}()
	var schema *record.Schema
	if columns != nil {
		schema = record.NewSchema(columns...)
	}
	prog, err := exec.Compile(sel, exec.Options{Properties: props, Schema: schema, ExternalWatermark: true})
	if err != nil {
		return nil, err
	}
	facts := src.Facts()
	if ks, ok := src.(*kafka.Source); ok {
		if facts, err = ks.CheckFacts(ctx, prog.InputSchema().Names()); err != nil {
			return nil, fmt.Errorf("source %q: %w", srcName, err)
		}
	}
	p, err := plan.Build(stmt, plan.Options{
		Strategy:   opts.Strategy,
		Partitions: opts.Partitions,
		CPUs:       runtime.NumCPU(),
		Sources:    map[string]connector.Facts{srcName: facts},
	})
	if err != nil {
		return nil, err
	}
	key, slots, err := job.RoutingKey(p.KeyExprs, prog.InputSchema())
	if err != nil {
		return nil, err
	}
	name := stmt.Name
	if name == "" {
		name = srcName
	}
	if sink, err = openSink(stmt.Name, props, opts.Stdout); err != nil {
		return nil, err
	}
	cfg := job.Config{
		Name:     name,
		Program:  job.FromExec(prog),
		Strategy: p.Strategy,
		Routing: partition.Context{
			SourcePartitionKey: facts.Key,
			SourcePartitions:   facts.Partitions,
			RoutingKeys:        p.RoutingKeys,
			Key:                key,
			KeySlots:           slots,
			CPUs:               runtime.NumCPU(),
		},
		Partitions: p.Partitions,
		BatchSize:  p.BatchSize,
		Sources:    []connector.Source{src},
		Sinks:      []connector.Sink{sink},
		DLQPath:    props["dlq.path"],
		Progress:   opts.Progress,
	}
	if err := jobSettings(&cfg, props); err != nil {
		return nil, err
	}
	return &Job{Name: name, Plan: p, Program: prog, Props: props, config: cfg}, nil
}

// Run runs the job until its bounded input ends or ctx is cancelled.
func (j *Job) Run(ctx context.Context) (*job.Summary, error) {
	return job.Run(ctx, j.config)
}

// jobSettings reads the coordinator's WITH properties.
func jobSettings(cfg *job.Config, props map[string]string) error {
	durations := []struct {
		key string
		dst *time.Duration
	}{
		{"watermark.max_out_of_orderness", &cfg.MaxOutOfOrder},
		{"watermark.idle_timeout", &cfg.IdleTimeout},
		{"commit.interval", &cfg.CommitInterval},
	}
	for _, d := range durations {
		if v, ok := props[d.key]; ok {
			x, err := exec.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("WITH %q: %w", d.key, err)
			}
			*d.dst = x
		}
	}
	if v, ok := props["dlq.max_errors"]; ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("WITH %q: want a non-negative whole number, got %q", "dlq.max_errors", v)
		}
		cfg.MaxErrors = n
	}
	return nil
}

// openSource opens the source name declared by '<name>.type', and returns
// the columns it is known to have (nil when only the data can tell).
func openSource(name string, props map[string]string, untilEnd bool) (connector.Source, []string, error) {
	typ := props[name+".type"]
	switch typ {
	case "kafka_source":
		if untilEnd {
			props[name+".stop.at"] = "end"
		}
		s, err := kafka.NewSource(name, props)
		return s, nil, err
	case "file_source":
		s, err := file.NewSource(name, props)
		return s, nil, err
	case "generator":
		s, err := gen.NewSource(name, props)
		if err != nil {
			return nil, nil, err
		}
		cols, err := gen.Columns(props[name+".generator"])
		return s, cols, err
	case "":
		return nil, nil, fmt.Errorf("source %q has no type: set WITH ('%s.type'='...') to one of %s", name, name, strings.Join(sourceTypes, ", "))
	}
	return nil, nil, fmt.Errorf("WITH %q: unknown source type %q; valid: %s", name+".type", typ, strings.Join(sourceTypes, ", "))
}

// openSink opens the sink of the statement's target; a statement with no
// target, or a target with no type, writes JSON lines to stdout.
func openSink(name string, props map[string]string, w io.Writer) (connector.Sink, error) {
	if w == nil {
		w = os.Stdout
	}
	typ := props[name+".type"]
	if name == "" || typ == "" || typ == "stdout" {
		return stdout.New(w), nil
	}
	switch typ {
	case "file_sink":
		return file.NewSink(name, props)
	case "kafka_sink":
		return kafka.NewSink(name, props)
	}
	return nil, fmt.Errorf("WITH %q: unknown sink type %q; valid: %s", name+".type", typ, strings.Join(sinkTypes, ", "))
}

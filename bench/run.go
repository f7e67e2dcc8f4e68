package bench

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/file"
	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/job"
	"github.com/sluicesql/sluice/partition"
	"github.com/sluicesql/sluice/plan"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// Run runs the benchmark described by cfg and returns its report. It fails
// when any run's answer differs from the limit's (the report then holds the
// results so far and Mismatches says which).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, &ConfigError{err}
	}
	scenarios, err := SelectScenarios(cfg.Scenarios)
	if err != nil {
		return nil, &ConfigError{err}
	}
	b := &runner{cfg: cfg, report: &Report{Machine: thisMachine(), Config: cfg.summary()}}
	defer b.kafka.close()
	for _, s := range scenarios {
		if err := ctx.Err(); err != nil {
			return b.report, err
		}
		if err := b.scenario(ctx, s); err != nil {
			return b.report, fmt.Errorf("scenario %s: %w", s.ID, err)
		}
	}
	b.report.ratios()
	if len(b.report.Mismatches) > 0 {
		return b.report, fmt.Errorf("%d wrong answers: %s", len(b.report.Mismatches), b.report.Mismatches[0])
	}
	return b.report, nil
}

// runner is one benchmark run's state.
type runner struct {
	cfg    Config
	report *Report
	kafka  kafkaCluster
}

// prepared is a scenario's data and parsed statement.
type prepared struct {
	s       *Scenario
	n       int
	data    *dataset
	stmt    *sql.Statement
	schema  *record.Schema // the program's input schema
	parts   [][]record.Record
	limit   Answer
	records int64
}

// scenario runs every mode, partition count and strategy of s.
func (b *runner) scenario(ctx context.Context, s *Scenario) error {
	n := s.DefaultRecords
	if b.cfg.Records > 0 {
		n = b.cfg.Records
	}
	fmt.Fprintf(b.cfg.Log, "scenario %s (%s): %d records\n", s.ID, s.Title, n)
	if s.join != nil {
		if !slices.Contains(b.cfg.Modes, ModeMemory) {
			return nil
		}
		return b.joinScenario(ctx, s, n)
	}
	p, err := b.prepare(s, n)
	var unsupported *unsupportedError
	if errors.As(err, &unsupported) {
		b.report.Skipped = append(b.report.Skipped, fmt.Sprintf("scenario %s: %v", s.ID, unsupported.err))
		fmt.Fprintf(b.cfg.Log, "  skipped: the engine does not run it: %v\n", unsupported.err)
		return nil
	}
	if err != nil {
		return err
	}
	if err := b.runLimit(p); err != nil {
		return err
	}
	if err := b.stateSize(p); err != nil {
		return err
	}
	if len(b.cfg.Peer) > 0 && s.PeerQuery != "" {
		if err := b.runPeer(ctx, p); err != nil {
			return err
		}
	}
	// The in-process cluster keeps the scenario's topic in this process's
	// heap; a later scenario's runs would pay for it in every GC.
	defer b.kafka.close()
	for _, mode := range b.cfg.Modes {
		if !fits(s, mode) {
			continue
		}
		if err := b.mode(ctx, p, mode); err != nil {
			return fmt.Errorf("mode %s: %w", mode, err)
		}
	}
	return nil
}

// prepare writes the data files, parses the statement and decodes the
// records into memory.
func (b *runner) prepare(s *Scenario, n int) (*prepared, error) {
	d, err := writeData(b.cfg.Dir, s, n)
	if err != nil {
		return nil, err
	}
	stmts, err := sql.Parse("scenario-"+s.ID, s.Query)
	if err != nil {
		return nil, err
	}
	if len(stmts) != 1 {
		return nil, fmt.Errorf("want one statement, got %d", len(stmts))
	}
	p := &prepared{s: s, n: n, data: d, stmt: stmts[0]}
	prog, err := p.compile()
	if err != nil {
		return nil, &unsupportedError{err}
	}
	p.schema = prog.InputSchema()
	if p.parts, err = loadRecords(s, d, p.schema); err != nil {
		return nil, err
	}
	for _, part := range p.parts {
		p.records += int64(len(part))
	}
	if p.records != int64(n) {
		return nil, fmt.Errorf("decoded %d records from %s, want %d", p.records, d.glob, n)
	}
	return p, nil
}

// unsupportedError is a scenario query the engine does not compile.
type unsupportedError struct{ err error }

func (e *unsupportedError) Error() string { return e.err.Error() }

// compile compiles the statement as the runner does for a job.
func (p *prepared) compile() (*exec.Program, error) {
	return exec.Compile(p.stmt.Select(), exec.Options{Schema: record.NewSchema(p.s.Columns...), ExternalWatermark: true})
}

// runLimit measures the hand-written loop and keeps its answer. For each
// partition count n > 1 up to the CPU count it also runs n copies of the
// loop at once (each over all records): the machine's parallel capacity at
// that moment, the ceiling for the engine's ratio to 1 partition.
func (b *runner) runLimit(p *prepared) error {
	for _, n := range b.cfg.Partitions {
		if n > runtime.NumCPU() {
			continue
		}
		answers := make([]Answer, n)
		best, runs, err := repeat(b.cfg.Seconds, func() error {
			errs := make([]error, n)
			var wg sync.WaitGroup
			for c := range n {
				wg.Go(func() { answers[c], errs[c] = p.s.limit(p.parts, p.schema) })
			}
			wg.Wait()
			return errors.Join(errs...)
		})
		if err != nil {
			return fmt.Errorf("limit: %w", err)
		}
		for _, a := range answers[1:] {
			if a != answers[0] {
				return fmt.Errorf("limit: copies disagree: %s and %s", answers[0], a)
			}
		}
		if n == 1 {
			p.limit = answers[0]
		}
		b.report.add(Result{Scenario: p.s.ID, Mode: ModeMemory, Engine: EngineLimit, Partitions: n,
			Records: int64(n) * p.records, Runs: runs, Answer: answers[0]}, best)
	}
	return nil
}

// stateSize measures the heap a single pipeline keeps after taking all
// records, and per group beyond the first (keyed scenarios without windows
// only).
func (b *runner) stateSize(p *prepared) error {
	prog, err := p.compile()
	if err != nil {
		return err
	}
	if len(prog.KeySlots()) == 0 || p.stmt.Select().Window != nil || len(p.parts[0]) == 0 {
		return nil
	}
	// fixed: a pipeline that has seen one group holds its buffers; the
	// state per group is what the other groups add to that.
	first := p.parts[0][:1]
	fixed := heapOf(func() any {
		pipe := prog.NewPipeline()
		pipe.Process(first, &countOutput{})
		return pipe
	})
	grew := heapOf(func() any {
		pipe := prog.NewPipeline()
		out := &countOutput{}
		for _, part := range p.parts {
			for off := 0; off < len(part); off += job.DefaultBatchSize {
				pipe.Process(part[off:min(off+job.DefaultBatchSize, len(part))], out)
			}
		}
		return pipe
	})
	if g := p.limit.Rows; g > 1 {
		b.report.State = append(b.report.State, StateSize{Scenario: p.s.ID, Unit: "group", Groups: g, Bytes: grew, Fixed: fixed,
			BytesPerGroup: float64(grew-fixed) / float64(g-1)})
	}
	return nil
}

// heapOf returns the heap that the value build returns keeps alive.
func heapOf(build func() any) int64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	v := build()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	grew := int64(ms.HeapAlloc) - int64(before)
	runtime.KeepAlive(v)
	return grew
}

// countOutput counts a pipeline's rows.
type countOutput struct{ rows, dead int64 }

func (o *countOutput) Emit(rows []record.Record)        { o.rows += int64(len(rows)) }
func (o *countOutput) DeadLetter(*record.Record, error) { o.dead++ }

// mode runs p in one mode for every partition count and strategy. The
// configurations take turns, one run each per round, until every one has
// run for Config.Seconds, so that load from elsewhere on the machine falls
// on all of them alike and the ratios between them hold.
func (b *runner) mode(ctx context.Context, p *prepared, mode string) error {
	newSource, err := b.sourceFor(p, mode)
	if err != nil {
		return err
	}
	var jobs []*benchJob
	for _, n := range b.cfg.Partitions {
		strategies := []string{""}
		if b.cfg.AllStrategies {
			strategies = append(strategies, partition.Names...)
		}
		auto := ""
		for _, st := range strategies {
			j, err := b.prepareJob(ctx, p, newSource, st, n)
			if err != nil {
				if st != "" {
					continue // the planner refuses this strategy here
				}
				return err
			}
			if st == "" {
				auto = j.cfg.Strategy.Name()
				j.auto = true
			} else if st == auto {
				continue // measured already as the automatic choice
			}
			jobs = append(jobs, j)
		}
	}
	for round := 0; ; round++ {
		more := false
		for _, j := range jobs {
			if j.runs > 0 && j.total.Seconds() >= b.cfg.Seconds {
				continue
			}
			if err := b.runOnce(ctx, p, mode, j, round > 0); err != nil {
				return fmt.Errorf("N=%d %s: %w", j.cfg.Partitions, j.cfg.Strategy.Name(), err)
			}
			more = more || j.total.Seconds() < b.cfg.Seconds
		}
		if !more {
			break
		}
	}
	for _, j := range jobs {
		j.res.Runs = j.runs
		if j.mismatch != "" {
			j.res.Mismatch = true
			b.report.Mismatches = append(b.report.Mismatches, j.mismatch)
		}
		r := b.report.add(j.res, j.best)
		fmt.Fprintf(b.cfg.Log, "  %-6s N=%d %-18s %12.0f rec/s  %s\n", mode, r.Partitions, r.Strategy, r.RecordsPerSec, r.Answer)
	}
	return nil
}

// sourceFor returns a function giving the source of a mode for one run.
func (b *runner) sourceFor(p *prepared, mode string) (func() (connector.Source, error), error) {
	switch mode {
	case ModeMemory:
		src := mem.FromRecords(p.s.Source, p.schema, p.parts,
			mem.WithFacts(connector.Facts{Partitions: len(p.parts)}))
		// decode (copy) once, outside the measured runs
		src.Prepare(p.schema)
		return func() (connector.Source, error) { return src, nil }, nil
	case ModeJSONL, ModeText:
		return func() (connector.Source, error) { return file.NewSource(p.s.Source, fileProps(p.s, p.data)) }, nil
	case ModeKafka, ModeKafkaAvro:
		topic, format := b.kafka.topicName(p.s.Dataset, p.n, mode)
		if err := b.kafka.topic(topic, format, p.schema, p.s, p.parts, p.s.kafkaKey, b.cfg.Log); err != nil {
			return nil, err
		}
		props := b.kafka.sourceProps(p.s.Source, topic, format)
		return func() (connector.Source, error) { return kafka.NewSource(p.s.Source, props) }, nil
	}
	return nil, fmt.Errorf("unknown mode %q", mode)
}

// benchJob is one configured job run.
type benchJob struct {
	cfg    job.Config
	sink   *digest
	source connector.Source
	auto   bool // the planner's automatic choice

	runs     int
	total    time.Duration
	best     sample
	res      Result
	mismatch string
}

// prepareJob compiles and plans p for strategy (""; automatic) and n
// partitions, as the runner does for `sluice run`.
func (b *runner) prepareJob(ctx context.Context, p *prepared, newSource func() (connector.Source, error), strategy string, n int) (*benchJob, error) {
	prog, err := p.compile()
	if err != nil {
		return nil, err
	}
	src, err := newSource()
	if err != nil {
		return nil, err
	}
	facts := src.Facts()
	if ks, ok := src.(*kafka.Source); ok {
		if facts, err = ks.CheckFacts(ctx, prog.InputSchema().Names()); err != nil {
			return nil, err
		}
	}
	pl, err := plan.Build(p.stmt, plan.Options{Strategy: strategy, Partitions: n, CPUs: runtime.NumCPU(),
		Sources: map[string]connector.Facts{p.s.Source: facts}})
	if err != nil {
		return nil, err
	}
	sink := newDigest(prog.KeySlots())
	cfg := job.Config{
		Name:     "bench-" + p.s.ID,
		Program:  job.FromExec(prog),
		Strategy: pl.Strategy,
		Routing: partition.Context{
			SourcePartitionKey: facts.Key, SourcePartitions: facts.Partitions,
			RoutingKeys: pl.RoutingKeys, CPUs: runtime.NumCPU(),
		},
		Partitions:     pl.Partitions,
		BatchSize:      pl.BatchSize,
		Sources:        []connector.Source{src},
		Sinks:          []connector.Sink{sink},
		DLQ:            &lockedDLQ{},
		CommitInterval: -1,
	}
	if err := job.SetRoutingKey(&cfg.Routing, pl.KeyExprs, prog.InputSchema()); err != nil {
		return nil, err
	}
	return &benchJob{cfg: cfg, sink: sink, source: src}, nil
}

// runOnce runs j once (with a fresh source and sink when again), checks
// its answer against the limit's and keeps the fastest run.
func (b *runner) runOnce(ctx context.Context, p *prepared, mode string, j *benchJob, again bool) error {
	if again {
		src, err := b.freshSource(p, mode, j)
		if err != nil {
			return err
		}
		j.cfg.Sources = []connector.Source{src}
		j.sink = newDigest(j.sink.keySlots)
		j.cfg.Sinks = []connector.Sink{j.sink}
	}
	var sum *job.Summary
	s, err := measure(func() error {
		var err error
		sum, err = job.Run(ctx, j.cfg)
		return err
	})
	if err != nil {
		return err
	}
	if sum.Total.In != p.records || sum.DeadLetters != 0 {
		return fmt.Errorf("%d records in, %d dead-lettered, want %d and 0", sum.Total.In, sum.DeadLetters, p.records)
	}
	j.runs++
	j.total += s.elapsed
	if j.runs == 1 || s.elapsed < j.best.elapsed {
		s.peak = max(s.peak, j.best.peak)
		j.best = s
	} else {
		j.best.peak = max(j.best.peak, s.peak)
	}
	j.res = Result{Scenario: p.s.ID, Mode: mode, Engine: EngineSluice, Strategy: j.cfg.Strategy.Name(), Auto: j.auto,
		Partitions: j.cfg.Partitions, Records: p.records, Answer: j.sink.answer(), RowsWritten: j.sink.written}
	if j.res.Answer != p.limit && j.mismatch == "" {
		j.mismatch = fmt.Sprintf("%s %s N=%d %s: answer %s, the limit's %s", p.s.ID, mode, j.cfg.Partitions,
			j.cfg.Strategy.Name(), j.res.Answer, p.limit)
	}
	return nil
}

// freshSource returns a new source for another run of the same job.
func (b *runner) freshSource(p *prepared, mode string, j *benchJob) (connector.Source, error) {
	switch mode {
	case ModeMemory:
		return j.cfg.Sources[0], nil // read-only, reopened by the job
	case ModeKafka, ModeKafkaAvro:
		topic, format := b.kafka.topicName(p.s.Dataset, p.n, mode)
		return kafka.NewSource(p.s.Source, b.kafka.sourceProps(p.s.Source, topic, format))
	}
	return file.NewSource(p.s.Source, fileProps(p.s, p.data))
}

// lockedDLQ counts dead letters from many goroutines.
type lockedDLQ struct {
	mu sync.Mutex
	n  int64
}

func (l *lockedDLQ) Add(connector.DeadLetter) {
	l.mu.Lock()
	l.n++
	l.mu.Unlock()
}

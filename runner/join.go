package runner

import (
	"context"
	"fmt"
	"runtime"
	"strings"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/connector/pipe"
	"github.com/sluicesql/sluice/exec/join"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/job"
	"github.com/sluicesql/sluice/partition"
	"github.com/sluicesql/sluice/plan"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// joinProgram adapts a join program to the job.
type joinProgram struct{ *join.Program }

// NewPipeline returns a fresh join pipeline.
func (p joinProgram) NewPipeline() job.Pipeline { return p.Program.NewPipeline() }

// joinOptions are the WITH options of a table input that the join reads
// and its connector does not see.
var joinOptions = []string{plan.PropBroadcast, plan.PropBootstrap, "event.time.field"}

// isJoin reports whether stmt is a query with JOINs.
func isJoin(stmt *sql.Statement) bool { return !stmt.IsDDL() && len(stmt.Select().Joins) > 0 }

// connectorProps returns props without the JOIN options of the sources
// names: the properties their connectors see.
func connectorProps(props map[string]string, names []string) map[string]string {
	conn := make(map[string]string, len(props))
	for k, v := range props {
		conn[k] = v
	}
	for _, n := range names {
		for _, o := range joinOptions {
			for k := range conn {
				if strings.EqualFold(k, n+"."+o) {
					delete(conn, k)
				}
			}
		}
	}
	return conn
}

// joinQuery is a join statement with its sources open: the stream, then
// each JOIN source, with their schemas.
type joinQuery struct {
	*checked  // its name, properties and Kafka client options
	srcs      []connector.Source
	schemas   []connector.Schema
	bootstrap []bool // per input: read the table whole before the stream flows
	inProcess []bool // per input: another statement's in-process output
	prog      *join.Program
	// runStream, for a stream-table join, wraps the stream's source as
	// its job reads it: looked up in the tables as it is read when
	// atSource
	runStream func(connector.Source) connector.Source
	atSource  bool
}

// openJoin opens a join statement's sources, resolves their schemas and
// compiles the query. On error it closes what it opened.
func openJoin(ctx context.Context, stmt *sql.Statement, opts Options) (_ *joinQuery, err error) {
	sel := stmt.Select()
	names := []string{sel.From.Name}
	for _, j := range sel.Joins {
		names = append(names, j.Source.Name)
	}
	c, err := checkOptions(stmt, opts)
	if err != nil {
		return nil, err
	}
	q := &joinQuery{checked: c}
	props, conn := c.props, connectorProps(c.props, names)
	for i, n := range names {
		b := true
		if v := strings.ToLower(strings.TrimSpace(props[n+"."+plan.PropBootstrap])); v == "false" {
			b = false
		} else if v != "" && v != "true" {
			return nil, c.errorAt(&sql.PropertyError{Key: n + "." + plan.PropBootstrap, InValue: true,
				Msg: fmt.Sprintf("WITH '%s.%s': invalid value %q (valid values: true, false)", n, plan.PropBootstrap, sql.Clip(v))}, sel)
		}
		q.bootstrap = append(q.bootstrap, b)
		if i > 0 && strings.EqualFold(n, names[0]) && strings.TrimSpace(props[n+".group.id"]) != "" {
			return nil, c.errorAt(&sql.PropertyError{Key: n + ".group.id", Msg: fmt.Sprintf("WITH '%s.group.id': %s is joined with itself in a consumer group: its two readers would split the topic's partitions between them in the one group, so neither would read every record; run the self-join without '%[1]s.group.id'",
				n, names[0])}, sel)
		}
		if i > 0 && strings.TrimSpace(props[n+".group.id"]) != "" {
			return nil, c.errorAt(&sql.PropertyError{Key: n + ".group.id", Msg: fmt.Sprintf("WITH '%s.group.id': only the FROM source %s has a consumer group: a table (%s with a primary key) is read whole from its topic by every process on every start, and the other streams of a stream-stream join are read in %s's group ('%s.group.id')",
				n, names[0], n, names[0], names[0])}, sel)
		}
	}
	defer func() {
		if err != nil {
			q.close()
		}
	}()
	for _, n := range names {
		var src connector.Source
		var columns []string
		var upstream *connector.Schema
		if opts.InProcess != nil {
			if s, sch := opts.InProcess.Source(n); s != nil {
				src, upstream = s, &sch
			}
		}
		if s, ok := opts.Streams[strings.ToLower(n)]; ok && src == nil {
			// Check: another statement's output, known by its schema.
			st := pipe.New(n)
			st.Configure(n, s.Schema, nil, 1, 1, s.Bounded)
			src, upstream = st.Source(), &s.Schema
		}
		q.inProcess = append(q.inProcess, upstream != nil && opts.InProcess != nil)
		if src == nil {
			if src, columns, err = openSource(n, conn, q.untilEnd, q.kafkaOpts, writtenFiles(stmt.Name, q.name, props)); err != nil {
				return nil, c.errorAt(err, sourceAt(sel, n))
			}
		}
		q.srcs = append(q.srcs, src)
		decl, _ := opts.Catalog.Lookup(n)
		schema, err := opts.Schemas.find(ctx, sel, n, decl, props, src, opts.NoInfer)
		if err != nil {
			return nil, c.errorAt(err, sourceAt(sel, n))
		}
		if upstream != nil {
			schema = withUpstream(schema, *upstream)
		} else if schema.Columns == nil && columns != nil {
			schema.Columns, schema.Origin = record.NewSchema(columns...), connector.SchemaGenerator
		}
		q.schemas = append(q.schemas, schema)
	}
	if err := q.tablesInProcess(sel, names); err != nil {
		return nil, err
	}
	if err := q.compile(sel); err != nil {
		return nil, c.errorAt(err, stmt)
	}
	if err := c.checkGuarantee(stmt, q.prog.Program, q.prog); err != nil {
		return nil, err
	}
	if err := q.checkEnds(sel, names, opts); err != nil {
		return nil, err
	}
	if err := checkKeyFormat(stmt.Name, props, len(q.prog.KeySlots()) > 0 || q.prog.WindowedRows()); err != nil {
		return nil, c.errorAt(err, stmt)
	}
	return q, nil
}

// tablesInProcess decides the bootstrap of the tables another statement
// writes in process: a bounded writer's table is read whole (the join
// waits for the writer to end) unless '<n>.bootstrap'='false'; an
// unbounded writer's is never whole, so rows join with it as it grows,
// and asking for its bootstrap is an error.
func (q *joinQuery) tablesInProcess(sel *sql.Select, names []string) error {
	for i, src := range q.srcs {
		if i == 0 || !q.inProcess[i] || !q.bootstrap[i] {
			continue
		}
		if b, ok := src.(connector.Bounded); ok && b.Bounded() {
			continue
		}
		if strings.TrimSpace(q.props[names[i]+"."+plan.PropBootstrap]) != "" {
			return q.errorAt(fmt.Errorf("WITH '%s.%s': the statement writing %s reads an input that does not end, so its table is never complete; set it to 'false' (rows join with the table as it grows)",
				names[i], plan.PropBootstrap, names[i]), sourceAt(sel, names[i]))
		}
		q.bootstrap[i] = false
	}
	return nil
}

// compile compiles the join query over the opened inputs.
func (q *joinQuery) compile(sel *sql.Select) error {
	inputs := make([]join.Input, len(q.srcs))
	for i := range q.srcs {
		s := sel.From
		if i > 0 {
			s = sel.Joins[i-1].Source
		}
		inputs[i] = join.Input{Name: s.Name, Alias: s.Alias, Schema: q.schemas[i].Columns, PrimaryKey: q.schemas[i].PrimaryKey, Windowed: q.schemas[i].Windowed}
	}
	var err error
	q.prog, err = join.Compile(sel, join.Options{Properties: q.props, Inputs: inputs})
	return err
}

// checkEnds refuses a query whose rows wait for the end of its input when
// one of its streams (an input that is not a table) does not end.
func (q *joinQuery) checkEnds(sel *sql.Select, names []string, opts Options) error {
	tables := map[int]bool{}
	for _, t := range q.prog.Tables() {
		tables[t.Input()] = true
	}
	for i, src := range q.srcs {
		if tables[i] || isBounded(src) {
			continue
		}
		_, upstream := opts.Streams[strings.ToLower(names[i])]
		return q.checked.checkEnds(sel, q.prog.Program, names[i], false, upstream || q.inProcess[i])
	}
	return nil
}

// close closes the sources.
func (q *joinQuery) close() {
	for _, s := range q.srcs {
		s.Close()
	}
}

// planOptions returns the planner's options for the query.
func (q *joinQuery) planOptions(sel *sql.Select, opts Options, facts map[string]connector.Facts, rows map[string]int64) plan.Options {
	schemas := map[string]connector.Schema{}
	for i, s := range q.schemas {
		schemas[q.srcs[i].Name()] = s
	}
	return plan.Options{Strategy: opts.Strategy, Partitions: opts.Partitions, CPUs: runtime.NumCPU(),
		Sources: facts, Schemas: schemas, Properties: q.props, TableRows: rows, KeepOrder: opts.KeepOrder}
}

// sourceAt returns the FROM or JOIN source of sel called name.
func sourceAt(sel *sql.Select, name string) sql.Node {
	for _, j := range sel.Joins {
		if strings.EqualFold(j.Source.Name, name) {
			return &j.Source
		}
	}
	return &sel.From
}

// planJoin plans a join as Prepare does, without reading the tables:
// EXPLAIN's view of it (table sizes unknown). It returns the plan, the
// compiled query and whether its stream ends.
func planJoin(ctx context.Context, stmt *sql.Statement, opts Options) (*plan.Plan, *join.Program, bool, error) {
	q, err := openJoin(ctx, stmt, opts)
	if err != nil {
		return nil, nil, false, err
	}
	defer q.close()
	facts := map[string]connector.Facts{}
	for _, s := range q.srcs {
		facts[s.Name()] = s.Facts()
	}
	popts := q.planOptions(stmt.Select(), opts, facts, nil)
	// as a run would find: bootstrapped tables that end do not change
	popts.StaticTables = true
	for _, t := range q.prog.Tables() {
		b, ok := q.srcs[t.Input()].(connector.Bounded)
		popts.StaticTables = popts.StaticTables && ok && b.Bounded() && q.bootstrap[t.Input()] && !t.Dynamic()
	}
	p, err := plan.Build(stmt, popts)
	if err != nil {
		return nil, nil, false, q.errorAt(err, stmt)
	}
	if err := q.checkPlanGuarantee(stmt, p); err != nil {
		return nil, nil, false, err
	}
	return p, q.prog, isBounded(q.srcs[0]), nil
}

// prepareJoin prepares a statement with JOINs: it opens the stream and
// every table, bootstraps the tables (unless '<n>.bootstrap'='false'),
// plans with their sizes, shards them as the plan routes, and configures
// the job over the stream.
func prepareJoin(ctx context.Context, stmt *sql.Statement, opts Options) (*Job, error) {
	q, err := openJoin(ctx, stmt, opts)
	if err != nil {
		return nil, err
	}
	return joinJob(ctx, stmt, opts, q)
}

// joinJob loads the tables of an opened join and configures its job. On
// error it closes the sources.
func joinJob(ctx context.Context, stmt *sql.Statement, opts Options, q *joinQuery) (j *Job, err error) {
	sel := stmt.Select()
	loaders := map[int]*join.Loader{} // by input
	var sink connector.Sink
	var dlq *kafka.DeadLetterQueue
	var fileDLQ *job.FileDLQ
	defer func() {
		if err == nil {
			return
		}
		for i, s := range q.srcs {
			if l, ok := loaders[i]; ok {
				l.Close() // closes its source
			} else {
				s.Close()
			}
		}
		if sink != nil {
			sink.Abort()
		}
		if dlq != nil {
			dlq.Close()
		}
		if fileDLQ != nil {
			fileDLQ.Close()
		}
	}()
	stream, prog, props := q.srcs[0], q.prog, q.props
	sink, stdoutSink, err := q.sink(stmt, opts)
	if err != nil {
		return nil, err
	}
	if ks, ok := sink.(*kafka.Sink); ok && prog.WindowedRows() {
		ks.KeyByWindow()
	}
	if dlq, err = openDLQ(ctx, props, stream, sink, stream.Facts().Partitions, q.kafkaOpts); err != nil {
		return nil, err
	}
	var dead connector.DeadLetters = dlq
	if dlq == nil {
		path := strings.TrimSpace(props[job.PropDLQPath])
		if path == "" {
			path = job.DefaultDLQPath(q.name)
		}
		fileDLQ = job.NewFileDLQ(path)
		dead = fileDLQ
	}
	facts := map[string]connector.Facts{}
	rows := map[string]int64{}
	tables := prog.Tables()
	for _, t := range tables {
		in := t.Input()
		if facts[t.Name()], err = sourceFacts(ctx, q.srcs[in], t.Schema()); err != nil {
			return nil, err
		}
		l, err := join.Load(ctx, t, q.srcs[in], dead)
		if err != nil {
			return nil, err
		}
		loaders[in] = l
		if q.bootstrap[in] {
			if err := l.Wait(ctx); err != nil {
				return nil, err
			}
			rows[t.Name()] = t.Rows()
		} else if n := l.Estimate(); n >= 0 {
			rows[t.Name()] = n
		}
		if !q.bootstrap[in] || !l.Complete() {
			t.SetDynamic()
		}
	}
	static := true // every table read whole and unchanging
	for _, t := range tables {
		static = static && !t.Dynamic()
	}
	var closers []func() error
	for _, l := range loaders {
		closers = append(closers, l.Close)
	}
	if fileDLQ != nil {
		closers = append(closers, fileDLQ.Close)
	}
	if sides := prog.Sides(); sides != nil {
		j, err := intervalJob(ctx, stmt, opts, q, facts, rows, sink, dead, stdoutSink)
		if err != nil {
			return nil, err
		}
		j.closers = append(j.closers, closers...)
		if err := q.scaleOut(ctx, stmt, opts, j, q.planOptions(sel, opts, facts, rows)); err != nil {
			return nil, err
		}
		return j, nil
	}
	if facts[sel.From.Name], err = sourceFacts(ctx, stream, prog.InputSchema()); err != nil {
		return nil, err
	}
	popts := q.planOptions(sel, opts, facts, rows)
	popts.StaticTables = static
	p, err := plan.Build(stmt, popts)
	if err != nil {
		return nil, configErr(err)
	}
	shardTables(p, tables)
	if ks, ok := sink.(*kafka.Sink); ok {
		ks.SetDefaultPartitions(facts[sel.From.Name].Partitions)
	}
	atSource := len(p.Inputs) > 1 && p.Inputs[1].JoinedAtSource
	var keyFns []expr.Func
	fp := p
	if atSource {
		// the tables are joined as the stream is read, and the joined rows
		// routed by the plan's key over them (an exchange after the join)
		if keyFns, err = prog.JoinedRoutingKey(p.KeyExprs); err != nil {
			return nil, configErr(err)
		}
		at := *p
		at.KeyExprs = nil // set below, over the joined rows
		fp = &at
	}
	cfg, err := job.FromPlan(fp, prog.Program, props)
	if err != nil {
		return nil, configErr(err)
	}
	cfg.Program = joinProgram{prog}
	cfg.DLQ = dead
	cfg.Name = q.name
	// the stream as the job reads it: joined as it is read, or not (in
	// stage 1 of a repartitioned run, which joins in its pipelines)
	q.atSource = atSource && p.Repartition == nil
	q.runStream = func(src connector.Source) connector.Source {
		if q.atSource {
			src = prog.JoinAtSource(src)
		}
		if opts.InProcess != nil {
			src = opts.InProcess.Gate(src)
		}
		return src
	}
	cfg.Sources = []connector.Source{q.runStream(stream)}
	if atSource {
		job.SetRoutingFuncs(&cfg.Routing, keyFns)
	}
	cfg.Sinks = []connector.Sink{sink}
	cfg.Progress, cfg.ProgressInterval = opts.Progress, opts.ProgressInterval
	sinkName := stmt.Name
	if stdoutSink {
		sinkName = ""
	}
	j = &Job{Name: q.name, Plan: p, Program: prog.Program, Props: props, Source: sel.From.Name, Sink: sinkName,
		WritesStdout: stdoutSink, Facts: facts[sel.From.Name], Schema: q.schemas[0], src: stream, inputs: q.srcs, dlq: dlq, config: cfg, closers: closers}
	if err := q.scaleOut(ctx, stmt, opts, j, popts); err != nil {
		return nil, err
	}
	return j, nil
}

// scaleOut prepares the join job j, planned with popts, for the processes
// of a consumer group: two stages through a repartition topic when its
// plan says so (or its group has the topic from an earlier run), else a
// stop when the group gets a second member and the plan cannot split.
func (q *joinQuery) scaleOut(ctx context.Context, stmt *sql.Statement, opts Options, j *Job, popts plan.Options) error {
	if ks, ok := q.srcs[0].(*kafka.Source); ok && j.Plan.Repartition == nil && j.Plan.Repartitionable() {
		again, err := keepRepartitioned(ctx, stmt, ks, j.Plan, q.props)
		if err != nil {
			return err
		}
		if again {
			popts.Properties = q.props
			if j.Plan, err = plan.Build(stmt, popts); err != nil {
				return configErr(err)
			}
		}
	}
	if j.Plan.Repartition != nil {
		return q.repartitionJoin(ctx, stmt, opts, j, popts)
	}
	guardScaleOut(j.Plan, q.srcs[0])
	holdOtherStreams(j.Plan, q.srcs)
	if q.runStream != nil {
		// a stream-table join split as its stream is
		src, gen := replayAligned(j.Plan, q.prog, q.srcs[0], restartsAtLeastOnce(q.props))
		if src != q.srcs[0] {
			j.config.Sources[0] = q.runStream(src)
		}
		if gen != nil {
			j.restarts = restartPerAssignment(&j.config, gen, q.srcs[0].(*kafka.Source))
		}
		return q.exactlyOnce(ctx, stmt, j)
	}
	return nil
}

// exactlyOnce makes the stream-table join job j, run in one stage, read
// its stream in Kafka transactions when its 'processing.guarantee' is
// exactly_once (see exactlyOnce): its output, its stream's dead letters
// and the stream's offsets commit together. The tables stay outside the
// transaction: they are read whole on every start, so their own dead
// letters (rows that fail to decode) go through the queue they were
// loaded with, at least once.
func (q *joinQuery) exactlyOnce(ctx context.Context, stmt *sql.Statement, j *Job) error {
	if g, _ := guarantee(q.props); g != ExactlyOnce {
		return nil
	}
	dlq, err := q.transactionalDLQ(ctx, j, q.srcs[0])
	if err != nil {
		return err
	}
	if err := exactlyOnce(&j.config, q.srcs[0], j.config.Sinks[0], dlq, q.prog.Program, lookup(q.props, stmt.Name+".type"), true); err != nil {
		return configErr(err)
	}
	if dlq != nil {
		j.config.DLQ = dlq
	}
	// the transactional source, joined as it is read if it was
	j.config.Sources[0] = q.runStream(j.config.Sources[0])
	return nil
}

// checkPlanGuarantee refuses exactly-once for what the join's plan p
// decides (refuseJoinInStageOne), positioned at the WITH entry.
func (q *joinQuery) checkPlanGuarantee(stmt *sql.Statement, p *plan.Plan) error {
	if g, _ := guarantee(q.props); g != ExactlyOnce {
		return nil
	}
	if err := refuseJoinInStageOne(p); err != nil {
		return q.guaranteeError(stmt, err)
	}
	return nil
}

// shardTables splits the tables over the workers as the plan places them:
// broadcast, by source partition alongside the stream, else by key.
func shardTables(p *plan.Plan, tables []*join.Table) {
	for _, t := range tables {
		in := p.Inputs[t.Input()]
		mode := join.ByKey
		switch {
		case in.Broadcast:
			mode = join.Broadcast
		case in.ByPartition:
			mode = join.ByPartition
		}
		t.Shard(mode, p.Partitions)
	}
}

// sourceFacts returns a source's partitioning facts, checked against a
// Kafka topic's data.
func sourceFacts(ctx context.Context, src connector.Source, schema *record.Schema) (connector.Facts, error) {
	ks, ok := src.(*kafka.Source)
	if !ok {
		return src.Facts(), nil
	}
	f, err := ks.CheckFacts(ctx, schema.Names())
	if err != nil {
		return f, fmt.Errorf("source %q: %w", src.Name(), err)
	}
	return f, nil
}

// setExchange tells a join program which of its stream-stream joins
// re-route their rows first (Plan.Stages), over the plan's workers, one
// when every row goes to one.
func setExchange(p *plan.Plan, prog *join.Program) error {
	keys := make([][2][]sql.Expr, len(p.Stages))
	for k, st := range p.Stages {
		if len(st.RightKeys) > 0 {
			keys[k] = [2][]sql.Expr{st.LeftKeys, st.RightKeys}
		}
	}
	n := p.Partitions
	if p.Strategy.Name() == partition.FanIn || p.Requirement.Kind != partition.Hash {
		n = 1
	}
	return prog.SetExchange(keys, p.FinalKeys, n, len(p.KeyExprs))
}

// intervalJob configures the job of a statement with stream-stream joins
// (its tables loaded, their facts and sizes in facts and rows): the streams
// are read into the joined row and each routed by its own side of the key
// the plan routes it on; the joins after an exchange re-route the rows
// between the workers.
func intervalJob(ctx context.Context, stmt *sql.Statement, opts Options, q *joinQuery, facts map[string]connector.Facts,
	rows map[string]int64, sink connector.Sink, dead connector.DeadLetters, stdoutSink bool) (*Job, error) {
	sel, prog, props := stmt.Select(), q.prog, q.props
	sides := prog.Sides()
	streams := prog.StreamInputs()
	for s, in := range streams {
		f, err := sourceFacts(ctx, q.srcs[in], sides[s].Schema)
		if err != nil {
			return nil, err
		}
		facts[q.srcs[in].Name()] = f
	}
	p, err := plan.Build(stmt, q.planOptions(sel, opts, facts, rows))
	if err != nil {
		return nil, configErr(err)
	}
	shardTables(p, prog.Tables())
	cfg, err := q.jobConfig(p)
	if err != nil {
		return nil, err
	}
	if ks, ok := sink.(*kafka.Sink); ok {
		ks.SetDefaultPartitions(facts[sel.From.Name].Partitions)
	}
	cfg.DLQ = dead
	cfg.Name = q.name
	cfg.Sources = nil
	for s, in := range streams {
		cfg.Sources = append(cfg.Sources, join.SideSource(q.srcs[in], sides[s], s))
	}
	if opts.InProcess != nil {
		for i, src := range cfg.Sources {
			cfg.Sources[i] = opts.InProcess.Gate(src)
		}
	}
	cfg.Sinks = []connector.Sink{sink}
	cfg.Progress, cfg.ProgressInterval = opts.Progress, opts.ProgressInterval
	sinkName := stmt.Name
	if stdoutSink {
		sinkName = ""
	}
	j := &Job{Name: q.name, Plan: p, Program: prog.Program, Props: props, Source: sel.From.Name, Sink: sinkName,
		WritesStdout: stdoutSink, Facts: facts[sel.From.Name], Schema: q.schemas[0], src: q.srcs[0], inputs: q.srcs, config: cfg}
	if d, ok := dead.(*kafka.DeadLetterQueue); ok {
		j.dlq = d
	}
	return j, nil
}

package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/job"
	"github.com/sluicesql/sluice/partition"
	"github.com/sluicesql/sluice/plan"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// twoStages is a statement that runs in two stages joined by a
// repartition topic (plan.Repartition): stage 1 reads the source as a
// consumer-group member and writes every record to the topic partition of
// its routing key (a kafka.Shuffle); stage 2 reads the topic in the same
// group and runs the statement. Stage 2 keeps no durable state, so on
// every rebalance its job stops (committing only what is done) and starts
// again from the committed offsets: a generation per assignment.
type twoStages struct {
	one, two job.Config
	bounded  bool // the sources end (stop.at=end): so does stage 2
	shuffle  *kafka.Shuffle
	in       *kafka.Source // stage 2's source (the repartition topic)
	gen      *generations
	sinks    []*keptSink
	fileDLQ  *job.FileDLQ // the dead-letter file both stages share, if any
	// three, when set, runs the query after a stream-stream join whose
	// rows stage 2 writes to an exchange topic (exchangeJoin)
	three *exchangeStage
}

// repartition turns the prepared job j (whose plan says Repartition) into
// its two stages: it creates the repartition topic, plans stage 2 over it
// and configures stage 1.
func (c *checked) repartition(ctx context.Context, stmt *sql.Statement, opts Options, j *Job, ks *kafka.Source) error {
	// A record had its effect under a fence's watermark wm when its windows
	// had all fired under wm (its rows are out), or under the watermark it
	// carries (it was late by it, so dead-lettered or dropped, and a
	// replay finds it late again); one kept goes only into the windows
	// that had not fired (exec.Program.Replayed). Commits wait for the
	// groups EMIT CHANGES updates too, so that a replay rebuilds them. A
	// SESSION window's record is kept unless it was late: the sessions
	// the replay rebuilds that had fired under its partition's fence write
	// nothing (SetReplayFences).
	j.Program.HoldChanges()
	err := splitStages(ctx, j, []*kafka.Source{ks}, j.Program.InputSchema(), j.Program.Replayed, c.kafkaOpts, func(facts connector.Facts) (job.Config, error) {
		p2, err := c.build(stmt, opts, facts)
		if err != nil {
			return job.Config{}, err
		}
		two, err := job.FromPlan(p2, j.Program, j.Props)
		if err != nil {
			return two, c.errorAt(err, stmt)
		}
		return two, nil
	})
	if err != nil {
		return err
	}
	j.Program.SetReplayFences(j.stages.in)
	warnHeldForGood(j, j.Program.HeldForGood())
	return c.exactlyOnceStages(ctx, j, ks)
}

// exactlyOnceStages makes stage 2 of the repartitioned job j, whose
// stream is ks, transactional when the statement's
// 'processing.guarantee' is exactly_once (twoStages.exactlyOnce). Stage
// 2's dead letters commit in its transaction; stage 1's (records it
// cannot decode) go with its own commits, through the job's queue.
func (c *checked) exactlyOnceStages(ctx context.Context, j *Job, ks *kafka.Source) error {
	if g, _ := guarantee(c.props); g != ExactlyOnce {
		return nil
	}
	dlq, err := c.transactionalDLQ(ctx, j, ks)
	if err != nil {
		return err
	}
	return j.stages.exactlyOnce(dlq)
}

// transactionalDLQ opens a second queue to the job j's dead-letter topic,
// for the dead letters its transaction covers, when it has one (nil
// otherwise); the job's own queue goes on writing those outside it. Run
// closes it.
func (c *checked) transactionalDLQ(ctx context.Context, j *Job, src connector.Source) (*kafka.DeadLetterQueue, error) {
	if j.dlq == nil {
		return nil, nil
	}
	dlq, err := openDLQ(ctx, c.props, src, j.config.Sinks[0], j.Facts.Partitions, c.kafkaOpts)
	if err != nil {
		return nil, err
	}
	j.closers = append(j.closers, dlq.Close)
	return dlq, nil
}

// warnHeldForGood warns, once per statement as it is prepared, that stage
// 2 of the repartitioned statement j holds its commits at the first
// record of each partition of the repartition topic for good, for why
// (exec.Program.HeldForGood; nothing when why is ""): the topic is never
// purged, a rebalance or restart replays each partition from its start,
// and once the topic's retention deletes its first records a replay
// rebuilds the state without them.
func warnHeldForGood(j *Job, why string) {
	if why == "" {
		return
	}
	rp := j.Plan.Repartition
	slog.Warn("the repartitioned statement holds its commits on the repartition topic at each partition's first record for good, since "+why+
		": the topic is never purged and grows with the input, and a rebalance or restart replays every partition from its start; size the topic's retention for the whole run (once it deletes the first records, a replay gives other results)",
		"statement", j.Name, "topic", rp.Topic, "group", rp.Group)
}

// exactlyOnce makes stage 2 commit in Kafka transactions
// ('processing.guarantee'='exactly_once'): the repartition topic's reader
// becomes the transactional client, and the Kafka sink and stage 2's
// dead-letter queue dlq (nil for none, or a file) produce in its
// transaction, so that the output, the dead letters and the topic's
// offsets with their fences commit together. Stage 1 needs no
// transaction: stage 2 drops every record stage 1 sends again by its
// source position (kafka.RepartitionSource), so each source record has
// its effect once whatever stage 1 repeats. The statement was checked
// (exactlyOnceRefusal) before its sources opened.
func (t *twoStages) exactlyOnce(dlq *kafka.DeadLetterQueue) error {
	_, txn, err := t.in.Transactional(transactionalID(t.in))
	if err != nil {
		return err
	}
	for _, s := range t.sinks {
		ks, ok := s.Sink.(*kafka.Sink)
		if !ok {
			return fmt.Errorf("exactly-once: the sink %T is no Kafka sink", s.Sink) // refused before: cannot happen
		}
		ks.UseTransaction(txn)
	}
	if dlq != nil {
		dlq.UseTransaction(txn)
		t.two.DLQ = dlq
	}
	t.two.Transactional = true
	return nil
}

// refuseSourcePosition refuses a stream-stream join repartitioned across
// processes that reads a record's place in its source. A statement over
// one stream (joined with tables or not) reads it in stage 2 as in one
// process (each record carries its source partition and offset through
// the topic), but a stream-stream join's rows are not one source record's
// (they get offsets of their own), and stage 2 numbers the partitions of
// the join's streams one after the other.
func refuseSourcePosition(stmt *sql.Statement) error {
	if id := sourcePosition(stmt.Select()); id != nil {
		return sql.Errorf(id, "%s in a stream-stream join repartitioned across processes is not supported (stage 2 reads the joined streams from one repartition topic, and a joined row is not one source record): "+
			"drop it, or run the statement in one process per group with '%s'='false'", strings.ToUpper(id.Name), plan.PropRepartition)
	}
	return nil
}

// sourcePosition returns the first reference of sel to a record's place in
// its source (_PARTITION, _OFFSET), or nil.
func sourcePosition(sel *sql.Select) *sql.Ident {
	es := []sql.Expr{sel.Where, sel.Having, sel.Qualify}
	for _, it := range sel.Items {
		es = append(es, it.Expr)
	}
	es = append(es, sel.GroupBy...)
	for _, o := range sel.OrderBy {
		es = append(es, o.Expr)
	}
	var found *sql.Ident
	for _, e := range es {
		sql.Inspect(e, func(n sql.Expr) bool {
			if id, ok := n.(*sql.Ident); ok && found == nil {
				if sys, _ := record.IsSystemColumn(id.Name); sys == record.SysPartition || sys == record.SysOffset {
					found = id
				}
			}
			return found == nil
		})
	}
	return found
}

// splitStages turns the prepared job j (whose plan says Repartition) into
// its two stages: it creates the repartition topic; stage 1 is j's own
// configuration, reading srcs (the statement's streams, each a member of
// the group) and writing every record to the topic; stage 2 reads the
// topic, each record as stage 1's job read it (its schema: schema), and
// runs the job stage2 configures over the topic's facts. fired says
// whether a record had its whole effect under a watermark (see
// kafka.Source.RepartitionSource).
func splitStages(ctx context.Context, j *Job, srcs []*kafka.Source, schema *record.Schema, fired func(*record.Record, int64) bool,
	kafkaOpts func(string) []kgo.Opt, stage2 func(connector.Facts) (job.Config, error)) error {
	rp := j.Plan.Repartition
	most := 0
	for _, s := range srcs {
		n := s.Facts().Partitions
		if n <= 0 {
			return fmt.Errorf("source %q: partition count unknown", s.Name())
		}
		most = max(most, n)
	}
	topic, err := kafka.EnsureRepartitionTopic(ctx, srcs, rp.Topic, rp.TopicPartitions(most))
	if err != nil {
		return fmt.Errorf("source %q: %w", srcs[0].Name(), err)
	}
	n := topic.Partitions
	if rp.Partitions > 0 && n != rp.Partitions {
		return configErr(fmt.Errorf("'%s' is %d, but the repartition topic %s exists with %d partitions: its partition count decides which partition each key is in, so it cannot change while the topic holds records; "+
			"set '%s'='%d' (or drop it), or stop every process of group %s and delete the topic once they have processed its records",
			plan.PropRepartitionPartitions, rp.Partitions, rp.Topic, n, plan.PropRepartitionPartitions, n, rp.Group))
	}
	if want := rp.TopicPartitions(most); n != want {
		slog.Info("the repartition topic exists with its own partition count, which it keeps (it decides the partition of every key)",
			"topic", rp.Topic, "partitions", n, "default", want)
	}
	// stage 2's input is partitioned by the routing key when it is made of
	// plain input columns (smart_repartition then routes whole partitions)
	var key []string
	for _, k := range rp.Key {
		if _, ok := schema.Lookup(k); !ok || !partition.KeySubset([]string{k}, []string{k}) || len(srcs) > 1 {
			key = nil
			break
		}
		key = append(key, k)
	}
	t := &twoStages{gen: &generations{}}
	t.in = srcs[0].RepartitionSource(rp.Topic, key, kafka.SourcePartitions(srcs), t.gen.revoked, fired)
	t.in.FollowEnds(srcs)
	t.in.ReadsFrom(srcs)
	t.gen.src = t.in
	for _, s := range srcs {
		s.UseEagerRebalancing()
		if s.Bounded() {
			s.KeepOpen()
			t.bounded = true
		}
	}
	facts := connector.Facts{Key: key, Partitions: n}
	if key != nil {
		facts.Origin = "declared"
	}
	two, err := stage2(facts)
	if err != nil {
		return err
	}
	one := j.config
	two.Name, two.Progress, two.ProgressInterval, two.OnBatch = one.Name, one.Progress, one.ProgressInterval, one.OnBatch
	// both stages write one dead-letter file (if any); stage 2's
	// generations write the statement's sinks
	t.sinks, t.fileDLQ = keepAcrossGenerations(&one)
	two.DLQ, two.Sinks = one.DLQ, one.Sinks
	two.Sources = []connector.Source{t.gen}
	// the job's default applies when the statement sets none (job.Run
	// applies it to the jobs' own configurations, not yet here)
	idle := two.IdleTimeout
	if idle <= 0 {
		idle = job.DefaultIdleTimeout
	}
	t.shuffle = kafka.NewShuffle(srcs, kafka.ShuffleConfig{Topic: rp.Topic, Partitions: n, MaxMessageBytes: topic.MaxMessageBytes, Key: two.Routing.Key,
		EventTime: one.Program.EventTime, MaxOutOfOrder: two.MaxOutOfOrder, IdleTimeout: idle},
		kafkaOpts("repartition:"+rp.Topic)...)
	one.Program = forward{one.Program}
	one.Strategy = partition.NewSticky()
	one.Routing = partition.Context{SourcePartitions: most}
	one.Sinks = []connector.Sink{t.shuffle}
	one.Progress, one.OnBatch = nil, nil
	// stage 2 finishes a bounded run once stage 1 committed the source's end
	one.CommitOnEnd = true
	t.one, t.two = one, two
	j.stages = t
	return nil
}

// stickyRepartition keeps a statement repartitioned once its group has a
// repartition topic: an earlier run (whose plan found the source's key
// unknown, say, on an empty topic) may have moved records there and
// committed them on the source, and only stage 2 reads them. A statement
// the default left in one stage is planned again with 'repartition'='true'
// when the topic exists; with 'repartition'='false' it is refused.
func (c *checked) stickyRepartition(ctx context.Context, stmt *sql.Statement, opts Options, p *plan.Plan, facts connector.Facts) (*plan.Plan, error) {
	ks, ok := c.src.(*kafka.Source)
	if !ok || p.Repartition != nil || !p.Repartitionable() {
		return p, nil
	}
	again, err := keepRepartitioned(ctx, stmt, ks, p, c.props)
	if err != nil || !again {
		return p, err
	}
	return c.build(stmt, opts, facts)
}

// keepRepartitioned reports whether the statement planned one-stage as p,
// whose first source ks is read in a group, must run repartitioned because
// the group has its repartition topic, and then sets 'repartition'='true'
// in props. A run in one stage ('repartition'='false') is then refused.
func keepRepartitioned(ctx context.Context, stmt *sql.Statement, ks *kafka.Source, p *plan.Plan, props map[string]string) (bool, error) {
	if ks.Group() == "" {
		return false, nil
	}
	topic := plan.RepartitionTopic(ks.Group(), p.Name)
	exists, err := kafka.TopicExists(ctx, ks, topic)
	if err != nil {
		return false, err
	}
	if !exists {
		return false, configErr(sql.AtProperty(p.UnusedRepartitionPartitions(), stmt.Select().With))
	}
	if strings.EqualFold(strings.TrimSpace(props[plan.PropRepartition]), "false") {
		return false, configErr(sql.Errorf(stmt, "the statement runs in one stage ('repartition'='false'), but group %q has the repartition topic %s of an earlier run of this statement, "+
			"whose records only a repartitioned run reads: run it repartitioned until they are processed, or delete the topic if they are not needed", ks.Group(), topic))
	}
	slog.Info("the group has a repartition topic from an earlier run: the statement stays repartitioned", "group", ks.Group(), "topic", topic)
	props[plan.PropRepartition] = "true"
	return true, nil
}

// run runs both stages until stage 2 ends (a bounded source read to its
// end by the whole group) or ctx is cancelled, and returns stage 2's
// summary: the counts of all its generations.
func (t *twoStages) run(ctx context.Context) (*job.Summary, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	oneCtx, stopOne := context.WithCancel(ctx)
	oneDone := make(chan error, 1)
	go func() {
		_, err := job.Run(oneCtx, t.one)
		if err != nil {
			cancel(err)
		}
		oneDone <- err
	}()
	var sum *job.Summary
	var err error
	if t.three != nil {
		sum, err = t.runThree(ctx, cancel)
	} else {
		sum, err = t.runTwo(ctx)
	}
	// stage 2 reads no more: its member leaves the group now, so that no
	// rebalance (stage 1's leaving, another process's) waits for it while
	// its poll blocks on readers that nobody reads
	inErr := t.in.Close()
	stopOne()
	errOne := <-oneDone
	if err == nil {
		err = errOne
	}
	if cause := context.Cause(ctx); err == nil && cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause
	}
	var closeErr error
	if err == nil && ctx.Err() == nil {
		closeErr = finish(t.shuffle, t.one)
	} else {
		// failed or stopped: what is not acknowledged is not committed on
		// the source either, and whoever takes its partitions sends it
		// (a flush could wait for a cluster that no longer answers)
		t.shuffle.Abort()
	}
	return finishRun(sum, err, closeErr, closeKept(t.sinks, t.fileDLQ, err != nil), inErr)
}

// finish finishes sh, which the job cfg writes to, at a bounded run's
// end, within cfg's drain timeout: brokers that no longer answer then
// fail the run in that time, not Kafka's delivery timeout.
func finish(sh *kafka.Shuffle, cfg job.Config) error {
	d := cfg.DrainTimeout
	if d <= 0 {
		d = job.DefaultDrainTimeout
	}
	ctx, cancel := context.WithTimeoutCause(context.Background(), d, fmt.Errorf("'%s' (%s) passed", job.PropDrainTimeout, d))
	defer cancel()
	return sh.Finish(ctx)
}

// finishRun returns a run's summary and error: err, else the first of
// closing (the errors of ending what it ran with) that is not nil; the
// summary, if any, says whether the run failed.
func finishRun(sum *job.Summary, err error, closing ...error) (*job.Summary, error) {
	for _, cerr := range closing {
		if err == nil {
			err = cerr
		}
	}
	if sum != nil {
		sum.Failed = err != nil
	}
	return sum, err
}

// runTwo runs stage 2 one generation after another (runGenerations). In
// a bounded run, once the partitions this member holds ended it marks them
// done and stays in the group until the group finished the run: a member
// that stopped (killed) may still hold partitions, which the group gives
// to the members left once its session times out, and a process that
// ended before would leave them unread.
func (t *twoStages) runTwo(ctx context.Context) (*job.Summary, error) {
	return runGenerations(ctx, t.two, t.gen, func() (bool, error) {
		// the partitions held ended: mark them finished here; a stop
		// now gives the markers a short grace (MarkDone)
		err := t.in.MarkDone(ctx, t.shuffle)
		return err != nil || !t.bounded, err
	})
}

// runGenerations runs the job cfg, whose source is gen, one generation
// after another: each rebalance stops the generation's job, which commits
// what it finished; the next starts from the committed offsets with empty
// state. ended, if not nil, is called when a generation's partitions all
// ended (no rebalance stopped it) and more may come, and says whether the
// run stops there. The summary adds up every generation's counts, so that
// a process whose partitions moved away still reports the rows it wrote.
func runGenerations(ctx context.Context, cfg job.Config, gen *generations, ended func() (bool, error)) (*job.Summary, error) {
	start := time.Now()
	var total *job.Summary // the generations so far
	read := false          // a generation ended on its partitions' end
	done := func(sum *job.Summary) *job.Summary {
		if sum == nil {
			sum = total
		} else {
			sum.Add(total)
		}
		if sum != nil {
			sum.Elapsed = time.Since(start)
		}
		return sum
	}
	for {
		gctx, cancel := context.WithCancel(ctx)
		gen.start(cancel)
		sum, err := job.Run(gctx, cfg)
		revoked := gen.stop()
		cancel()
		switch {
		case err != nil:
			return done(sum), err
		case ctx.Err() != nil:
			return done(sum), nil
		case !revoked && !sum.Interrupted:
			if gen.over() {
				// the group finished the run (or no reader comes any
				// more): a generation that read nothing adds nothing,
				// and the one that read its partitions' end tells the
				// rest (strategy, watermark)
				if read {
					return done(nil), nil
				}
				return done(sum), nil
			}
			total, read = done(sum), true
			if ended != nil {
				if stop, err := ended(); stop || err != nil {
					return total, err
				}
			}
		default:
			total = done(sum)
		}
	}
}

// keepAcrossGenerations makes the sinks and the dead-letter file of cfg,
// whose job runs once per generation (runGenerations), outlive each run:
// every sink opens once and a generation's end only flushes it
// (keptSink), and without a dead-letter queue the file the job would
// write ('dlq.path', else the job's default) is opened once for all
// (nil otherwise). closeKept ends them after the last generation.
func keepAcrossGenerations(cfg *job.Config) ([]*keptSink, *job.FileDLQ) {
	var fileDLQ *job.FileDLQ
	if cfg.DLQ == nil {
		path := cfg.DLQPath
		if path == "" {
			path = job.DefaultDLQPath(cfg.Name)
		}
		fileDLQ = job.NewFileDLQ(path)
		cfg.DLQ = fileDLQ
	}
	var kept []*keptSink
	sinks := make([]connector.Sink, 0, len(cfg.Sinks))
	for _, s := range cfg.Sinks {
		k := &keptSink{Sink: s}
		kept = append(kept, k)
		sinks = append(sinks, k)
	}
	cfg.Sinks = sinks
	return kept, fileDLQ
}

// closeKept ends what keepAcrossGenerations kept: it aborts the sinks of a
// run that failed and closes them otherwise, closes the dead-letter file
// (if any), and returns the first error.
func closeKept(sinks []*keptSink, fileDLQ *job.FileDLQ, failed bool) error {
	var err error
	for _, s := range sinks {
		if failed {
			s.Sink.Abort()
		} else if cerr := s.Sink.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	if fileDLQ != nil {
		if cerr := fileDLQ.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	return err
}

// generations is stage 2's source as each generation's job sees it (or
// an aligned member's: restarting): the repartition topic's source, opened
// once and kept across generations, whose readers go to the generation
// running when they arrive.
//
// Every reader the source hands out ends up read by a generation's job or
// closed: the source's poll loop feeds each reader of a partition the
// member holds and blocks while its queue is full, which blocks the
// group's rebalances too. A reader goes to the running generation unless
// a rebalance stopped it (revoked): then it waits in pending for the
// next, which Open hands it. A reader left unread in a generation's
// channel when its job returned goes back to pending (stop), one of a
// revoked generation is closed (revoked), and one revoked since it was
// handed out is closed wherever it is (forward, Open).
type generations struct {
	src groupTopic
	// whole: a generation reads the readers of its assignment, handed
	// over at once, and no more (its readers channel closes then), so
	// that its job does not wait for the source's other partitions,
	// which other members hold, before its watermark moves (a bounded
	// source's partitions not handed out yet hold it back)
	whole bool

	mu      sync.Mutex
	opened  bool
	dlq     connector.DeadLetters
	cur     chan connector.PartitionReader // the running generation's readers; nil between generations
	cancel  context.CancelFunc             // stops the running generation
	stopped chan struct{}                  // closed when the running generation's job returned
	revoke  bool                           // the running generation was stopped by a rebalance
	// assignment is the group assignment of the running generation's
	// readers, which its commits are made under
	assignment int64
	pending    []connector.PartitionReader // readers for the next generation
	closed     bool                        // the source hands out no more readers
	// finished: the group finished a bounded run (kafka.Source.GroupDone),
	// and the generation got no partition
	finished bool
}

// start begins a generation stopped by cancel.
func (g *generations) start(cancel context.CancelFunc) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cancel, g.revoke, g.stopped, g.assignment = cancel, false, make(chan struct{}), -1
}

// over reports whether no generation has anything more to read: the group
// finished the bounded run, or the source hands out no more readers.
func (g *generations) over() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.finished || g.closed
}

// stop ends the generation, whose job returned, and reports whether a
// rebalance stopped it. The readers its job did not take (a job that
// stopped reading before the source handed them out) are the next
// generation's.
func (g *generations) stop() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cancel = nil
	close(g.stopped)
	if g.cur != nil {
		close(g.cur)
		for rd := range g.cur {
			g.pending = append(g.pending, rd)
		}
		g.cur = nil
	}
	return g.revoke
}

// revoked stops the running generation: the group takes partitions away,
// and their state goes with them. The handover waits for the channel it
// returns, closed once the generation's job returned (its last commit
// made).
func (g *generations) revoked() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	var stopped <-chan struct{}
	if g.cancel != nil {
		g.cancel()
		g.revoke = true
		stopped = g.stopped
	}
	// the readers the generation has not taken, and those waiting for
	// the next generation, belong to the assignment revoked: the
	// revocation waits until they are closed
	if g.cur != nil {
		close(g.cur)
		for rd := range g.cur {
			rd.Close()
		}
		g.cur = nil
	}
	for _, rd := range g.pending {
		rd.Close()
	}
	g.pending = nil
	return stopped
}

// Name returns the source's name.
func (g *generations) Name() string { return g.src.Name() }

// Facts returns the repartition topic's facts.
func (g *generations) Facts() connector.Facts { return g.src.Facts() }

// Open opens the source the first time and hands the generation the
// readers the group assigned since the last one.
func (g *generations) Open(ctx context.Context, schema *record.Schema, dlq connector.DeadLetters) (<-chan connector.PartitionReader, error) {
	g.mu.Lock()
	g.dlq = dlq
	first := !g.opened
	g.opened = true
	g.mu.Unlock()
	if first {
		readers, err := g.src.Open(ctx, schema, deadLetters{g})
		if err != nil {
			return nil, err
		}
		go g.forward(readers)
	}
	// Hand the job every partition of the assignment at once, so that all
	// hold the watermark back from the start: a partition registered late
	// would find windows of its keys fired by the others' progress. A
	// member given no partition to read in a bounded run (none, or only
	// those it finished) ends once the group finished the run.
	var checked time.Time
	for !g.assigned() {
		if time.Since(checked) >= groupDonePoll {
			checked = time.Now()
			done, err := g.src.GroupDone(ctx)
			if err != nil {
				slog.Debug("kafka repartition topic: checking whether the group finished", "error", err)
			}
			if done {
				g.mu.Lock()
				g.finished = true
				g.mu.Unlock()
				ch := make(chan connector.PartitionReader)
				close(ch)
				return ch, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	// exactly-once: a rebalance aborted the last generation's transaction
	if err := g.src.BeginTransaction(); err != nil {
		return nil, err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.revoke {
		// A rebalance stopped the generation before it took its
		// readers: those pending now come from the assignment after it,
		// and are the next generation's. Taken by a job that stops,
		// they would be closed while the member holds their partitions
		// (no reader comes for them again), or left in a channel no one
		// reads, their queues full and the poll loop blocked on them.
		ch := make(chan connector.PartitionReader)
		close(ch)
		return ch, nil
	}
	ch := make(chan connector.PartitionReader, len(g.pending)+g.src.Facts().Partitions+1)
	for _, rd := range g.pending {
		if g.src.Current(rd) {
			g.assignment = g.src.Assignment(rd)
			ch <- rd
		} else {
			rd.Close()
		}
	}
	g.pending = nil
	if g.closed || g.cancel == nil || g.whole {
		close(ch)
	} else {
		g.cur = ch
		go g.watchEnd(ch)
	}
	return ch, nil
}

// watchEnd closes the generation's readers channel once every partition
// the member holds has ended (a bounded run), so that its job ends. The
// source's own channel stays open: a later rebalance may still give this
// member partitions to finish (those of a process that stopped).
func (g *generations) watchEnd(ch chan connector.PartitionReader) {
	t := time.NewTicker(assignPoll)
	defer t.Stop()
	for range t.C {
		ended := g.src.AllEnded()
		g.mu.Lock()
		if g.cur != ch {
			g.mu.Unlock()
			return
		}
		if ended {
			close(ch)
			g.cur = nil
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
	}
}

// assigned reports whether the readers of every partition the group
// assigned to this member have arrived (or no more will come).
func (g *generations) assigned() bool {
	owned := g.src.Owned()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return true
	}
	have := map[int32]bool{}
	for _, rd := range g.pending {
		have[rd.Partition()] = true
	}
	for _, p := range owned {
		if !have[p] {
			return false
		}
	}
	return len(owned) > 0
}

// assignPoll is how often a generation checks whether the partitions it
// holds have all ended.
const assignPoll = 10 * time.Millisecond

// groupDonePoll is how often a member the group gives no partition of a
// bounded run checks whether the others finished it.
const groupDonePoll = 200 * time.Millisecond

// forward hands each reader the group assigns to the running generation,
// or keeps it for the next; a reader revoked meanwhile is closed.
func (g *generations) forward(readers <-chan connector.PartitionReader) {
	for rd := range readers {
		if !g.src.Current(rd) {
			rd.Close()
			continue
		}
		g.mu.Lock()
		if g.cur != nil {
			select {
			case g.cur <- rd:
			default:
				g.pending = append(g.pending, rd)
			}
		} else {
			g.pending = append(g.pending, rd)
		}
		g.mu.Unlock()
	}
	g.mu.Lock()
	g.closed = true
	if g.cur != nil {
		close(g.cur)
		g.cur = nil
	}
	g.mu.Unlock()
}

// Commit commits the generation's offsets (the job commits with
// CommitCheckpoint).
func (g *generations) Commit(ctx context.Context, offsets map[int32]int64) error {
	return g.CommitCheckpoint(ctx, offsets, connector.Checkpoint{Watermark: math.MinInt64})
}

// CommitCheckpoint commits the generation's offsets with its checkpoint
// (connector.Checkpointer): the next generation, here or in another
// process, skips what had its effect. Once a rebalance handed the
// generation's partitions over, it commits nothing.
func (g *generations) CommitCheckpoint(ctx context.Context, offsets map[int32]int64, cp connector.Checkpoint) error {
	g.mu.Lock()
	a := g.assignment
	g.mu.Unlock()
	return g.src.CommitCheckpoint(ctx, a, offsets, cp)
}

// Restored returns no checkpoint: the repartition topic's reader itself
// skips what had its effect (kafka.Source.RepartitionSource), partition by
// partition as the group assigns them.
func (g *generations) Restored() (connector.Checkpoint, bool) { return connector.Checkpoint{}, false }

// Close ends a generation; the source stays open for the next.
func (g *generations) Close() error { return nil }

// groupTopic is the topic generations reads across generations: a
// repartition topic's *kafka.Source (kafka.Source.RepartitionSource), or
// an aligned member's (alignedTopic).
type groupTopic interface {
	connector.Source
	connector.Bounded
	connector.Failer
	connector.Upstream
	connector.KeyChecker
	// Owned returns the partitions the group assigns to the member now.
	Owned() []int32
	// Current reports whether rd is the reader the group's last
	// assignment of its partition made (false once revoked).
	Current(rd connector.PartitionReader) bool
	// Assignment returns the number of the assignment that made rd.
	Assignment(rd connector.PartitionReader) int64
	// AllEnded reports whether every partition the member holds ended.
	AllEnded() bool
	// GroupDone reports whether the group finished a bounded run.
	GroupDone(ctx context.Context) (bool, error)
	// BeginTransaction begins the generation's transaction (exactly-once).
	BeginTransaction() error
	// CommitCheckpoint commits offsets read under assignment with cp.
	CommitCheckpoint(ctx context.Context, assignment int64, offsets map[int32]int64, cp connector.Checkpoint) error
}

// Bounded implements connector.Bounded: whether the source's partitions
// end (an aligned member's under stop.at=end; never a repartition topic's,
// whose partitions end at markers). The job never counts a bounded
// source's partition as idle.
func (g *generations) Bounded() bool { return g.src.Bounded() }

// Failed implements connector.Failer.
func (g *generations) Failed() <-chan struct{} { return g.src.Failed() }

// Failure implements connector.Failer.
func (g *generations) Failure() error { return g.src.Failure() }

// Origin implements connector.Upstream: the source, and its partition,
// of a record stage 1 read there (its dead letter is placed in it).
func (g *generations) Origin(partition int32) (string, int32) { return g.src.Origin(partition) }

// ReadAllAtOnce implements connector.AllAtOnce: the repartition topic's
// readers are fed by one poll loop.
func (g *generations) ReadAllAtOnce() bool { return true }

// Contradicted implements connector.KeyChecker.
func (g *generations) Contradicted() <-chan struct{} { return g.src.Contradicted() }

// Contradiction implements connector.KeyChecker.
func (g *generations) Contradiction() error { return g.src.Contradiction() }

// deadLetters passes dead letters to the running generation's queue.
type deadLetters struct{ g *generations }

// Add implements connector.DeadLetters.
func (d deadLetters) Add(l connector.DeadLetter) {
	d.g.mu.Lock()
	q := d.g.dlq
	d.g.mu.Unlock()
	if q != nil {
		q.Add(l)
	}
}

// keptSink is a sink every generation of stage 2 writes to: it opens once,
// and a generation's Close only flushes it. The runner closes it at the end.
type keptSink struct {
	connector.Sink
	opened bool
	// ctx is the running generation's context for its sinks (Open's),
	// which its job cancels when a stop does not drain within the drain
	// timeout
	ctx context.Context
}

// Open opens the sink for the first generation, and takes each
// generation's context for its sinks.
func (k *keptSink) Open(ctx context.Context, schema *record.Schema, keySlots []int) error {
	k.ctx = ctx
	if k.opened {
		return nil
	}
	k.opened = true
	return k.Sink.Open(ctx, schema, keySlots)
}

// Close flushes what the generation wrote, giving up when the generation's
// job cancels its sinks' context (its drain timeout passed): a flush to a
// cluster that answers slowly or not at all must not hold a stopping
// generation past its drain timeout.
func (k *keptSink) Close() error { return k.Sink.Flush(k.ctx) }

// Abort does nothing: the runner aborts the sink when stage 2 fails.
func (k *keptSink) Abort() {}

// WriteThrough implements connector.WriteThrough like the sink does.
func (k *keptSink) WriteThrough() bool {
	wt, ok := k.Sink.(connector.WriteThrough)
	return ok && wt.WriteThrough()
}

// forward is stage 1's program: every record goes on to the repartition
// topic as it was read, stamped with its event time and the watermark of
// its source partition (for stage 2's windows).
type forward struct{ prog job.Program }

func (f forward) InputSchema() *record.Schema              { return f.prog.InputSchema() }
func (f forward) OutputSchema() *record.Schema             { return f.prog.InputSchema() }
func (f forward) KeySlots() []int                          { return nil }
func (f forward) EventTime(r *record.Record) (int64, bool) { return f.prog.EventTime(r) }
func (f forward) Windowed() bool                           { return f.prog.Windowed() }
func (f forward) Ordered() bool                            { return false }
func (f forward) Less(_, _ *record.Record) bool            { return false }
func (f forward) Limit() (int64, bool)                     { return 0, false }
func (f forward) NewPipeline() job.Pipeline                { return &forwardPipe{} }

// forwardPipe passes every record on.
type forwardPipe struct{ stats job.Stats }

func (p *forwardPipe) Process(recs []record.Record, out job.Output) {
	n := int64(len(recs))
	p.stats.In += n
	p.stats.Accepted += n
	out.Emit(recs)
}
func (p *forwardPipe) Advance(int64, job.Output)                                 {}
func (p *forwardPipe) Finish(job.Output)                                         {}
func (p *forwardPipe) Stats() job.Stats                                          { return p.stats }
func (p *forwardPipe) Held(func(topic string, partition int32, minOffset int64)) {}

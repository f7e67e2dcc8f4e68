package runner

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/job"
	"github.com/sluicesql/sluice/partition"
	"github.com/sluicesql/sluice/plan"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// exchangeStage is the third stage of a statement whose query after its
// stream-stream join needs the joined rows on another key than the join's
// (plan.Exchange): stage 2 runs the join and writes every joined row to the
// exchange topic partition of that key (out); stage 3 reads the topic in
// the group, drops the rows a replay of stage 2 sent again and runs the
// query after the join, a generation per assignment, as stage 2 does.
type exchangeStage struct {
	cfg job.Config
	in  *kafka.Source  // the exchange topic's reader
	gen *generations   // in, across stage 3's generations
	out *kafka.Shuffle // stage 2's sink, the exchange topic's writer
	// two is stage 2's topic, which says the run finished when stage 3
	// did
	two *finishedWith
}

// exchangeJoin turns the join job j, whose plan says Repartition with an
// Exchange, into three stages: stage 1 and the repartition topic as
// repartitionJoin makes them; stage 2 reads the topic and runs the join
// alone, each partition on one worker (so that it makes its rows in the
// partition's order), writing the joined rows to the exchange topic;
// stage 3 runs the query after the join over them. A replay of stage 2
// after a rebalance reads its partitions again from their committed
// offsets, skipping nothing: it makes the same rows again, which stage 3
// drops by their positions. popts are the options the plan was made with.
func (q *joinQuery) exchangeJoin(ctx context.Context, stmt *sql.Statement, j *Job, popts plan.Options, srcs []*kafka.Source, streams []int) error {
	prog := q.prog
	if err := prog.WriteRows(); err != nil {
		return configErr(err)
	}
	after := prog.Program // the query after the join: stage 3's
	// Commits wait for the groups EMIT CHANGES updates too, so that a
	// replay rebuilds them instead of counting again from zero.
	after.HoldChanges()
	x := j.Plan.Repartition.Exchange
	n := 0 // the repartition topic's partitions
	replayAll := func(*record.Record, int64) bool { return false }
	err := splitStages(ctx, j, srcs, j.config.Program.InputSchema(), replayAll, q.kafkaOpts, func(topic connector.Facts) (job.Config, error) {
		n = topic.Partitions
		p, err := q.replanOver(stmt, popts, streams, topic)
		if err != nil {
			return job.Config{}, err
		}
		cfg, err := q.jobConfig(p)
		if err != nil {
			return cfg, err
		}
		// no exchange inside the process: each partition's rows leave
		// its worker in the order the join makes them
		if err := prog.SetExchange(nil, nil, 1, 0); err != nil {
			return cfg, configErr(err)
		}
		cfg.Strategy = partition.NewSticky()
		cfg.Program = joinWrites{joinProgram{prog}}
		return cfg, nil
	})
	if err != nil {
		return err
	}
	t := j.stages
	if prog.Outer() {
		// its rows with NULLs are decided by their partition's watermark
		// as each record carries it (join.Program.WriteRows)
		t.in.StampPartitionWatermarks()
	}
	exchange, err := kafka.EnsureRepartitionTopic(ctx, srcs, x.Topic, n)
	if err != nil {
		return fmt.Errorf("source %q: %w", srcs[0].Name(), err)
	}
	keys, err := prog.RowKey(j.Plan.FinalKeys)
	if err != nil {
		return configErr(err)
	}
	three := &exchangeStage{gen: &generations{}}
	three.cfg = t.two
	job.SetRoutingFuncs(&three.cfg.Routing, keys)
	three.out = kafka.NewExchange(t.in, kafka.ShuffleConfig{Topic: x.Topic, Partitions: exchange.Partitions, MaxMessageBytes: exchange.MaxMessageBytes, Key: three.cfg.Routing.Key,
		EventTime: func(r *record.Record) (int64, bool) { return r.EventTime, r.HasEventTime }}, prog.Lag(), q.kafkaOpts("exchange:"+x.Topic)...)
	three.in = t.in.ExchangeSource(x.Topic, n, three.gen.revoked, after.Replayed)
	three.gen.src = three.in
	after.SetReplayFences(three.in)
	three.cfg.Program = joinedRows{job.FromExec(after)}
	three.cfg.Sources = []connector.Source{three.gen}
	three.cfg.Strategy = partition.NewHash()
	// stage 2 writes the exchange topic; stage 3 the statement's sinks
	t.two.Sinks = []connector.Sink{&keptSink{Sink: three.out}}
	t.two.Progress, t.two.OnBatch = nil, nil
	// stage 2 stays in the group until stage 3 finished a bounded run: a
	// partition of a process that stopped must be finished by another
	// before stage 3 can end
	three.two = &finishedWith{groupTopic: t.in, last: three.in}
	t.gen.src = three.two
	t.three = three
	return nil
}

// joinWrites is stage 2's program when a third stage follows: the join,
// whose output is the joined rows it writes (join.Program.WriteRows).
type joinWrites struct{ joinProgram }

// OutputSchema returns the joined row's columns.
func (p joinWrites) OutputSchema() *record.Schema { return p.Program.Program.InputSchema() }

// KeySlots returns none: the exchange topic is keyed by its own key.
func (joinWrites) KeySlots() []int { return nil }

// Ordered reports false: ORDER BY is refused with an exchange.
func (joinWrites) Ordered() bool { return false }

// Limit reports none: LIMIT is refused with an exchange.
func (joinWrites) Limit() (int64, bool) { return 0, false }

// joinedRows is stage 3's program: the query after the join over the
// joined rows, whose event time is the one each row carries (the later of
// its records' times, or the window's column), as one process gives it.
type joinedRows struct{ job.Program }

// EventTime returns the row's event time.
func (joinedRows) EventTime(r *record.Record) (int64, bool) { return r.EventTime, r.HasEventTime }

// finishedWith is stage 2's topic when a third stage follows: the group
// finished the bounded run when stage 3's did.
type finishedWith struct {
	groupTopic
	last *kafka.Source
	// done: this process's stage 3 saw the group finish the run (and
	// leaves the group, its reader closed)
	done atomic.Bool
}

// GroupDone reports whether the group finished stage 3's bounded run.
func (f *finishedWith) GroupDone(ctx context.Context) (bool, error) {
	if f.done.Load() {
		return true, nil
	}
	return f.last.GroupDone(ctx)
}

// runThree runs stages 2 and 3 until stage 3 ends (a bounded run that the
// group finished) or ctx is cancelled, and returns stage 3's summary;
// fail stops the whole run with stage 2's error.
func (t *twoStages) runThree(ctx context.Context, fail context.CancelCauseFunc) (*job.Summary, error) {
	x := t.three
	twoCtx, stopTwo := context.WithCancel(ctx)
	twoDone := make(chan error, 1)
	go func() {
		_, err := t.runTwo(twoCtx)
		if err != nil && !errors.Is(err, context.Canceled) {
			fail(fmt.Errorf("stage 2 (the join): %w", err))
		}
		twoDone <- err
	}()
	sum, err := runGenerations(ctx, x.cfg, x.gen, func() (bool, error) {
		err := x.in.MarkDone(context.WithoutCancel(ctx), x.out)
		return err != nil || !t.bounded, err
	})
	if err == nil && ctx.Err() == nil {
		// the group finished the run: stage 2 ends as its generation
		// does, not stopped in the middle of one (a rebalance may have
		// given it partitions to finish again)
		x.two.done.Store(true)
	} else {
		stopTwo()
	}
	errTwo := <-twoDone
	stopTwo()
	inErr := x.in.Close()
	if err == nil && errTwo != nil && !errors.Is(errTwo, context.Canceled) {
		err = fmt.Errorf("stage 2 (the join): %w", errTwo)
	}
	if err == nil && ctx.Err() == nil {
		err = finish(x.out, t.two)
	} else {
		x.out.Abort()
	}
	if err == nil {
		err = inErr
	}
	return sum, err
}

// last returns the configuration of the stage that runs the statement's
// last step and writes its sinks: stage 3 when there is one, else 2.
func (t *twoStages) last() *job.Config {
	if t.three != nil {
		return &t.three.cfg
	}
	return &t.two
}

package runner

import (
	"context"
	"fmt"
	"maps"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/job"
	"github.com/sluicesql/sluice/partition"
	"github.com/sluicesql/sluice/plan"
	"github.com/sluicesql/sluice/sql"
)

// repartitionJoin turns the join job j, whose plan says Repartition, into
// two stages. Stage 1 reads the join's streams, each a member of the
// statement's consumer group, and writes every record to the one
// repartition topic, keyed by its own side of the routing key, so that the
// records of both streams with equal keys land in one partition whatever
// the streams' partition counts (co-partitioned through the topic). Stage
// 2 reads the topic in the group and runs the join; a stream-stream join's
// records carry the side they came from. The tables are not repartitioned:
// every process reads them whole, as one process does. popts are the
// options the plan was made with.
func (q *joinQuery) repartitionJoin(ctx context.Context, stmt *sql.Statement, opts Options, j *Job, popts plan.Options) error {
	if err := q.checkPlanGuarantee(stmt, j.Plan); err != nil {
		return err
	}
	prog := q.prog
	streams := []int{0}
	if prog.Sides() != nil {
		if err := refuseSourcePosition(stmt); err != nil {
			return err
		}
		streams = prog.StreamInputs()
	}
	var srcs []*kafka.Source
	for _, i := range streams {
		ks, ok := q.srcs[i].(*kafka.Source)
		if !ok {
			return configErr(fmt.Errorf("source %q is not a Kafka topic: only the Kafka streams of a consumer group are repartitioned", q.srcs[i].Name()))
		}
		srcs = append(srcs, ks)
	}
	for _, ks := range srcs[1:] {
		ks.ReadInGroupOf(srcs[0])
	}
	if j.Plan.Repartition.Exchange != nil {
		return q.exchangeJoin(ctx, stmt, j, popts, srcs, streams)
	}
	if j.Plan.Repartition.JoinedTables != nil {
		return q.joinInStageOne(ctx, stmt, j, popts, srcs[0])
	}
	// A record read again before its partition's fence is skipped when
	// it had its whole effect (join.Program.ReplayRule).
	if err := prog.Program.Replayable(); err != nil && prog.Outer() && !prog.Program.WindowedChanges() && !prog.Program.GroupsForEver() && !prog.Program.Sessions() {
		return configErr(fmt.Errorf("an outer stream-stream join repartitioned across processes is followed by state a replay cannot rebuild (%w): run it with '%s'='false'", err, plan.PropRepartition))
	}
	fired := prog.ReplayRule()
	// Commits wait for the groups EMIT CHANGES updates too, so that a
	// replay rebuilds them instead of counting again from zero.
	prog.Program.HoldChanges()
	err := splitStages(ctx, j, srcs, j.config.Program.InputSchema(), fired, q.kafkaOpts, func(topic connector.Facts) (job.Config, error) {
		p, err := q.replanOver(stmt, popts, streams, topic)
		if err != nil {
			return job.Config{}, err
		}
		shardTables(p, prog.Tables())
		return q.jobConfig(p)
	})
	if err != nil {
		return err
	}
	// the windows after the joins write nothing again that had fired
	// under a replayed partition's fence (for tables only, the query
	// after them judges the records after the fence by it too)
	prog.SetReplayFences(j.stages.in)
	warnHeldForGood(j, prog.HeldForGood())
	// a stream-table join's stage 2 joins in its transaction (a
	// stream-stream join was refused exactly once: checkGuarantee)
	return q.exactlyOnceStages(ctx, j, srcs[0])
}

// replanOver plans stmt again with the options popts it was planned
// with, the join's streams (by their indexes) seen as the repartition
// topic of facts topic: stage 2's plan, which reads them there.
func (q *joinQuery) replanOver(stmt *sql.Statement, popts plan.Options, streams []int, topic connector.Facts) (*plan.Plan, error) {
	two := popts
	two.Sources = maps.Clone(popts.Sources)
	for _, i := range streams {
		two.Sources[q.srcs[i].Name()] = topic
	}
	p, err := plan.Build(stmt, two)
	if err != nil {
		return nil, configErr(err)
	}
	return p, nil
}

// jobConfig configures the job of a join planned by p, without its
// sources and sinks: the join program, routed as p says (each stream of
// stream-stream joins by its own side of the key, the joins after an
// exchange re-routing the rows between the workers). A join whose tables
// are joined as the stream is read (plan.Input.JoinedAtSource) is
// configured by joinJob.
func (q *joinQuery) jobConfig(p *plan.Plan) (job.Config, error) {
	prog := q.prog
	cfg, err := job.FromPlan(p, prog.Program, q.props)
	if err != nil {
		return cfg, configErr(err)
	}
	if prog.Sides() != nil {
		if len(p.KeyExprs) > 0 && p.Requirement.Kind == partition.Hash {
			streams := prog.StreamInputs()
			keys := make([][]sql.Expr, len(streams))
			for s, in := range streams {
				keys[s] = p.Inputs[in].KeyExprs
			}
			fns, err := prog.RoutingKey(keys)
			if err != nil {
				return cfg, configErr(err)
			}
			job.SetRoutingFuncs(&cfg.Routing, fns)
		}
		if err := setExchange(p, prog); err != nil {
			return cfg, configErr(err)
		}
	}
	cfg.Program = joinProgram{prog}
	cfg.Name = q.name
	return cfg, nil
}

// joinInStageOne turns the stream-table join job j, whose routing key
// reads a column of its tables (plan.Repartition.JoinedTables), into two
// stages. Stage 1 reads the stream ks as a member of the group, looks each
// record up in the tables (loaded whole before the stream flows, as one
// process loads them) and writes the joined row to the repartition topic,
// by the key evaluated over it; stage 2 runs the query after the join over
// the joined rows, never looking a table up: a replay after a rebalance
// reads the values stage 1 joined, whatever the tables hold by then. A
// joined row keeps its record's source partition, offset, event time and
// watermark, so stage 2 replays, fences and finishes the run as it does
// for a statement without a join. popts are the options the plan was
// made with.
func (q *joinQuery) joinInStageOne(ctx context.Context, stmt *sql.Statement, j *Job, popts plan.Options, ks *kafka.Source) error {
	prog := q.prog
	if err := prog.WriteRows(); err != nil {
		return configErr(err)
	}
	after := prog.Program // the query after the join: stage 2's
	// Commits wait for the groups EMIT CHANGES updates too, so that a
	// replay rebuilds them instead of counting again from zero.
	after.HoldChanges()
	// stage 1 reads the stream itself: its pipelines join it
	q.atSource = false
	j.config.Sources[0] = q.runStream(q.srcs[0])
	// the topic's rows are joined already: as tables joined as the
	// stream is read, they route on the key over the joined row
	joined := popts
	joined.StaticTables = true
	err := splitStages(ctx, j, []*kafka.Source{ks}, after.InputSchema(), after.Replayed, q.kafkaOpts, func(topic connector.Facts) (job.Config, error) {
		p, err := q.replanOver(stmt, joined, []int{0}, topic)
		if err != nil {
			return job.Config{}, err
		}
		keys, err := prog.JoinedRoutingKey(p.KeyExprs)
		if err != nil {
			return job.Config{}, configErr(err)
		}
		at := *p
		at.KeyExprs = nil // set below, over the joined rows
		cfg, err := job.FromPlan(&at, after, q.props)
		if err != nil {
			return cfg, configErr(err)
		}
		job.SetRoutingFuncs(&cfg.Routing, keys)
		cfg.Name = q.name
		return cfg, nil
	})
	if err != nil {
		return err
	}
	// stage 1 writes the joined rows, not the records it read
	j.stages.one.Program = joinWrites{joinProgram{prog}}
	after.SetReplayFences(j.stages.in)
	warnHeldForGood(j, after.HeldForGood())
	return nil
}

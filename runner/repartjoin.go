package runner

import (
	"context"
	"fmt"
	"maps"
	"math"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/job"
	"github.com/sluicesql/sluice/partition"
	"github.com/sluicesql/sluice/plan"
	"github.com/sluicesql/sluice/record"
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
	if err := refuseSourcePosition(stmt); err != nil {
		return err
	}
	prog := q.prog
	streams := []int{0}
	if prog.Sides() != nil {
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
	// A record had its whole effect (a replay skips it) once every window
	// of every row it can be joined into fired: a stream-stream join's rows
	// are as late as its bound reaches past the record's own event time,
	// and the watermark after the joins, which fires the windows, lags
	// the checkpoint's by up to prog.Lag (stage 2 drops the rows of the
	// windows fired under that, SetReplayFences, so a window is either
	// written whole again or not at all).
	// With nothing kept after a stream-stream join, once the watermark
	// passed that reach: the record left the join, its matches written.
	// An outer join with nothing kept after it also needs every row a
	// replayed row may meet, or it would write that row with NULLs:
	// join.Program.Replayed decides, and marks the rows whose NULLs were
	// decided already Settled. Followed by windows (the only state the
	// plan allows after an outer join), the windows rule suffices: a row
	// whose row with NULLs falls in a window still open meets only rows
	// that are replayed, and one in a window that fired is dropped.
	reach, lag, after := prog.Reach(), prog.Lag(), prog.Program
	left := prog.Sides() != nil && after.Replayable() == nil && !after.Windowed()
	outer := prog.Outer() && left
	if err := after.Replayable(); err != nil && prog.Outer() {
		return configErr(fmt.Errorf("an outer stream-stream join repartitioned across processes is followed by state a replay cannot rebuild (%w): run it with '%s'='false'", err, plan.PropRepartition))
	}
	fired := func(rec *record.Record, wm int64) bool {
		if outer {
			return prog.Replayed(rec, wm)
		}
		et, ok := prog.EventTime(rec)
		if !ok {
			return false
		}
		if left {
			return et+reach < wm
		}
		return wm > math.MinInt64+lag && after.Fired(et+reach, wm-lag)
	}
	err := splitStages(ctx, j, srcs, j.config.Program.InputSchema(), fired, q.kafkaOpts, func(topic connector.Facts) (job.Config, error) {
		two := popts
		two.Sources = maps.Clone(popts.Sources)
		for _, i := range streams {
			two.Sources[q.srcs[i].Name()] = topic
		}
		p, err := plan.Build(stmt, two)
		if err != nil {
			return job.Config{}, configErr(err)
		}
		shardTables(p, prog.Tables())
		return q.jobConfig(p)
	})
	if err == nil && prog.Sides() != nil {
		prog.SetReplayFences(j.stages.in.FenceWatermark)
	}
	return err
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

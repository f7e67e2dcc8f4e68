package runner

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/exec/join"
	"github.com/sluicesql/sluice/job"
	"github.com/sluicesql/sluice/plan"
	"github.com/sluicesql/sluice/sql"
)

// Processing guarantees ('processing.guarantee').
const (
	AtLeastOnce = "at_least_once"
	ExactlyOnce = "exactly_once"
)

// guarantee returns the statement's 'processing.guarantee': at_least_once
// (the default) or exactly_once (Kafka Streams' exactly_once_v2 is
// accepted as a synonym).
func guarantee(props map[string]string) (string, error) {
	v := strings.ToLower(strings.TrimSpace(props[job.PropGuarantee]))
	switch v {
	case "", AtLeastOnce:
		return AtLeastOnce, nil
	case ExactlyOnce, "exactly_once_v2":
		return ExactlyOnce, nil
	}
	valid := []string{AtLeastOnce, ExactlyOnce, "exactly_once_v2"}
	hint := sql.DidYouMean(v, valid, strconv.Quote)
	if hint != "" {
		hint = "; " + hint
	}
	return "", &sql.PropertyError{Key: job.PropGuarantee, InValue: true, Msg: fmt.Sprintf("WITH '%s': invalid value %q%s (valid values: %s)",
		job.PropGuarantee, sql.Clip(props[job.PropGuarantee]), hint, strings.Join(valid, ", "))}
}

// checkGuarantee makes the checks of 'processing.guarantee' that need no
// connection: a valid value and, for exactly_once, everything exactlyOnce
// refuses, so that EXPLAIN refuses it too. prog is the query's program;
// for a join, joined is the join's and prog the query after its joins
// (nil otherwise). Its error points at the WITH entry.
func (c *checked) checkGuarantee(stmt *sql.Statement, prog *exec.Program, joined *join.Program) error {
	g, err := guarantee(c.props)
	if err == nil && g == ExactlyOnce {
		src := c.src
		if src == nil && lookup(c.props, c.srcName+".type") == "kafka_source" {
			// another statement's output through a topic: made, not connected
			if ks, kerr := kafka.NewSource(c.srcName, c.props); kerr == nil {
				src = ks
			}
		}
		var sink, dlq []string
		sinkType := lookup(c.props, stmt.Name+".type")
		if sinkType == "" && c.inProcessOut {
			sinkType = "an in-process stream another statement reads (write it to a Kafka topic for that statement to read)"
		}
		if sinkType == "kafka_sink" {
			if k, kerr := kafka.NewSink(stmt.Name, c.props); kerr == nil { // checked by checkSink
				sink = k.Brokers()
			}
		}
		if ks, ok := src.(*kafka.Source); ok && strings.TrimSpace(c.props[job.PropDLQTopic]) != "" {
			conn := ks.Conn()
			if dc, ok, derr := kafka.DeadLetterConn(c.props, &conn); derr == nil && ok {
				dlq = dc.Brokers
			}
		}
		err = exactlyOnceRefusal(c.srcName, src, sinkType, sink, dlq, prog)
		if err == nil && joined != nil {
			err = joinExactlyOnceRefusal(stmt.Select(), joined)
		}
	}
	if err != nil {
		return c.guaranteeError(stmt, err)
	}
	return nil
}

// guaranteeError positions err, a reason to refuse the statement's
// 'processing.guarantee', at that WITH entry.
func (c *checked) guaranteeError(stmt *sql.Statement, err error) error {
	return c.errorAt(&sql.PropertyError{Key: job.PropGuarantee, InValue: true, Msg: err.Error()}, stmt)
}

const refuseExactlyOnce = "WITH 'processing.guarantee'='exactly_once': "

// exactlyOnceRefusal says why a statement cannot run exactly once, or
// returns nil: its source must be a Kafka topic read by a consumer group,
// its sink a kafka_sink (of type sinkType, on the brokers sink) on the
// same cluster, as its Kafka dead-letter topic (on dlq, nil for none), and
// its state one a restart can rebuild.
func exactlyOnceRefusal(srcName string, src connector.Source, sinkType string, sink, dlq []string, prog *exec.Program) error {
	ks, ok := src.(*kafka.Source)
	switch {
	case !ok:
		return fmt.Errorf(refuseExactlyOnce+"the source %q is not a Kafka topic; only Kafka offsets commit in a Kafka transaction (use at_least_once)", srcName)
	case ks.Group() == "":
		return fmt.Errorf(refuseExactlyOnce+"the Kafka source %q needs '%s.group.id' (offsets commit with the output for a consumer group)", srcName, srcName)
	case sinkType != "kafka_sink":
		if sinkType == "" {
			sinkType = "stdout"
		}
		return fmt.Errorf(refuseExactlyOnce+"the sink is %s, which cannot take part in a Kafka transaction (only a kafka_sink can; use at_least_once)", sinkType)
	case !sameCluster(ks.Brokers(), sink):
		return fmt.Errorf(refuseExactlyOnce+"the source reads %v but the sink writes %v: one transaction spans one cluster", ks.Brokers(), sink)
	case dlq != nil && !sameCluster(ks.Brokers(), dlq):
		return fmt.Errorf(refuseExactlyOnce+"the dead-letter topic is on %v, not the source's cluster %v", dlq, ks.Brokers())
	}
	if err := prog.Replayable(); err != nil {
		return fmt.Errorf(refuseExactlyOnce+"the query's state could not be rebuilt after a restart: %w", err)
	}
	return nil
}

// joinExactlyOnceRefusal says why the join prog of sel cannot run exactly
// once, or returns nil. A stream-table join can: each stream record's
// effects (its joined rows, the state they feed, its dead letters) commit
// once with the stream's offsets, and its tables are not transactional
// input but lookups, read whole by every process as at least once reads
// them. A record read again after a restart (its effects were not
// committed) is joined again with the table as the process reads it then;
// a temporal join AS OF the event time keeps the versions a restart reads
// again (job.Resumer); the plan runs it in one process per group, so no
// partition comes from another process's commit. Refused: stream-stream
// joins.
func joinExactlyOnceRefusal(sel *sql.Select, prog *join.Program) error {
	if prog.Sides() != nil {
		other := sel.Joins[prog.StreamInputs()[1]-1].Source.Name
		return fmt.Errorf(refuseExactlyOnce+"not available for a stream-stream join (JOIN %s): after a restart or a rebalance it rebuilds the rows each side waits with by reading the streams again, "+
			"and writes again the pairs a record read again makes, which no transaction can tell from the pairs it committed (in one process per group, %[1]s is read whole, with no offsets to commit); use at_least_once", other)
	}
	return nil
}

// refuseJoinInStageOne refuses exactly-once for the join plan p whose
// stage 1 joins the tables before the repartition topic
// (plan.Repartition.JoinedTables): stage 1 is idempotent, not
// transactional, and stage 2 tells a record stage 1 sends again from a
// new one only within one partition of the topic.
func refuseJoinInStageOne(p *plan.Plan) error {
	rp := p.Repartition
	if rp == nil || len(rp.JoinedTables) == 0 {
		return nil
	}
	return fmt.Errorf(refuseExactlyOnce+"not available when the repartition key reads a table (%s, joined with %s in stage 1): stage 1 is not transactional, "+
		"and a record it sends again after a crash is joined again; if the table's row changed meanwhile, the copy goes to another partition of %s, where stage 2 cannot tell it from a new record and counts it twice. "+
		"Route by a column of the stream, run it in one process per group with '%s'='false' (then exactly once), or use at_least_once",
		strings.Join(rp.Key, ", "), strings.Join(rp.JoinedTables, ", "), rp.Topic, plan.PropRepartition)
}

// exactlyOnce sets cfg up for 'processing.guarantee'='exactly_once': the
// Kafka source becomes transactional, and the Kafka sink and the Kafka
// dead-letter topic produce in its transaction, so that output, dead
// letters and offsets commit together once per commit interval. It refuses
// what cannot take part (exactlyOnceRefusal). Without convert it only
// refuses (a repartitioned statement's transaction is stage 2's).
func exactlyOnce(cfg *job.Config, src connector.Source, sink connector.Sink, dlq *kafka.DeadLetterQueue, prog *exec.Program, sinkType string, convert bool) error {
	kk, isKafka := sink.(*kafka.Sink)
	var sinkBrokers, dlqBrokers []string
	switch {
	case isKafka:
		sinkBrokers = kk.Brokers()
	case sinkType == "kafka_sink":
		return fmt.Errorf("kafka_sink %T is no *kafka.Sink", sink) // cannot happen: openSink makes one
	}
	if dlq != nil {
		dlqBrokers = dlq.Brokers()
	}
	if err := exactlyOnceRefusal(src.Name(), src, sinkType, sinkBrokers, dlqBrokers, prog); err != nil || !convert {
		return err
	}
	ks := src.(*kafka.Source)
	ts, txn, err := ks.Transactional(transactionalID(ks))
	if err != nil {
		return err
	}
	kk.UseTransaction(txn)
	if dlq != nil {
		dlq.UseTransaction(txn)
	}
	cfg.Sources[0] = ts
	cfg.Transactional = true
	return nil
}

// transactionalID is the source's transactional id: stable across restarts
// when it is a static member (a restart then fences the killed process's
// open transaction at once), else unique to this process and this client
// (a process may run several members of one group).
func transactionalID(ks *kafka.Source) string {
	if id := ks.InstanceID(); id != "" {
		return "sluice-" + ks.Group() + "-" + id
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("sluice-%s-%s-%d-%08x", ks.Group(), host, os.Getpid(), rand.Uint32())
}

// sameCluster reports whether two bootstrap lists share a broker.
func sameCluster(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

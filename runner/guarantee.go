package runner

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/job"
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
// refuses (prog is nil for a join), so that EXPLAIN refuses it too. Its
// error points at the WITH entry.
func (c *checked) checkGuarantee(stmt *sql.Statement, prog *exec.Program) error {
	g, err := guarantee(c.props)
	if err == nil && g == ExactlyOnce {
		if prog == nil {
			err = errors.New(refuseExactlyOnce + "not available for a join yet: its tables are not part of the transaction (use at_least_once)")
		} else {
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
		}
	}
	if err != nil {
		return c.errorAt(&sql.PropertyError{Key: job.PropGuarantee, InValue: true, Msg: err.Error()}, stmt)
	}
	return nil
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

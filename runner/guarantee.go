package runner

import (
	"errors"
	"fmt"
	"os"
	"slices"
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
	return "", &sql.PropertyError{Key: job.PropGuarantee, InValue: true, Msg: fmt.Sprintf("WITH %q: invalid value %q (valid values: %s, %s, exactly_once_v2)",
		job.PropGuarantee, sql.Clip(props[job.PropGuarantee]), AtLeastOnce, ExactlyOnce)}
}

// checkGuarantee makes the checks of 'processing.guarantee' that need no
// connection: a valid value and, for exactly_once, a query that is no join,
// reads a Kafka source, writes a kafka_sink and keeps state a restart can
// rebuild (prog is nil for a join). Its error points at the WITH entry.
func (c *checked) checkGuarantee(stmt *sql.Statement, prog *exec.Program) error {
	g, err := guarantee(c.props)
	if err == nil && g == ExactlyOnce {
		const refuse = "WITH 'processing.guarantee'='exactly_once': "
		_, kafkaSource := c.src.(*kafka.Source)
		switch sinkType := c.props[stmt.Name+".type"]; {
		case prog == nil:
			err = errors.New(refuse + "not available for a join yet: its tables are not part of the transaction (use at_least_once)")
		case !kafkaSource:
			err = fmt.Errorf(refuse+"the source %q is not a Kafka topic; only Kafka offsets commit in a Kafka transaction (use at_least_once)", c.srcName)
		case sinkType != "kafka_sink":
			if sinkType == "" {
				sinkType = "stdout"
			}
			err = fmt.Errorf(refuse+"the sink is %s, which cannot take part in a Kafka transaction (only a kafka_sink can; use at_least_once)", sinkType)
		default:
			if rerr := prog.Replayable(); rerr != nil {
				err = fmt.Errorf(refuse+"the query's state could not be rebuilt after a restart: %w", rerr)
			}
		}
	}
	if err != nil {
		return c.errorAt(&sql.PropertyError{Key: job.PropGuarantee, InValue: true, Msg: err.Error()}, stmt)
	}
	return nil
}

// exactlyOnce sets cfg up for 'processing.guarantee'='exactly_once': the
// Kafka source becomes transactional, and the Kafka sink and the Kafka
// dead-letter topic produce in its transaction, so that output, dead
// letters and offsets commit together once per commit interval. It refuses
// what cannot take part: a source or sink that is not Kafka, different
// clusters, a query whose state a restart cannot rebuild.
func exactlyOnce(cfg *job.Config, src connector.Source, sink connector.Sink, dlq *kafka.DeadLetterQueue, prog *exec.Program, sinkType string) error {
	const refuse = "WITH 'processing.guarantee'='exactly_once': "
	ks, ok := src.(*kafka.Source)
	if !ok {
		return fmt.Errorf(refuse+"the source %q is not a Kafka topic; only Kafka offsets commit in a Kafka transaction (use at_least_once)", src.Name())
	}
	kk, ok := sink.(*kafka.Sink)
	if !ok {
		if sinkType == "" {
			sinkType = "stdout"
		}
		return fmt.Errorf(refuse+"the sink is %s, which cannot take part in a Kafka transaction (only a kafka_sink can; use at_least_once)", sinkType)
	}
	if !sameCluster(ks.Brokers(), kk.Brokers()) {
		return fmt.Errorf(refuse+"the source reads %v but the sink writes %v: one transaction spans one cluster", ks.Brokers(), kk.Brokers())
	}
	if dlq != nil && !sameCluster(ks.Brokers(), dlq.Brokers()) {
		return fmt.Errorf(refuse+"the dead-letter topic is on %v, not the source's cluster %v", dlq.Brokers(), ks.Brokers())
	}
	if err := prog.Replayable(); err != nil {
		return fmt.Errorf(refuse+"the query's state could not be rebuilt after a restart: %w", err)
	}
	ts, txn, err := ks.Transactional(transactionalID(ks))
	if err != nil {
		return err
	}
	kk.UseTransaction(txn)
	if dlq != nil {
		dlq.UseTransaction(txn)
	}
	cfg.Sources[0] = ts
	return nil
}

// transactionalID is the source's transactional id: stable across restarts
// when it is a static member (a restart then fences the killed process's
// open transaction at once), else unique to this process.
func transactionalID(ks *kafka.Source) string {
	if id := ks.InstanceID(); id != "" {
		return "sluice-" + ks.Group() + "-" + id
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("sluice-%s-%s-%d", ks.Group(), host, os.Getpid())
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

package main

import (
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/metrics"
	"github.com/sluicesql/sluice/runner"
)

// kafkaMetrics returns the runner option that gives every Kafka client of
// a job franz-go's kprom metrics on m, or nil without metrics.
func kafkaMetrics(m *metrics.Metrics) func(job, client string) []kgo.Opt {
	if m == nil {
		return nil
	}
	return func(job, client string) []kgo.Opt {
		return []kgo.Opt{m.KafkaClientOpt(job, client)}
	}
}

// watchJob registers a prepared job with m under its name: strategy and
// partitions, the latency of every batch its workers process, and the
// consumer lag of its Kafka sources. Without metrics it does nothing.
func watchJob(m *metrics.Metrics, j *runner.Job) {
	if m == nil {
		return
	}
	m.Start(j.Name, j.Plan.Strategy.Name(), j.Plan.Partitions)
	j.SetOnBatch(m.BatchObserver(j.Name, j.Plan.Partitions))
	var lags []metrics.LagSource
	for _, s := range j.KafkaSources() {
		lags = append(lags, s)
	}
	m.WatchLag(j.Name, lags...)
}

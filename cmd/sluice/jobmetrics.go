package main

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/metrics"
	"github.com/sluicesql/sluice/runner"
	"github.com/sluicesql/sluice/server"
)

// serveMetrics serves Prometheus metrics on addr and returns them with a
// function that stops the server; with no addr it returns nil metrics and a
// no-op stop.
func serveMetrics(e *env, addr string) (*metrics.Metrics, func(), error) {
	if addr == "" {
		return nil, func() {}, nil
	}
	m := metrics.New()
	srv, err := metrics.Serve(addr, m)
	if err != nil {
		return nil, nil, userError{fmt.Errorf("--metrics-addr: %w", err)}
	}
	e.log.Info("serving metrics", "url", "http://"+srv.Addr()+"/metrics")
	return m, func() { srv.Close() }, nil
}

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

// watchJob registers a prepared job with m (see server.WatchJob).
func watchJob(m *metrics.Metrics, j *runner.Job) { server.WatchJob(m, j) }

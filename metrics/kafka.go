package metrics

import (
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"

	"github.com/sluicesql/sluice/secret"
)

// KafkaNamespace prefixes the franz-go client metrics (kprom's), e.g.
// sluice_kafka_read_bytes_total.
const KafkaNamespace = "sluice_kafka"

// LagSource is a Kafka source whose consumer lag is exported
// (*kafka.Source is one).
type LagSource interface {
	// Name is the source's name in the statement; Topic the topic it reads.
	Name() string
	Topic() string
	// Lag returns the consumer lag per partition; it must be safe for
	// concurrent use.
	Lag() map[int32]int64
	// Unavailable returns how long the source's brokers have not answered
	// (0 while they do); UnavailableTimeout how long the source retries
	// them before it stops (0: forever). Both must be safe for concurrent use.
	Unavailable() time.Duration
	UnavailableTimeout() time.Duration
}

// WatchLag exports sluice_kafka_consumer_lag of job name's Kafka sources,
// read from them at every scrape, replacing any sources watched before
// under that name.
func (m *Metrics) WatchLag(name string, srcs ...LagSource) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lags[name] = srcs
}

// collectLag sends the consumer lag and availability of one job's sources.
func collectLag(ch chan<- prometheus.Metric, name string, srcs []LagSource) {
	for _, s := range srcs {
		timeout := math.Inf(1) // retries forever
		if d := s.UnavailableTimeout(); d > 0 {
			timeout = d.Seconds()
		}
		ch <- prometheus.MustNewConstMetric(descKafkaUnavailable, prometheus.GaugeValue, s.Unavailable().Seconds(), name, s.Name(), s.Topic())
		ch <- prometheus.MustNewConstMetric(descKafkaUnavailableTimeout, prometheus.GaugeValue, timeout, name, s.Name(), s.Topic())
		for p, lag := range s.Lag() {
			ch <- prometheus.MustNewConstMetric(descKafkaLag, prometheus.GaugeValue, float64(lag),
				name, s.Name(), s.Topic(), strconv.Itoa(int(p)))
		}
	}
}

// clientKey names one franz-go client of a job.
type clientKey struct{ job, client string }

// kafkaClient is one franz-go client's kprom metrics, collected once the
// client exists (kprom creates them in OnNewClient).
type kafkaClient struct {
	kp    *kprom.Metrics
	ready atomic.Bool
}

// OnNewClient implements kgo.HookNewClient; it runs after kprom's.
func (k *kafkaClient) OnNewClient(*kgo.Client) { k.ready.Store(true) }

// KafkaClientOpt returns the option that makes a franz-go client export
// its metrics (kprom's, namespace sluice_kafka, labelled job and client)
// on m's registry. Give each client its own option: kprom tracks one client.
// The metrics stay after the client closes, with their last values, until
// another client registers under the same job and client. Secrets in the
// labels are redacted (package secret).
func (m *Metrics) KafkaClientOpt(job, client string) kgo.Opt {
	k := &kafkaClient{kp: kprom.NewMetrics(KafkaNamespace, kprom.Registry(nil),
		kprom.WithStaticLabel(prometheus.Labels{"job": secret.Redact(job), "client": secret.Redact(client)}))}
	m.mu.Lock()
	m.clients[clientKey{job, client}] = k
	m.mu.Unlock()
	return kgo.WithHooks(k.kp, k)
}

// clientCollector collects every Kafka client's kprom metrics. It describes
// nothing (an unchecked collector): the metrics exist only with the clients.
type clientCollector Metrics

// Describe implements prometheus.Collector.
func (c *clientCollector) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector.
func (c *clientCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, k := range c.clients {
		if k.ready.Load() {
			k.kp.Collect(ch)
		}
	}
}

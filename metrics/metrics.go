// Package metrics exposes running Sluice jobs as Prometheus metrics. The
// CLI feeds it the coordinator's snapshots (job.Summary, about once a
// second and at the end) and serves them at /metrics; every name starts
// with "sluice_". Batch latencies come live from the workers
// (BatchObserver), Kafka consumer lag is read from the sources at each
// scrape (WatchLag), and the Kafka clients export franz-go's own metrics
// through its kprom plugin (KafkaClientOpt).
package metrics

import (
	"math"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/sluicesql/sluice/job"
)

// Metrics holds the latest snapshot of every job and turns it into
// Prometheus metrics when scraped. It is safe for concurrent use.
type Metrics struct {
	reg     *prometheus.Registry
	batches *prometheus.HistogramVec
	mu      sync.Mutex
	jobs    map[string]*jobState
	lags    map[string][]LagSource     // per job: its Kafka sources
	clients map[clientKey]*kafkaClient // franz-go clients' kprom metrics
}

// jobState is what is known about one job.
type jobState struct {
	strategy   string
	partitions int
	last       *job.Summary
}

// New returns an empty registry with the Sluice collectors, Go runtime and
// process metrics.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), jobs: map[string]*jobState{},
		batches: newBatchHistogram(), lags: map[string][]LagSource{}, clients: map[clientKey]*kafkaClient{}}
	m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		(*collector)(m), m.batches, (*clientCollector)(m))
	return m
}

// Registry returns the registry, to add collectors (a Kafka client's kprom
// metrics, for example).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Start registers a job about to run with its strategy and partition count.
func (m *Metrics) Start(name, strategy string, partitions int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.jobs[name] = &jobState{strategy: strategy, partitions: partitions}
}

// Observe records a snapshot of job name.
func (m *Metrics) Observe(name string, s *job.Summary) {
	m.mu.Lock()
	defer m.mu.Unlock()
	st := m.jobs[name]
	if st == nil {
		st = &jobState{strategy: s.Strategy, partitions: len(s.Partitions)}
		m.jobs[name] = st
	}
	st.last = s
}

// desc builds a metric description with the given variable labels.
func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("sluice_"+name, help, labels, nil)
}

var (
	jobL  = []string{"job"}
	partL = []string{"job", "partition"}

	descInfo                    = desc("job_info", "The job's partitioning strategy and partition count (value 1).", "job", "strategy", "partitions")
	descElapsed                 = desc("job_elapsed_seconds", "Time since the job started.", jobL...)
	descIn                      = desc("records_in_total", "Records read by the job (including those that failed to decode).", jobL...)
	descOut                     = desc("records_out_total", "Rows the job's pipelines emitted.", jobL...)
	descFiltered                = desc("records_filtered_total", "Records dropped by WHERE (or HAVING), and a stream's Kafka messages with no value (tombstones).", jobL...)
	descLimited                 = desc("records_limited_total", "Records read after a LIMIT on rows was reached (counted, not output).", jobL...)
	descDead                    = desc("records_dead_lettered_total", "Records sent to the dead-letter queue.", jobL...)
	descLate                    = desc("records_late_total", "Late records, dropped or dead-lettered because their window had closed.", jobL...)
	descWritten                 = desc("rows_written_total", "Rows written to the sinks.", jobL...)
	descSkew                    = desc("partition_skew_ratio", "Records of the busiest partition divided by the mean (1 is even).", jobL...)
	descWatermark               = desc("watermark_seconds", "The job's event-time watermark as a Unix time.", jobL...)
	descWatermarkLag            = desc("watermark_lag_seconds", "How far the watermark trails the newest event time read.", jobL...)
	descPartIn                  = desc("partition_records_in_total", "Records routed to the partition.", partL...)
	descPartOut                 = desc("partition_records_out_total", "Rows the partition's pipeline emitted.", partL...)
	descQueue                   = desc("partition_queue_depth", "Batches waiting in the partition's queue.", partL...)
	descQueueMax                = desc("partition_queue_depth_max", "Most batches seen waiting in the partition's queue.", partL...)
	descQueueCap                = desc("partition_queue_capacity", "Capacity of the partition's queue, in batches.", partL...)
	descBusy                    = desc("partition_busy_ratio", "Share of the elapsed time the partition's worker spent processing.", partL...)
	descBusySeconds             = desc("partition_busy_seconds_total", "Time the partition's worker spent processing.", partL...)
	descWaits                   = desc("backpressure_waits_total", "Batches an ingest goroutine could not hand over at once because the partition's queue was full.", partL...)
	descWaitSeconds             = desc("backpressure_wait_seconds_total", "Time ingest goroutines spent waiting for room in the partition's queue.", partL...)
	descKafkaUnavailable        = desc("kafka_source_unavailable_seconds", "How long a Kafka source's brokers have not answered (0 while they do).", "job", "source", "topic")
	descKafkaUnavailableTimeout = desc("kafka_source_unavailable_timeout_seconds", "How long a Kafka source retries unreachable brokers before it stops ('<n>.unavailable.timeout'); +Inf: forever.", "job", "source", "topic")
	descKafkaLag                = desc("kafka_consumer_lag", "Records a Kafka source partition holds past the next one the source hands out (high watermark minus that offset).", "job", "source", "topic", "partition")
)

// collector is Metrics seen as a prometheus.Collector.
type collector Metrics

// Describe sends every metric description.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descInfo, descElapsed, descIn, descOut, descFiltered, descLimited, descDead, descLate,
		descWritten, descSkew, descWatermark, descWatermarkLag, descPartIn, descPartOut, descQueue, descQueueMax,
		descQueueCap, descBusy, descBusySeconds, descWaits, descWaitSeconds, descKafkaLag, descKafkaUnavailable, descKafkaUnavailableTimeout} {
		ch <- d
	}
}

// Collect sends the metrics of every job's latest snapshot.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, st := range c.jobs {
		ch <- prometheus.MustNewConstMetric(descInfo, prometheus.GaugeValue, 1, name, st.strategy, strconv.Itoa(st.partitions))
		if s := st.last; s != nil {
			collectJob(ch, name, s)
		}
	}
	for name, srcs := range c.lags {
		collectLag(ch, name, srcs)
	}
}

// collectJob sends the metrics of one snapshot.
func collectJob(ch chan<- prometheus.Metric, name string, s *job.Summary) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	t := s.Total
	gauge(descElapsed, s.Elapsed.Seconds(), name)
	counter(descIn, t.In, name)
	counter(descOut, t.Out, name)
	counter(descFiltered, t.Filtered, name)
	counter(descLimited, t.Limited, name)
	counter(descDead, s.DeadLetters, name)
	counter(descLate, t.Late, name)
	counter(descWritten, s.RowsWritten, name)
	gauge(descSkew, s.Skew, name)
	if s.Watermark != math.MinInt64 {
		gauge(descWatermark, float64(s.Watermark)/1000, name)
		gauge(descWatermarkLag, s.WatermarkLag.Seconds(), name)
	}
	for i, p := range s.Partitions {
		part := strconv.Itoa(i)
		counter(descPartIn, p.In, name, part)
		counter(descPartOut, p.Out, name, part)
		gauge(descQueue, float64(p.QueueDepth), name, part)
		gauge(descQueueMax, float64(p.MaxQueueDepth), name, part)
		gauge(descQueueCap, float64(p.QueueCap), name, part)
		ch <- prometheus.MustNewConstMetric(descBusySeconds, prometheus.CounterValue, p.Busy.Seconds(), name, part)
		busy := 0.0
		if s.Elapsed > 0 {
			busy = min(1, p.Busy.Seconds()/s.Elapsed.Seconds())
		}
		gauge(descBusy, busy, name, part)
		counter(descWaits, p.BackpressureWaits, name, part)
		ch <- prometheus.MustNewConstMetric(descWaitSeconds, prometheus.CounterValue, p.BackpressureWait.Seconds(), name, part)
	}
}

package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// batchBuckets are the upper bounds of the batch latency histogram: 10µs
// to about 2.6s, each four times the last.
var batchBuckets = prometheus.ExponentialBuckets(10e-6, 4, 10)

func newBatchHistogram() *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "sluice_partition_batch_seconds",
		Help:    "Time a partition's worker spent processing one batch of records.",
		Buckets: batchBuckets,
	}, partL)
}

// BatchObserver returns a function that records one batch's processing
// time in sluice_partition_batch_seconds of job name's partitions 0 to
// partitions-1; it suits job.Config.OnBatch. It is safe for concurrent use
// and does not allocate; batches of partitions out of range are ignored.
func (m *Metrics) BatchObserver(name string, partitions int) func(partition, records int, d time.Duration) {
	obs := make([]prometheus.Observer, partitions)
	for i := range obs {
		obs[i] = m.batches.WithLabelValues(name, strconv.Itoa(i))
	}
	return func(partition, _ int, d time.Duration) {
		if uint(partition) < uint(len(obs)) {
			obs[partition].Observe(d.Seconds())
		}
	}
}

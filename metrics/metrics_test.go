package metrics

import (
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/job"
)

func TestServeSnapshot(t *testing.T) {
	m := New()
	m.Start("j", "smart_repartition", 2)
	srv, err := Serve("127.0.0.1:0", m)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if got := get(t, srv.Addr()); !strings.Contains(got, `sluice_job_info{job="j",partitions="2",strategy="smart_repartition"} 1`) ||
		strings.Contains(got, "sluice_records_in_total") {
		t.Fatalf("before any snapshot:\n%s", got)
	}
	m.Observe("j", &job.Summary{
		Strategy: "smart_repartition",
		Partitions: []job.PartitionStats{
			{In: 30, Out: 3, Busy: 500 * time.Millisecond, QueueDepth: 2, MaxQueueDepth: 5, QueueCap: 8,
				BackpressureWaits: 7, BackpressureWait: 1500 * time.Millisecond},
			{In: 10, Out: 1, Busy: 4 * time.Second, QueueCap: 8},
		},
		Total:        job.PartitionStats{In: 41, Out: 4, Filtered: 5, LateDropped: 2, Late: 2},
		DeadLetters:  1,
		RowsWritten:  4,
		Skew:         1.5,
		Watermark:    1705276800000,
		WatermarkLag: 250 * time.Millisecond,
		Elapsed:      2 * time.Second,
	})
	got := get(t, srv.Addr())
	for _, want := range []string{
		`sluice_records_in_total{job="j"} 41`,
		`sluice_records_out_total{job="j"} 4`,
		`sluice_records_filtered_total{job="j"} 5`,
		`sluice_records_dead_lettered_total{job="j"} 1`,
		`sluice_records_late_total{job="j"} 2`,
		`sluice_rows_written_total{job="j"} 4`,
		`sluice_partition_skew_ratio{job="j"} 1.5`,
		`sluice_watermark_seconds{job="j"} 1.7052768e+09`,
		`sluice_watermark_lag_seconds{job="j"} 0.25`,
		`sluice_partition_records_in_total{job="j",partition="0"} 30`,
		`sluice_partition_records_out_total{job="j",partition="1"} 1`,
		`sluice_partition_queue_depth{job="j",partition="0"} 2`,
		`sluice_partition_queue_depth_max{job="j",partition="0"} 5`,
		`sluice_partition_queue_capacity{job="j",partition="1"} 8`,
		`sluice_partition_busy_ratio{job="j",partition="0"} 0.25`,
		`sluice_partition_busy_ratio{job="j",partition="1"} 1`, // capped: busy can exceed elapsed by rounding
		`sluice_partition_busy_seconds_total{job="j",partition="1"} 4`,
		`sluice_backpressure_waits_total{job="j",partition="0"} 7`,
		`sluice_backpressure_waits_total{job="j",partition="1"} 0`,
		`sluice_backpressure_wait_seconds_total{job="j",partition="0"} 1.5`,
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("missing %s", want)
		}
	}
	if t.Failed() {
		t.Log(got)
	}
	m.Observe("j", &job.Summary{Watermark: math.MinInt64, Partitions: []job.PartitionStats{{}}})
	if got := get(t, srv.Addr()); strings.Contains(got, "sluice_watermark_seconds") {
		t.Errorf("watermark exported before there is one")
	}
}

func TestServeBadAddress(t *testing.T) {
	if _, err := Serve("256.0.0.1:bad", New()); err == nil {
		t.Fatal("no error for an unusable address")
	}
}

func get(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

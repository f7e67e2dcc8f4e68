package main

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/job"
)

func TestWriteSummary(t *testing.T) {
	s := &job.Summary{
		Strategy: "smart_repartition",
		Partitions: []job.PartitionStats{
			{In: 3000, Out: 10, Filtered: 100, LateDropped: 2, Late: 2},
			{In: 1000, Out: 5, DeadLettered: 1},
		},
		Total:       job.PartitionStats{In: 4003, Out: 15, Filtered: 100, DeadLettered: 4, LateDropped: 2, Late: 2},
		RowsWritten: 15,
		Skew:        1.5,
		DeadLetters: 4,
		DLQPath:     "trades.dlq.jsonl",
		Elapsed:     2 * time.Second,
		Watermark:   math.MinInt64,
	}
	var b strings.Builder
	writeSummary(&b, runInfo{Name: "minutes", Keys: []string{"trader_id"}, Choice: "auto", PartitionsOrigin: "flag",
		Note: "record at offset 3 is in partition 1, not 5"}, s)
	want := `job minutes done: smart_repartition on trader_id (chosen by auto), 2 partitions (from --partitions)
  records:    in 4,003, out 15, filtered 100, dead-lettered 4, late 2 (dropped); rows written 15
  dead letters in trades.dlq.jsonl
  elapsed:    2s, 2,001 records/s
  partitions: p0 3,000 (75.0%), p1 1,000 (25.0%)
  skew:       1.50 (largest partition / mean; 1.00 is even)
  note:       the source's partition key is not used: record at offset 3 is in partition 1, not 5
`
	if got := b.String(); got != want {
		t.Errorf("summary:\n%s\nwant:\n%s", got, want)
	}
	s.DLQPath, s.DLQTopic = "", "trades-dead"
	b.Reset()
	writeSummary(&b, runInfo{Name: "minutes", Choice: "auto", PartitionsOrigin: "flag"}, s)
	if got, line := b.String(), "\n  dead letters in Kafka topic trades-dead\n  elapsed:"; !strings.Contains(got, line) {
		t.Errorf("summary with a DLQ topic:\n%s\nwant the line %q", got, line)
	}
	// No record routed: no skew to speak of (0.00 would read as better than even).
	b.Reset()
	writeSummary(&b, runInfo{Name: "empty", Choice: "auto", PartitionsOrigin: "flag"}, &job.Summary{Strategy: "always_hash", Partitions: make([]job.PartitionStats, 2)})
	if got, line := b.String(), "\n  skew:       none (no record reached a partition)\n"; !strings.Contains(got, line) {
		t.Errorf("summary of an empty input:\n%s\nwant the line %q", got, line)
	}
	// Records read after a LIMIT are not "filtered".
	s.Total.Limited = 7
	b.Reset()
	writeSummary(&b, runInfo{Name: "minutes", Choice: "auto", PartitionsOrigin: "flag"}, s)
	if got, line := b.String(), "in 4,003, out 15, filtered 100, past LIMIT 7, dead-lettered 4,"; !strings.Contains(got, line) {
		t.Errorf("summary with records past LIMIT:\n%s\nwant %q", got, line)
	}
}

// TestWriteSummaryState: the first line says failed, interrupted or done
// truthfully; a failed run is failed even when it was also interrupted.
func TestWriteSummaryState(t *testing.T) {
	for _, c := range []struct {
		failed, interrupted bool
		want                string
	}{{false, false, "job j done:"}, {false, true, "job j interrupted:"}, {true, false, "job j failed:"}, {true, true, "job j failed:"}} {
		var b strings.Builder
		writeSummary(&b, runInfo{Name: "j"}, &job.Summary{Failed: c.failed, Interrupted: c.interrupted, Watermark: math.MinInt64})
		if got := b.String(); !strings.HasPrefix(got, c.want) {
			t.Errorf("failed %v, interrupted %v: summary starts %q, want %q", c.failed, c.interrupted, strings.SplitN(got, " ", 4)[:3], c.want)
		}
	}
}

func TestWriteSummaryBackpressure(t *testing.T) {
	s := &job.Summary{
		Strategy: "always_hash",
		Partitions: []job.PartitionStats{
			{In: 10, BackpressureWaits: 1200, BackpressureWait: 800 * time.Millisecond},
			{In: 10},
			{In: 10, BackpressureWaits: 3, BackpressureWait: 4 * time.Millisecond},
		},
		Total:     job.PartitionStats{In: 30, BackpressureWaits: 1203, BackpressureWait: 804 * time.Millisecond},
		Skew:      1,
		Elapsed:   time.Second,
		Watermark: math.MinInt64,
	}
	var b strings.Builder
	writeSummary(&b, runInfo{Name: "j", Choice: "flag", PartitionsOrigin: "flag"}, s)
	want := "  skew:       1.00 (largest partition / mean; 1.00 is even)\n" +
		"  backpressure: 1,203 waits for a full queue (p0 1,200, p2 3); readers waited 804ms in total (summed over the readers, which wait in parallel)\n"
	if got := b.String(); !strings.HasSuffix(got, want) {
		t.Errorf("summary:\n%s\nwant it to end with:\n%s", got, want)
	}
}

// TestWriteSummaryManyPartitions: of many partitions the summary lists the
// busiest, in partition order, and counts the rest.
func TestWriteSummaryManyPartitions(t *testing.T) {
	s := &job.Summary{Strategy: "always_hash", Skew: 1, Elapsed: time.Second, Watermark: math.MinInt64}
	for i := range 100 {
		in := int64(1)
		if i%5 == 0 {
			in = int64(100 + i)
		}
		s.Partitions = append(s.Partitions, job.PartitionStats{In: in})
		s.Total.In += in
	}
	var b strings.Builder
	writeSummary(&b, runInfo{Name: "j", Choice: "flag", PartitionsOrigin: "flag"}, s)
	want := "  partitions: p20 120 (4.0%), p25 125 (4.1%), p30 130 (4.3%), p35 135 (4.5%), p40 140 (4.6%), p45 145 (4.8%), " +
		"p50 150 (5.0%), p55 155 (5.1%), p60 160 (5.3%), p65 165 (5.4%), p70 170 (5.6%), p75 175 (5.8%), p80 180 (5.9%), " +
		"p85 185 (6.1%), p90 190 (6.3%), p95 195 (6.4%), and 84 more with fewer records\n"
	if got := b.String(); !strings.Contains(got, want) {
		t.Errorf("summary:\n%s\nwant the line:\n%s", got, want)
	}
}

func TestCount(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1,000"}, {1234567, "1,234,567"}, {-12345, "-12,345"}} {
		if got := count(c.n); got != c.want {
			t.Errorf("count(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}

func TestRenderProgress(t *testing.T) {
	prev := &job.Summary{Total: job.PartitionStats{In: 1000}, Elapsed: time.Second}
	s := &job.Summary{
		Partitions:   []job.PartitionStats{{In: 2000, QueueDepth: 1, QueueCap: 8}, {In: 1000, QueueCap: 8}},
		Total:        job.PartitionStats{In: 3000, Out: 7},
		Watermark:    time.Date(2024, 1, 15, 0, 1, 0, 0, time.UTC).UnixMilli(),
		WatermarkLag: 1500 * time.Millisecond,
		Elapsed:      2 * time.Second,
	}
	var b strings.Builder
	n := renderProgress(&b, "j", s, prev, inputRead{})
	want := "j 2s: in 3,000, out 7, 2,000 records/s, watermark 2024-01-15T00:01:00Z (lag 1.5s)\n" +
		"  p0  " + strings.Repeat("█", 20) + strings.Repeat("·", 10) + "  66.7% 2,000  queue 1/8\n" +
		"  p1  " + strings.Repeat("█", 10) + strings.Repeat("·", 20) + "  33.3% 1,000  queue 0/8\n"
	if n != 3 || b.String() != want {
		t.Errorf("renderProgress = %d lines:\n%s\nwant 3:\n%s", n, b.String(), want)
	}
	// A bounded file of known size: how much was read, the percentage and
	// the time left at the rate so far (a quarter in 2s: 6s left).
	b.Reset()
	n = renderProgress(&b, "j", s, prev, inputRead{read: 3 << 29, total: 3 << 31})
	wantInput := "  input " + strings.Repeat("█", 8) + strings.Repeat("·", 22) + "  25.0% of 6.0 GiB read, ETA 6s\n"
	if lines := strings.SplitAfter(b.String(), "\n"); n != 4 || len(lines) < 2 || lines[1] != wantInput {
		t.Errorf("renderProgress with input = %d lines:\n%s\nwant 4 with:\n%s", n, b.String(), wantInput)
	}
	b.Reset()
	renderProgress(&b, "j", &job.Summary{Watermark: math.MinInt64, Partitions: []job.PartitionStats{{}}}, nil, inputRead{total: 10})
	if !strings.Contains(b.String(), "watermark none") || !strings.Contains(b.String(), strings.Repeat("·", 30)) {
		t.Errorf("empty job progress:\n%s", b.String())
	}
}

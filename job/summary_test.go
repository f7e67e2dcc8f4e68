package job

import (
	"testing"
	"time"
)

// TestSummaryAdd adds an earlier generation's counts to a later one: the
// counters sum, per partition and in total; the later run's queue depths,
// watermark and commits stay, and the earlier run's commits of other
// partitions are kept.
func TestSummaryAdd(t *testing.T) {
	earlier := &Summary{
		Partitions:         []PartitionStats{{In: 30, Accepted: 30, Out: 3, QueueDepth: 5, QueueCap: 8, MaxQueueDepth: 8}, {In: 10, Accepted: 9, Filtered: 1, Out: 1, QueueCap: 8}},
		Total:              PartitionStats{In: 42, Accepted: 39, Filtered: 1, DeadLettered: 2, Out: 4, QueueDepth: 5, QueueCap: 16, MaxQueueDepth: 8},
		SourceDeadLettered: map[string]int64{"trades": 2},
		RowsWritten:        4, DeadLetters: 2, DLQPath: "dlq.jsonl",
		Committed: map[string]map[int32]int64{"t": {0: 100, 1: 50}},
		Elapsed:   time.Second, Watermark: 10,
	}
	later := &Summary{
		Partitions:  []PartitionStats{{In: 0, QueueCap: 8}, {In: 20, Accepted: 20, Out: 2, QueueDepth: 1, QueueCap: 8, MaxQueueDepth: 2}},
		Total:       PartitionStats{In: 20, Accepted: 20, Out: 2, QueueDepth: 1, QueueCap: 16, MaxQueueDepth: 2},
		RowsWritten: 2,
		Committed:   map[string]map[int32]int64{"t": {1: 80}},
		Elapsed:     2 * time.Second, Watermark: 20,
	}
	later.Add(earlier)
	later.Add(nil)
	if got := later.Total; got.In != 62 || got.Accepted != 59 || got.Filtered != 1 || got.DeadLettered != 2 || got.Out != 6 ||
		got.QueueDepth != 1 || got.QueueCap != 16 || got.MaxQueueDepth != 8 {
		t.Errorf("total %+v", got)
	}
	if p := later.Partitions; p[0].In != 30 || p[0].Out != 3 || p[0].QueueDepth != 0 || p[1].In != 30 || p[1].Out != 3 || p[1].QueueDepth != 1 {
		t.Errorf("partitions %+v", p)
	}
	if later.RowsWritten != 6 || later.DeadLetters != 2 || later.DLQPath != "dlq.jsonl" || later.SourceDeadLettered["trades"] != 2 {
		t.Errorf("rows %d, dead letters %d in %q, %v", later.RowsWritten, later.DeadLetters, later.DLQPath, later.SourceDeadLettered)
	}
	if c := later.Committed["t"]; c[0] != 100 || c[1] != 80 {
		t.Errorf("committed %v, want 0:100 (the earlier run's) and 1:80 (the later's)", c)
	}
	if later.Watermark != 20 || later.Elapsed != 2*time.Second {
		t.Errorf("watermark %d, elapsed %v: want the later run's", later.Watermark, later.Elapsed)
	}
	// 60 records over 2 partitions, the largest 30: even
	if later.Skew != 1 {
		t.Errorf("skew %v, want 1", later.Skew)
	}
}

package plan

import (
	"strings"
	"testing"
)

// TestScaleOut pins which statements may be split over the processes of a
// consumer group: those whose every key stays in one source partition.
func TestScaleOut(t *testing.T) {
	tests := []struct {
		sql   string
		split bool
		why   string // a fragment of ScaleOut().Why
	}{
		{"SELECT a, b FROM t WHERE b > 1" + kafka, true, "stateless"},
		{"SELECT a, COUNT(*) AS n FROM t GROUP BY a" + keyedA, true, "partitioned by a"},
		{"SELECT a, c, COUNT(*) AS n FROM t GROUP BY a, c" + keyedA, true, "partitioned by a"},
		{"SELECT a, COUNT(*) AS n FROM t GROUP BY a" + keyedC, false, "not partitioned by a subset of a"},
		{"SELECT a, COUNT(*) AS n FROM t GROUP BY a" + kafka, false, "each process would see part of a key"},
		{"SELECT COUNT(*) AS n FROM t" + keyedA, false, "partial result"},
		{"SELECT a FROM t ORDER BY a" + kafka, false, "ORDER BY"},
		{"SELECT a FROM t LIMIT 3" + kafka, false, "LIMIT"},
		{"SELECT a, LAG(b) OVER (PARTITION BY c) AS l FROM t" + keyedC, true, "partitioned by c"},
		{"SELECT a, LAG(b) OVER (PARTITION BY a) AS l FROM t" + keyedC, false, "part of a key"},
	}
	for _, tt := range tests {
		s := build(t, tt.sql, Options{}).ScaleOut()
		if s.Split != tt.split || !strings.Contains(s.Why, tt.why) {
			t.Errorf("%s:\n ScaleOut = %+v, want split=%v and a reason with %q", tt.sql, s, tt.split, tt.why)
		}
	}
}

package plan

import (
	"strings"
	"testing"
)

// TestPrunedTemporalOneProcessPerGroup: a temporal join AS OF the FROM
// stream's event time (its table drops old versions as the watermark
// passes them) runs in one process per group, stateless, aligned or keyed
// otherwise, and EXPLAIN says why; AS OF another column keeps every
// version and splits as its stream does.
func TestPrunedTemporalOneProcessPerGroup(t *testing.T) {
	const (
		with     = " WITH ('o.type'='kafka_source', 'o.group.id'='g', 'c.type'='kafka_source', 'c.primary.key'='id', 'event.time.field'='ts'"
		asOfTs   = "FROM o JOIN c FOR SYSTEM_TIME AS OF o.ts ON o.cust = c.id "
		asOfSeq  = "FROM o JOIN c FOR SYSTEM_TIME AS OF o.seq ON o.cust = c.id "
		window   = "SELECT o.cust, _WINDOW_START AS w, COUNT(*) AS n "
		stageTwo = "a repartition topic cannot split it yet: stage 2 too would gain partitions from other processes in rebalances"
		why      = "its temporal JOIN c FOR SYSTEM_TIME AS OF the event time drops the table's old versions as the watermark passes them, and a partition a process gains from another"
	)
	tests := []struct {
		name, sql string
		split     bool
		topic     string // the repartition topic, "" for none
	}{
		{"stateless", "SELECT o.cust, c.region " + asOfTs + with + ")", false, ""},
		{"unqualified", "SELECT o.cust, c.region FROM o JOIN c FOR SYSTEM_TIME AS OF ts ON o.cust = c.id" + with + ")", false, ""},
		{"aligned windows", window + asOfTs + "GROUP BY o.cust WINDOW TUMBLING(ts, INTERVAL '1' MINUTE) EMIT FINAL" + with + ", 'o.partition.key'='cust')", false, ""},
		{"keyed otherwise", window + asOfTs + "GROUP BY o.cust WINDOW TUMBLING(ts, INTERVAL '1' MINUTE) EMIT FINAL" + with + ")", false, ""},
		{"as of another column", "SELECT o.cust, c.region " + asOfSeq + with + ")", true, ""},
		{"as of another column, keyed otherwise", window + asOfSeq + "GROUP BY o.cust WINDOW TUMBLING(ts, INTERVAL '1' MINUTE) EMIT FINAL" + with + ")", false, "g-o-repartition"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := build(t, tt.sql, Options{})
			s := p.ScaleOut()
			var topic string
			if s.Repartition != nil {
				topic = s.Repartition.Topic
			}
			if s.Split != tt.split || topic != tt.topic {
				t.Fatalf("ScaleOut = %+v, want split %v, repartition topic %q", s, tt.split, tt.topic)
			}
			if tt.split || tt.topic != "" {
				if strings.Contains(s.Why, "AS OF the event time") {
					t.Errorf("ScaleOut.Why = %q, names the event-time rule", s.Why)
				}
				return
			}
			if !strings.Contains(s.Why, why) || !strings.Contains(s.Unsplittable, stageTwo) {
				t.Errorf("ScaleOut = %+v, want why with %q and unsplittable with %q", s, why, stageTwo)
			}
			var b strings.Builder
			if err := Explain(&b, []*Plan{p}); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), why) || !strings.Contains(b.String(), "one process per consumer group") {
				t.Errorf("EXPLAIN lacks %q and one process per consumer group:\n%s", why, b.String())
			}
		})
	}
	// forced: refused with the reason
	_, err := Build(parseOne(t, window+asOfTs+"GROUP BY o.cust WINDOW TUMBLING(ts, INTERVAL '1' MINUTE) EMIT FINAL"+with+", 'repartition'='true')"), Options{CPUs: 4})
	if err == nil || !strings.Contains(err.Error(), "a repartition topic cannot split this statement: stage 2 too would gain partitions") {
		t.Errorf("'repartition'='true': err = %v, want the reason %q", err, stageTwo)
	}
}

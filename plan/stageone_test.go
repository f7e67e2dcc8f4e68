package plan

import (
	"slices"
	"strings"
	"testing"
)

// TestTableKeyRepartition pins how a stream-table join whose routing key
// reads a column of the table runs in a consumer group: repartitioned with
// the table joined in stage 1 (a GROUP BY on the column, its windows,
// DISTINCT over it, a LEFT JOIN's), the table joined on the workers of one
// process otherwise, and refused with a reason for a temporal join.
func TestTableKeyRepartition(t *testing.T) {
	const (
		from   = "FROM o JOIN c ON o.cust = c.id "
		with   = " WITH ('o.type'='kafka_source', 'c.type'='kafka_source', 'c.primary.key'='id'"
		group  = with + ", 'o.group.id'='g'"
		region = "SELECT c.region, COUNT(*) AS n "
	)
	tests := []struct {
		sql      string
		key      string // the repartition topic's key; "" for none
		joined   bool   // stage 1 joins the table
		strategy string // the plan's in-process strategy
		why      string // a fragment of EXPLAIN's scale-out line
	}{
		{region + from + "GROUP BY c.region" + group + ")", "c.region", true, "always_hash", "the groups of GROUP BY c.region must each be in one process"},
		{"SELECT c.region, _WINDOW_START AS w, COUNT(*) AS n " + from + "GROUP BY c.region WINDOW TUMBLING(ts, INTERVAL '1' MINUTE) EMIT FINAL" + group + ")", "c.region", true, "always_hash", "repartitioned"},
		{"SELECT DISTINCT c.region " + from + group + ")", "c.region", true, "always_hash", "repartitioned"},
		// stage 1 writes a LEFT JOIN's record without a row, and EXPLAIN says so
		{region + "FROM o LEFT JOIN c ON o.cust = c.id GROUP BY c.region" + group + ")", "c.region", true, "always_hash", "writes the joined row (a record a LEFT JOIN finds no row for is written with NULLs in the table's columns) to topic"},
		// the stream computes part of the key: routed by it, stage 2 joins
		{"SELECT o.sku, c.region, COUNT(*) AS n " + from + "GROUP BY o.sku, c.region" + group + ")", "o.sku", false, "always_hash", "repartitioned"},
		// one process: the table, which changes, joined on one worker
		{region + from + "GROUP BY c.region" + group + ", 'repartition'='false')", "", false, "fan_in", "'repartition'='false'"},
		{region + from + "GROUP BY c.region" + with + ")", "", false, "fan_in", "in no consumer group: it reads every partition of its source itself, so its result is whole; the groups of GROUP BY c.region, whose keys not every input can compute must all be in one process, so each process would compute a partial result; with 'o.group.id' set, several processes share its partitions through a repartition topic"},
		{region + "FROM o JOIN c FOR SYSTEM_TIME AS OF o.ts ON o.cust = c.id GROUP BY c.region" + group + ")", "", false, "fan_in",
			"a repartition topic cannot split it yet: its routing key reads a column of a table, which stage 1 would look up as it reads the stream, but its temporal JOIN c (FOR SYSTEM_TIME AS OF) drops the table's old versions"},
	}
	for _, tt := range tests {
		p := build(t, tt.sql, Options{})
		var key string
		var joined []string
		if r := p.Repartition; r != nil {
			key, joined = strings.Join(r.Key, ", "), r.JoinedTables
		}
		if key != tt.key || (joined != nil) != tt.joined || p.Strategy.Name() != tt.strategy {
			t.Errorf("%s:\n repartitioned by %q, tables joined in stage 1 %v, strategy %s; want %q, %v, %s", tt.sql, key, joined, p.Strategy.Name(), tt.key, tt.joined, tt.strategy)
		}
		if tt.joined && (!slices.Equal(joined, []string{"c"}) || p.Inputs[1].Routing != "joined in stage 1 as o is read (broadcast)") {
			t.Errorf("%s: joined %v, table routed %q", tt.sql, joined, p.Inputs[1].Routing)
		}
		var b strings.Builder
		if err := Explain(&b, []*Plan{p}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), tt.why) {
			t.Errorf("%s: EXPLAIN lacks %q:\n%s", tt.sql, tt.why, b.String())
		}
	}
}

// TestStaticTablesUngrouped: a GROUP BY on a column of bootstrapped files
// joined as the stream is read says, without a group, that a group would
// repartition it.
func TestStaticTablesUngrouped(t *testing.T) {
	p := build(t, "SELECT c.region, COUNT(*) AS n FROM o JOIN c ON o.cust = c.id GROUP BY c.region WITH ('o.type'='kafka_source', 'c.type'='file_source', 'c.primary.key'='id')",
		Options{StaticTables: true})
	if p.Repartition != nil || !p.Inputs[1].JoinedAtSource {
		t.Fatalf("repartition %+v, table joined as the stream is read %v", p.Repartition, p.Inputs[1].JoinedAtSource)
	}
	if s := p.ScaleOut(); !strings.Contains(s.Ungrouped, "through a repartition topic") {
		t.Errorf("ScaleOut().Ungrouped = %q", s.Ungrouped)
	}
}

package plan

import (
	"strings"
	"testing"

	"github.com/sluicesql/sluice/connector"
)

// TestRepartitionPartitionsWhereNothingRepartitions: 'repartition.partitions'
// in the WITH of a statement that is not repartitioned would change
// nothing: it is refused, naming the option and saying why. A statement its
// source's key splits is left to the runner (UnusedRepartitionPartitions),
// which knows whether the group's repartition topic of an earlier run keeps
// it repartitioned; one given with --set (a file's default) is no error.
func TestRepartitionPartitionsWhereNothingRepartitions(t *testing.T) {
	const (
		group   = `, 't.type'='kafka_source', 't.group.id'='g')`
		parts   = ` WITH ('repartition.partitions'='12'`
		grouped = parts + group
	)
	keyed := map[string]connector.Facts{"t": {Key: []string{"a"}, Partitions: 8, Origin: "declared"}}
	for _, tt := range []struct {
		sql     string
		sources map[string]connector.Facts
		set     bool   // 'repartition.partitions' given with --set, not in the WITH
		want    string // "": no error
		runner  string // what UnusedRepartitionPartitions says, "" for nil
	}{
		{sql: "SELECT a, COUNT(*) AS n FROM t GROUP BY a" + parts + `, 't.type'='file_source', 't.path'='in.csv')`,
			want: "source t is not a kafka_source, and only a Kafka source read in a consumer group is repartitioned"},
		{sql: "SELECT a, COUNT(*) AS n FROM t GROUP BY a" + parts + `, 't.type'='kafka_source')`,
			want: "source t is read in no consumer group ('t.group.id')"},
		{sql: "SELECT a, COUNT(*) AS n FROM t GROUP BY a" + parts + `, 'repartition'='false'` + group, want: "'repartition'='false'"},
		{sql: "SELECT a, b FROM t WHERE b > 1" + grouped, want: "the statement is stateless"},
		{sql: "SELECT a, COUNT(*) AS n FROM t GROUP BY a LIMIT 5" + grouped, want: "a repartition topic cannot split it"},
		{sql: "SELECT a, b FROM t WHERE b > 1 WITH ('t.type'='kafka_source', 't.group.id'='g')", set: true},
		{sql: "SELECT a, COUNT(*) AS n FROM t GROUP BY a" + grouped, sources: keyed, runner: "source t is partitioned by a"},
		{sql: "SELECT a, COUNT(*) AS n FROM t GROUP BY a" + grouped},
	} {
		opts := Options{CPUs: 4, Sources: tt.sources}
		if tt.set {
			opts.Properties = map[string]string{PropRepartitionPartitions: "12"}
		}
		p, err := Build(parseOne(t, tt.sql), opts)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.sql, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), "WITH 'repartition.partitions' is set, but the statement is not repartitioned: "+tt.want)):
			t.Errorf("%s: error %v, want one saying %q", tt.sql, err, tt.want)
		}
		if err != nil {
			continue
		}
		got := p.UnusedRepartitionPartitions()
		if tt.runner == "" && got != nil || tt.runner != "" && (got == nil || !strings.Contains(got.Error(), tt.runner)) {
			t.Errorf("%s: UnusedRepartitionPartitions = %v, want %q", tt.sql, got, tt.runner)
		}
	}
}

// TestExplainRepartitionTopicPartitions: EXPLAIN gives the partition count
// a repartition topic is created with as a number when it knows the
// source's (the larger of it and 32, or 'repartition.partitions'), and the
// rule when it does not (explain --no-infer, a source it could not read).
func TestExplainRepartitionTopicPartitions(t *testing.T) {
	const q = "SELECT a, COUNT(*) AS n FROM t GROUP BY a WITH ('t.type'='kafka_source', 't.group.id'='g'"
	for _, tt := range []struct {
		with       string
		partitions int
		want       string
	}{
		{")", 8, "(32 partitions, created if missing)"},
		{")", 48, "(48 partitions, created if missing)"},
		{", 'repartition.partitions'='12')", 48, "(12 partitions, created if missing)"},
		{", 'repartition.partitions'='1')", 8, "(1 partition, created if missing)"},
		{")", 0, "(max(source partitions, 32) partitions, created if missing)"},
	} {
		opts := Options{}
		if tt.partitions > 0 {
			opts.Sources = map[string]connector.Facts{"t": {Partitions: tt.partitions}}
		}
		p := build(t, q+tt.with, opts)
		if one, _ := p.stageWork(); !strings.Contains(one, tt.want) {
			t.Errorf("%d source partitions%s: stage 1 %q, want %q", tt.partitions, tt.with, one, tt.want)
		}
	}
}

// TestExplainJoinRepartitionTopicPartitions: a repartitioned join's topic
// is created with the larger of its streams' partition counts and 32, so
// EXPLAIN gives that number only when it knows every stream's count (one
// it did not list, its columns declared, may be the larger), else the rule.
func TestExplainJoinRepartitionTopicPartitions(t *testing.T) {
	const q = `SELECT o.id, p.id AS pay FROM orders o JOIN payments p ON o.id = p.id WITHIN INTERVAL '1' SECOND
WITH ('orders.type'='kafka_source', 'orders.group.id'='g', 'payments.type'='kafka_source', 'payments.group.id'='g')`
	for _, tt := range []struct {
		facts map[string]connector.Facts
		want  string
	}{
		{map[string]connector.Facts{"orders": {Partitions: 8}, "payments": {Partitions: 40}}, "(40 partitions, created if missing)"},
		{map[string]connector.Facts{"orders": {Partitions: 8}, "payments": {Partitions: 4}}, "(32 partitions, created if missing)"},
		{map[string]connector.Facts{"orders": {Partitions: 40}}, "(max(source partitions, 32) partitions, created if missing)"},
		{map[string]connector.Facts{"payments": {Partitions: 8}}, "(max(source partitions, 32) partitions, created if missing)"},
	} {
		p := build(t, q, Options{Sources: tt.facts})
		if p.Repartition == nil {
			t.Fatalf("%v: not repartitioned", tt.facts)
		}
		if one, _ := p.stageWork(); !strings.Contains(one, tt.want) {
			t.Errorf("%v: stage 1 %q, want %q", tt.facts, one, tt.want)
		}
	}
}

package plan

import (
	"strings"
	"testing"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/partition"
	"github.com/sluicesql/sluice/sql"
)

// parseOne parses a single statement or fails the test.
func parseOne(t *testing.T, src string) *sql.Statement {
	t.Helper()
	stmts, err := sql.Parse("test.sql", src)
	if err != nil {
		t.Fatalf("parse %q: %v", src, err)
	}
	if len(stmts) != 1 {
		t.Fatalf("parse %q: %d statements, want 1", src, len(stmts))
	}
	return stmts[0]
}

func build(t *testing.T, src string, opts Options) *Plan {
	t.Helper()
	if opts.CPUs == 0 {
		opts.CPUs = 4
	}
	p, err := Build(parseOne(t, src), opts)
	if err != nil {
		t.Fatalf("Build(%q): %v", src, err)
	}
	return p
}

const (
	kafka   = ` WITH ('t.type'='kafka_source')`
	keyedA  = ` WITH ('t.type'='kafka_source', 't.partition.key'='a')`
	keyedAB = ` WITH ('t.type'='kafka_source', 't.partition.key'='a, b')`
	keyedC  = ` WITH ('t.type'='kafka_source', 't.partition.key'='c')`
	keyedAC = ` WITH ('t.type'='kafka_source', 't.partition.key'='a,c')`
	file    = ` WITH ('t.type'='file_source', 't.path'='in.csv')`
)

func TestPlanTable(t *testing.T) {
	factsA := map[string]connector.Facts{"t": {Key: []string{"A"}, Partitions: 8, Origin: "observed"}}
	factsC := map[string]connector.Facts{"t": {Key: []string{"c"}, Partitions: 8, Origin: "observed"}}
	tests := []struct {
		sql      string
		sources  map[string]connector.Facts
		req      string // RequirementText
		strategy string
		keys     string // routing keys joined by ", "
	}{
		// Stateless.
		{"SELECT a, b FROM t", nil, "any", "round_robin", ""},
		{"SELECT a, b FROM t" + file, nil, "any", "round_robin", ""},
		{"SELECT a FROM t WHERE b > 1" + kafka, nil, "any", "sticky_partition", ""},
		{"SELECT a, UPPER(b) AS ub FROM t", factsA, "any", "sticky_partition", ""},
		{"CREATE STREAM s AS SELECT a, b * 2 AS b2 FROM t WHERE b > 0", nil, "any", "round_robin", ""},
		{"INSERT INTO s SELECT a FROM t" + kafka, nil, "any", "sticky_partition", ""},
		// Top-N, QUALIFY and subqueries in FROM: the inner query's keys route.
		{"SELECT * FROM (SELECT a, b, ROW_NUMBER() OVER (PARTITION BY a ORDER BY b DESC) AS rn FROM t) WHERE rn <= 3", nil, "hash(a)", "always_hash", "a"},
		{"SELECT a, b FROM t QUALIFY ROW_NUMBER() OVER (PARTITION BY a ORDER BY b) = 1", nil, "hash(a)", "always_hash", "a"},
		{"SELECT b, RANK() OVER (ORDER BY b) AS r FROM t QUALIFY r <= 3", nil, "single", "fan_in", ""},
		{"SELECT x FROM (SELECT a AS x, COUNT(*) AS n FROM t GROUP BY a) WHERE n > 1", nil, "hash(a)", "always_hash", "a"},
		{"SELECT y FROM (SELECT b * 2 AS y FROM t) WHERE y > 1", nil, "any", "round_robin", ""},
		{"SELECT a, b FROM t WINDOW TUMBLING(1m) QUALIFY ROW_NUMBER() OVER (PARTITION BY a ORDER BY b) <= 2", nil, "hash(a)", "always_hash", "a"},
		{"SELECT a, COUNT(*) AS n FROM t GROUP BY a WINDOW TUMBLING(1m) QUALIFY ROW_NUMBER() OVER (PARTITION BY _WINDOW_START ORDER BY n) <= 2", nil, "single", "fan_in", ""},
		// ORDER BY and LIMIT.
		{"SELECT a FROM t ORDER BY a", nil, "any (ordered merge)", "sticky_partition", ""},
		{"SELECT a FROM t ORDER BY a DESC LIMIT 10", nil, "any (ordered merge)", "sticky_partition", ""},
		{"SELECT a FROM t LIMIT 10", nil, "single", "fan_in", ""},
		{"SELECT a, COUNT(*) AS n FROM t GROUP BY a ORDER BY n DESC LIMIT 5", nil, "hash(a)", "always_hash", "a"},
		// GROUP BY in every statement kind.
		{"SELECT a, COUNT(*) FROM t GROUP BY a", nil, "hash(a)", "always_hash", "a"},
		{"CREATE STREAM s AS SELECT a, COUNT(*) FROM t GROUP BY a", nil, "hash(a)", "always_hash", "a"},
		{"CREATE TABLE s AS SELECT a, SUM(x) FROM t GROUP BY a", nil, "hash(a)", "always_hash", "a"},
		{"INSERT INTO s SELECT a, AVG(x) FROM t GROUP BY a" + kafka, nil, "hash(a)", "always_hash", "a"},
		{"SELECT a FROM t GROUP BY a HAVING COUNT(*) > 1", nil, "hash(a)", "always_hash", "a"},
		{"SELECT a, COUNT(DISTINCT b) FROM t GROUP BY a", nil, "hash(a)", "always_hash", "a"},
		// Declared and observed source keys, subset or not.
		{"SELECT a, b, COUNT(*) FROM t GROUP BY a, b" + keyedA, nil, "hash(a, b)", "smart_repartition", "a, b"},
		{"SELECT a, b, COUNT(*) FROM t GROUP BY a, b" + keyedAB, nil, "hash(a, b)", "smart_repartition", "a, b"},
		{"SELECT a, b, COUNT(*) FROM t GROUP BY a, b" + keyedC, nil, "hash(a, b)", "always_hash", "a, b"},
		{"SELECT a, b, COUNT(*) FROM t GROUP BY a, b" + keyedAC, nil, "hash(a, b)", "always_hash", "a, b"},
		{"SELECT a, COUNT(*) FROM t GROUP BY a" + keyedAB, nil, "hash(a)", "always_hash", "a"},
		{"SELECT A, COUNT(*) FROM t GROUP BY A" + keyedA, nil, "hash(A)", "smart_repartition", "A"},
		{"SELECT a, COUNT(*) FROM t GROUP BY a", factsA, "hash(a)", "smart_repartition", "a"},
		{"SELECT a, COUNT(*) FROM t GROUP BY a" + keyedA, factsC, "hash(a)", "always_hash", "a"},
		// Expressions in GROUP BY route on the expression's value.
		{"SELECT UPPER(a), COUNT(*) FROM t GROUP BY UPPER(a)", nil, "hash(UPPER(a))", "always_hash", "UPPER(a)"},
		{"SELECT UPPER(a), COUNT(*) FROM t GROUP BY UPPER(a)" + keyedA, nil, "hash(UPPER(a))", "always_hash", "UPPER(a)"},
		{"SELECT a % 10, b, COUNT(*) FROM t GROUP BY a % 10, b" + keyedA, nil, "hash(a % 10, b)", "always_hash", "a % 10, b"},
		// A constant key is one group that every input can compute.
		{"SELECT 'all' AS k, COUNT(*) FROM t GROUP BY 'all'", nil, "hash('all')", "always_hash", "'all'"},
		{"SELECT a.k, COUNT(*) FROM a JOIN b ON a.k = b.k GROUP BY 'all'", nil, "single", "fan_in", ""},
		// The clock is no routing key: it changes between routing and evaluation.
		{"SELECT DATE_TRUNC('minute', NOW()), COUNT(*) FROM t GROUP BY DATE_TRUNC('minute', NOW())", nil, "single", "fan_in", ""},
		{"SELECT a, CURRENT_TIMESTAMP, COUNT(*) FROM t GROUP BY a, CURRENT_TIMESTAMP", nil, "hash(a)", "always_hash", "a"},
		// Global aggregates.
		{"SELECT COUNT(*) FROM t", nil, "single", "fan_in", ""},
		{"CREATE STREAM s AS SELECT SUM(x), MAX(y) FROM t" + keyedA, nil, "single", "fan_in", ""},
		{"SELECT COUNT(DISTINCT a) FROM t", nil, "single", "fan_in", ""},
		// Every window kind.
		{"SELECT a, COUNT(*) FROM t GROUP BY a WINDOW TUMBLING(1m)", nil, "hash(a)", "always_hash", "a"},
		{"SELECT a, COUNT(*) FROM t GROUP BY a WINDOW TUMBLING(ts, INTERVAL '1' MINUTE)" + keyedA, nil, "hash(a)", "smart_repartition", "a"},
		{"SELECT a, SUM(x) FROM t GROUP BY a WINDOW SLIDING(10m, 2m)", nil, "hash(a)", "always_hash", "a"},
		{"SELECT a, COUNT(*) FROM t GROUP BY a WINDOW SESSION(30s)", nil, "hash(a)", "always_hash", "a"},
		{"SELECT COUNT(*) FROM t WINDOW TUMBLING(1m)", nil, "single", "fan_in", ""},
		{"SELECT COUNT(*) FROM t WINDOW SESSION(ts, INTERVAL '30' SECOND)" + keyedA, nil, "single", "fan_in", ""},
		{"SELECT a FROM t WINDOW SLIDING(10m, 1m)", nil, "single", "fan_in", ""},
		{"SELECT a, COUNT(*) AS n FROM t GROUP BY a WINDOW TUMBLING(1m) ORDER BY n DESC", nil, "hash(a)", "always_hash", "a"},
		// OVER clauses.
		{"SELECT symbol, AVG(price) OVER (ROWS WINDOW BUFFER 100 ROWS PARTITION BY symbol ORDER BY ts) AS m FROM t", nil, "hash(symbol)", "always_hash", "symbol"},
		{"SELECT symbol, LAG(price) OVER (PARTITION BY symbol ORDER BY ts) FROM t" + kafka, nil, "hash(symbol)", "always_hash", "symbol"},
		{"SELECT LAG(price) OVER (ORDER BY ts) FROM t" + kafka, nil, "single", "fan_in", ""},
		{"SELECT AVG(price) OVER (ROWS WINDOW BUFFER 10 ROWS ORDER BY ts) FROM t", nil, "single", "fan_in", ""},
		{"SELECT LAG(p) OVER (PARTITION BY a, b ORDER BY ts), LEAD(p) OVER (PARTITION BY b ORDER BY ts) FROM t", nil, "hash(b)", "always_hash", "b"},
		{"SELECT LAG(p) OVER (PARTITION BY a ORDER BY ts), LEAD(p) OVER (PARTITION BY b ORDER BY ts) FROM t", nil, "single", "fan_in", ""},
		{"SELECT a, SUM(p) OVER (PARTITION BY a ORDER BY ts ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) FROM t" + keyedA, nil, "hash(a)", "smart_repartition", "a"},
		// DISTINCT.
		{"SELECT DISTINCT a, b FROM t", nil, "hash(a, b)", "always_hash", "a, b"},
		{"SELECT DISTINCT a, b FROM t" + keyedA, nil, "hash(a, b)", "smart_repartition", "a, b"},
		{"SELECT DISTINCT * FROM t", nil, "hash(*)", "always_hash", "*"},
		{"SELECT DISTINCT a, COUNT(*) FROM t GROUP BY a", nil, "hash(a)", "always_hash", "a"},
		{"SELECT DISTINCT COUNT(*) FROM t GROUP BY a", nil, "single", "fan_in", ""},
		{"SELECT DISTINCT UPPER(a) FROM t GROUP BY a", nil, "single", "fan_in", ""},
		// PRIMARY KEY keeps each key's updates in order.
		{"CREATE TABLE s AS SELECT id PRIMARY KEY, v FROM t", nil, "hash(id)", "always_hash", "id"},
		{"CREATE TABLE s AS SELECT a PRIMARY KEY, COUNT(*) FROM t GROUP BY a WINDOW TUMBLING(1m)" + keyedA, nil, "hash(a)", "smart_repartition", "a"},
		// Joins.
		{"SELECT o.id, c.name FROM orders o JOIN customers c ON o.cid = c.id", nil, "hash(o.cid)", "always_hash", "o.cid"},
		{"SELECT o.id, c.name FROM orders o LEFT JOIN customers c ON c.id = o.cid", nil, "hash(o.cid)", "always_hash", "o.cid"},
		{"SELECT o.id, s.ts FROM orders o JOIN shipments s ON o.id = s.order_id WITHIN INTERVAL '5' MINUTE", nil, "hash(o.id)", "always_hash", "o.id"},
		{"SELECT a.x FROM a JOIN b ON a.x = b.x AND a.y = b.y", nil, "hash(a.x, a.y)", "always_hash", "a.x, a.y"},
		{"SELECT a.x FROM a JOIN b ON a.ts > b.ts", nil, "single", "fan_in", ""},
		{"SELECT c.id, COUNT(*) FROM orders o JOIN customers c ON o.cid = c.id GROUP BY c.id", nil, "hash(o.cid)", "always_hash", "o.cid"},
		{"SELECT c.name, COUNT(*) FROM orders o JOIN customers c ON o.cid = c.id GROUP BY c.name", nil, "hash(o.cid)", "always_hash", "o.cid"}, // streams joined on o.cid, then exchanged on c.name
		{"SELECT a.k FROM a JOIN b ON a.k = b.k JOIN c ON b.k = c.k", nil, "hash(a.k)", "always_hash", "a.k"},
		// two stream-stream joins on different keys: routed on the first, an exchange before the second
		{"SELECT a.k FROM a JOIN b ON a.k = b.k JOIN c ON b.j = c.j", nil, "hash(a.k)", "always_hash", "a.k"},
		{"SELECT a.k, COUNT(*) FROM a JOIN b ON a.k = b.k JOIN c ON b.j = c.j GROUP BY a.k", nil, "hash(a.k)", "always_hash", "a.k"},
		{"SELECT COUNT(*) FROM a JOIN b ON a.k = b.k JOIN c ON b.j = c.j", nil, "single", "fan_in", ""},
		{"SELECT c.j, COUNT(*) FROM a JOIN b ON a.k = b.k JOIN c ON b.j = c.j GROUP BY c.j", nil, "hash(a.k)", "always_hash", "a.k"},
		{"SELECT a.k FROM a JOIN b ON a.k = b.k AND a.j = b.j JOIN c ON b.j = c.j", nil, "hash(a.j)", "always_hash", "a.j"},
		{"SELECT o.cid, COUNT(*) FROM orders o JOIN customers c ON o.cid = c.id GROUP BY o.cid WITH ('orders.partition.key'='cid')", nil, "hash(o.cid)", "always_hash", "o.cid"},
	}
	if len(tests) < 40 {
		t.Fatalf("only %d statements in the table", len(tests))
	}
	for _, tt := range tests {
		p := build(t, tt.sql, Options{Sources: tt.sources})
		got := [3]string{RequirementText(p.Requirement), p.Strategy.Name(), strings.Join(p.RoutingKeys, ", ")}
		want := [3]string{tt.req, tt.strategy, tt.keys}
		if got != want {
			t.Errorf("%s\n got %q\nwant %q\n(why: %s)", tt.sql, got, want, p.Requirement.Why)
		}
		if p.ChoiceSource != FromAuto || p.Reason == "" {
			t.Errorf("%s: choice %q, reason %q", tt.sql, p.ChoiceSource, p.Reason)
		}
		// The automatic choice is always valid, and Rejected is exactly the invalid ones.
		if err := p.Strategy.Validate(p.Requirement); err != nil {
			t.Errorf("%s: auto choice invalid: %v", tt.sql, err)
		}
		if p.Requirement.Kind == partition.Hash && len(p.KeyExprs) != len(p.RoutingKeys) && p.RoutingKeys[0] != "*" {
			t.Errorf("%s: %d key exprs for keys %q", tt.sql, len(p.KeyExprs), p.RoutingKeys)
		}
	}
}

func TestJoinInputKeys(t *testing.T) {
	p := build(t, "SELECT a.k FROM a JOIN b ON b.k2 = a.k JOIN c ON c.k3 = b.k2", Options{})
	want := []string{"a.k", "b.k2", "c.k3"}
	for i, in := range p.Inputs {
		if len(in.KeyExprs) != 1 || sql.FormatExpr(in.KeyExprs[0]) != want[i] {
			t.Errorf("input %s: keys %v, want %s", in.Name, in.KeyExprs, want[i])
		}
	}
}

// EXPLAIN counts a source's partitions in good English: "1 partition".
func TestExplainPartitionCount(t *testing.T) {
	for n, want := range map[int]string{1: "; 1 partition)", 3: "; 3 partitions)"} {
		stmts, err := sql.Parse("q.sql", "SELECT a FROM t")
		if err != nil {
			t.Fatal(err)
		}
		p, err := Build(stmts[0], Options{CPUs: 2, Sources: map[string]connector.Facts{"t": {Partitions: n}}})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		if err := Explain(&b, []*Plan{p}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), want) {
			t.Errorf("%d partitions: EXPLAIN says\n%s\nwant %q", n, b.String(), want)
		}
	}
}

// TestJoinStages checks that each join of a multi-way join runs on its own
// key: a table co-located with the stream while that leaves a key to hash
// on, a later table on another key exchanged on it, and a small table
// broadcast.
func TestJoinStages(t *testing.T) {
	const big = " WITH ('r.primary.key'='k', 'd.primary.key'='desk', 'r.broadcast'='false', 'd.broadcast'='false')"
	tests := []struct {
		sql, req string
		routing  []string // per input
	}{
		{"SELECT t.id FROM t JOIN r ON t.k = r.k JOIN d ON r.desk = d.desk" + big, "hash(t.k)",
			[]string{"always_hash on t.k", "always_hash on r.k", "exchange on r.desk"}},
		{"SELECT t.g, COUNT(*) FROM t JOIN r ON t.k = r.k GROUP BY t.g" + big, "hash(t.g)",
			[]string{"always_hash on t.g", "exchange on t.k"}},
		{"SELECT a.v FROM a JOIN r ON a.x = r.k JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND" + big, "hash(a.k)",
			[]string{"always_hash on a.k", "exchange on a.x", "always_hash on b.k"}},
		{"SELECT a.v FROM a JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND JOIN d ON b.desk = d.desk" + big, "hash(a.k)",
			[]string{"always_hash on a.k", "always_hash on b.k", "exchange on b.desk"}},
		{"SELECT t.id FROM t JOIN r ON t.k = r.k JOIN d ON r.desk = d.desk WITH ('r.primary.key'='k', 'd.primary.key'='desk', 'r.broadcast'='false')", "hash(t.k)",
			[]string{"always_hash on t.k", "always_hash on r.k", "broadcast"}},
		// grouped by a table's column: joined as the stream is read, then hashed on it
		{"SELECT d.floor, COUNT(*) FROM t JOIN r ON t.k = r.k LEFT JOIN d ON r.desk = d.desk GROUP BY d.floor" + big, "hash(d.floor)",
			[]string{"always_hash on d.floor", "joined as t is read", "joined as t is read"}},
		{"SELECT r.desk, COUNT(*) FROM t JOIN r ON t.k = r.k GROUP BY r.desk WITH ('r.primary.key'='k')", "hash(r.desk)",
			[]string{"always_hash on r.desk", "joined as t is read (broadcast)"}},
		// not with a stream-stream join, whose rows are joined on the workers
		{"SELECT r.desk, COUNT(*) FROM a JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND JOIN r ON a.k = r.k GROUP BY r.desk" + big, "single",
			[]string{"fan_in", "fan_in", "exchange on a.k"}},
	}
	for _, tt := range tests {
		p := build(t, tt.sql, Options{StaticTables: true})
		if got := RequirementText(p.Requirement); got != tt.req {
			t.Errorf("%s: requirement %s, want %s", tt.sql, got, tt.req)
		}
		for i, in := range p.Inputs {
			if in.Routing != tt.routing[i] {
				t.Errorf("%s: input %s routed %q, want %q", tt.sql, in.Name, in.Routing, tt.routing[i])
			}
			if strings.HasPrefix(in.Routing, "exchange") && (!in.Exchange || !strings.Contains(in.Why, "an exchange on the next key")) {
				t.Errorf("%s: input %s: exchange %v, why %q", tt.sql, in.Name, in.Exchange, in.Why)
			}
		}
	}
}

// TestExplainListsAnAggregateOnce: an aggregate call repeated in HAVING,
// ORDER BY or the select list (the same function, argument and DISTINCT,
// in any case, qualified or not) is one aggregate, listed once, as the
// executor computes it once; calls that differ are listed each.
func TestExplainListsAnAggregateOnce(t *testing.T) {
	tests := []struct{ src, want string }{
		{"SELECT g, COUNT(*) AS n FROM t GROUP BY g HAVING COUNT(*) > 1", "COUNT(*)"},
		{"SELECT g, SUM(x) AS s, count(*) AS n FROM t GROUP BY g HAVING sum(t.X) > 1 AND COUNT(*) < 9 ORDER BY SUM(x) EMIT FINAL", "SUM(x), COUNT(*)"},
		{"SELECT COUNT(*) AS a, COUNT(*) + 1 AS b FROM t", "COUNT(*)"},
		{"SELECT g, COUNT(x) AS s, COUNT(DISTINCT x) AS d, SUM(x + 1) AS p, SUM(y) AS q FROM t GROUP BY g HAVING COUNT(DISTINCT x) > 0",
			"COUNT(x), COUNT(DISTINCT x), SUM(x + 1), SUM(y)"},
	}
	for _, tc := range tests {
		p := build(t, tc.src, Options{})
		if got := strings.Join(p.Analysis.Aggregates, ", "); got != tc.want {
			t.Errorf("%s: aggregates %q, want %q", tc.src, got, tc.want)
		}
	}
}

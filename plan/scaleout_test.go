package plan

import (
	"encoding/json"
	"slices"
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
		// an aligned member's replay rebuilds the sessions kept for late
		// records as stage 2 of a repartitioned statement does
		{"SELECT a, COUNT(*) AS n FROM t GROUP BY a WINDOW SESSION(INTERVAL '1' MINUTE) EMIT FINAL" + strings.Replace(keyedA, ")", ", 'late.data.strategy'='update')", 1), true, "partitioned by a"},
	}
	for _, tt := range tests {
		s := build(t, tt.sql, Options{}).ScaleOut()
		if s.Split != tt.split || !strings.Contains(s.Why, tt.why) {
			t.Errorf("%s:\n ScaleOut = %+v, want split=%v and a reason with %q", tt.sql, s, tt.split, tt.why)
		}
	}
}

// TestRepartitionDecision pins when a statement runs in two stages joined
// by a repartition topic: by default when it needs one and its Kafka source
// is read in a consumer group, always with 'repartition'='true' where a
// topic can split it, never with 'false'.
func TestRepartitionDecision(t *testing.T) {
	const group = ` WITH ('t.type'='kafka_source', 't.group.id'='g'`
	tests := []struct {
		sql   string
		topic string // "" for no repartition
		parts int
	}{
		{"SELECT a, COUNT(*) AS n FROM t GROUP BY a" + group + ")", "g-t-repartition", 0},
		{"CREATE STREAM out AS SELECT a, COUNT(*) AS n FROM t GROUP BY a" + group + ", 'repartition.partitions'='12')", "g-out-repartition", 12},
		{"SELECT a, COUNT(*) AS n FROM t GROUP BY a" + group + ", 'repartition'='false')", "", 0},
		{"SELECT a, COUNT(*) AS n FROM t GROUP BY a" + kafka, "", 0},                                                                   // no group: one process
		{"SELECT a, COUNT(*) AS n FROM t GROUP BY a" + group + ", 't.partition.key'='a')", "", 0},                                      // aligned
		{"SELECT a, COUNT(*) AS n FROM t GROUP BY a" + group + ", 't.partition.key'='a', 'repartition'='TRUE')", "g-t-repartition", 0}, // forced
		// an aligned SESSION window under 'update': its members replay it
		{"SELECT a, COUNT(*) AS n FROM t GROUP BY a WINDOW SESSION(INTERVAL '1' MINUTE) EMIT FINAL" + group + ", 't.partition.key'='a', 'late.data.strategy'='update')", "", 0},
		{"SELECT COUNT(*) AS n FROM t" + group + ")", "", 0}, // global: a topic cannot split it
		{"SELECT a FROM t ORDER BY a" + group + ")", "", 0},
		{"SELECT a, b FROM t WHERE b > 1" + group + ")", "", 0},
		{"SELECT a, COUNT(*) AS n FROM t GROUP BY a" + group + ", 'processing.guarantee'='exactly_once')", "g-t-repartition", 0}, // stage 2 commits in transactions
	}
	for _, tt := range tests {
		p := build(t, tt.sql, Options{})
		var topic string
		var parts int
		if r := p.Repartition; r != nil {
			topic, parts = r.Topic, r.Partitions
		}
		if topic != tt.topic || parts != tt.parts {
			t.Errorf("%s:\n repartition topic %q (%d partitions), want %q (%d)", tt.sql, topic, parts, tt.topic, tt.parts)
		}
		if s := p.ScaleOut(); (s.Repartition != nil) != (tt.topic != "") {
			t.Errorf("%s: ScaleOut().Repartition = %v", tt.sql, s.Repartition)
		}
	}
	// SESSION windows are repartitioned, EMIT FINAL and CHANGES alike
	for _, emit := range []string{"FINAL", "CHANGES"} {
		session := build(t, "SELECT a, COUNT(*) AS n FROM t GROUP BY a WINDOW SESSION(INTERVAL '1' MINUTE) EMIT "+emit+group+", 'window.allowed_lateness'='10s')", Options{})
		if session.Repartition == nil || session.Repartition.Topic != "g-t-repartition" {
			t.Errorf("a SESSION window with EMIT %s: repartition %+v, want through g-t-repartition", emit, session.Repartition)
			continue
		}
		if _, two := session.stageTexts(); !strings.Contains(two, "a replay writes nothing of a session that closed") {
			t.Errorf("a SESSION window with EMIT %s: stage 2 %q does not say how a replay tells the sessions that fired", emit, two)
		}
	}
	// under 'update' the sessions kept for late records hold the commit
	update := build(t, "SELECT a, COUNT(*) AS n FROM t GROUP BY a WINDOW SESSION(INTERVAL '1' MINUTE) EMIT FINAL"+group+", 'late.data.strategy'='update')", Options{})
	if update.Repartition == nil {
		t.Fatalf("a SESSION window with 'update': not repartitioned (scale-out %+v)", update.ScaleOut())
	}
	if _, two := update.stageTexts(); !strings.Contains(two, "a session kept for late records after it fired holds the commit too") {
		t.Errorf("a SESSION window with 'update': stage 2 %q does not say how a replay rebuilds the sessions kept for late records", two)
	}
	for _, tt := range []struct{ sql, want string }{
		{"SELECT a, COUNT(*) AS n FROM t GROUP BY a" + kafka[:len(kafka)-1] + ", 'repartition'='true')", "needs 't.group.id'"},
		{"SELECT COUNT(*) AS n FROM t" + group + ", 'repartition'='true')", "cannot split this statement"},
		{"SELECT a FROM t" + group + ", 'repartition'='true')", "no key to repartition by"},
		{"SELECT a, COUNT(*) AS n FROM t GROUP BY a" + group + ", 'repartition'='yes')", "valid: true, false"},
		{"SELECT a, COUNT(*) AS n FROM t GROUP BY a" + group + ", 'repartition.partitions'='0')", "'repartition.partitions': invalid value \"0\""},
		{"SELECT a, COUNT(*) AS n FROM t GROUP BY a WITH ('t.type'='file_source', 't.path'='x', 'repartition'='true')", "not a kafka_source"},
	} {
		_, err := Build(parseOne(t, tt.sql), Options{CPUs: 4})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s:\n err = %v, want one with %q", tt.sql, err, tt.want)
		}
	}
}

// TestRepartitionTopicName: the topic name keeps the characters a Kafka
// topic may have.
func TestRepartitionTopicName(t *testing.T) {
	if got, want := RepartitionTopic("team a/b", "per_symbol"), "team_a_b-per_symbol-repartition"; got != want {
		t.Errorf("RepartitionTopic = %q, want %q", got, want)
	}
}

// TestOuterJoinRepartition: an outer stream-stream join (LEFT, RIGHT,
// FULL) is repartitioned like an inner one when nothing is kept after it
// but TUMBLING, SLIDING or SESSION windows (EMIT FINAL or CHANGES), a
// GROUP BY without a window or DISTINCT; a chain with an outer join, a
// window with late updates after it, or a key reading the NULL-extended
// side, runs in one process per group, saying why, and 'repartition'='true'
// is refused.
func TestOuterJoinRepartition(t *testing.T) {
	const with = ` WITH ('o.type'='kafka_source', 'o.group.id'='g', 'p.type'='kafka_source', 'c.type'='kafka_source'`
	tests := []struct {
		sql  string
		why  string // "" when repartitioned, else a fragment of Unsplittable
		want string // the error of 'repartition'='true' when not
	}{
		{"CREATE STREAM out AS SELECT o.v, p.w FROM o LEFT JOIN p ON o.k = p.k WITHIN INTERVAL '1' SECOND", "", ""},
		{"CREATE STREAM out AS SELECT o.v, p.w FROM o RIGHT JOIN p ON o.k = p.k WITHIN INTERVAL '1' SECOND", "", ""},
		{"CREATE STREAM out AS SELECT o.v, p.w FROM o FULL JOIN p ON o.k = p.k AND p.ts BETWEEN o.ts AND o.ts + INTERVAL '1' SECOND", "", ""},
		{"CREATE STREAM out AS SELECT o.k, COUNT(*) AS n FROM o JOIN p ON o.k = p.k WITHIN INTERVAL '1' SECOND GROUP BY o.k WINDOW SLIDING(INTERVAL '1' MINUTE, INTERVAL '10' SECONDS) EMIT FINAL", "", ""},
		{"CREATE STREAM out AS SELECT o.k, COUNT(*) AS n FROM o LEFT JOIN p ON o.k = p.k WITHIN INTERVAL '1' SECOND GROUP BY o.k WINDOW TUMBLING(INTERVAL '1' MINUTE) EMIT FINAL", "", ""},
		{"CREATE STREAM out AS SELECT p.k, COUNT(*) AS n, COUNT(o.v) AS m FROM o RIGHT JOIN p ON o.k = p.k AND p.ts BETWEEN o.ts AND o.ts + INTERVAL '1' SECOND GROUP BY p.k WINDOW SLIDING(INTERVAL '1' MINUTE, INTERVAL '10' SECONDS) EMIT FINAL", "", ""},
		{"CREATE STREAM out AS SELECT o.k, COUNT(*) AS n FROM o LEFT JOIN p ON o.k = p.k WITHIN INTERVAL '1' SECOND GROUP BY o.k WINDOW TUMBLING(INTERVAL '1' MINUTE) EMIT CHANGES", "", ""},
		{"CREATE STREAM out AS SELECT o.k, COUNT(*) AS n FROM o LEFT JOIN p ON o.k = p.k WITHIN INTERVAL '1' SECOND GROUP BY o.k WINDOW SESSION(INTERVAL '1' MINUTE) EMIT FINAL", "", ""},
		{"CREATE STREAM out AS SELECT p.k, COUNT(*) AS n, COUNT(o.v) AS m FROM o RIGHT JOIN p ON o.k = p.k WITHIN INTERVAL '1' SECOND GROUP BY p.k WINDOW SESSION(INTERVAL '1' MINUTE) EMIT CHANGES", "", ""},
		{"SELECT o.k, COUNT(*) AS n FROM o FULL JOIN p ON o.k = p.k WITHIN INTERVAL '1' SECOND GROUP BY o.k WINDOW SESSION(INTERVAL '1' MINUTE) EMIT FINAL",
			"read the NULL-extended side of an outer join must all be in one process, so no key routes them", "read the NULL-extended side of an outer join must all be in one process"},
		{"CREATE STREAM out AS SELECT o.k, COUNT(*) AS n FROM o LEFT JOIN p ON o.k = p.k WITHIN INTERVAL '1' SECOND GROUP BY o.k", "", ""},
		{"CREATE STREAM out AS SELECT p.k, COUNT(*) AS n, COUNT(o.v) AS m FROM o RIGHT JOIN p ON o.k = p.k WITHIN INTERVAL '1' SECOND WHERE o.v IS NULL GROUP BY p.k EMIT FINAL", "", ""},
		{"CREATE STREAM out AS SELECT DISTINCT o.k, p.w FROM o LEFT JOIN p ON o.k = p.k WITHIN INTERVAL '1' SECOND", "", ""},
		{"SELECT DISTINCT o.k FROM o FULL JOIN p ON o.k = p.k WITHIN INTERVAL '1' SECOND", "read the NULL-extended side of an outer join must all be in one process", "read the NULL-extended side"},
		{"SELECT o.v, p.w, c.x FROM o JOIN p ON o.k = p.k WITHIN INTERVAL '1' SECOND LEFT JOIN c ON o.k = c.k WITHIN INTERVAL '1' SECOND",
			"chain of stream-stream joins has an outer one (LEFT JOIN c)", "chain of stream-stream joins"},
	}
	for _, tt := range tests {
		p := build(t, tt.sql+with+")", Options{})
		if tt.why == "" {
			if p.Repartition == nil || p.Repartition.Topic != "g-out-repartition" {
				t.Errorf("%s:\n repartition %+v, want through g-out-repartition", tt.sql, p.Repartition)
			}
			var b strings.Builder
			if err := Explain(&b, []*Plan{p}); err != nil {
				t.Fatal(err)
			}
			outer := strings.Contains(tt.sql, "LEFT") || strings.Contains(tt.sql, "RIGHT") || strings.Contains(tt.sql, "FULL")
			if want := "so it writes rows with NULLs exactly as one process does"; !outer {
				if strings.Contains(b.String(), "rows with NULLs") {
					t.Errorf("%s:\n EXPLAIN speaks of rows with NULLs of an inner join:\n%s", tt.sql, b.String())
				}
			} else if p.Analysis.Window == "session" {
				if want = "into sessions exactly as one process does; a replay writes nothing of a session that closed"; !strings.Contains(b.String(), want) {
					t.Errorf("%s:\n EXPLAIN does not say %q:\n%s", tt.sql, want, b.String())
				}
			} else if p.Analysis.Window != "" {
				if want = "so the windows count the rows with NULLs of"; !strings.Contains(b.String(), want) {
					t.Errorf("%s:\n EXPLAIN does not say %q:\n%s", tt.sql, want, b.String())
				}
			} else if len(p.Analysis.GroupBy) > 0 {
				if want = "so a replay rebuilds each group from its first row, with the rows with NULLs of"; !strings.Contains(b.String(), want) {
					t.Errorf("%s:\n EXPLAIN does not say %q:\n%s", tt.sql, want, b.String())
				}
			} else if !strings.Contains(b.String(), want) {
				t.Errorf("%s:\n EXPLAIN does not say %q:\n%s", tt.sql, want, b.String())
			}
			continue
		}
		if s := p.ScaleOut(); p.Repartition != nil || s.Split || !strings.Contains(s.Unsplittable, tt.why) {
			t.Errorf("%s:\n repartition %+v, scale-out %+v, want one process per group because %q", tt.sql, p.Repartition, s, tt.why)
		}
		_, err := Build(parseOne(t, tt.sql+with+", 'repartition'='true')"), Options{CPUs: 4})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s with 'repartition'='true':\n err = %v, want one with %q", tt.sql, err, tt.want)
		}
	}
	// windows that late records update after they fired: one process
	update := "SELECT o.k, COUNT(*) AS n FROM o LEFT JOIN p ON o.k = p.k WITHIN INTERVAL '1' SECOND GROUP BY o.k WINDOW TUMBLING(INTERVAL '1' MINUTE) EMIT FINAL" +
		with + ", 'late.data.strategy'='update')"
	if s := build(t, update, Options{}).ScaleOut(); s.Split || !strings.Contains(s.Unsplittable, "is followed by a window with 'late.data.strategy'='update'") {
		t.Errorf("%s:\n scale-out %+v, want one process per group because of the 'update' strategy", update, s)
	}
}

// TestRepartitionGuarantee: EXPLAIN states the delivery guarantee of both
// stages of a repartitioned statement, and --json has it.
func TestRepartitionGuarantee(t *testing.T) {
	const q = "SELECT a, COUNT(*) AS n FROM t GROUP BY a WITH ('t.type'='kafka_source', 't.group.id'='g'"
	for _, tt := range []struct{ with, guarantee, stage2 string }{
		{")", "at_least_once", "at-least-once: it commits topic offsets once the output before them is flushed"},
		{", 'processing.guarantee'='exactly_once')", "exactly_once", "exactly-once: its output, dead letters and topic offsets commit in one Kafka transaction"},
		{", 'processing.guarantee'='EXACTLY_ONCE_V2')", "exactly_once", "exactly-once"},
		{", 'processing.guarantee'='exactly_once', 'repartition'='true')", "exactly_once", "exactly-once"}, // asked for: accepted
	} {
		p := build(t, q+tt.with, Options{})
		if p.Repartition == nil || p.Repartition.Guarantee != tt.guarantee {
			t.Fatalf("%s: Repartition = %+v, want guarantee %s", tt.with, p.Repartition, tt.guarantee)
		}
		one, two := p.stageTexts()
		if !strings.Contains(one, "stage 2 drops a record sent again after a restart by its source offset") {
			t.Errorf("%s: stage 1 = %q, without its guarantee", tt.with, one)
		}
		if !strings.Contains(two, tt.stage2) {
			t.Errorf("%s: stage 2 = %q, want %q in it", tt.with, two, tt.stage2)
		}
	}
}

// TestRepartitionStateKinds pins which kinds of keyed state a repartition
// topic splits (a replay after a rebalance rebuilds them: see exec's
// TestRepartitionReplayStateKinds) and which run in one process per group,
// saying why on the scale-out line, with 'repartition'='true' refused.
func TestRepartitionStateKinds(t *testing.T) {
	const group = ` WITH ('t.type'='kafka_source', 't.group.id'='g'`
	tests := []struct {
		sql string
		why string // "" when repartitioned, else a fragment of Unsplittable
	}{
		{"SELECT DISTINCT a, b FROM t", ""},
		{"SELECT a, COUNT(*) AS n FROM t GROUP BY a HAVING COUNT(*) > 3", ""},
		{"SELECT a, COUNT(DISTINCT b) AS n FROM t GROUP BY a EMIT CHANGES", ""},
		{"SELECT a, b, ROW_NUMBER() OVER (PARTITION BY a ORDER BY b DESC) AS rn FROM t QUALIFY rn <= 3", ""},
		{"SELECT a, b, RANK() OVER (PARTITION BY a ORDER BY b DESC) AS r FROM t QUALIFY r <= 3", ""},
		{"SELECT a, b, _WINDOW_START AS ws, ROW_NUMBER() OVER (PARTITION BY a ORDER BY b DESC) AS rn FROM t WINDOW TUMBLING(INTERVAL '1' MINUTE) QUALIFY rn <= 3", ""},
		{"SELECT a, COUNT(*) AS n FROM t GROUP BY a WINDOW TUMBLING(INTERVAL '1' MINUTE) EMIT FINAL" + group + ", 'late.data.strategy'='update'", ""},
		// a row window holds the commit at the first row of each
		// partition, for good, and a replay writes its rows again
		{"SELECT a, b, LAG(b) OVER (PARTITION BY a) AS prev FROM t", ""},
		{"SELECT a, b, SUM(b) OVER (PARTITION BY a ORDER BY _EVENT_TIME) AS s FROM t", ""},
		{"SELECT a, SUM(COUNT(*)) OVER (PARTITION BY a ORDER BY _WINDOW_START) AS s FROM t GROUP BY a WINDOW TUMBLING(INTERVAL '1' MINUTE)", "runs over grouped or windowed rows"},
		{"SELECT t.a, LAG(u.b) OVER (PARTITION BY t.a) AS prev FROM t JOIN u ON t.a = u.a WITHIN INTERVAL '1' SECOND" + group + ", 'u.type'='kafka_source'", "its row window (LAG(u.b) OVER (PARTITION BY t.a)) follows stream-stream joins"},
		{"SELECT a, COUNT(*) AS n FROM t GROUP BY a WINDOW SLIDING(INTERVAL '1' MINUTE, INTERVAL '10' SECONDS) EMIT FINAL" + group + ", 'late.data.strategy'='update'", ""},
		{"SELECT a, COUNT(*) AS n FROM t GROUP BY a WINDOW SESSION(INTERVAL '1' MINUTE) EMIT FINAL", ""},
		{"SELECT a, COUNT(*) AS n FROM t GROUP BY a WINDOW SESSION(INTERVAL '1' MINUTE) EMIT CHANGES" + group + ", 'window.allowed_lateness'='10s', 'late.data.strategy'='drop'", ""},
		// every session kept for late records, fired or not, holds the
		// commit, so a replay rebuilds it whole
		{"SELECT a, COUNT(*) AS n FROM t GROUP BY a WINDOW SESSION(INTERVAL '1' MINUTE) EMIT FINAL" + group + ", 'late.data.strategy'=' Update '", ""},
		// after a table join (inner or outer) or inner stream-stream
		// joins on one key, a replay fences the sessions of the joined rows
		{"SELECT t.a, COUNT(*) AS n FROM t JOIN u ON t.b = u.b GROUP BY t.a WINDOW SESSION(INTERVAL '1' MINUTE) EMIT FINAL" + group + ", 'u.type'='kafka_source', 'u.primary.key'='b'", ""},
		{"SELECT t.a, COUNT(*) AS n FROM t LEFT JOIN u ON t.b = u.b GROUP BY t.a WINDOW SESSION(INTERVAL '1' MINUTE) EMIT CHANGES" + group + ", 'u.type'='kafka_source', 'u.primary.key'='b'", ""},
		{"SELECT t.a, COUNT(*) AS n FROM t JOIN u ON t.a = u.a WITHIN INTERVAL '1' SECOND GROUP BY t.a WINDOW SESSION(INTERVAL '1' MINUTE) EMIT FINAL" + group + ", 'u.type'='kafka_source'", ""},
		{"SELECT t.a, COUNT(*) AS n FROM t JOIN u ON t.a = u.a WITHIN INTERVAL '1' SECOND JOIN v ON t.a = v.a WITHIN INTERVAL '1' SECOND GROUP BY t.a WINDOW SESSION(INTERVAL '1' MINUTE) EMIT FINAL" + group + ", 'u.type'='kafka_source', 'v.type'='kafka_source'", ""},
		{"SELECT t.a, COUNT(*) AS n FROM t JOIN u ON t.b = u.b GROUP BY t.a WINDOW SESSION(INTERVAL '1' MINUTE) EMIT FINAL" + group + ", 'u.type'='kafka_source', 'u.primary.key'='b', 'late.data.strategy'='update'",
			"its SESSION window with 'late.data.strategy'='update' after a join is not yet known to be rebuilt"},
		// the rows of one inner stream-stream join are re-routed on the
		// key of the query after it through an exchange topic; other
		// joins' rows, and rows between joins, would need more
		{"SELECT t.b, COUNT(*) AS n FROM t JOIN u ON t.a = u.a WITHIN INTERVAL '1' SECOND GROUP BY t.b EMIT CHANGES" + group + ", 'u.type'='kafka_source'", ""},
		{"SELECT t.b, COUNT(*) AS n FROM t JOIN u ON t.a = u.a WITHIN INTERVAL '1' SECOND GROUP BY t.b WINDOW TUMBLING(INTERVAL '1' MINUTE) EMIT FINAL" + group + ", 'u.type'='kafka_source'", ""},
		{"SELECT DISTINCT t.b, u.c FROM t JOIN u ON t.a = u.a WITHIN INTERVAL '1' SECOND" + group + ", 'u.type'='kafka_source'", ""},
		// an outer join's rows with NULLs too, whatever the query after
		// it (stage 3 rebuilds its state from the exchange topic)
		{"SELECT t.b, COUNT(*) AS n FROM t LEFT JOIN u ON t.a = u.a WITHIN INTERVAL '1' SECOND GROUP BY t.b EMIT CHANGES" + group + ", 'u.type'='kafka_source'", ""},
		{"SELECT u.c, COUNT(*) AS n FROM t RIGHT JOIN u ON t.a = u.a WITHIN INTERVAL '1' SECOND GROUP BY u.c WINDOW TUMBLING(INTERVAL '1' MINUTE) EMIT FINAL" + group + ", 'u.type'='kafka_source'", ""},
		{"SELECT COALESCE(t.b, u.c) AS k, COUNT(*) AS n FROM t FULL JOIN u ON t.a = u.a WITHIN INTERVAL '1' SECOND GROUP BY COALESCE(t.b, u.c) WINDOW SESSION(INTERVAL '1' MINUTE) EMIT FINAL" + group + ", 'u.type'='kafka_source'", ""},
		{"SELECT DISTINCT t.b, u.c FROM t LEFT JOIN u ON t.a = u.a WITHIN INTERVAL '1' SECOND" + group + ", 'u.type'='kafka_source'", ""},
		{"SELECT t.b, COUNT(*) AS n FROM t LEFT JOIN u ON t.a = u.a WITHIN INTERVAL '1' SECOND GROUP BY t.b WINDOW TUMBLING(INTERVAL '1' MINUTE) EMIT FINAL" + group + ", 'u.type'='kafka_source', 'late.data.strategy'='update'",
			"its 'late.data.strategy'='update' is not run after an exchange topic"},
		{"SELECT t.b, COUNT(*) AS n FROM t JOIN u ON t.a = u.a WITHIN INTERVAL '1' SECOND GROUP BY t.b WINDOW TUMBLING(INTERVAL '1' MINUTE) EMIT FINAL" + group + ", 'u.type'='kafka_source', 'late.data.strategy'='update'",
			"its 'late.data.strategy'='update' is not run after an exchange topic"},
		{"SELECT t.b, COUNT(*) AS n FROM t JOIN u ON t.a = u.a WITHIN INTERVAL '1' SECOND GROUP BY t.b EMIT CHANGES" + group + ", 'u.type'='kafka_source', 'processing.guarantee'='exactly_once'",
			"'processing.guarantee'='exactly_once' is not run through an exchange topic"},
		{"SELECT t.b, COUNT(*) AS n FROM t JOIN u ON t.a = u.a WITHIN INTERVAL '1' SECOND JOIN w ON t.c = w.c GROUP BY t.b EMIT CHANGES" + group + ", 'u.type'='kafka_source', 'w.type'='kafka_source', 'w.primary.key'='c'",
			"it joins a table too"},
		{"SELECT v.b, COUNT(*) AS n FROM t JOIN u ON t.a = u.a WITHIN INTERVAL '1' SECOND JOIN v ON u.b = v.b WITHIN INTERVAL '1' SECOND GROUP BY v.b EMIT CHANGES" + group + ", 'u.type'='kafka_source', 'v.type'='kafka_source'",
			"its JOIN v is on another key than the joins before it, so their rows are re-routed on u.b"},
	}
	for _, tt := range tests {
		with := tt.sql
		if !strings.Contains(with, " WITH (") {
			with += group
		}
		p := build(t, with+")", Options{})
		if tt.why == "" {
			if p.Repartition == nil {
				t.Errorf("%s:\n not repartitioned (scale-out %+v)", tt.sql, p.ScaleOut())
			}
			if _, two := p.stageTexts(); len(p.Analysis.Over) > 0 && p.Analysis.TopN == "" && !strings.Contains(two, "its row window holds the commit, for good, at the first row each partition gave it") {
				t.Errorf("%s:\n stage 2 does not say how a replay rebuilds its row window: %s", tt.sql, two)
			}
			continue
		}
		if s := p.ScaleOut(); p.Repartition != nil || s.Split || !strings.Contains(s.Unsplittable, tt.why) {
			t.Errorf("%s:\n repartition %+v, scale-out %+v, want one process per group because %q", tt.sql, p.Repartition, s, tt.why)
		}
		_, err := Build(parseOne(t, with+", 'repartition'='true')"), Options{CPUs: 4})
		if err == nil || !strings.Contains(err.Error(), tt.why) {
			t.Errorf("%s with 'repartition'='true':\n err = %v, want one with %q", tt.sql, err, tt.why)
		}
	}
}

// TestRestartFromStart: stream-stream joins run in one process of a
// consumer group read only the FROM stream in the group; when a restart
// from its committed offsets would write rows with NULLs of another
// stream again, or rebuild state after the joins with part of its rows,
// the process commits nothing, and EXPLAIN says why. A repartitioned
// statement, one without a group and a LEFT join with nothing kept after
// it (its rows with NULLs are the FROM stream's) commit as they go.
func TestRestartFromStart(t *testing.T) {
	const off = `, 'repartition'='false'`
	for _, tt := range []struct {
		sql, with, restart string
	}{
		{"SELECT o.v, p.w FROM o FULL JOIN p ON o.k = p.k WITHIN INTERVAL '1' SECOND", off, "write again with NULLs the rows of p whose matches were before them (FULL JOIN p)"},
		{"SELECT o.v, p.w FROM o RIGHT JOIN p ON o.k = p.k WITHIN INTERVAL '1' SECOND", off, "(RIGHT JOIN p)"},
		{"SELECT o.k, COUNT(*) AS n FROM o JOIN p ON o.k = p.k WITHIN INTERVAL '1' SECOND GROUP BY o.k WINDOW TUMBLING(INTERVAL '1' MINUTE) EMIT FINAL", off, "rebuild the state after the joins with part of its rows"},
		{"SELECT o.v, p.w FROM o LEFT JOIN p ON o.k = p.k WITHIN INTERVAL '1' SECOND", off, ""},
		{"SELECT o.v, p.w FROM o JOIN p ON o.k = p.k WITHIN INTERVAL '1' SECOND", off, ""},
		{"SELECT o.v, p.w FROM o FULL JOIN p ON o.k = p.k WITHIN INTERVAL '1' SECOND", "", ""},
	} {
		text := tt.sql + ` WITH ('o.type'='kafka_source', 'o.group.id'='g', 'p.type'='kafka_source'` + tt.with + ")"
		p := build(t, text, Options{})
		s := p.ScaleOut()
		var b strings.Builder
		if err := Explain(&b, []*Plan{p}); err != nil {
			t.Fatal(err)
		}
		switch {
		case tt.restart == "" && s.Restart != "":
			t.Errorf("%s:\n restart %q, want it to commit as it goes", text, s.Restart)
		case tt.restart != "" && !strings.Contains(s.Restart, tt.restart):
			t.Errorf("%s:\n restart %q, want one with %q", text, s.Restart, tt.restart)
		case tt.restart != "" && !strings.Contains(b.String(), "it commits no offset, so a restart reads every stream again from its start: its other streams (p) are read whole"):
			t.Errorf("%s:\n EXPLAIN does not say that it commits no offset:\n%s", text, b.String())
		}
	}
	noGroup := build(t, "SELECT o.v, p.w FROM o FULL JOIN p ON o.k = p.k WITHIN INTERVAL '1' SECOND WITH ('o.type'='kafka_source', 'p.type'='kafka_source')", Options{})
	if s := noGroup.ScaleOut(); s.Restart != "" {
		t.Errorf("without a group: restart %q, want none (nothing is committed anyway)", s.Restart)
	}
}

// TestOuterExchangePlan: an outer stream-stream join whose query after it
// groups on another key runs in three stages too, and EXPLAIN says how
// stage 2 decides and identifies its rows with NULLs.
func TestOuterExchangePlan(t *testing.T) {
	p := build(t, "SELECT o.customer, COUNT(*) AS n FROM o LEFT JOIN p ON o.id = p.order_id WITHIN INTERVAL '1' SECOND GROUP BY o.customer WINDOW TUMBLING(INTERVAL '1' MINUTE) EMIT FINAL"+
		" WITH ('o.type'='kafka_source', 'o.group.id'='g', 'p.type'='kafka_source')", Options{})
	if rp := p.Repartition; rp == nil || rp.Exchange == nil || rp.Exchange.Topic != "g-o-exchange" {
		t.Fatalf("repartition %+v, want through g-o-repartition and g-o-exchange", rp)
	}
	var b strings.Builder
	if err := Explain(&b, []*Plan{p}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"three stages in every process", "a row of o that met no match is written with NULLs once the watermark of its partition",
		"every row of o that matched holds the commit until the commit may pass it too", "stage 3:      reads g-o-exchange in group g"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("EXPLAIN does not say %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "a replay reads again every row that can reach a window still open") {
		t.Errorf("EXPLAIN says how stage 2 replays the windows it does not run:\n%s", b.String())
	}
}

// TestExchangePlan: an inner stream-stream join whose query after it
// groups on another key runs in three stages joined by the repartition
// topic and the exchange topic, and EXPLAIN shows both topics and the
// third stage.
func TestExchangePlan(t *testing.T) {
	p := build(t, "SELECT o.customer, COUNT(*) AS n FROM o JOIN p ON o.id = p.order_id WITHIN INTERVAL '1' SECOND GROUP BY o.customer WINDOW TUMBLING(INTERVAL '1' MINUTE) EMIT FINAL"+
		" WITH ('o.type'='kafka_source', 'o.group.id'='g', 'p.type'='kafka_source')", Options{})
	rp := p.Repartition
	if rp == nil || rp.Exchange == nil || rp.Exchange.Topic != "g-o-exchange" || !slices.Equal(rp.Exchange.Key, []string{"o.customer"}) || !slices.Equal(rp.Key, []string{"o.id"}) {
		t.Fatalf("repartition %+v, want through g-o-repartition on o.id and g-o-exchange on o.customer", rp)
	}
	var b strings.Builder
	if err := Explain(&b, []*Plan{p}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"three stages in every process, joined by two topics",
		"stage 1:      reads o and p as members of group g and writes each record, tagged with its input, to topic g-o-repartition",
		"it writes each joined row to topic g-o-exchange", "to the partition of its o.customer",
		"stage 3:      reads g-o-exchange in group g (each o.customer in one partition"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("EXPLAIN does not say %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	if err := ExplainJSON(&b, []*Plan{p}); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Statements []struct {
			ScaleOut struct {
				Repartition struct{ Exchange *Exchange }
				Stage3      string
			} `json:"scale_out"`
		}
	}
	if err := json.Unmarshal([]byte(b.String()), &out); err != nil || len(out.Statements) != 1 {
		t.Fatalf("EXPLAIN --json: %v, %d statements", err, len(out.Statements))
	}
	so := out.Statements[0].ScaleOut
	if x := so.Repartition.Exchange; x == nil || x.Topic != "g-o-exchange" || !slices.Equal(x.Key, []string{"o.customer"}) || !strings.HasPrefix(so.Stage3, "reads g-o-exchange in group g") {
		t.Errorf("EXPLAIN --json: exchange %+v, stage3 %q", x, so.Stage3)
	}
}

package plan

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/partition"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// Regression tests for the reference's planning mistakes (reference-notes §2).

// §2.1: CREATE STREAM/TABLE ... AS SELECT ... GROUP BY fell through to sticky.
func TestRegressionCreateAsSelectGroupBy(t *testing.T) {
	q := "SELECT trader_id, COUNT(*) FROM trades GROUP BY trader_id WITH ('trades.type'='kafka_source')"
	for _, src := range []string{q, "CREATE STREAM s AS " + q, "CREATE TABLE s AS " + q, "INSERT INTO s " + q} {
		p := build(t, src, Options{})
		if p.Strategy.Name() != partition.AlwaysHash || RequirementText(p.Requirement) != "hash(trader_id)" {
			t.Errorf("%s: %s %s, want always_hash hash(trader_id)", src, p.Strategy.Name(), RequirementText(p.Requirement))
		}
		if !rejected(p, partition.StickyPartition) {
			t.Errorf("%s: sticky_partition not rejected", src)
		}
	}
}

// §2.2: aggregates with no GROUP BY got sticky: N partial results.
func TestRegressionGlobalAggregate(t *testing.T) {
	for _, src := range []string{
		"SELECT COUNT(*) FROM t WITH ('t.type'='kafka_source')",
		"CREATE STREAM s AS SELECT SUM(x) AS total FROM t",
		"SELECT MAX(x) FROM t HAVING COUNT(*) > 0",
	} {
		p := build(t, src, Options{Partitions: 8})
		if p.Strategy.Name() != partition.FanIn || p.Requirement.Kind != partition.Single {
			t.Errorf("%s: %s, want fan_in", src, p.Strategy.Name())
		}
		if _, err := Build(parseOne(t, src), Options{Strategy: "sticky"}); err == nil {
			t.Errorf("%s: explicit sticky accepted", src)
		}
	}
}

// §2.3: ROWS windows / OVER (PARTITION BY p) got sticky; LAG and moving
// averages were wrong when p spans source partitions.
func TestRegressionOverPartitionBy(t *testing.T) {
	src := "SELECT symbol, price, AVG(price) OVER (ROWS WINDOW BUFFER 100 ROWS PARTITION BY symbol ORDER BY timestamp) AS moving_avg " +
		"FROM market_data WITH ('market_data.type'='kafka_source')"
	p := build(t, src, Options{})
	if p.Strategy.Name() != partition.AlwaysHash || strings.Join(p.RoutingKeys, ",") != "symbol" {
		t.Errorf("ROWS window: %s on %v, want always_hash on symbol", p.Strategy.Name(), p.RoutingKeys)
	}
	_, err := Build(parseOne(t, src), Options{Strategy: "sticky_partition"})
	if err == nil || !strings.Contains(err.Error(), "would split the rows of each PARTITION BY symbol window") {
		t.Errorf("explicit sticky on a ROWS window: %v", err)
	}
}

// §2.4: smart_repartition never took its aligned path. Here the planner
// passes the declared key, and routing keeps whole source partitions.
func TestRegressionSmartAligned(t *testing.T) {
	p := build(t, "SELECT trader_id, COUNT(*) FROM trades GROUP BY trader_id "+
		"WITH ('trades.type'='kafka_source', 'trades.partition.key'='trader_id')", Options{Partitions: 4})
	smart, ok := p.Strategy.(*partition.SmartStrategy)
	if !ok {
		t.Fatalf("strategy %s, want smart_repartition", p.Strategy.Name())
	}
	ctx := p.Context()
	if !ctx.Aligned() {
		t.Fatalf("Context() not aligned: %+v", ctx)
	}
	b := &record.Batch{Partition: 6, Records: make([]record.Record, 100)}
	if w := smart.Route(b, &ctx, make([]int, 100)); w != 2 {
		t.Errorf("aligned batch of source partition 6 -> %d, want 6 mod 4 = 2", w)
	}
	if a, r := smart.Stats(); a != 100 || r != 0 {
		t.Errorf("Stats() = %d aligned, %d rehashed; want 100, 0", a, r)
	}
	// A statement not keyed on the source key does not get the aligned path.
	q := build(t, "SELECT symbol, COUNT(*) FROM trades GROUP BY symbol "+
		"WITH ('trades.partition.key'='trader_id')", Options{Strategy: "smart"})
	if c := q.Context(); c.Aligned() {
		t.Error("Context() aligned although the source key is not a subset of the routing keys")
	}
}

// §2.5: an empty key list hashed to a constant. A Hash requirement always
// has keys, and always_hash on a keyless statement spreads records.
func TestRegressionHashWithoutKeys(t *testing.T) {
	p := build(t, "SELECT a FROM t", Options{Strategy: "hash", Partitions: 4})
	if len(p.RoutingKeys) != 0 {
		t.Fatalf("routing keys %v, want none", p.RoutingKeys)
	}
	ctx := p.Context()
	b := &record.Batch{Records: make([]record.Record, 400)}
	for i := range b.Records {
		b.Records[i].Values = []record.Value{record.IntValue(int64(i))}
	}
	dst := make([]int, 400)
	p.Strategy.Route(b, &ctx, dst)
	seen := map[int]bool{}
	for _, d := range dst {
		seen[d] = true
	}
	if len(seen) != 4 {
		t.Errorf("keyless always_hash reaches %d of 4 partitions", len(seen))
	}
}

// §2.7: unknown strategy names were accepted and replaced by always_hash.
func TestRegressionUnknownStrategy(t *testing.T) {
	src := "SELECT a, COUNT(*) FROM t GROUP BY a"
	cases := []struct {
		sql   string
		opts  Options
		where string
	}{
		{src, Options{Strategy: "bogus"}, "--strategy bogus"},
		{"-- @partitioning_strategy: bogus\n" + src, Options{}, "1:28: @partitioning_strategy: bogus: "},
		{src + " WITH ('partitioning_strategy'='bogus')", Options{}, "1:68: WITH 'partitioning_strategy'='bogus'"},
	}
	for _, c := range cases {
		_, err := Build(parseOne(t, c.sql), c.opts)
		if err == nil {
			t.Errorf("%s: unknown strategy accepted", c.where)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, c.where) || !strings.Contains(msg, `unknown partitioning strategy "bogus"`) ||
			!strings.Contains(msg, "valid: always_hash, smart_repartition, sticky_partition, round_robin, fan_in") {
			t.Errorf("%s: message %q", c.where, msg)
		}
	}
}

// §2.12: sticky with file sources put every record on worker 0. File splits
// are source partitions; stateless file work gets round_robin, and an
// explicit sticky spreads the splits.
func TestRegressionStickyFile(t *testing.T) {
	src := "SELECT a FROM t WITH ('t.type'='file_source', 't.path'='big.csv')"
	if p := build(t, src, Options{}); p.Strategy.Name() != partition.RoundRobin {
		t.Errorf("stateless file query: %s, want round_robin", p.Strategy.Name())
	}
	p := build(t, src, Options{Strategy: "sticky", Partitions: 4})
	ctx := p.Context()
	workers := map[int]bool{}
	for split := int32(0); split < 8; split++ {
		workers[p.Strategy.Route(&record.Batch{Partition: split}, &ctx, nil)] = true
	}
	if len(workers) != 4 {
		t.Errorf("8 file splits reach %d of 4 workers", len(workers))
	}
}

func rejected(p *Plan, name string) bool {
	for _, r := range p.Rejected {
		if r.Strategy == name {
			return true
		}
	}
	return false
}

func TestExplicitChoices(t *testing.T) {
	statements := []struct {
		sql   string
		valid []string
	}{
		{"SELECT a FROM t", partition.Names},
		{"SELECT a FROM t ORDER BY a", partition.Names},
		{"SELECT trader_id, COUNT(*) FROM t GROUP BY trader_id", []string{"always_hash", "smart_repartition", "fan_in"}},
		{"SELECT trader_id, COUNT(*) FROM t GROUP BY trader_id WITH ('t.partition.key'='trader_id')",
			[]string{"always_hash", "smart_repartition", "sticky_partition", "fan_in"}},
		{"SELECT COUNT(*) FROM t", []string{"fan_in"}},
		{"SELECT COUNT(*) FROM t GROUP BY 'all'", []string{"always_hash", "smart_repartition", "fan_in"}},
		{"SELECT a.k FROM a JOIN b ON a.k = b.k", []string{"always_hash", "smart_repartition", "fan_in"}},
	}
	aliases := map[string]string{"always_hash": "HASH", "smart_repartition": "Smart", "sticky_partition": "StickyPartition",
		"round_robin": "robin", "fan_in": "fan-in"}
	for _, st := range statements {
		for _, name := range partition.Names {
			valid := strings.Contains(","+strings.Join(st.valid, ",")+",", ","+name+",")
			for _, origin := range []string{FromFlag, FromAnnotation, FromWith} {
				spelled := aliases[name]
				src, opts := st.sql, Options{}
				switch origin {
				case FromFlag:
					opts.Strategy = spelled
				case FromAnnotation:
					src = "-- @partitioning_strategy: " + spelled + "\n" + src
				case FromWith:
					if strings.Contains(src, "WITH (") {
						src = strings.Replace(src, "WITH (", "WITH ('partitioning_strategy'='"+spelled+"', ", 1)
					} else {
						src += " WITH ('partitioning_strategy'='" + spelled + "')"
					}
				}
				p, err := Build(parseOne(t, src), opts)
				switch {
				case valid && err != nil:
					t.Errorf("%s [%s %s]: refused: %v", st.sql, origin, spelled, err)
				case valid && (p.Strategy.Name() != name || p.ChoiceSource != origin):
					t.Errorf("%s [%s %s]: got %s from %s", st.sql, origin, spelled, p.Strategy.Name(), p.ChoiceSource)
				case !valid && err == nil:
					t.Errorf("%s [%s %s]: accepted, want refused", st.sql, origin, spelled)
				case !valid:
					want := fmt.Sprintf("strategy %s would split ", name)
					if !strings.Contains(err.Error(), want) || !strings.HasSuffix(err.Error(), "valid here: "+strings.Join(st.valid, ", ")) {
						t.Errorf("%s [%s %s]: message %q", st.sql, origin, spelled, err)
					}
				}
			}
		}
	}
}

func TestExplicitMessage(t *testing.T) {
	_, err := Build(parseOne(t, "SELECT trader_id, COUNT(*) FROM trades GROUP BY trader_id"), Options{Strategy: "round_robin"})
	want := "--strategy round_robin: strategy round_robin would split the groups of GROUP BY trader_id across partitions; " +
		"valid here: always_hash, smart_repartition, fan_in"
	if err == nil || err.Error() != want {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}

func TestChoicePriority(t *testing.T) {
	src := "-- @partitioning_strategy: fan_in\nSELECT a FROM t WITH ('partitioning_strategy'='sticky')"
	cases := []struct {
		src, flag, want, origin string
	}{
		{src, "round_robin", "round_robin", FromFlag},
		{src, "", "fan_in", FromAnnotation},
		{"SELECT a FROM t WITH ('partitioning_strategy'='sticky')", "", "sticky_partition", FromWith},
		{"SELECT a FROM t", "", "round_robin", FromAuto},
	}
	for _, c := range cases {
		p := build(t, c.src, Options{Strategy: c.flag})
		if p.Strategy.Name() != c.want || p.ChoiceSource != c.origin {
			t.Errorf("%q flag %q: %s from %s, want %s from %s", c.src, c.flag, p.Strategy.Name(), p.ChoiceSource, c.want, c.origin)
		}
	}
}

func TestPartitionsAndBatchSize(t *testing.T) {
	annotated := "-- @num_partitions: 6\n-- @batch_size: 256\nSELECT a FROM t"
	cases := []struct {
		src           string
		flag, cpus    int
		want          int
		origin        string
		wantBatchSize int
	}{
		{annotated, 3, 2, 3, FromFlag, 256},
		{annotated, 0, 2, 6, FromAnnotation, 256},
		{"SELECT a FROM t", 0, 5, 5, FromCPUs, DefaultBatchSize},
	}
	for _, c := range cases {
		p := build(t, c.src, Options{Partitions: c.flag, CPUs: c.cpus})
		if p.Partitions != c.want || p.PartitionsOrigin != c.origin || p.BatchSize != c.wantBatchSize {
			t.Errorf("%q: %d from %s, batch %d; want %d from %s, batch %d", c.src, p.Partitions, p.PartitionsOrigin,
				p.BatchSize, c.want, c.origin, c.wantBatchSize)
		}
	}
	// The parser refuses bad annotations; Build checks statements made in code too.
	for _, a := range []sql.Annotation{{Key: sql.AnnotationPartitions, Value: "0"}, {Key: sql.AnnotationBatchSize, Value: "many"}} {
		st := parseOne(t, "SELECT a FROM t")
		st.Annotations = []sql.Annotation{a}
		if _, err := Build(st, Options{}); err == nil || !strings.Contains(err.Error(), "not a positive integer") {
			t.Errorf("@%s: %s: got %v", a.Key, a.Value, err)
		}
	}
	if _, err := Build(parseOne(t, "SELECT a FROM t"), Options{Partitions: -1}); err == nil {
		t.Error("--partitions -1 accepted")
	}
	// More partitions than key groups would stay empty.
	if _, err := Build(parseOne(t, "SELECT a FROM t"), Options{Partitions: MaxPartitions + 1}); err == nil || !strings.Contains(err.Error(), "at most 4096") {
		t.Errorf("--partitions %d: got %v", MaxPartitions+1, err)
	}
	if p := build(t, "SELECT a FROM t", Options{Partitions: MaxPartitions}); p.Partitions != MaxPartitions {
		t.Errorf("--partitions %d: got %d", MaxPartitions, p.Partitions)
	}
	_, err := Build(parseOne(t, "-- @num_partitions: 5000\nSELECT a FROM t"), Options{})
	var serr *sql.Error
	if !errors.As(err, &serr) || serr.Pos.Line != 1 || !strings.Contains(err.Error(), "more than 4096") {
		t.Errorf("@num_partitions: 5000: got %v, want a positioned error", err)
	}
}

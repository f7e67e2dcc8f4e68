package e2e

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/partition"
)

// TestStreamTableJoinFromKafka joins trades from one topic with a traders
// table from another, keyed by trader_id, with updates and tombstones. When
// both topics are partitioned alike the table is split by source partition
// and smart_repartition routes every trade by its partition; when the
// counts differ both inputs are hashed. Both give the result computed from
// the table's final state.
func TestStreamTableJoinFromKafka(t *testing.T) {
	t.Parallel()
	trades := genTrades(t, 4000, 60)
	// The table: every trader, then updates of some, then tombstones of others.
	type row struct{ name string }
	final := map[string]row{}
	var table []kafka.Message
	upsert := func(id, name string) {
		table = append(table, kafka.Message{Key: []byte(id),
			Value: []byte(fmt.Sprintf(`{"trader_id":%s,"name":%q}`, id, name))})
		final[id] = row{name}
	}
	for i := range 60 {
		upsert(fmt.Sprint(i), fmt.Sprintf("first %d", i))
	}
	for i := 0; i < 60; i += 3 {
		upsert(fmt.Sprint(i), fmt.Sprintf("second %d", i))
	}
	for i := 1; i < 60; i += 7 {
		table = append(table, kafka.Message{Key: []byte(fmt.Sprint(i))}) // tombstone
		delete(final, fmt.Sprint(i))
	}
	counts := map[string]int{}
	joined := 0
	for _, tr := range trades {
		if _, ok := final[tr.trader]; ok {
			counts[tr.trader]++
			joined++
		}
	}
	var want []string
	for id, n := range counts {
		want = append(want, fmt.Sprintf(`{"trader_id":%s,"n":%d,"name":%q}`, id, n, final[id].name))
	}
	slices.Sort(want)

	const query = `SELECT t.trader_id, COUNT(*) AS n, MAX(r.name) AS name
FROM trades t JOIN traders r ON t.trader_id = r.trader_id
GROUP BY t.trader_id EMIT FINAL
WITH ('trades.type'='kafka_source', 'trades.bootstrap.servers'='%[1]s', 'trades.partition.key'='trader_id',
      'traders.type'='kafka_source', 'traders.bootstrap.servers'='%[1]s', 'traders.topic.name'='%[2]s',
      'traders.partition.key'='trader_id', 'traders.primary.key'='trader_id', 'traders.broadcast'='false',
      'out.type'='file_sink', 'out.path'='%[3]s')`
	cases := []struct {
		name, topic string
		strategy    string
		aligned     bool
	}{
		{"co-partitioned", "traders", partition.SmartRepartition, true},
		{"partition counts differ", "traders4", partition.AlwaysHash, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			brokers := startCluster(t, "trades", "traders")
			if tc.topic == "traders4" {
				createTopic(t, brokers, "traders4", 4)
			}
			produce(t, brokers, "trades", keyBy(trades, byTrader))
			produce(t, brokers, tc.topic, table)
			out := filepath.Join(t.TempDir(), "out.jsonl")
			j, sum := runToEnd(t, "CREATE STREAM out AS "+fmt.Sprintf(query, brokers, tc.topic, out))
			if got := j.Plan.Strategy.Name(); got != tc.strategy {
				t.Errorf("strategy %s, want %s (%s)", got, tc.strategy, j.Plan.Reason)
			}
			in := j.Plan.Inputs[1]
			if in.ByPartition != tc.aligned || in.Broadcast {
				t.Errorf("table routed %q (%s), want by partition %v", in.Routing, in.Why, tc.aligned)
			}
			if s, ok := j.Plan.Strategy.(*partition.SmartStrategy); ok && tc.aligned {
				if aligned, rehashed := s.Stats(); aligned != int64(len(trades)) || rehashed != 0 {
					t.Errorf("smart_repartition routed %d aligned, %d re-hashed; want all %d aligned", aligned, rehashed, len(trades))
				}
			}
			if !tc.aligned && !strings.Contains(j.Plan.Reason, "trades has 8 partitions and traders 4") {
				t.Errorf("reason %q does not say the partition counts differ", j.Plan.Reason)
			}
			if sum.Total.In != int64(len(trades)) || sum.Total.Filtered != int64(len(trades)-joined) {
				t.Errorf("in %d, filtered %d; want %d in, %d without a trader", sum.Total.In, sum.Total.Filtered, len(trades), len(trades)-joined)
			}
			sameLines(t, "joined counts", readLines(t, out), want)
		})
	}
}

// createTopic creates a topic with the given partition count.
func createTopic(t testing.TB, brokers, topic string, partitions int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := testContext(t)
	defer cancel()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// TestStreamTableJoinRestart runs a join whose stream is a consumer group
// twice: the second run reads only the trades produced since the first
// committed, and the table, which is never committed, is read whole again
// from its topic, so those trades still find their traders.
func TestStreamTableJoinRestart(t *testing.T) {
	t.Parallel()
	brokers := startCluster(t, "trades", "traders")
	var table []kafka.Message
	for i := range 10 {
		table = append(table, kafka.Message{Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprintf(`{"trader_id":%d,"name":"n%d"}`, i, i))})
	}
	produce(t, brokers, "traders", table)
	trades := func(from, to int) []kafka.Message {
		var msgs []kafka.Message
		for i := from; i < to; i++ {
			msgs = append(msgs, kafka.Message{Key: []byte(fmt.Sprint(i % 10)), Value: []byte(fmt.Sprintf(`{"id":%d,"trader_id":%d}`, i, i%10))})
		}
		return msgs
	}
	const query = `CREATE STREAM out AS SELECT t.id, r.name FROM trades t JOIN traders r ON t.trader_id = r.trader_id
WITH ('trades.type'='kafka_source', 'trades.bootstrap.servers'='%[1]s', 'trades.group.id'='enrich',
      'traders.type'='kafka_source', 'traders.bootstrap.servers'='%[1]s', 'traders.primary.key'='trader_id',
      'out.type'='file_sink', 'out.path'='%[2]s')`
	for run, batch := range [][2]int{{0, 300}, {300, 500}} {
		produce(t, brokers, "trades", trades(batch[0], batch[1]))
		out := filepath.Join(t.TempDir(), "out.jsonl")
		_, sum := runToEnd(t, fmt.Sprintf(query, brokers, out))
		lines := readLines(t, out)
		if n := batch[1] - batch[0]; len(lines) != n || sum.Total.In != int64(n) {
			t.Fatalf("run %d: %d rows from %d trades, want %d (the trades since the last commit, each with its trader)", run+1, len(lines), sum.Total.In, n)
		}
		for _, l := range lines {
			if !strings.Contains(l, `"name":"n`) {
				t.Fatalf("run %d: row %s has no trader", run+1, l)
			}
		}
	}
}

// TestMultiWayJoinFromKafka joins trades with traders on trader_id and
// each trader's desk with a desks table on desk, both tables Kafka topics
// with updates and tombstones, too big to broadcast: the trades are routed
// on trader_id to meet their traders, and each joined row is looked up in
// the shard of desks that holds its desk (an exchange on the next key).
func TestMultiWayJoinFromKafka(t *testing.T) {
	t.Parallel()
	trades := genTrades(t, 3000, 40)
	desk := map[string]string{}  // trader -> desk, final
	floor := map[string]string{} // desk -> floor, final
	var traders, desks []kafka.Message
	for i := range 40 {
		id, d := fmt.Sprint(i), fmt.Sprintf("d%d", i%6)
		if i%5 == 0 {
			d = fmt.Sprintf("d%d", (i+1)%6) // an update moves some traders
			traders = append(traders, kafka.Message{Key: []byte(id), Value: []byte(fmt.Sprintf(`{"trader_id":%s,"desk":"d%d"}`, id, i%6))})
		}
		traders = append(traders, kafka.Message{Key: []byte(id), Value: []byte(fmt.Sprintf(`{"trader_id":%s,"desk":%q}`, id, d))})
		desk[id] = d
	}
	for i := 3; i < 40; i += 9 {
		traders = append(traders, kafka.Message{Key: []byte(fmt.Sprint(i))})
		delete(desk, fmt.Sprint(i))
	}
	for i := range 6 {
		d := fmt.Sprintf("d%d", i)
		desks = append(desks, kafka.Message{Key: []byte(d), Value: []byte(fmt.Sprintf(`{"desk":%q,"floor":%d}`, d, i))})
		floor[d] = fmt.Sprint(i)
	}
	desks = append(desks, kafka.Message{Key: []byte("d4")}) // desk d4 closed
	delete(floor, "d4")
	counts := map[string]int{}
	for _, tr := range trades {
		if d, ok := desk[tr.trader]; ok {
			if _, ok := floor[d]; ok {
				counts[tr.trader]++
			}
		}
	}
	var want []string
	for id, n := range counts {
		want = append(want, fmt.Sprintf(`{"trader_id":%s,"n":%d,"floor":%s}`, id, n, floor[desk[id]]))
	}
	slices.Sort(want)
	brokers := startCluster(t, "trades", "traders", "desks")
	produce(t, brokers, "trades", keyBy(trades, byTrader))
	produce(t, brokers, "traders", traders)
	produce(t, brokers, "desks", desks)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	j, sum := runToEnd(t, fmt.Sprintf(`CREATE STREAM out AS SELECT t.trader_id, COUNT(*) AS n, MAX(d.floor) AS floor
FROM trades t JOIN traders r ON t.trader_id = r.trader_id JOIN desks d ON r.desk = d.desk
GROUP BY t.trader_id EMIT FINAL
WITH ('trades.type'='kafka_source', 'trades.bootstrap.servers'='%[1]s',
      'traders.type'='kafka_source', 'traders.bootstrap.servers'='%[1]s', 'traders.primary.key'='trader_id', 'traders.broadcast'='false',
      'desks.type'='kafka_source', 'desks.bootstrap.servers'='%[1]s', 'desks.primary.key'='desk', 'desks.broadcast'='false',
      'out.type'='file_sink', 'out.path'='%[2]s')`, brokers, out))
	if got := strings.Join(j.Plan.RoutingKeys, ", "); got != "t.trader_id" {
		t.Errorf("routed on %s, want t.trader_id", got)
	}
	if in := j.Plan.Inputs[2]; !in.Exchange || in.Routing != "exchange on r.desk" {
		t.Errorf("desks routed %q (%s), want an exchange on r.desk", in.Routing, in.Why)
	}
	if sum.Total.In != int64(len(trades)) {
		t.Errorf("in %d, want %d", sum.Total.In, len(trades))
	}
	sameLines(t, "joined counts", readLines(t, out), want)
}

// TestTableTombstoneByNumericKey: a tombstone deletes the row of a
// DECIMAL(6,3) key whose message key spells the number otherwise ("2.500"
// for the row keyed "2.5"), so no trade meets it; one whose message key is
// no number deletes nothing and is in the dead-letter file at its place,
// with the reason. The traders topic has one partition, so that the
// tombstones, keyed otherwise, come after their rows.
func TestTableTombstoneByNumericKey(t *testing.T) {
	t.Parallel()
	brokers := startCluster(t, "trades")
	createTopic(t, brokers, "traders", 1)
	var table, trades []kafka.Message
	for i := range 10 {
		table = append(table, kafka.Message{Key: fmt.Appendf(nil, "%d.5", i), Value: fmt.Appendf(nil, `{"trader_id":%d.5,"name":"n%d"}`, i, i)})
	}
	for i := 0; i < 10; i += 2 {
		table = append(table, kafka.Message{Key: fmt.Appendf(nil, "%d.500", i)}) // tombstone
	}
	table = append(table, kafka.Message{Key: []byte("x7")}) // a tombstone of no key
	var want []string
	for i := range 40 {
		trades = append(trades, kafka.Message{Key: fmt.Appendf(nil, "%d", i), Value: fmt.Appendf(nil, `{"id":%d,"trader_id":%d.5}`, i, i%10)})
		if i%2 == 1 {
			want = append(want, fmt.Sprintf(`{"id":%d,"name":"n%d"}`, i, i%10))
		}
	}
	slices.Sort(want)
	produce(t, brokers, "trades", trades)
	produce(t, brokers, "traders", table)
	dir := t.TempDir()
	out, dlq := filepath.Join(dir, "out.jsonl"), filepath.Join(dir, "dead.jsonl")
	runToEnd(t, fmt.Sprintf(`CREATE STREAM out AS SELECT t.id, r.name FROM trades t JOIN traders r ON t.trader_id = r.trader_id
WITH ('trades.type'='kafka_source', 'trades.bootstrap.servers'='%[1]s', 'trades.columns'='id BIGINT, trader_id DECIMAL(6,3)',
      'traders.type'='kafka_source', 'traders.bootstrap.servers'='%[1]s', 'traders.primary.key'='trader_id',
      'traders.columns'='trader_id DECIMAL(6,3), name STRING',
      'out.type'='file_sink', 'out.path'='%[2]s', 'dlq.path'='%[3]s')`, brokers, out, dlq))
	sameLines(t, "trades joined with the traders not deleted", readLines(t, out), want)
	dead := readLines(t, dlq)
	if len(dead) != 1 {
		t.Fatalf("dead letters %q, want the tombstone keyed x7", dead)
	}
	var e connector.DeadLetterJSON
	if err := json.Unmarshal([]byte(dead[0]), &e); err != nil {
		t.Fatal(err)
	}
	if e.Source != "traders" || e.Partition != 0 || e.Offset != int64(len(table)-1) || !strings.Contains(e.Reason, `message key "x7" is no key of column trader_id`) {
		t.Errorf("dead letter %+v, want the tombstone of traders at partition 0 offset %d, its reason naming its key", e, len(table)-1)
	}
}

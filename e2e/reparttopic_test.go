package e2e

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/runner"
	"github.com/sluicesql/sluice/sql"
)

// repartRecords is a kgo hook checking every data record a process reads
// from a repartition topic of n partitions: its timestamp is the trade's
// event time (trade_time), and it is in the partition Kafka's murmur2
// partitioner gives its key. The hook sees the source's records too (the
// repartition topic is read by a client of the same name), which give
// each trade's event time by its source position; a repartition record
// names the position it came from in its origin header.
type repartRecords struct {
	n      int
	mu     sync.Mutex
	traded map[[2]int64]time.Time // by source partition and offset
	read   int
	bad    []string
}

// OnFetchRecordUnbuffered implements kgo.HookFetchRecordUnbuffered.
func (h *repartRecords) OnFetchRecordUnbuffered(r *kgo.Record, polled bool) {
	if !polled {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if !strings.HasSuffix(r.Topic, "-repartition") {
		var v struct {
			TradeTime time.Time `json:"trade_time"`
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			h.bad = append(h.bad, fmt.Sprintf("source record %s: %v", r.Value, err))
		}
		if h.traded == nil {
			h.traded = map[[2]int64]time.Time{}
		}
		h.traded[[2]int64{int64(r.Partition), r.Offset}] = v.TradeTime
		return
	}
	i := slices.IndexFunc(r.Headers, func(h kgo.RecordHeader) bool { return h.Key == "sluice.origin" })
	if i < 0 {
		return
	}
	// the origin header starts with the source partition and offset (varints)
	origin := r.Headers[i].Value
	p, n := binary.Varint(origin)
	off, m := binary.Varint(origin[max(n, 0):])
	h.read++
	tradeTime, ok := h.traded[[2]int64{p, off}]
	switch {
	case n <= 0 || m <= 0 || !ok:
		h.bad = append(h.bad, fmt.Sprintf("record at %d: origin %x names no source record read", r.Offset, origin))
	case !r.Timestamp.Equal(tradeTime):
		h.bad = append(h.bad, fmt.Sprintf("record of %d@%d: timestamp %s, want the event time %s", p, off,
			r.Timestamp.UTC().Format(time.RFC3339Nano), tradeTime.UTC().Format(time.RFC3339Nano)))
	case r.Partition != kafka.Partition(r.Key, h.n):
		h.bad = append(h.bad, fmt.Sprintf("record of %d@%d: key %q in partition %d, murmur2 gives %d", p, off, r.Key, r.Partition, kafka.Partition(r.Key, h.n)))
	}
}

// TestRepartitionTopicRecords: the repartition topic is created with the
// default partition count (the source's 8, at least 32) and CreateTime;
// each record in it has its event time as its timestamp and is in the
// partition murmur2 gives its key; stage 2 gives each row its source
// record's timestamp back, so _TIMESTAMP is the one-process value.
func TestRepartitionTopicRecords(t *testing.T) {
	t.Parallel()
	const q = `CREATE STREAM per_symbol AS
SELECT symbol, _WINDOW_START AS w, COUNT(*) AS n, MIN(_TIMESTAMP) AS first_ts, MAX(_TIMESTAMP) AS last_ts
FROM trades
GROUP BY symbol
WINDOW TUMBLING(trade_time, INTERVAL '100' MILLISECOND)
EMIT FINAL
WITH (%s, 'per_symbol.type'='file_sink', 'per_symbol.path'='%s', 'commit.interval'='50ms')`
	brokers := startCluster(t, "trades")
	produce(t, brokers, "trades", keyBy(genTrades(t, 3000, 40), byTrader))
	dir := t.TempDir()
	// the source records' timestamps are when they were produced, years
	// after their event times
	one := filepath.Join(dir, "one.jsonl")
	runToEnd(t, fmt.Sprintf(q, kafkaTrades(brokers), one))
	want := readLines(t, one)
	slices.Sort(want)

	ctx, cancel := testContext(t)
	defer cancel()
	hook := &repartRecords{n: 32}
	two := filepath.Join(dir, "two.jsonl")
	j := prepare(t, ctx, fmt.Sprintf(q, kafkaTrades(brokers, "group.id", "g"), two), runner.Options{UntilEnd: true, Partitions: 2,
		KafkaOpts: func(_, client string) []kgo.Opt {
			if client == "source:trades" {
				return []kgo.Opt{kgo.WithHooks(hook)}
			}
			return nil
		}})
	if j.Plan.Repartition == nil {
		t.Fatal("not repartitioned")
	}
	if _, err := runJob(t, ctx, j); err != nil {
		t.Fatal(err)
	}
	sameLines(t, "windows with _TIMESTAMP through the repartition topic", windowRows(t, two), want)
	hook.mu.Lock()
	if hook.read < 3000 || len(hook.bad) > 0 {
		t.Errorf("stage 2 read %d records from the repartition topic (want 3000 or more), %d wrong; first: %v", hook.read, len(hook.bad), hook.bad[:min(3, len(hook.bad))])
	}
	hook.mu.Unlock()

	adm := admin(t, brokers)
	topics, err := adm.ListTopics(ctx, "g-per_symbol-repartition")
	if err != nil || len(topics["g-per_symbol-repartition"].Partitions) != 32 {
		t.Errorf("repartition topic: %v, %v; want 32 partitions", topics, err)
	}
	configs, err := adm.DescribeTopicConfigs(ctx, "g-per_symbol-repartition")
	if err != nil {
		t.Fatal(err)
	}
	c, err := configs.On("g-per_symbol-repartition", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range c.Configs {
		if kv.Value != nil {
			got[kv.Key] = *kv.Value
		}
	}
	for k, v := range map[string]string{"message.timestamp.type": "CreateTime", "cleanup.policy": "delete", "retention.ms": "-1"} {
		if got[k] != v {
			t.Errorf("repartition topic config %s = %q, want %q", k, got[k], v)
		}
	}
}

// admin returns an admin client of the cluster, closed with the test.
func admin(t testing.TB, brokers string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

// TestRepartitionTopicExisting: an existing repartition topic keeps its
// partition count (it decides which partition each key is in), so
// 'repartition.partitions' set to another count is an error naming both,
// and a topic whose broker would stamp records with its append time
// instead of their event time is refused.
func TestRepartitionTopicExisting(t *testing.T) {
	t.Parallel()
	brokers := startCluster(t, "trades")
	createTopic(t, brokers, "g-per_symbol-repartition", 4)
	ctx, cancel := testContext(t)
	defer cancel()
	resp, err := admin(t, brokers).CreateTopic(ctx, 4, 1, map[string]*string{"message.timestamp.type": kadm.StringPtr("LogAppendTime")}, "appended-per_symbol-repartition")
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
	text := func(group, extra string) string {
		return strings.Replace(fmt.Sprintf(perSymbolWindow, kafkaTrades(brokers, "group.id", group), filepath.Join(t.TempDir(), "out.jsonl")), "'commit.interval'", extra+"'commit.interval'", 1)
	}
	for _, tt := range []struct{ text, want string }{
		{text("g", "'repartition.partitions'='8', "), "'repartition.partitions' is 8, but the repartition topic g-per_symbol-repartition exists with 4 partitions"},
		{text("appended", ""), "'message.timestamp.type'='LogAppendTime'"},
	} {
		stmts, err := sql.Parse("e2e.sql", tt.text)
		if err != nil {
			t.Fatal(err)
		}
		j, err := runner.Prepare(ctx, stmts[0], runner.Options{})
		if err == nil {
			j.Discard()
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Prepare(%s):\nerr = %v\nwant one with %q", tt.text, err, tt.want)
		}
	}
	for _, extra := range []string{"", "'repartition.partitions'='4', "} {
		j := prepare(t, ctx, text("g", extra), runner.Options{})
		j.Discard()
	}
}

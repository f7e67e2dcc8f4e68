package e2e

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/internal/kafkatest"
	"github.com/sluicesql/sluice/runner"
)

// ackedDeadLetters is a kgo hook on the dead-letter producer: the source
// partitions and offsets whose dead letters the brokers acknowledged.
type ackedDeadLetters struct {
	mu    sync.Mutex
	acked map[at]bool
}

// OnProduceRecordUnbuffered implements kgo.HookProduceRecordUnbuffered.
func (h *ackedDeadLetters) OnProduceRecordUnbuffered(r *kgo.Record, err error) {
	if err != nil {
		return
	}
	var p, o int64
	for _, hd := range r.Headers {
		switch hd.Key {
		case kafka.HeaderDLQPartition:
			p, _ = strconv.ParseInt(string(hd.Value), 10, 32)
		case kafka.HeaderDLQOffset:
			o, _ = strconv.ParseInt(string(hd.Value), 10, 64)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.acked[at{int32(p), o}] = true
}

func (h *ackedDeadLetters) has(a at) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.acked[a]
}

// TestMalformedMessagesReachTheDLQTopic runs a filter over keyed trades with
// some values that are not JSON objects and one whose WHERE fails, with
// 'dlq.topic' (brokers taken from the source) and a consumer group. The
// brokers acknowledge dead letters slowly; every offset commit the group
// receives is checked against the acknowledged dead letters: none may cover
// a failed message whose entry is not yet in the topic. At the end the
// topic holds one message per failed record, with its original bytes,
// partition, offset, reason and key, the counters balance, and the group
// has committed the whole input.
func TestMalformedMessagesReachTheDLQTopic(t *testing.T) {
	t.Parallel()
	cluster := kafkatest.Cluster(t, kfake.NumBrokers(3), kfake.SeedTopics(kafkaPartitions, "trades", "dead"))
	brokers := strings.Join(cluster.ListenAddrs(), ",")
	trades := genTrades(t, 3000, 40)
	msgs := keyBy(trades, byTrader)
	const failsWhere = `{"trader_id":1,"symbol":"X","price":1.5,"quantity":"lots"}` // valid JSON, but its quantity does not fit the INTEGER inferred for it
	bad := map[int]string{3: `{"trader_id":`, 500: `not json`, 1234: `{"price": 1.2.3}`, 2999: "\xff\xfe{}", 2000: `[1,2]`, 10: failsWhere}
	wantRows := spoil(msgs, trades, bad)
	produce(t, brokers, "trades", msgs)
	badAt := map[at]string{} // the failing messages by their place
	for i, place := range places(msgs) {
		if v, ok := bad[i]; ok {
			badAt[place] = v
		}
	}
	source := map[at]*kgo.Record{} // every trades message by its place, as the broker holds it
	for _, r := range consume(t, brokers, "trades", len(msgs)) {
		source[at{r.Partition, r.Offset}] = r
	}

	acks := &ackedDeadLetters{acked: map[at]bool{}}
	var mu sync.Mutex
	var commits int
	var violations []string
	// Dead letters are acknowledged only after a pause, so that a commit
	// that does not wait for them would overtake them.
	cluster.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		for _, rt := range req.(*kmsg.ProduceRequest).Topics {
			if rt.Topic == "dead" {
				cluster.SleepControl(func() { time.Sleep(20 * time.Millisecond) })
				break
			}
		}
		return nil, nil, false
	})
	cluster.ControlKey(int16(kmsg.OffsetCommit), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		mu.Lock()
		defer mu.Unlock()
		commits++
		for _, rt := range req.(*kmsg.OffsetCommitRequest).Topics {
			for _, rp := range rt.Partitions {
				for a := range badAt {
					if a.p == rp.Partition && a.o < rp.Offset && !acks.has(a) {
						violations = append(violations, fmt.Sprintf("commit of partition %d at %d before the dead letter of offset %d is acknowledged", rp.Partition, rp.Offset, a.o))
					}
				}
			}
		}
		return nil, nil, false
	})

	ctx, cancel := testContext(t)
	defer cancel()
	text := fmt.Sprintf(`SELECT trader_id, symbol, quantity FROM trades WHERE quantity > 500
WITH (%s, 'commit.interval'='10ms', 'dlq.topic'='dead')`, kafkaTrades(brokers, "group.id", "dlq-topic"))
	var out strings.Builder
	j := prepare(t, ctx, text, runner.Options{UntilEnd: true, Partitions: 4, Stdout: &out,
		KafkaOpts: func(_, client string) []kgo.Opt {
			if client == "dlq:dead" {
				return []kgo.Opt{kgo.WithHooks(acks)}
			}
			return nil
		}})
	sum, err := runJob(t, ctx, j)
	if err != nil {
		t.Fatal(err)
	}
	checkBalance(t, sum)

	for _, r := range consume(t, brokers, "dead", len(bad)) {
		var e connector.DeadLetterJSON
		if err := json.Unmarshal(r.Value, &e); err != nil {
			t.Fatalf("dead-letter message %q: %v", r.Value, err)
		}
		raw, err := e.Bytes()
		orig := source[at{e.Partition, e.Offset}]
		switch {
		case err != nil || orig == nil:
			t.Errorf("dead letter %+v: raw %v, no trades message at its partition and offset", e, err)
		case string(raw) != string(orig.Value) || badAt[at{e.Partition, e.Offset}] != string(raw):
			t.Errorf("dead letter at partition %d offset %d holds %q; the message there is %q", e.Partition, e.Offset, raw, orig.Value)
		case e.Source != "trades" || e.Reason == "" || e.Time.IsZero():
			t.Errorf("dead letter %+v: want source trades, a reason and a time", e)
		case string(r.Key) != string(orig.Key) && string(r.Key) != fmt.Sprintf("trades/%d/%d", e.Partition, e.Offset):
			t.Errorf("dead letter keyed %q, want the message's key %q (or trades/partition/offset)", r.Key, orig.Key)
		}
	}
	if lines := strings.Count(out.String(), "\n"); lines != wantRows {
		t.Errorf("%d rows written, want %d", lines, wantRows)
	}
	tot := sum.Total
	if tot.In != int64(len(msgs)) || tot.DeadLettered != int64(len(bad)) || sum.DeadLetters != int64(len(bad)) ||
		tot.Accepted != int64(wantRows) || tot.Filtered != int64(len(msgs)-len(bad)-wantRows) {
		t.Errorf("in %d, accepted %d, filtered %d, dead-lettered %d (summary %d); want %d, %d, %d, %d",
			tot.In, tot.Accepted, tot.Filtered, tot.DeadLettered, sum.DeadLetters, len(msgs), wantRows, len(msgs)-len(bad)-wantRows, len(bad))
	}
	if sum.DLQTopic != "dead" || sum.DLQPath != "" {
		t.Errorf("summary names DLQ topic %q and path %q, want the topic dead", sum.DLQTopic, sum.DLQPath)
	}
	// Every partition is committed to its end, trailing messages that
	// failed to decode included (the readers report their position), so a
	// restart does not dead-letter them again.
	committed, err := groupOffsets(ctx, brokers, "dlq-topic", "trades")
	if err != nil {
		t.Fatal(err)
	}
	ends := map[int32]int64{}
	for a := range source {
		ends[a.p] = max(ends[a.p], a.o+1)
	}
	for p, end := range ends {
		if c := committed[p]; c != end {
			t.Errorf("partition %d committed at %d, want its end %d", p, c, end)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if commits == 0 {
		t.Error("no offset commit reached the brokers")
	}
	t.Logf("%d offset commits checked", commits)
	for _, v := range violations {
		t.Error(v)
	}
}

// spoil sets the values of the messages that bad names, and returns how
// many of the others have a quantity over 500: the rows of the filter both
// dead-letter tests run.
func spoil(msgs []kafka.Message, trades []trade, bad map[int]string) (wantRows int) {
	for i := range msgs {
		if v, ok := bad[i]; ok {
			msgs[i].Value = []byte(v)
		} else if trades[i].quantity > 500 {
			wantRows++
		}
	}
	return wantRows
}

// consume reads n messages of topic from the start.
func consume(t *testing.T, brokers, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := testContext(t)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		f := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("topic %s: read %d messages of %d: %v", topic, len(out), n, err)
		}
		if errs := f.Errors(); len(errs) > 0 {
			t.Fatalf("topic %s: %v", topic, errs[0].Err)
		}
		out = append(out, f.Records()...)
	}
	if len(out) != n {
		t.Fatalf("topic %s holds %d messages, want %d", topic, len(out), n)
	}
	return out
}

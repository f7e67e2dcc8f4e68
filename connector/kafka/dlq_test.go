package kafka

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/internal/kafkatest"
	"github.com/sluicesql/sluice/record"
)

// ackCount is a kgo hook counting the records acknowledged by the brokers.
type ackCount struct{ n atomic.Int64 }

// OnProduceRecordUnbuffered implements kgo.HookProduceRecordUnbuffered.
func (h *ackCount) OnProduceRecordUnbuffered(_ *kgo.Record, err error) {
	if err == nil {
		h.n.Add(1)
	}
}

// TestDeadLetterQueueRoundTrip adds dead letters from several goroutines
// and reads the topic back: every entry is acknowledged when Flush returns,
// its value is the dead-letter file's JSON line, its key the original
// message key or source/partition/offset, and its headers name source,
// partition, offset and reason, and the place in the repartition topic of
// a record stage 2 read there.
func TestDeadLetterQueueRoundTrip(t *testing.T) {
	brokers := startCluster(t, "dead")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var acked ackCount
	q, err := OpenDeadLetterQueue(ctx, Plain(brokers), "dead", TopicSpec{}, kgo.WithHooks(&acked))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 1, 15, 10, 0, 0, 0, time.UTC)
	const writers, each = 4, 50
	want := map[pk]connector.DeadLetter{}
	for g := int32(0); g < writers; g++ {
		for i := int64(0); i < each; i++ {
			d := connector.DeadLetter{Source: "orders", Partition: g, Offset: i, Raw: []byte(fmt.Sprintf(`{"bad":%d`, i)),
				Reason: fmt.Sprintf("decode %d/%d", g, i), Time: at}
			if i%5 == 0 {
				d.Raw = []byte{0xff, byte(i)}
			}
			switch {
			case i%3 == 0:
				d.Key = []byte(fmt.Sprintf("K%d-%d", g, i))
			case i%7 == 1: // read through a repartition topic
				d.Via = &connector.Place{Topic: "g-s-repartition", Partition: g + 10, Offset: i + 100}
			}
			want[pk{g, i}] = d
		}
	}
	var wg sync.WaitGroup
	for g := int32(0); g < writers; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int64(0); i < each; i++ {
				q.Add(want[pk{g, i}])
			}
		}()
	}
	wg.Wait()
	if err := q.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if n := acked.n.Load(); n != writers*each || q.Count() != writers*each {
		t.Fatalf("after Flush: %d acknowledged, %d added; want %d", n, q.Count(), writers*each)
	}
	if err := q.Close(); err != nil {
		t.Fatal(err)
	}

	src, err := NewSource("dead", map[string]string{"dead.bootstrap.servers": strings.Join(brokers, ","),
		"dead.stop.at": "end", "dead.format": "string"})
	if err != nil {
		t.Fatal(err)
	}
	msgs := readAll(t, src, record.NewSchema("value"), nil)
	if len(msgs) != len(want) {
		t.Fatalf("read %d dead-letter messages, want %d", len(msgs), len(want))
	}
	seen := map[pk]bool{}
	for _, m := range msgs {
		var j connector.DeadLetterJSON
		if err := json.Unmarshal([]byte(m.raw), &j); err != nil {
			t.Fatalf("message value %q: %v", m.raw, err)
		}
		d, ok := want[pk{j.Partition, j.Offset}]
		if !ok || seen[pk{j.Partition, j.Offset}] {
			t.Fatalf("unexpected or repeated dead letter %s", m.raw)
		}
		seen[pk{j.Partition, j.Offset}] = true
		line, err := d.AppendJSON(nil)
		if err != nil {
			t.Fatal(err)
		}
		key := string(d.Key)
		if d.Key == nil {
			key = fmt.Sprintf("orders/%d/%d", d.Partition, d.Offset)
		}
		hdrs := map[string]string{}
		for _, h := range m.hdrs {
			hdrs[h.Key] = string(h.Value)
		}
		wantHdrs := map[string]string{HeaderDLQSource: "orders", HeaderDLQPartition: fmt.Sprint(d.Partition),
			HeaderDLQOffset: fmt.Sprint(d.Offset), HeaderDLQReason: d.Reason}
		if d.Via != nil {
			wantHdrs[HeaderDLQRepartition] = fmt.Sprintf("g-s-repartition/%d/%d", d.Partition+10, d.Offset+100)
			if j.Repartition == nil || *j.Repartition != *d.Via {
				t.Errorf("value %s: repartition %+v, want %+v", m.raw, j.Repartition, *d.Via)
			}
		}
		switch {
		case m.raw != string(line):
			t.Errorf("value %s, want the dead-letter line %s", m.raw, line)
		case m.key != key || m.part != Partition([]byte(key), testPartitions):
			t.Errorf("message key %q in partition %d, want %q in %d", m.key, m.part, key, Partition([]byte(key), testPartitions))
		case fmt.Sprint(hdrs) != fmt.Sprint(wantHdrs):
			t.Errorf("headers %v, want %v", hdrs, wantHdrs)
		}
	}
}

// TestDeadLetterQueueErrors: a topic that does not exist or no brokers fail
// at open; a produce the broker refuses fails Flush and Close, so a job
// never commits past a dead letter that is not in the topic.
func TestDeadLetterQueueErrors(t *testing.T) {
	c := kafkatest.Cluster(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "dead"))
	brokers := c.ListenAddrs()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, tt := range []struct {
		brokers []string
		topic   string
		want    string
	}{
		{brokers, "missing", `"missing"`},
		{nil, "dead", `"dead": no brokers`},
	} {
		if _, err := OpenDeadLetterQueue(ctx, Plain(tt.brokers), tt.topic, TopicSpec{}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("OpenDeadLetterQueue(%v, %q) = %v, want an error with %q", tt.brokers, tt.topic, err, tt.want)
		}
	}

	q, err := OpenDeadLetterQueue(ctx, Plain(brokers), "dead", TopicSpec{})
	if err != nil {
		t.Fatal(err)
	}
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		r := req.(*kmsg.ProduceRequest)
		resp := r.ResponseKind().(*kmsg.ProduceResponse)
		for _, rt := range r.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.TopicAuthorizationFailed.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	q.Add(connector.DeadLetter{Source: "orders", Partition: 1, Offset: 9, Raw: []byte("x"), Reason: "r", Time: time.Now()})
	if err := q.Flush(ctx); err == nil || !strings.Contains(err.Error(), `"dead"`) {
		t.Errorf("Flush after a refused produce = %v, want an error naming the topic", err)
	}
	if err := q.Close(); err == nil {
		t.Error("Close after a refused produce: no error")
	}
}

// TestProducerGivesUpOnLostCluster: with the cluster gone, Flush fails
// after the delivery timeout instead of waiting forever.
func TestProducerGivesUpOnLostCluster(t *testing.T) {
	c := kafkatest.Cluster(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "dead"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	shortDeliveryTimeout(t)
	q, err := OpenDeadLetterQueue(ctx, Plain(c.ListenAddrs()), "dead", TopicSpec{})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	q.Add(connector.DeadLetter{Source: "s", Raw: []byte("x"), Reason: "bad", Time: time.Now()})
	if err := q.Flush(ctx); err == nil || ctx.Err() != nil {
		t.Fatalf("Flush with the cluster gone = %v (context: %v), want a delivery failure before the deadline", err, ctx.Err())
	}
	q.Close()
}

// TestDeadLetterQueueStopsWithoutCluster: a stopped job's queue whose
// connections are cut (as a process killed mid-run) lets go of the dead
// letters it cannot send instead of waiting for the cluster (Close waited
// past the delivery timeout when every dial failed).
func TestDeadLetterQueueStopsWithoutCluster(t *testing.T) {
	c := kafkatest.Cluster(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "dead"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var net kafkatest.Cutter
	q, err := OpenDeadLetterQueue(ctx, Plain(c.ListenAddrs()), "dead", TopicSpec{}, kgo.Dialer(net.Dial))
	if err != nil {
		t.Fatal(err)
	}
	net.Kill()
	q.Add(connector.DeadLetter{Source: "s", Raw: []byte("x"), Reason: "bad", Time: time.Now()})
	done := make(chan error, 1)
	go func() { done <- q.Stop() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Stop = %v, want no failure (the letter was never answered)", err)
		}
	case <-ctx.Done():
		t.Fatal("Stop did not return with the cluster unreachable")
	}
}

// TestDeadLetterHeldByReadPlace: exactly-once, a dead letter waits for the
// commit that read past its record in the topic the job read: a record of
// stage 2 by its place in the repartition topic, not in its source.
func TestDeadLetterHeldByReadPlace(t *testing.T) {
	txn := &Transaction{}
	q := &DeadLetterQueue{topic: "dead", txn: txn, client: txnProducer{txn}}
	q.Add(connector.DeadLetter{Source: "trades", Partition: 5, Offset: 1207, Reason: "r",
		Via: &connector.Place{Topic: "g-s-repartition", Partition: 12, Offset: 88}})
	q.Add(connector.DeadLetter{Source: "trades", Partition: 3, Offset: 9, Reason: "r"})
	if len(txn.letters) != 2 {
		t.Fatalf("%d letters held, want 2", len(txn.letters))
	}
	for i, want := range []pk{{12, 88}, {3, 9}} {
		if l := txn.letters[i]; l.partition != want.p || l.offset != want.o {
			t.Errorf("letter %d held at %d/%d, want %d/%d", i, l.partition, l.offset, want.p, want.o)
		}
	}
}

// TestDeadLetterWaitEndsWithItsContext: a dead letter added while the
// producer's buffer is full and the cluster no longer answers waits for
// room only until the context it was added with ends (a stopping job's
// drain timeout, job.ContextAdder), then fails: Flush says so. It waited
// until the delivery timeout (two minutes) failed the letters before it.
func TestDeadLetterWaitEndsWithItsContext(t *testing.T) {
	c := kafkatest.Cluster(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "dead"))
	var net kafkatest.Cutter
	q, err := OpenDeadLetterQueue(context.Background(), Plain(c.ListenAddrs()), "dead", TopicSpec{}, kgo.Dialer(net.Dial), kgo.MaxBufferedRecords(1))
	if err != nil {
		t.Fatal(err)
	}
	defer q.closed.Do(q.client.Close) // Stop would wait abortWait for the cut cluster
	net.Kill()
	letter := connector.DeadLetter{Source: "s", Raw: []byte("x"), Reason: "bad", Time: time.Now()}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		q.AddContext(ctx, letter) // fills the buffer
		q.AddContext(ctx, letter) // finds no room
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a dead letter still waits for room 10s after its context ended")
	}
	fctx, fcancel := context.WithTimeout(context.Background(), time.Second)
	defer fcancel()
	if err := q.Flush(fctx); err == nil {
		t.Error("Flush after a letter found no room: no error")
	}
}

package metrics

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/internal/kafkatest"
)

func TestBatchObserver(t *testing.T) {
	m := New()
	observe := m.BatchObserver("j", 2)
	observe(1, 100, 20*time.Microsecond)
	observe(1, 100, 3*time.Millisecond)
	observe(0, 5, time.Second)
	observe(2, 5, time.Second) // no such partition: ignored
	observe(-1, 5, time.Second)
	if n := testing.AllocsPerRun(100, func() { observe(0, 10, time.Millisecond) }); n != 0 {
		t.Errorf("%v allocations per observed batch, want 0", n)
	}
	srv, err := Serve("127.0.0.1:0", m)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	got := get(t, srv.Addr())
	for _, want := range []string{
		`sluice_partition_batch_seconds_count{job="j",partition="1"} 2`,
		`sluice_partition_batch_seconds_bucket{job="j",partition="1",le="4e-05"} 1`,
		`sluice_partition_batch_seconds_bucket{job="j",partition="1",le="0.00064"} 1`,
		`sluice_partition_batch_seconds_bucket{job="j",partition="1",le="0.01024"} 2`,
		`sluice_partition_batch_seconds_sum{job="j",partition="1"} 0.00302`,
		`sluice_partition_batch_seconds_count{job="j",partition="0"} 102`,
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("missing %s", want)
		}
	}
	if strings.Contains(got, `partition="2"`) {
		t.Error("a batch of an unknown partition was recorded")
	}
	if t.Failed() {
		t.Log(got)
	}
}

// fakeLag is a LagSource with fixed lags.
type fakeLag map[int32]int64

func (fakeLag) Name() string                      { return "trades" }
func (fakeLag) Topic() string                     { return "trades-topic" }
func (f fakeLag) Lag() map[int32]int64            { return f }
func (fakeLag) Unavailable() time.Duration        { return 3 * time.Second }
func (fakeLag) UnavailableTimeout() time.Duration { return 0 }

func TestWatchLag(t *testing.T) {
	m := New()
	m.WatchLag("j", fakeLag{0: 12, 3: 0})
	srv, err := Serve("127.0.0.1:0", m)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	got := get(t, srv.Addr())
	for _, want := range []string{
		`sluice_kafka_consumer_lag{job="j",partition="0",source="trades",topic="trades-topic"} 12`,
		`sluice_kafka_consumer_lag{job="j",partition="3",source="trades",topic="trades-topic"} 0`,
		`sluice_kafka_source_unavailable_seconds{job="j",source="trades",topic="trades-topic"} 3`,
		`sluice_kafka_source_unavailable_timeout_seconds{job="j",source="trades",topic="trades-topic"} +Inf`,
	} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("missing %s in\n%s", want, got)
		}
	}
	m.WatchLag("j")
	if got := get(t, srv.Addr()); strings.Contains(got, "sluice_kafka_consumer_lag") {
		t.Errorf("lag of sources no longer watched:\n%s", got)
	}
}

// TestKafkaClientOpt runs two franz-go clients against an in-process
// cluster and checks that both export kprom's metrics on the registry,
// before and after they close.
func TestKafkaClientOpt(t *testing.T) {
	c := kafkatest.Cluster(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "t"))
	m := New()
	srv, err := Serve("127.0.0.1:0", m)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var clients []*kgo.Client
	for _, name := range []string{"sink:a", "sink:b"} {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DefaultProduceTopic("t"), m.KafkaClientOpt("j", name))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, cl)
	}
	want := []string{
		`sluice_kafka_produce_bytes_total{client="sink:a",job="j",node_id="0",topic="t"} 8`,
		`sluice_kafka_produce_bytes_total{client="sink:b",job="j",node_id="0",topic="t"} 8`,
		`sluice_kafka_connects_total{client="sink:a",job="j",node_id="0"}`,
		`sluice_kafka_write_bytes_total{client="sink:b",job="j",node_id="0"}`,
	}
	// franz-go may call the batch-written hook (the produce counters) just
	// after it has completed the record's promise, so the page is read
	// again until it has every line or the test's deadline passes.
	check := func(when string) {
		for {
			got := get(t, srv.Addr())
			var missing []string
			for _, w := range want {
				if !strings.Contains(got, w) {
					missing = append(missing, w)
				}
			}
			if len(missing) == 0 {
				return
			}
			if ctx.Err() != nil {
				t.Fatalf("%s: missing %s in\n%s", when, strings.Join(missing, ", "), got)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	check("running")
	for _, cl := range clients {
		cl.Close()
	}
	check("closed")
}

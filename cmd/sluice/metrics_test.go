package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/internal/kafkatest"
)

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// syncBuilder is a strings.Builder safe for concurrent writes.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestMetricsEndpointDuringRun(t *testing.T) {
	t.Chdir(t.TempDir())
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuilder
	done := make(chan int, 1)
	go func() {
		done <- execute(ctx, []string{"run", "--metrics-addr", addr, "--partitions", "2", "-e",
			"SELECT trader_id, COUNT(*) FROM trades GROUP BY trader_id EMIT CHANGES " +
				"WITH ('trades.type'='generator','trades.generator'='trades','trades.count'='unbounded','trades.rate'='20000')"},
			&stdout, &stderr)
	}()
	want := []string{
		`sluice_job_info{job="trades",partitions="2",strategy="always_hash"} 1`,
		`sluice_records_in_total{job="trades"}`,
		`sluice_partition_records_in_total{job="trades",partition="1"}`,
		`sluice_partition_queue_depth{job="trades",partition="0"}`,
		`sluice_partition_busy_ratio{job="trades",partition="1"}`,
		`sluice_watermark_lag_seconds{job="trades"}`,
		`sluice_partition_batch_seconds_count{job="trades",partition="0"}`,
		`sluice_partition_batch_seconds_bucket{job="trades",partition="1",le="+Inf"}`,
		`sluice_backpressure_waits_total{job="trades",partition="0"}`,
		`sluice_backpressure_wait_seconds_total{job="trades",partition="1"}`,
		`go_goroutines`,
	}
	var body string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		body = scrape(addr)
		if containsAll(body, want) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !containsAll(body, want) {
		t.Fatalf("metrics never had all of %q; last scrape:\n%s\nstderr: %s", want, body, stderr.String())
	}
	if strings.Contains(body, `sluice_records_in_total{job="trades"} 0`+"\n") {
		t.Errorf("no records counted:\n%s", body)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "job trades interrupted") {
		t.Errorf("summary missing:\n%s", stderr.String())
	}
}

// scrape returns the body of http://addr/metrics, or "" on failure.
func scrape(addr string) string {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func containsAll(s string, subs []string) bool {
	for _, x := range subs {
		if !strings.Contains(s, x) {
			return false
		}
	}
	return true
}

// TestKafkaMetricsDuringRun runs a Kafka-to-Kafka job against an
// in-process cluster and scrapes the consumer lag of the source and the
// franz-go client metrics of its consumer and producer.
func TestKafkaMetricsDuringRun(t *testing.T) {
	t.Chdir(t.TempDir())
	cluster := kafkatest.Cluster(t, kfake.NumBrokers(1), kfake.SeedTopics(4, "trades", "out"))
	brokers := cluster.ListenAddrs()
	msgs := make([]kafka.Message, 400)
	for i := range msgs {
		trader := fmt.Sprintf("T%d", i%9)
		msgs[i] = kafka.Message{Key: []byte(trader), Value: []byte(fmt.Sprintf(`{"trader_id":%q,"quantity":%d}`, trader, i))}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := kafka.Produce(ctx, brokers, "trades", msgs...); err != nil {
		t.Fatal(err)
	}
	servers := strings.Join(brokers, ",")
	args := []string{"--partitions", "2", "-e",
		"CREATE STREAM out AS SELECT trader_id, quantity FROM trades WHERE quantity % 2 = 0 WITH (" +
			"'trades.type'='kafka_source','trades.bootstrap.servers'='" + servers + "'," +
			"'out.type'='kafka_sink','out.bootstrap.servers'='" + servers + "')"}
	want := []string{
		`sluice_records_in_total{job="out"} 400`,
		`sluice_kafka_read_bytes_total{client="source:trades",job="out",node_id=`,
		`sluice_kafka_fetch_bytes_total{client="source:trades",job="out",node_id=`,
		`sluice_kafka_produce_bytes_total{client="sink:out",job="out",node_id=`,
	}
	for p := range 4 {
		// every record read: no lag left on any partition
		want = append(want, fmt.Sprintf(`sluice_kafka_consumer_lag{job="out",partition="%d",source="trades",topic="trades"} 0`, p))
	}
	runScraped(ctx, t, args, want)
}

// runScraped runs sluice with args and a metrics endpoint, scrapes it
// until its metrics hold every line of want, or ctx ends (the lines
// missing fail the test), then interrupts the run, which must exit 0.
func runScraped(ctx context.Context, t *testing.T, args, want []string) {
	t.Helper()
	addr := freeAddr(t)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var stdout, stderr syncBuilder
	done := make(chan int, 1)
	go func() {
		done <- execute(runCtx, append([]string{"run", "--metrics-addr", addr}, args...), &stdout, &stderr)
	}()
	var body string
	for ctx.Err() == nil {
		if body = scrape(addr); containsAll(body, want) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("metrics never had %s", w)
		}
	}
	if t.Failed() {
		t.Logf("last scrape:\n%s\nstderr: %s", body, stderr.String())
	}
	stop()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
}

// TestJoinLagMetrics: the consumer lag of every Kafka source of a join is
// exported, the table's as well as the FROM stream's.
func TestJoinLagMetrics(t *testing.T) {
	t.Chdir(t.TempDir())
	cluster := kafkatest.Cluster(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "trades", "traders"))
	brokers := cluster.ListenAddrs()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var trades, traders []kafka.Message
	for i := range 50 {
		trader := fmt.Sprintf("T%d", i%5)
		trades = append(trades, kafka.Message{Key: []byte(trader), Value: []byte(fmt.Sprintf(`{"trader_id":%q,"quantity":%d}`, trader, i))})
	}
	for i := range 5 {
		trader := fmt.Sprintf("T%d", i)
		traders = append(traders, kafka.Message{Key: []byte(trader), Value: []byte(fmt.Sprintf(`{"trader_id":%q,"region":"r%d"}`, trader, i))})
	}
	if err := kafka.Produce(ctx, brokers, "trades", trades...); err != nil {
		t.Fatal(err)
	}
	if err := kafka.Produce(ctx, brokers, "traders", traders...); err != nil {
		t.Fatal(err)
	}
	servers := strings.Join(brokers, ",")
	args := []string{"-e",
		"SELECT t.trader_id, t.quantity, r.region FROM trades t JOIN traders r ON t.trader_id = r.trader_id WITH (" +
			"'trades.type'='kafka_source','trades.bootstrap.servers'='" + servers + "'," +
			"'traders.type'='kafka_source','traders.bootstrap.servers'='" + servers + "','traders.primary.key'='trader_id')"}
	var want []string
	for _, src := range []string{"trades", "traders"} {
		for p := range 2 {
			want = append(want, fmt.Sprintf(`sluice_kafka_consumer_lag{job="trades",partition="%d",source="%s",topic="%[2]s"} 0`, p, src))
		}
		want = append(want, fmt.Sprintf(`sluice_kafka_source_unavailable_seconds{job="trades",source="%s",topic="%[1]s"} 0`, src))
	}
	runScraped(ctx, t, args, want)
}

package runner

import (
	"context"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/internal/kafkatest"
	"github.com/sluicesql/sluice/sql"
)

// newClients is a kgo hook counting the clients created with it.
type newClients struct{ n atomic.Int64 }

// OnNewClient implements kgo.HookNewClient.
func (h *newClients) OnNewClient(*kgo.Client) { h.n.Add(1) }

// TestKafkaHooks runs the Kafka example with KafkaOpts and SetOnBatch: the
// options reach the source's consumer and the sink's producer, named after
// the job, and the workers report their batches.
func TestKafkaHooks(t *testing.T) {
	t.Chdir("..")
	cluster := kafkatest.Cluster(t, kfake.NumBrokers(1), kfake.SeedTopics(4, "trades", "trader_volume"))
	servers := strings.Join(cluster.ListenAddrs(), ",")
	produceFile(t, cluster.ListenAddrs(), "trades", "examples/data/trades.jsonl", "trader_id")
	text, err := os.ReadFile("examples/kafka_pipeline.sql")
	if err != nil {
		t.Fatal(err)
	}
	stmts, err := sql.Parse("kafka_pipeline.sql", string(text))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var clients []string
	hook := &newClients{}
	opts := Options{UntilEnd: true, Partitions: 2,
		Set: map[string]string{"trades.bootstrap.servers": servers, "trader_volume.bootstrap.servers": servers},
		KafkaOpts: func(job, client string) []kgo.Opt {
			mu.Lock()
			defer mu.Unlock()
			clients = append(clients, job+" "+client)
			return []kgo.Opt{kgo.WithHooks(hook)}
		}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	j, err := Prepare(ctx, stmts[0], opts)
	if err != nil {
		t.Fatal(err)
	}
	if ks := j.KafkaSources(); len(ks) != 1 || ks[0].Topic() != "trades" {
		t.Fatalf("Kafka sources %v, want the trades source", ks)
	}
	var batches, records atomic.Int64
	j.SetOnBatch(func(p, n int, _ time.Duration) {
		if p < 0 || p >= 2 {
			t.Errorf("batch of partition %d", p)
		}
		batches.Add(1)
		records.Add(int64(n))
	})
	sum, err := j.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	slices.Sort(clients)
	if want := []string{"trader_volume sink:trader_volume", "trader_volume source:trades"}; !slices.Equal(clients, want) {
		t.Errorf("KafkaOpts called for %q, want %q", clients, want)
	}
	mu.Unlock()
	if n := hook.n.Load(); n != 2 {
		t.Errorf("%d clients created with the options, want 2 (consumer and producer)", n)
	}
	if batches.Load() == 0 || records.Load() != sum.Total.In {
		t.Errorf("OnBatch saw %d batches of %d records; the job read %d", batches.Load(), records.Load(), sum.Total.In)
	}
}

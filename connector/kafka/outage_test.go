package kafka

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/internal/kafkatest"
	"github.com/sluicesql/sluice/job"
	"github.com/sluicesql/sluice/partition"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// TestJobSinkOutage runs a job into a Kafka sink whose cluster goes away
// after the first commit, and stops it: the producer cannot deliver what is
// in flight, so the job fails when its drain timeout passes, its summary
// says so, and it counts as written only rows the brokers acknowledged.
func TestJobSinkOutage(t *testing.T) {
	c := kafkatest.Cluster(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "out"))
	shortDeliveryTimeout(t)

	stmts, err := sql.Parse("t.sql", "SELECT k, v FROM src")
	if err != nil {
		t.Fatal(err)
	}
	schema := record.NewSchema("k", "v")
	prog, err := exec.Compile(stmts[0].Select(), exec.Options{Schema: schema, ExternalWatermark: true})
	if err != nil {
		t.Fatal(err)
	}
	input := make([][]mem.Message, 1)
	for i := range 20000 {
		input[0] = append(input[0], mem.Message{Fields: map[string]record.Value{
			"k": record.StringValue("k"), "v": record.IntValue(int64(i))}})
	}
	var acked ackCount
	sink, err := NewSink("out", map[string]string{"out.bootstrap.servers": strings.Join(c.ListenAddrs(), ",")},
		kgo.WithHooks(&acked))
	if err != nil {
		t.Fatal(err)
	}
	strategy, err := partition.Parse("round_robin")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once sync.Once
	cfg := job.Config{Name: "outage", Program: job.FromExec(prog), Strategy: strategy, Partitions: 1, BatchSize: 16,
		Sources: []connector.Source{mem.NewSource("src", input, mem.Pace(100*time.Microsecond))},
		Sinks:   []connector.Sink{sink}, DLQ: &mem.DeadLetters{}, CommitInterval: 10 * time.Millisecond,
		ProgressInterval: time.Millisecond, DrainTimeout: 300 * time.Millisecond,
		Progress: func(s *job.Summary) {
			if s.RowsWritten > 0 {
				once.Do(func() {
					c.Close() // the cluster goes away after a commit
					time.AfterFunc(100*time.Millisecond, cancel)
				})
			}
		}}
	sum, err := job.Run(ctx, cfg)
	if err == nil {
		t.Fatal("the job succeeded although its cluster went away")
	}
	if !sum.Failed {
		t.Errorf("summary not failed: %+v", sum)
	}
	if sum.RowsWritten <= 0 || sum.RowsWritten > acked.n.Load() || sum.RowsWritten >= sum.Total.Accepted {
		t.Errorf("rows written %d: want some, at most the %d acknowledged, fewer than the %d produced",
			sum.RowsWritten, acked.n.Load(), sum.Total.Accepted)
	}
}

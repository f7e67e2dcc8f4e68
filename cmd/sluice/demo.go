package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluicesql/sluice/connector/gen"
	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/job"
	"github.com/sluicesql/sluice/plan"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/runner"
	"github.com/sluicesql/sluice/sql"
)

// demoTopicPartitions is the partition count of the demo's topic.
const demoTopicPartitions = 8

type demoCmd struct {
	Duration    time.Duration `help:"Stop after this long (default: run until Ctrl-C)."`
	Brokers     string        `placeholder:"HOST:PORT,..." help:"Use this Kafka cluster instead of starting one in-process."`
	Topic       string        `default:"demo_trades" help:"Topic to create (8 partitions) and produce the trades to."`
	Rate        float64       `default:"10000" help:"Trades produced per second."`
	Trades      int64         `help:"Produce this many trades first, then run the job to the end of the topic: it finishes on its own with every window fired, the same output on every run (default: produce until stopped)."`
	Traders     int           `default:"10" help:"Number of distinct traders (the GROUP BY key)."`
	Partitions  int           `help:"Number of partitions of the job (default: the CPU count)."`
	MetricsAddr string        `placeholder:"HOST:PORT" help:"Serve Prometheus metrics on http://HOST:PORT/metrics while running."`
}

func (c *demoCmd) Help() string {
	return `Starts an in-process 3-broker Kafka cluster on loopback (franz-go kfake), creates a
topic of 8 partitions keyed by trader_id, produces generated trades to it continuously
and runs a windowed GROUP BY trader_id on them. The plan (EXPLAIN) shows smart_repartition
chosen automatically: the topic is partitioned by the grouping key, so each worker reads
whole Kafka partitions and nothing is reshuffled. Windows are printed on stdout as they
fire, progress on stderr. Event times are the generator's (from 2024-01-15, 1 ms per
trade), so a 10-second window fires about once a second at the default rate.
With --trades N the trades are produced first and the job reads the topic to its end,
then stops: N/10,000 windows per trader, whatever the machine's speed.

Examples:
  sluice demo
  sluice demo --trades 100000
  sluice demo --duration 30s --partitions 4
  sluice demo --brokers localhost:9092 --topic demo_trades`
}

// statement returns the demo's SQL over topic on brokers.
func (c *demoCmd) statement(brokers string) string {
	stop := ""
	if c.Trades > 0 {
		stop = "\n      'trades.stop.at' = 'end',"
	}
	return fmt.Sprintf(`SELECT trader_id,
       _WINDOW_START AS window_start,
       COUNT(*) AS trades,
       SUM(quantity) AS volume,
       MIN(price) AS low,
       MAX(price) AS high
FROM trades
GROUP BY trader_id
WINDOW TUMBLING(trade_time, INTERVAL '10' SECOND)
EMIT FINAL
WITH ('trades.type' = 'kafka_source',
      'trades.topic.name' = '%s',
      'trades.bootstrap.servers' = '%s',
      'trades.group.id' = 'sluice-demo',
      'trades.partition.key' = 'trader_id',%s
      'watermark.idle_timeout' = '1s',
      'commit.interval' = '1s')`, c.Topic, brokers, stop)
}

func (c *demoCmd) Run(e *env) error {
	for _, f := range []struct {
		name string
		bad  bool
		want string
	}{
		{"--rate", c.Rate <= 0, "positive"}, {"--traders", c.Traders <= 0, "positive"},
		{"--duration", c.Duration < 0, "zero or more"}, {"--partitions", c.Partitions < 0, "zero or more"},
		{"--trades", c.Trades < 0, "zero or more"},
	} {
		if f.bad {
			return userError{fmt.Errorf("%s must be %s", f.name, f.want)}
		}
	}
	ctx := e.ctx
	if c.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.Duration)
		defer cancel()
	}
	brokers := splitBrokers(c.Brokers)
	if len(brokers) == 0 {
		cluster, err := kfake.NewCluster(kfake.NumBrokers(3))
		if err != nil {
			return fmt.Errorf("start in-process Kafka: %w", err)
		}
		defer cluster.Close()
		brokers = cluster.ListenAddrs()
		e.log.Info("started in-process Kafka (kfake)", "brokers", strings.Join(brokers, ","))
	}
	if err := kafka.CreateTopic(ctx, brokers, c.Topic, demoTopicPartitions, 0); err != nil {
		return fmt.Errorf("create topic %s: %w", c.Topic, err)
	}

	prodCtx, stopProducing := context.WithCancel(context.Background())
	prod := &demoProducer{brokers: brokers, topic: c.Topic, rate: c.Rate, traders: c.Traders, count: c.Trades, started: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); prod.run(prodCtx) }()
	defer func() { stopProducing(); wg.Wait() }()
	select { // the source checks its partition key on a sample: let it find one
	case <-prod.started:
	case <-ctx.Done():
	}
	if c.Trades > 0 { // the job reads them all, to the end
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
		}
	}
	if err := prod.failure(); err != nil {
		return err
	}

	stmts, err := sql.Parse("demo", c.statement(strings.Join(brokers, ",")))
	if err != nil {
		return err
	}
	m, stopMetrics, err := serveMetrics(e, c.MetricsAddr)
	if err != nil {
		return err
	}
	defer stopMetrics()
	prog := &progress{w: e.stderr, name: "demo", compact: true}
	var name string
	j, err := runner.Prepare(ctx, stmts[0], runner.Options{Partitions: c.Partitions, Stdout: e.stdout,
		KafkaOpts: kafkaMetrics(m),
		Progress: func(s *job.Summary) {
			if m != nil {
				m.Observe(name, s)
			}
			prog.update(s)
		}})
	if err != nil {
		return err
	}
	name = j.Name
	watchJob(m, j)
	if err := plan.Explain(e.stdout, []*plan.Plan{j.Plan}); err != nil {
		return err
	}
	stop := "Ctrl-C to stop"
	if c.Trades > 0 {
		stop = fmt.Sprintf("it stops at the end of the %d trades", c.Trades)
	}
	fmt.Fprintf(e.stdout, "\n-- windows as they fire (%s):\n", stop)
	sum, err := j.Run(ctx)
	if sum != nil {
		if e.ctx.Err() == nil {
			sum.Interrupted = false // --duration ran out: a clean stop, not an interruption
		}
		writeSummary(e.stderr, infoOf(j), sum)
		fmt.Fprintf(e.stderr, "  produced:   %s trades to topic %s\n", count(prod.produced()), c.Topic)
	}
	if err != nil {
		return fmt.Errorf("demo job: %w", err)
	}
	return prod.failure()
}

// splitBrokers splits a comma-separated broker list, dropping empty items.
func splitBrokers(s string) []string {
	var out []string
	for _, b := range strings.Split(s, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// demoProducer writes generated trades to the demo topic, keyed by
// trader_id, at a steady rate.
type demoProducer struct {
	brokers []string
	topic   string
	rate    float64
	traders int
	count   int64         // trades to produce (0: until stopped)
	started chan struct{} // closed once the first batch is acknowledged, or producing failed
	once    sync.Once

	mu   sync.Mutex
	sent int64
	err  error
}

// run produces until ctx is cancelled or producing fails.
func (p *demoProducer) run(ctx context.Context) {
	err := p.produce(ctx)
	if err != nil && ctx.Err() == nil {
		p.mu.Lock()
		p.err = fmt.Errorf("produce to %s: %w", p.topic, err)
		p.mu.Unlock()
	}
	p.once.Do(func() { close(p.started) })
}

func (p *demoProducer) produce(ctx context.Context) error {
	src, err := gen.New("trades", gen.Options{Generator: "trades", Rate: p.rate, Keys: p.traders, Seed: 1, Count: p.count})
	if err != nil {
		return err
	}
	schema := src.Schema()
	slot, _ := schema.Lookup("trader_id")
	sink, err := kafka.NewSink("demo", map[string]string{"demo.topic.name": p.topic, "demo.bootstrap.servers": strings.Join(p.brokers, ",")})
	if err != nil {
		return err
	}
	if err := sink.Open(ctx, schema, []int{slot}); err != nil {
		return err
	}
	defer sink.Close()
	readers, err := src.Open(ctx, schema, nil)
	if err != nil {
		return err
	}
	defer src.Close()
	r := <-readers
	if r == nil {
		return errors.New("generator opened no partition")
	}
	defer r.Close()
	b := &record.Batch{}
	batch := max(1, int(p.rate/20)) // about 20 batches a second
	for {
		err := r.Next(ctx, b, batch)
		if len(b.Records) > 0 {
			if werr := sink.Write(ctx, b.Records); werr != nil {
				return werr
			}
			if ferr := sink.Flush(ctx); ferr != nil {
				return ferr
			}
			p.mu.Lock()
			p.sent += int64(len(b.Records))
			p.mu.Unlock()
			p.once.Do(func() { close(p.started) })
		}
		if err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// produced returns the number of trades acknowledged so far.
func (p *demoProducer) produced() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent
}

// failure returns why producing stopped early, or nil.
func (p *demoProducer) failure() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluicesql/sluice/runner"
)

// BenchmarkRepartition measures records/s of a GROUP BY read from 8 Kafka
// partitions (kfake, in process) to the end of the topic: aligned (the
// topic is keyed by the GROUP BY key: one stage), unaligned in one process
// that holds the whole group ('repartition'='false': one stage, records
// hashed to workers), and unaligned through the repartition topic in one
// and in two processes (two stages: every record is written to the
// internal topic and read again). The ratio of "repartitioned/1" to
// "one-process" is the cost of the extra hop. Beside records/s (wall
// time, which other work on the machine slows) it reports the CPU time
// the whole test process (the broker included) spent per record. Run it with
//
//	go test ./e2e -run '^$' -bench Repartition -benchtime 3x
func BenchmarkRepartition(b *testing.B) {
	const n = 200000
	brokers := startCluster(b, "trades")
	trades := genTrades(b, n, 200)
	produce(b, brokers, "trades", keyBy(trades, byTrader))
	cases := []struct {
		name      string
		key       string // GROUP BY
		extra     string // more WITH entries
		processes int
	}{
		{"aligned/1", "trader_id", ", 'trades.partition.key'='trader_id'", 1},
		{"one-process/1", "symbol", ", 'repartition'='false'", 1},
		{"repartitioned/1", "symbol", "", 1},
		{"repartitioned/2", "symbol", "", 2},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			var elapsed, cpu time.Duration
			for range b.N {
				group := freshGroup(tc.name)
				text := fmt.Sprintf("CREATE STREAM out AS SELECT %s, COUNT(*) AS n, SUM(quantity) AS q FROM trades GROUP BY %s EMIT FINAL "+
					"WITH (%s%s, 'out.type'='file_sink', 'out.path'='%s', 'commit.interval'='200ms')",
					tc.key, tc.key, kafkaTrades(brokers, "group.id", group), tc.extra, b.TempDir()+"/out.jsonl")
				wall, used := runProcesses(b, text, tc.processes)
				elapsed, cpu = elapsed+wall, cpu+used
			}
			b.ReportMetric(float64(n)*float64(b.N)/elapsed.Seconds(), "rec/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(n*b.N), "cpu-ns/rec")
		})
	}
}

// BenchmarkRepartitionExactlyOnce measures records/s of a windowed GROUP
// BY through the repartition topic to a Kafka topic, read from 8 Kafka
// partitions (kfake, in process) to the end, at-least-once and
// exactly-once (stage 2 commits its output and offsets in a transaction
// per commit interval), in one and in two processes. The ratio of
// "exactly_once" to "at_least_once" is the cost of the transactions;
// beside records/s it reports the CPU time the whole test process (the
// broker included) spent per record, which other work on the machine
// disturbs less. Run it with
//
//	go test ./e2e -run '^$' -bench RepartitionExactlyOnce -benchtime 3x
func BenchmarkRepartitionExactlyOnce(b *testing.B) {
	const n = 200000
	brokers := startCluster(b, "trades")
	trades := genTrades(b, n, 200)
	produce(b, brokers, "trades", keyBy(trades, byTrader))
	for _, tc := range []struct {
		guarantee string
		processes int
	}{{"at_least_once", 1}, {"exactly_once", 1}, {"at_least_once", 2}, {"exactly_once", 2}} {
		name := fmt.Sprintf("%s/%d", tc.guarantee, tc.processes)
		b.Run(name, func(b *testing.B) {
			var elapsed, cpu time.Duration
			for range b.N {
				// a fresh output topic too
				run := freshGroup(name)
				text := fmt.Sprintf("CREATE STREAM out AS SELECT symbol, _WINDOW_START AS w, COUNT(*) AS n, SUM(quantity) AS q FROM trades "+
					"GROUP BY symbol WINDOW TUMBLING(trade_time, INTERVAL '1' SECOND) EMIT FINAL "+
					"WITH (%s, 'out.type'='kafka_sink', 'out.topic.name'='%s', 'out.bootstrap.servers'='%s', 'commit.interval'='200ms', "+
					"'processing.guarantee'='%s')",
					kafkaTrades(brokers, "group.id", run), run, brokers, tc.guarantee)
				wall, used := runProcesses(b, text, tc.processes)
				elapsed, cpu = elapsed+wall, cpu+used
			}
			b.ReportMetric(float64(n)*float64(b.N)/elapsed.Seconds(), "rec/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(n*b.N), "cpu-ns/rec")
		})
	}
}

// BenchmarkRepartitionedJoin measures records/s (orders and payments) of
// the stream-stream JOIN of paidOrders with 100,000 orders, read from
// Kafka to the end of both topics: in one process without a group (one
// stage), and through the repartition topic in one and in two processes.
// The ratio of "repartitioned/1" to "one-process" is the cost of the hop.
// Run it with
//
//	go test ./e2e -run '^$' -bench RepartitionedJoin -benchtime 3x
func BenchmarkRepartitionedJoin(b *testing.B) {
	sc := paidOrdersN(100000, "JOIN")
	brokers, records := sc.filled(b)
	for _, tc := range []struct {
		name      string
		processes int
	}{{"one-process", 1}, {"repartitioned/1", 1}, {"repartitioned/2", 2}} {
		b.Run(tc.name, func(b *testing.B) {
			var elapsed, cpu time.Duration
			for range b.N {
				var group []string
				if tc.name != "one-process" {
					group = []string{"group.id", freshGroup(tc.name)}
				}
				text := sc.text(brokers, fmt.Sprintf("'out.type'='file_sink', 'out.path'='%s'", b.TempDir()+"/out.jsonl"), group...)
				wall, used := runProcesses(b, text, tc.processes)
				elapsed, cpu = elapsed+wall, cpu+used
			}
			b.ReportMetric(float64(records)*float64(b.N)/elapsed.Seconds(), "rec/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(records*b.N), "cpu-ns/rec")
		})
	}
}

// benchRuns numbers the benchmarks' runs (freshGroup).
var benchRuns atomic.Int64

// filled starts a cluster with the input's topics, filled, and returns
// the brokers and how many records the topics hold.
func (in kafkaInput) filled(b *testing.B) (string, int) {
	brokers := startCluster(b)
	records := 0
	for topic, n := range in.sized {
		createTopic(b, brokers, topic, n)
		produce(b, brokers, topic, in.data[topic])
		records += len(in.data[topic])
	}
	return brokers, records
}

// freshGroup returns a consumer group name for one run of the benchmark
// case name that no run used before, so that nothing is committed yet: the
// testing package runs a benchmark once before its b.N runs, and -count
// runs it again, so b.N's index alone repeats names (a run in a group
// that had read the topic to its end read nothing).
func freshGroup(name string) string {
	return fmt.Sprintf("bench-%s-%d", strings.ReplaceAll(name, "/", "-"), benchRuns.Add(1))
}

// runProcesses prepares text in n processes of one group, runs them to
// the end of the source together and returns how long the run took and
// the CPU time the test process spent meanwhile.
func runProcesses(b *testing.B, text string, n int) (wall, cpu time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var jobs []*runner.Job
	for range n {
		jobs = append(jobs, prepare(b, ctx, text, runner.Options{UntilEnd: true}))
	}
	start, cpu0 := time.Now(), cpuTime(b)
	var wg sync.WaitGroup
	for _, j := range jobs {
		wg.Go(func() {
			if _, err := j.Run(ctx); err != nil {
				b.Error(err)
			}
		})
	}
	wg.Wait()
	return time.Since(start), cpuTime(b) - cpu0
}

// cpuTime returns the CPU time (user and system) the process spent so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// hopRun is one case of benchHops: the statement grouped by key, run in
// processes processes, in a consumer group when grouped.
type hopRun struct {
	name, key string
	processes int
	grouped   bool
}

// benchHops runs, for each case, the statement by(key) over in's topics
// on brokers (records in all) to the end of the topics, writing to a file,
// and reports records/s and CPU per record.
func benchHops(b *testing.B, brokers string, records int, in kafkaInput, by func(key string) string, cases []hopRun) {
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			var elapsed, cpu time.Duration
			for range b.N {
				var group []string
				if tc.grouped {
					group = []string{"group.id", freshGroup(tc.name)}
				}
				text := joinScenario{kafkaInput: in, stmt: by(tc.key)}.text(brokers, fmt.Sprintf("'out.type'='file_sink', 'out.path'='%s'", b.TempDir()+"/out.jsonl"), group...)
				wall, used := runProcesses(b, text, tc.processes)
				elapsed, cpu = elapsed+wall, cpu+used
			}
			b.ReportMetric(float64(records)*float64(b.N)/elapsed.Seconds(), "rec/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(records*b.N), "cpu-ns/rec")
		})
	}
}

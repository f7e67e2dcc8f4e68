package job

import (
	"context"
	"fmt"
	"io"
	"syscall"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/partition"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// The job benchmarks: the reference's scenario 2 and 3a queries compiled by
// exec (and hand-written Go versions of them, the "limit"), over records
// decoded in memory (a mem source with 2 partitions), into a blackhole sink:
//
//	go test -run '^$' -bench 'Job/scenario' -benchtime 5x -count 6 ./job
//
// "direct" runs the same pipeline in one goroutine without the exchange;
// N=1 and N=2 run the whole job. rec/s is wall-clock throughput;
// cpu-ns/rec is the process CPU time per record, which is the steadier
// figure on a shared machine.

// benchRecords is the number of records per benchmark run, split over two
// source partitions (record i goes to partition i%2).
const benchRecords = 400_000

// scenarioSchema holds the reference's market_data columns (notes §4).
var scenarioSchema = record.NewSchema("trader_id", "symbol", "price", "quantity", "trade_time")

// scenarioInput builds the records of the reference's scenarios 2 and 3a:
// trader_id=i%100, symbol="SYM{i%50}", price=100+(i*0.1)%50 (exact,
// scale 1), quantity=i%1000, trade_time ascending (1 ms apart).
func scenarioInput(n int) [][]record.Record {
	syms := make([]string, 50)
	for i := range syms {
		syms[i] = fmt.Sprintf("SYM%d", i)
	}
	parts := make([][]record.Record, 2)
	for i := 0; i < n; i++ {
		vals := []record.Value{record.IntValue(int64(i % 100)), record.StringValue(syms[i%50]),
			record.DecimalValue(1000+int64(i)%500, 1), record.IntValue(int64(i % 1000)),
			record.TimestampValue(1_700_000_000_000 + int64(i))}
		parts[i%2] = append(parts[i%2], record.Record{Values: vals, Timestamp: 1_700_000_000_000 + int64(i)})
	}
	return parts
}

// benchProgram pairs a program with its routing key.
type benchProgram struct {
	name    string
	prog    Program
	routing partition.Context
}

// runJobBench runs the whole job (2 source partitions -> N workers ->
// blackhole sink) b.N times over the same pre-decoded input.
func runJobBench(b *testing.B, bp benchProgram, n int, input [][]record.Record) {
	src := mem.FromRecords("market_data", scenarioSchema, input)
	// decode once outside the timer; runs reuse the decoded records
	src.Prepare(bp.prog.InputSchema())
	strategy, err := partition.Parse("hash")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu := time.Now(), cpuTime()
	var rows int64
	for i := 0; i < b.N; i++ {
		sink := &mem.Discard{}
		sum, err := Run(context.Background(), Config{Program: bp.prog, Strategy: strategy,
			Routing: bp.routing, Partitions: n, Sources: []connector.Source{src},
			Sinks: []connector.Sink{sink}, CommitInterval: -1})
		if err != nil {
			b.Fatal(err)
		}
		if sum.Total.In != benchRecords {
			b.Fatalf("in %d, want %d", sum.Total.In, benchRecords)
		}
		rows = sink.Count()
	}
	reportRate(b, start, cpu)
	b.ReportMetric(float64(rows), "rows")
}

// runDirectBench runs the same pipeline in one goroutine with no exchange:
// read both partitions with the same readers, stamp event times, Process,
// Finish. The difference to the job at N=1 is the exchange's cost.
func runDirectBench(b *testing.B, bp benchProgram, input [][]record.Record) {
	src := mem.FromRecords("market_data", scenarioSchema, input)
	dlq := &FileDLQ{}
	src.Prepare(bp.prog.InputSchema())
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu := time.Now(), cpuTime()
	var out countOutput
	for i := 0; i < b.N; i++ {
		readers, err := src.Open(context.Background(), bp.prog.InputSchema(), dlq)
		if err != nil {
			b.Fatal(err)
		}
		pipe := bp.prog.NewPipeline()
		batch := &record.Batch{}
		for rd := range readers {
			for {
				err := rd.Next(context.Background(), batch, DefaultBatchSize)
				for j := range batch.Records {
					r := &batch.Records[j]
					r.EventTime, r.HasEventTime = bp.prog.EventTime(r)
				}
				pipe.Process(batch.Records, &out)
				if err == io.EOF {
					break
				}
			}
			rd.Close()
		}
		pipe.Finish(&out)
		if s := pipe.Stats(); s.In != benchRecords {
			b.Fatalf("in %d, want %d", s.In, benchRecords)
		}
	}
	reportRate(b, start, cpu)
}

// cpuTime returns the CPU time (user + system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportRate reports records per second of wall time and CPU nanoseconds
// per record since start/cpu0; the latter is robust on a shared machine.
func reportRate(b *testing.B, start time.Time, cpu0 time.Duration) {
	recs := float64(benchRecords) * float64(b.N)
	b.ReportMetric(recs/time.Since(start).Seconds(), "rec/s")
	b.ReportMetric(float64(cpuTime()-cpu0)/recs, "cpu-ns/rec")
}

// countOutput counts rows, standing in for a blackhole sink.
type countOutput struct{ rows, dead int64 }

func (o *countOutput) Emit(rows []record.Record)        { o.rows += int64(len(rows)) }
func (o *countOutput) DeadLetter(*record.Record, error) { o.dead++ }

// The reference's scenario 2 and 3a queries (reference-notes.md §4).
const (
	scenario2Query = "SELECT trader_id, symbol, COUNT(*) AS trade_count, AVG(price) AS avg_price, " +
		"SUM(quantity) AS total_quantity, SUM(price * quantity) AS total_value FROM market_data GROUP BY trader_id, symbol"
	scenario3aQuery = scenario2Query + " WINDOW TUMBLING(trade_time, INTERVAL '1' MINUTE)"
)

func benchPrograms(b *testing.B) []benchProgram {
	var progs []benchProgram
	for _, q := range []struct{ name, text string }{{"scenario2/exec", scenario2Query}, {"scenario3a/exec", scenario3aQuery}} {
		prog, _ := compileQuery(b, q.text, nil)
		exprs := []sql.Expr{&sql.Ident{Name: "trader_id"}, &sql.Ident{Name: "symbol"}}
		var routing partition.Context
		if err := SetRoutingKey(&routing, exprs, prog.InputSchema()); err != nil {
			b.Fatal(err)
		}
		progs = append(progs, benchProgram{q.name, FromExec(prog), routing})
	}
	hand := partition.Context{Key: scenarioKey, KeySlots: []int{0, 1}}
	return append(progs,
		benchProgram{"scenario2/handwritten", &scenarioProgram{}, hand},
		benchProgram{"scenario3a/handwritten", &scenarioProgram{window: 60_000}, hand})
}

func BenchmarkJob(b *testing.B) {
	input := scenarioInput(benchRecords)
	for _, bp := range benchPrograms(b) {
		b.Run(bp.name+"/direct", func(b *testing.B) { runDirectBench(b, bp, input) })
		for _, n := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/N=%d", bp.name, n), func(b *testing.B) { runJobBench(b, bp, n, input) })
		}
	}
}

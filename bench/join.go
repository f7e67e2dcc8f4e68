package bench

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/exec/join"
	"github.com/sluicesql/sluice/record"
	sluicerun "github.com/sluicesql/sluice/runner"
	"github.com/sluicesql/sluice/sql"
)

// joinInput is one input of a join scenario, generated in memory.
type joinInput struct {
	name    string
	columns []string
	records int
	row     func(i int, out []record.Value)
}

// joinBench is what a join scenario joins: its inputs (the stream first)
// and the hand-written hash join that computes the same answer.
type joinBench struct {
	inputs []joinInput
	limit  func(parts [][][]record.Record) Answer
}

// traders is scenario 4a's table size; trades pick a trader by i mod it.
const traders = 10_000

// joinScenarios are the join scenarios: 4a enriches 1M trades with a 10K-row
// table, 4b joins two 1M-record streams within 1 s.
func joinScenarios() []*Scenario {
	return []*Scenario{
		{
			ID: "4a", Title: "enrichment: 1M trades JOIN 10K traders",
			Query: "CREATE STREAM out AS SELECT t.symbol, t.quantity, r.desk FROM trades t JOIN traders r ON t.trader_id = r.trader_id " +
				"WITH ('traders.primary.key'='trader_id')",
			Source: "trades", Dataset: "join-4a", DefaultRecords: 1_000_000,
			join: &joinBench{
				inputs: []joinInput{
					{name: "trades", columns: []string{"trader_id", "symbol", "price", "quantity"}, row: func(i int, out []record.Value) {
						out[0] = record.IntValue(int64(i * 7 % traders))
						out[1] = symbols[i%50]
						out[2] = record.DecimalValue(1000+int64(i%500), 1)
						out[3] = record.IntValue(int64(i % 1000))
					}},
					{name: "traders", columns: []string{"trader_id", "name", "desk"}, records: traders, row: func(i int, out []record.Value) {
						out[0] = record.IntValue(int64(i))
						out[1] = record.StringValue(fmt.Sprintf("trader %d", i))
						out[2] = desks[i%len(desks)]
					}},
				},
				limit: limit4a,
			},
		},
		{
			ID: "4b", Title: "interval join: two 1M streams WITHIN 1 s",
			Query: "CREATE STREAM out AS SELECT a.v, b.w FROM a JOIN b ON a.k = b.k WITHIN INTERVAL '1' SECOND " +
				"WITH ('event.time.field'='ts')",
			Source: "a", Dataset: "join-4b", DefaultRecords: 1_000_000,
			join: &joinBench{
				inputs: []joinInput{
					{name: "a", columns: []string{"k", "ts", "v"}, row: func(i int, out []record.Value) {
						out[0] = record.IntValue(int64(i % 10_000))
						out[1] = record.IntValue(baseTime + int64(i))
						out[2] = record.IntValue(int64(i))
					}},
					{name: "b", columns: []string{"k", "ts", "w"}, row: func(i int, out []record.Value) {
						out[0] = record.IntValue(int64(i % 10_000))
						out[1] = record.IntValue(baseTime + int64(i) + 300)
						out[2] = record.IntValue(int64(-i))
					}},
				},
				limit: limit4b,
			},
		},
	}
}

var desks = []record.Value{record.StringValue("equities"), record.StringValue("rates"), record.StringValue("fx"), record.StringValue("credit")}

// limit4a is the enrichment as a hand-written hash join: a map from
// trader_id to desk, probed by every trade.
func limit4a(in [][][]record.Record) Answer {
	table := make(map[int64]record.Value, traders)
	for _, part := range in[1] {
		for i := range part {
			table[part[i].Values[0].Int()] = part[i].Values[2]
		}
	}
	d := newDigest(nil)
	out := record.Record{Values: make([]record.Value, 3)}
	for _, part := range in[0] {
		for i := range part {
			v := part[i].Values
			desk, ok := table[v[0].Int()]
			if !ok {
				continue
			}
			out.Values[0], out.Values[1], out.Values[2] = v[1], v[3], desk
			d.add(&out)
		}
	}
	return d.answer()
}

// limit4b is the interval join as a hand-written symmetric hash join over
// time-ordered input: each side's rows of the last second per key.
func limit4b(in [][][]record.Record) Answer {
	type row struct{ ts, v int64 }
	var sides [2]map[int64][]row
	for s := range sides {
		sides[s] = map[int64][]row{}
	}
	d := newDigest(nil)
	out := record.Record{Values: make([]record.Value, 2)}
	// merge the partitions of both inputs by event time
	type cursor struct{ s, p, i int }
	var cs []cursor
	for s := range in {
		for p := range in[s] {
			cs = append(cs, cursor{s, p, 0})
		}
	}
	for {
		best := -1
		for c := range cs {
			if cs[c].i < len(in[cs[c].s][cs[c].p]) && (best < 0 ||
				in[cs[c].s][cs[c].p][cs[c].i].Values[1].Int() < in[cs[best].s][cs[best].p][cs[best].i].Values[1].Int()) {
				best = c
			}
		}
		if best < 0 {
			break
		}
		c := &cs[best]
		v := in[c.s][c.p][c.i].Values
		c.i++
		k, ts, val := v[0].Int(), v[1].Int(), v[2].Int()
		other := sides[1-c.s][k]
		kept := other[:0]
		for _, o := range other {
			if o.ts < ts-1000 {
				continue // too old for any later row
			}
			kept = append(kept, o)
			if c.s == 0 {
				out.Values[0], out.Values[1] = record.IntValue(val), record.IntValue(o.v)
			} else {
				out.Values[0], out.Values[1] = record.IntValue(o.v), record.IntValue(val)
			}
			if o.ts-ts <= 1000 && ts-o.ts <= 1000 {
				d.add(&out)
			}
		}
		sides[1-c.s][k] = kept
		sides[c.s][k] = append(sides[c.s][k], row{ts, val})
	}
	return d.answer()
}

// benchInputs hands a join scenario's in-memory sources and its digest
// sink to the runner (sluicerun.InProcess).
type benchInputs struct {
	srcs    map[string]connector.Source
	columns map[string][]string
	sink    *digest
}

func (b *benchInputs) Source(name string) (connector.Source, connector.Schema) {
	return b.srcs[name], connector.Schema{Columns: record.NewSchema(b.columns[name]...)}
}
func (b *benchInputs) Sink(string) connector.Sink                 { return b.sink }
func (b *benchInputs) Gate(src connector.Source) connector.Source { return src }

// joinScenario runs a join scenario in memory: the limit at each partition
// count, the state per row, then the engine through the runner (as `sluice
// run` prepares a join) at each partition count.
func (b *runner) joinScenario(ctx context.Context, s *Scenario, n int) error {
	jb := s.join
	parts := make([][][]record.Record, len(jb.inputs))
	in := &benchInputs{srcs: map[string]connector.Source{}, columns: map[string][]string{}}
	var records int64
	for k, inp := range jb.inputs {
		count := inp.records
		if count == 0 {
			count = n
		}
		schema := record.NewSchema(inp.columns...)
		parts[k] = make([][]record.Record, sourceParts)
		for i := range count {
			vals := make([]record.Value, len(inp.columns))
			inp.row(i, vals)
			p := i % sourceParts
			parts[k][p] = append(parts[k][p], record.Record{Values: vals, Partition: int32(p), Offset: int64(len(parts[k][p])), Timestamp: baseTime + int64(i), Topic: inp.name})
		}
		src := mem.FromRecords(inp.name, schema, parts[k], mem.WithFacts(connector.Facts{Partitions: sourceParts}))
		src.Prepare(schema)
		in.srcs[inp.name], in.columns[inp.name] = src, inp.columns
		if inp.records == 0 {
			records += int64(count)
		}
	}
	var limit Answer
	for _, np := range b.cfg.Partitions {
		if np > runtime.NumCPU() {
			continue
		}
		answers := make([]Answer, np)
		best, runs, err := repeat(b.cfg.Seconds, func() error {
			var wg sync.WaitGroup
			for c := range np {
				wg.Go(func() { answers[c] = jb.limit(parts) })
			}
			wg.Wait()
			return nil
		})
		if err != nil {
			return err
		}
		if np == 1 {
			limit = answers[0]
		}
		b.report.add(Result{Scenario: s.ID, Mode: ModeMemory, Engine: EngineLimit, Partitions: np,
			Records: int64(np) * records, Runs: runs, Answer: answers[0]}, best)
	}
	if err := b.joinState(s, parts); err != nil {
		return err
	}
	stmts, err := sql.Parse("scenario-"+s.ID, s.Query)
	if err != nil {
		return err
	}
	for _, np := range b.cfg.Partitions {
		var best sample
		var res Result
		runs := 0
		var total float64
		for runs == 0 || total < b.cfg.Seconds {
			in.sink = newDigest(nil)
			j, err := sluicerun.Prepare(ctx, stmts[0], sluicerun.Options{Partitions: np, InProcess: in,
				// one commit, at the end: every run reads the same sources
				Set: map[string]string{"dlq.path": filepath.Join(b.cfg.Dir, "join.dlq.jsonl"), "commit.interval": "1h"}})
			if err != nil {
				return err
			}
			smp, err := measure(func() error {
				s, err := j.Run(ctx)
				if err == nil && s.DeadLetters != 0 {
					err = fmt.Errorf("%d records dead-lettered", s.DeadLetters)
				}
				return err
			})
			if err != nil {
				return err
			}
			runs++
			total += smp.elapsed.Seconds()
			if runs == 1 || smp.elapsed < best.elapsed {
				best = smp
			}
			res = Result{Scenario: s.ID, Mode: ModeMemory, Engine: EngineSluice, Strategy: j.Plan.Strategy.Name(), Auto: true,
				Partitions: np, Records: records, Answer: in.sink.answer(), RowsWritten: in.sink.written}
		}
		res.Runs = runs
		if res.Answer != limit {
			res.Mismatch = true
			b.report.Mismatches = append(b.report.Mismatches, fmt.Sprintf("%s memory N=%d: answer %s, the limit's %s", s.ID, np, res.Answer, limit))
		}
		r := b.report.add(res, best)
		fmt.Fprintf(b.cfg.Log, "  %-6s N=%d %-18s %12.0f rec/s  %s\n", ModeMemory, r.Partitions, r.Strategy, r.RecordsPerSec, r.Answer)
	}
	return nil
}

// joinState measures the heap per row of a join's state: a table's rows
// (4a), or the rows a stream-stream join buffers (4b: one pipeline takes
// 100K records of each input and no watermark, so it keeps them all).
func (b *runner) joinState(s *Scenario, parts [][][]record.Record) error {
	stmts, err := sql.Parse("scenario-"+s.ID, s.Query)
	if err != nil {
		return err
	}
	sel := stmts[0].Select()
	inputs := make([]join.Input, len(s.join.inputs))
	for k, inp := range s.join.inputs {
		src := sel.From
		if k > 0 {
			src = sel.Joins[k-1].Source
		}
		inputs[k] = join.Input{Name: inp.name, Alias: src.Alias, Schema: record.NewSchema(inp.columns...)}
		if k > 0 && inp.records > 0 {
			inputs[k].PrimaryKey = []string{inp.columns[0]}
		}
	}
	props := map[string]string{}
	for _, p := range sel.With {
		props[p.Key] = p.Value
	}
	prog, err := join.Compile(sel, join.Options{Properties: props, Inputs: inputs})
	if err != nil {
		return err
	}
	var rows int64
	var fixed, grew int64
	unit := "buffered row"
	runtime.GC() // twice: what pools and the limit runs left behind is gone
	runtime.GC()
	if tables := prog.Tables(); len(tables) > 0 {
		t := tables[0]
		unit = "table row"
		grew = heapOf(func() any {
			tt, _ := join.NewTable(t.Name(), t.Schema(), inputs[1].PrimaryKey)
			for _, part := range parts[1] {
				for i := range part {
					tt.Apply(&part[i])
				}
			}
			rows = tt.Rows()
			return tt
		})
	} else {
		sides := prog.Sides()
		widen := func(k int, recs []record.Record) []record.Record {
			out := make([]record.Record, len(recs))
			for i := range recs {
				out[i] = recs[i]
				out[i].Values = make([]record.Value, sides[k].Width)
				copy(out[i].Values[sides[k].Offset:], recs[i].Values)
				out[i].Values[sides[k].Slot] = record.IntValue(int64(k))
			}
			return out
		}
		const each = 100_000
		batches := [2][]record.Record{widen(0, parts[0][0][:min(each, len(parts[0][0]))]), widen(1, parts[1][0][:min(each, len(parts[1][0]))])}
		fixed = heapOf(func() any { return prog.NewPipeline() })
		grew = heapOf(func() any {
			pipe := prog.NewPipeline()
			for k := range batches {
				for off := 0; off < len(batches[k]); off += 1024 {
					pipe.Process(batches[k][off:min(off+1024, len(batches[k]))], &countOutput{})
				}
			}
			rows = pipe.StateRows()
			return pipe
		})
		runtime.KeepAlive(batches) // the input is not part of the state
	}
	if rows <= 0 {
		return errors.New("join state: no rows kept")
	}
	b.report.State = append(b.report.State, StateSize{Scenario: s.ID, Unit: unit, Groups: rows, Bytes: grew, Fixed: fixed,
		BytesPerGroup: float64(grew-fixed) / float64(rows)})
	return nil
}

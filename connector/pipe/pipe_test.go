package pipe_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/connector/pipe"
	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/job"
	"github.com/sluicesql/sluice/plan"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// messages returns parts partitions of n messages each: k cycles over 7
// keys, x counts up, the timestamp is 1ms per message.
func messages(parts, n int) [][]mem.Message {
	out := make([][]mem.Message, parts)
	for p := range out {
		for i := range n {
			out[p] = append(out[p], mem.Message{Timestamp: int64(i), Fields: map[string]record.Value{
				"k": record.IntValue(int64(i % 7)), "x": record.IntValue(int64(p*n + i))}})
		}
	}
	return out
}

// config plans and compiles query over source src (with facts and, when
// known, columns) into sink.
func config(t *testing.T, query string, src connector.Source, columns []string, sink connector.Sink) (job.Config, *exec.Program) {
	t.Helper()
	stmts, err := sql.Parse("test.sql", query)
	if err != nil {
		t.Fatal(err)
	}
	sel := stmts[0].Select()
	var schema *record.Schema
	if columns != nil {
		schema = record.NewSchema(columns...)
	}
	prog, err := exec.Compile(sel, exec.Options{Schema: schema, ExternalWatermark: true})
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan.Build(stmts[0], plan.Options{Partitions: 2, Sources: map[string]connector.Facts{sel.From.Name: src.Facts()}})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := job.FromPlan(p, prog, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Sources, cfg.Sinks = []connector.Source{src}, []connector.Sink{sink}
	cfg.CommitInterval = 5 * time.Millisecond
	cfg.DLQPath = filepath.Join(t.TempDir(), "dlq.jsonl")
	return cfg, prog
}

// chain runs "filter the even x of src" into a stream and "k, x" from the
// stream into out, as an application does. With stop set, it stops the
// writer once out holds some rows, upstream first, and returns the offsets
// the writer's source committed.
func chain(t *testing.T, src *mem.Source, out *mem.Sink, stop bool) {
	t.Helper()
	s := pipe.New("evens")
	upCfg, prog := config(t, "CREATE STREAM evens AS SELECT k, x FROM t WHERE x % 2 = 0", pipe.NewGate(src, []*pipe.Stream{s}), nil, s.Sink())
	s.Configure("evens", connector.Schema{Columns: prog.OutputSchema()}, prog.KeySlots(), upCfg.Partitions, src.Facts().Partitions, true)
	// small batches keep a paced source reading long after the reader has
	// flushed its first rows, so stopping it is early on any machine
	upCfg.BatchSize = 64
	downCfg, _ := config(t, "SELECT k, x FROM evens", s.Source(), s.Schema().Columns.Names(), out)

	upCtx, upCancel := context.WithCancel(context.Background())
	downCtx, downCancel := context.WithCancel(context.Background())
	defer upCancel()
	defer downCancel()
	errs := make(chan error, 2)
	go func() { _, err := job.Run(upCtx, upCfg); errs <- err }()
	go func() { _, err := job.Run(downCtx, downCfg); errs <- err }()
	if stop {
		for len(out.Flushed()) < 100 {
			time.Sleep(time.Millisecond)
		}
		s.Interrupt()
		upCancel()
		<-s.Ended()
		downCancel()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// evens returns the x values of the even messages below the committed
// offsets (all of them with nil offsets).
func evens(msgs [][]mem.Message, committed map[int32]int64) []int64 {
	var out []int64
	for p, part := range msgs {
		for i, m := range part {
			if committed != nil && int64(i) >= committed[int32(p)] {
				break
			}
			if x := m.Fields["x"].Int(); x%2 == 0 {
				out = append(out, x)
			}
		}
	}
	slices.Sort(out)
	return out
}

// xs returns the sorted x column of rows.
func xs(rows []record.Record) []int64 {
	var out []int64
	for _, r := range rows {
		out = append(out, r.Values[1].Int())
	}
	slices.Sort(out)
	return out
}

func TestChainDeliversEveryRow(t *testing.T) {
	msgs := messages(3, 5000)
	out := &mem.Sink{}
	chain(t, mem.NewSource("t", msgs), out, false)
	if got, want := xs(out.Flushed()), evens(msgs, nil); !slices.Equal(got, want) {
		t.Fatalf("got %d rows, want %d", len(got), len(want))
	}
}

// A chain stopped while running commits, at its source, only records whose
// rows the reading job has flushed; restarted from those offsets it
// delivers the rest: nothing is lost.
func TestStoppedChainLosesNothing(t *testing.T) {
	msgs := messages(2, 20000)
	src := mem.NewSource("t", msgs, mem.Pace(time.Millisecond))
	first := &mem.Sink{}
	chain(t, src, first, true)
	committed := src.Committed()
	if len(committed) == 0 {
		t.Fatal("the stopped chain committed nothing")
	}
	done := evens(msgs, committed)
	have := map[int64]bool{}
	for _, x := range xs(first.Flushed()) {
		have[x] = true
	}
	for _, x := range done {
		if !have[x] {
			t.Fatalf("x=%d is below the committed offsets %v but not in the reader's flushed output", x, committed)
		}
	}
	if len(done) == len(evens(msgs, nil)) {
		t.Fatalf("the chain was not stopped early (committed %v)", committed)
	}

	second := &mem.Sink{}
	chain(t, mem.NewSource("t", msgs, mem.WithStart(committed)), second, false)
	for _, x := range xs(second.Flushed()) {
		have[x] = true
	}
	for _, x := range evens(msgs, nil) {
		if !have[x] {
			t.Fatalf("x=%d lost across the restart", x)
		}
	}
}

// A stream written by a GROUP BY is partitioned by its key, and says so.
func TestKeyedStreamFacts(t *testing.T) {
	s := pipe.New("counts")
	s.Configure("counts", connector.Schema{Columns: record.NewSchema("k", "n")}, []int{0}, 4, 1, false)
	f := s.Facts()
	if fmt.Sprint(f.Key) != "[k]" || f.Partitions != 4 {
		t.Fatalf("facts %+v, want key [k] over 4 partitions", f)
	}
}

package pipe_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/connector/pipe"
	"github.com/sluicesql/sluice/job"
	"github.com/sluicesql/sluice/record"
)

// unopenable is a sink whose Open fails.
type unopenable struct{ *mem.Sink }

func (unopenable) Open(context.Context, *record.Schema, []int) error {
	return errors.New("unopenable: refused")
}

// A reading job that fails before it reads (its sink does not open) lets
// go of its stream: the writer's gate, which holds the writer's commits
// until the reader commits the rows before them, drops them and the
// writer ends, instead of waiting in its source's Close for commits that
// never come.
func TestReaderFailingToStartReleasesTheGate(t *testing.T) {
	msgs := messages(2, 100)
	s := pipe.New("evens")
	upCfg, prog := config(t, "CREATE STREAM evens AS SELECT k, x FROM t WHERE x % 2 = 0", pipe.NewGate(mem.NewSource("t", msgs), []*pipe.Stream{s}), nil, s.Sink())
	s.Configure("evens", connector.Schema{Columns: prog.OutputSchema()}, prog.KeySlots(), upCfg.Partitions, 2, true)
	downCfg, _ := config(t, "SELECT k, x FROM evens", s.Source(), s.Schema().Columns.Names(), unopenable{&mem.Sink{}})
	if _, err := job.Run(context.Background(), downCfg); err == nil {
		t.Fatal("the reading job ran with a sink that does not open")
	}
	done := make(chan error, 1)
	go func() { _, err := job.Run(context.Background(), upCfg); done <- err }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the writer still waits for the commits of a reader that failed before it read")
	}
}

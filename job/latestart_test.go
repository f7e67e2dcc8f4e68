package job

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/record"
)

// lateStartSource hands out its partition 0 at once and the others only
// after a delay, as a Kafka source does once its assignment arrives.
type lateStartSource struct {
	*mem.Source
	delay time.Duration
}

func (s *lateStartSource) Open(ctx context.Context, schema *record.Schema, dlq connector.DeadLetters) (<-chan connector.PartitionReader, error) {
	in, err := s.Source.Open(ctx, schema, dlq)
	if err != nil {
		return nil, err
	}
	out := make(chan connector.PartitionReader, 1)
	go func() {
		defer close(out)
		var later []connector.PartitionReader
		for rd := range in {
			if rd.Partition() == 0 {
				out <- rd
			} else {
				later = append(later, rd)
			}
		}
		time.Sleep(s.delay)
		for _, rd := range later {
			out <- rd
		}
	}()
	return out, nil
}

// TestLateStartingPartitionHoldsTheWatermark: a bounded source's partition
// handed out after the others have been read is judged by its own
// watermark, not by one the others moved on meanwhile: the result and the
// late count are those of a source that hands out every partition at once.
func TestLateStartingPartitionHoldsTheWatermark(t *testing.T) {
	input := genInput(21, 3, 400)
	run := func(src connector.Source) (*Summary, []string) {
		sink := &mem.Sink{}
		cfg := baseConfig(t, &fakeProgram{mode: "window", size: 100}, "hash", 2, src, sink)
		sum, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		rows := rowStrings(sink.Rows())
		slices.Sort(rows)
		return sum, rows
	}
	want, wantRows := run(mem.NewSource("in", input, mem.WithFacts(connector.Facts{Partitions: 3})))
	got, gotRows := run(&lateStartSource{mem.NewSource("in", input, mem.WithFacts(connector.Facts{Partitions: 3})), 100 * time.Millisecond})
	if got.Total.LateDropped != want.Total.LateDropped || !slices.Equal(gotRows, wantRows) {
		t.Errorf("late start: %d late, %d rows; all at once: %d late, %d rows",
			got.Total.LateDropped, len(gotRows), want.Total.LateDropped, len(wantRows))
	}
}

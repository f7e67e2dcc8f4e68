package job

import (
	"context"
	"sync"
	"testing"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/record"
)

// TestFencedReaderSkipsWhatHadItsEffect: a reader that resumed from a
// checkpoint (connector.Fenced) makes the job ask the program's replay
// rule about each record before the checkpoint's read offset, with the
// checkpoint's watermark and the record's own partition watermark stamped:
// a record that had its effect is skipped (still counted as read), the
// others are processed marked Replay; the records after the read offset
// are processed as they are.
func TestFencedReaderSkipsWhatHadItsEffect(t *testing.T) {
	const fenceTo, fenceWM = 40, 12345
	input := genInput(3, 2, 100)
	prog := &replayProgram{fakeProgram: &fakeProgram{mode: "window", size: 1000}, seen: map[[2]int64]bool{}}
	sink := &mem.Sink{}
	cfg := baseConfig(t, prog, "hash", 2, fencedSource{mem.NewSource("in", input)}, sink)
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	for p, msgs := range input {
		for off := range int64(len(msgs)) {
			at := [2]int64{int64(p), off}
			replay, seen := prog.seen[at]
			skip := off < fenceTo && off%2 == 0
			switch {
			case skip && seen:
				t.Errorf("partition %d offset %d: processed, but it had its effect", p, off)
			case !skip && !seen:
				t.Errorf("partition %d offset %d: not processed", p, off)
			case seen && replay != (off < fenceTo):
				t.Errorf("partition %d offset %d: Replay %v", p, off, replay)
			}
			if wm := prog.asked[at]; off < fenceTo && wm != fenceWM {
				t.Errorf("partition %d offset %d: the rule was asked with watermark %d, want %d", p, off, wm, fenceWM)
			}
		}
	}
}

// fencedSource hands out readers that resumed from a checkpoint read up
// to offset 40 under watermark 12345.
type fencedSource struct{ *mem.Source }

func (s fencedSource) Open(ctx context.Context, schema *record.Schema, dlq connector.DeadLetters) (<-chan connector.PartitionReader, error) {
	in, err := s.Source.Open(ctx, schema, dlq)
	if err != nil {
		return nil, err
	}
	out := make(chan connector.PartitionReader, cap(in))
	for rd := range in {
		out <- fencedReader{rd}
	}
	close(out)
	return out, nil
}

type fencedReader struct{ connector.PartitionReader }

func (fencedReader) Fence() (connector.Fence, bool) {
	return connector.Fence{Read: 40, Watermark: 12345}, true
}

// replayProgram is the fake program with a replay rule that takes every
// even offset for a record that had its effect; it notes the watermark
// each record was asked about and whether each processed record was a
// replay.
type replayProgram struct {
	*fakeProgram
	mu    sync.Mutex
	asked map[[2]int64]int64
	seen  map[[2]int64]bool
}

func (p *replayProgram) ReplayRule() func(*record.Record, int64) bool {
	p.asked = map[[2]int64]int64{}
	return func(r *record.Record, wm int64) bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.asked[[2]int64{int64(r.Partition), r.Offset}] = wm
		return r.Offset%2 == 0
	}
}

func (p *replayProgram) NewPipeline() Pipeline {
	return &replayPipe{Pipeline: p.fakeProgram.NewPipeline(), p: p}
}

type replayPipe struct {
	Pipeline
	p *replayProgram
}

func (r *replayPipe) Process(recs []record.Record, out Output) {
	r.p.mu.Lock()
	for i := range recs {
		r.p.seen[[2]int64{int64(recs[i].Partition), recs[i].Offset}] = recs[i].Replay
	}
	r.p.mu.Unlock()
	r.Pipeline.Process(recs, out)
}

package job

import (
	"context"
	"slices"
	"testing"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/record"
)

// flushedSink records, at each Flush (a checkpoint's), the rows written so
// far.
type flushedSink struct {
	rowSink
	atFlush [][]string
}

func (s *flushedSink) Flush(context.Context) error {
	var names []string
	for _, r := range s.all() {
		names = append(names, r.Values[0].Str())
	}
	s.atFlush = append(s.atFlush, names)
	return nil
}

// TestEmitterHoldsRowsPastBarrier: with a source that commits its
// checkpoint in the transaction holding the output (hold), a checkpoint's
// transaction holds exactly the rows emitted before its barrier. A worker
// that passed the barrier goes on (its windows fire under a later
// watermark) while another has not: its rows wait until the barrier is
// committed, in the order they came. Without hold they are written as
// they come.
func TestEmitterHoldsRowsPastBarrier(t *testing.T) {
	for _, hold := range []bool{true, false} {
		sink := &flushedSink{}
		r := &run{cfg: Config{Sinks: []connector.Sink{sink}}, rows: newRowPool(4), emitCh: make(chan emitMsg, 16), emitDone: make(chan struct{}),
			workers: []*worker{{id: 0}, {id: 1}}, sinkCtx: context.Background(), committed: map[string]map[int32]int64{}}
		rows := func(w int, names ...string) emitMsg {
			b := &rowBuf{}
			for _, n := range names {
				b.add([]record.Record{{Values: []record.Value{record.StringValue(n)}}})
			}
			return emitMsg{kind: emitRows, worker: w, rows: b}
		}
		b1, b2 := &barrier{wm: 100}, &barrier{wm: 200}
		ack := func(w int, b *barrier) emitMsg { return emitMsg{kind: emitAck, worker: w, bar: b} }
		for _, m := range []emitMsg{
			rows(0, "a"), ack(0, b1), rows(0, "after1"), ack(0, b2), rows(0, "after2"),
			rows(1, "b"), ack(1, b1), rows(1, "c"), ack(1, b2),
			{kind: emitDone, worker: 0}, {kind: emitDone, worker: 1},
		} {
			r.emitCh <- m
		}
		close(r.emitCh)
		(&emitter{r: r, hold: hold}).loop()
		var got []string
		for _, r := range sink.all() {
			got = append(got, r.Values[0].Str())
		}
		want := [][]string{{"a", "b"}, {"a", "b", "after1", "c"}}
		if !hold {
			want = [][]string{{"a", "after1", "after2", "b"}, {"a", "after1", "after2", "b", "c"}}
		}
		if !slices.EqualFunc(sink.atFlush, want, slices.Equal) {
			t.Errorf("hold %v: written at the checkpoints %v, want %v", hold, sink.atFlush, want)
		}
		if all := []string{"a", "after1", "after2", "b", "c"}; !slices.Equal(slices.Sorted(slices.Values(got)), all) {
			t.Errorf("hold %v: written %v, want %v", hold, got, all)
		}
	}
}

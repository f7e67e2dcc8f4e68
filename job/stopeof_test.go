package job

import (
	"context"
	"io"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/record"
)

// handoverSource is an unbounded source whose partitions hand out their
// records and then wait until closed, when they return io.EOF: as a
// consumer-group member's readers do once a rebalance takes their
// partitions away, just after the job reading them was told to stop.
type handoverSource struct {
	parts  [][]record.Record
	closed chan struct{}
}

func (s *handoverSource) Name() string           { return "in" }
func (s *handoverSource) Facts() connector.Facts { return connector.Facts{Partitions: len(s.parts)} }
func (s *handoverSource) Open(context.Context, *record.Schema, connector.DeadLetters) (<-chan connector.PartitionReader, error) {
	ch := make(chan connector.PartitionReader, len(s.parts))
	for p, recs := range s.parts {
		// the last partition is slow to notice (busy decoding, say)
		ch <- &handoverReader{part: int32(p), recs: recs, closed: s.closed, slow: p == len(s.parts)-1}
	}
	close(ch)
	return ch, nil
}
func (s *handoverSource) Commit(context.Context, map[int32]int64) error { return nil }
func (s *handoverSource) Close() error                                  { return nil }

type handoverReader struct {
	part   int32
	recs   []record.Record
	closed chan struct{}
	slow   bool
}

func (r *handoverReader) Partition() int32 { return r.part }
func (r *handoverReader) Close() error     { return nil }
func (r *handoverReader) Next(_ context.Context, b *record.Batch, max int) error {
	b.Source, b.Partition = "in", r.part
	b.Reset()
	if len(r.recs) == 0 {
		// nothing more for now: the caller gets an empty batch now and
		// then, as from a quiet partition
		select {
		case <-r.closed:
			if r.slow {
				time.Sleep(200 * time.Millisecond)
			}
			return io.EOF
		case <-time.After(5 * time.Millisecond):
			return nil
		}
	}
	n := min(max, len(r.recs))
	b.Records = append(b.Records, r.recs[:n]...)
	r.recs = r.recs[n:]
	return nil
}

// TestStoppedReaderEndIsNoEnd: a partition whose reader ends because the
// job was stopped (a rebalance took it away) did not reach its end, so it
// keeps holding the watermark: a window of its keys that its own
// watermark has not passed must not fire with the records read so far
// because another partition is further on. (Stage 2 of a repartitioned
// statement commits the watermark as what had its effect: firing there
// wrote partial windows, twice.)
func TestStoppedReaderEndIsNoEnd(t *testing.T) {
	row := func(k string, p int32, off, ts int64) record.Record {
		return record.Record{Values: []record.Value{record.StringValue(k), record.IntValue(1), record.TimestampValue(ts)},
			Partition: p, Offset: off, Timestamp: ts}
	}
	var slow, fast []record.Record
	for i := range int64(16) { // a: up to 150, its window [100, 200) open
		slow = append(slow, row("a", 0, i, i*10))
	}
	for i := range int64(101) { // b: up to 1000
		fast = append(fast, row("b", 1, i, i*10))
	}
	src := &handoverSource{parts: [][]record.Record{slow, fast}, closed: make(chan struct{})}
	sink := &rowSink{}
	cfg := baseConfig(t, &fakeProgram{mode: "window", size: 100}, "hash", 2, src, sink)
	cfg.MaxOutOfOrder = 0
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once sync.Once
	cfg.Progress, cfg.ProgressInterval = func(s *Summary) {
		if s.Watermark >= 150 {
			// stop the job, then close its readers (a revocation's order)
			once.Do(func() { cancel(); close(src.closed) })
		}
	}, 5*time.Millisecond
	sum, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Interrupted || sum.Watermark != 150 {
		t.Errorf("interrupted %v at watermark %d, want interrupted at 150 (partition 0's)", sum.Interrupted, sum.Watermark)
	}
	for _, r := range sink.all() {
		if r.Values[0].Str() == "a" && r.Values[3].Millis() >= 100 {
			t.Errorf("window of a at %d fired after the job stopped, with the records read so far: %v", r.Values[3].Millis(), r.Values)
		}
	}
}

// rowSink keeps the rows written.
type rowSink struct {
	mu   sync.Mutex
	rows []record.Record
}

func (s *rowSink) Open(context.Context, *record.Schema, []int) error { return nil }
func (s *rowSink) Write(_ context.Context, rows []record.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rows {
		r.Values = append([]record.Value(nil), r.Values...)
		s.rows = append(s.rows, r)
	}
	return nil
}
func (s *rowSink) Flush(context.Context) error { return nil }
func (s *rowSink) Close() error                { return nil }
func (s *rowSink) Abort()                      {}
func (s *rowSink) all() []record.Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rows
}

// TestStopWhileDrainingFinishesEveryWorker: a stop that comes after the
// input ended, while the workers still drain their queues (a rebalance
// revoking a repartition topic's partitions at the end of a bounded run),
// finishes every pipeline or none, never some: each finished worker lets
// go of the offsets it held, and routed by hash a source partition's
// records are on every worker, so the final commit would resume a replay
// before records whose groups the finished workers wrote.
func TestStopWhileDrainingFinishesEveryWorker(t *testing.T) {
	input := genInput(3, 2, 100)
	sink := &rowSink{}
	cfg := baseConfig(t, &fakeProgram{mode: "group"}, "hash", 2, mem.NewSource("in", input), sink)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// worker 1 waits in its first batch until worker 0 has finished (so
	// the input ended: the workers' queues closed) and the job was stopped
	release := make(chan struct{})
	var once sync.Once
	cfg.OnBatch = func(w, _ int, _ time.Duration) {
		if w == 1 {
			once.Do(func() { <-release })
		}
	}
	go func() {
		for len(sink.all()) == 0 && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
		cancel()
		close(release)
	}()
	if _, err := Run(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	one := &mem.Sink{}
	if _, err := Run(context.Background(), baseConfig(t, &fakeProgram{mode: "group"}, "hash", 2, mem.NewSource("in", input), one)); err != nil {
		t.Fatal(err)
	}
	if got, want := rowStrings(sink.all()), rowStrings(one.Rows()); !slices.Equal(got, want) {
		t.Errorf("stopped while draining: %d groups written, want all %d (every worker finishes, as the input ended)", len(got), len(want))
	}
}

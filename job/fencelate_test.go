package job

import (
	"context"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/record"
)

// TestFencedReplayJudgesLateAsTheFirstRun: a record that had no effect
// (dropped by WHERE) but raised its partition's watermark, before the
// committed offset, makes a later record late; a restart from the
// checkpoint, exactly once (connector.Checkpointer.Restored) or as an
// aligned member (connector.Fenced), judges that record late too, as one
// uninterrupted run does, instead of opening its window again with it.
//
// Partition 0 holds a record at 10s dropped by WHERE, one at 6s (its
// window open: the commit stays before it) and one at 1.5s, late by 10s
// with 5s of allowed lateness; partition 1's record at 0.1s holds the
// job's watermark back, so that no window fires before the stop.
func TestFencedReplayJudgesLateAsTheFirstRun(t *testing.T) {
	const base = 1_700_000_000_000
	msg := func(k string, v, at int64) mem.Message {
		return mem.Message{Fields: map[string]record.Value{"k": record.StringValue(k), "v": record.IntValue(v),
			"ts": record.TimestampValue(base + at)}, Timestamp: base + at}
	}
	input := [][]mem.Message{
		{msg("a", 0, 10_000), msg("a", 1, 6_000), msg("a", 1, 1_500)},
		{msg("b", 1, 100)},
	}
	query := "SELECT k, COUNT(*) AS c, _WINDOW_START AS ws FROM t WHERE v > 0 GROUP BY k WINDOW TUMBLING(ts, INTERVAL '1' SECOND)"
	props := map[string]string{"window.allowed_lateness": "5s", "watermark.max_out_of_orderness": "0ms"}
	run := func(ctx context.Context, src connector.Source, sink *mem.Sink) *Summary {
		prog, _ := compileQuery(t, query, props)
		cfg := baseConfig(t, FromExec(prog), "hash", 2, src, sink)
		cfg.MaxOutOfOrder, cfg.CommitInterval = 0, 2*time.Millisecond
		sum, err := Run(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return sum
	}
	full := &mem.Sink{}
	run(context.Background(), mem.NewSource("t", input), full)
	want := rowStrings(full.Rows())
	if len(want) != 2 {
		t.Fatalf("one run wrote %v, want the windows of a at 6s and b at 0s (a at 1.5s is late)", want)
	}
	for _, aligned := range []bool{false, true} {
		// the first run reads everything, commits and stops: partition 0's
		// commit is behind its read offset (its window at 6s is open)
		src := &checkpointSource{Source: mem.NewSource("t", input, mem.Live(time.Millisecond))}
		first := &mem.Sink{}
		cp, ok := runUntilRead(func(ctx context.Context) { run(ctx, src, first) }, src, map[int32]int64{0: 3, 1: 1})
		if !ok {
			t.Fatalf("aligned %v: the first run committed no checkpoint of every record read: %+v", aligned, cp)
		}
		committed := src.Committed()
		if committed[0] >= 3 {
			t.Fatalf("aligned %v: partition 0 committed %d: not behind its read offset 3", aligned, committed[0])
		}
		// the restart resumes from the committed offsets with the checkpoint
		again := &checkpointSource{Source: mem.NewSource("t", input, mem.WithStart(committed)), restored: &cp, aligned: aligned}
		second := &mem.Sink{}
		run(context.Background(), again, second)
		got := rowStrings(append(first.Flushed(), second.Rows()...))
		if !slices.Equal(got, want) {
			t.Errorf("aligned %v: stopped at %v (checkpoint %+v) and restarted, wrote %v; one run wrote %v", aligned, committed, cp, got, want)
		}
	}
}

// runUntilRead runs a job (run) over src, a live source, until it
// committed a checkpoint that read each partition of read up to its
// offset, then stops it, and returns the last checkpoint src committed;
// false when none read that far within 20s.
func runUntilRead(run func(context.Context), src *checkpointSource, read map[int32]int64) (connector.Checkpoint, bool) {
	readAll := func(cp connector.Checkpoint) bool {
		for p, off := range read {
			if cp.Read[p] != off {
				return false
			}
		}
		return true
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer cancel()
		for ctx.Err() == nil {
			if cp, ok := src.last(); ok && readAll(cp) {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	deadline := time.AfterFunc(20*time.Second, cancel)
	run(ctx)
	deadline.Stop()
	cp, ok := src.last()
	return cp, ok && readAll(cp)
}

// checkpointSource is a mem source that keeps the job's checkpoints
// (connector.Checkpointer) and resumes from restored: as an exactly-once
// source does (Restored), or, aligned, through its readers (connector.Fenced).
type checkpointSource struct {
	*mem.Source
	restored *connector.Checkpoint
	aligned  bool

	mu        sync.Mutex
	committed *connector.Checkpoint
}

func (s *checkpointSource) CommitCheckpoint(ctx context.Context, offsets map[int32]int64, cp connector.Checkpoint) error {
	if err := s.Source.Commit(ctx, offsets); err != nil {
		return err
	}
	cp.Read, cp.Starts = maps.Clone(cp.Read), maps.Clone(cp.Starts)
	s.mu.Lock()
	s.committed = &cp
	s.mu.Unlock()
	return nil
}

// last returns the last checkpoint committed.
func (s *checkpointSource) last() (connector.Checkpoint, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.committed == nil {
		return connector.Checkpoint{}, false
	}
	return *s.committed, true
}

func (s *checkpointSource) Restored() (connector.Checkpoint, bool) {
	if s.restored == nil || s.aligned {
		return connector.Checkpoint{}, false
	}
	return *s.restored, true
}

func (s *checkpointSource) Open(ctx context.Context, schema *record.Schema, dlq connector.DeadLetters) (<-chan connector.PartitionReader, error) {
	in, err := s.Source.Open(ctx, schema, dlq)
	if err != nil || !s.aligned || s.restored == nil {
		return in, err
	}
	out := make(chan connector.PartitionReader, cap(in))
	for rd := range in {
		out <- checkpointReader{rd, *s.restored}
	}
	close(out)
	return out, nil
}

// checkpointReader reports its partition's part of a checkpoint.
type checkpointReader struct {
	connector.PartitionReader
	cp connector.Checkpoint
}

func (r checkpointReader) Fence() (connector.Fence, bool) {
	p := r.Partition()
	read, ok := r.cp.Read[p]
	st, started := r.cp.Starts[p]
	return connector.Fence{Read: read, Watermark: r.cp.Watermark, Start: st, HasStart: started}, ok
}

// TestCommitPointStandsAtAMark: a commit stands at the partition's last
// progress point at or before the offset whose records had their effect,
// with the highest event time before it and that offset as its Start's
// Skip (or the restored Skip, while the partition has not read past it);
// past maxMarks points, every other one is dropped, and a commit still
// stands at one, a little further back; the points before a commit are
// dropped.
func TestCommitPointStandsAtAMark(t *testing.T) {
	sp := newSourcePartition(0, "t", 0, time.Now())
	sp.start, sp.started = connector.Start{Skip: 35}, true
	// batches of 10 records at offsets 10i..10i+9, event time 100 per
	// offset: before offset o the highest event time is 100(o-1)
	const batches = 3 * maxMarks
	for i := range int64(batches) {
		sp.mu.Lock()
		sp.addMarkLocked(mark{10 * i, 100 * (10*i - 1)})
		sp.addMarkLocked(mark{10*i + 10, 100 * (10*i + 9)})
		sp.mu.Unlock()
	}
	if len(sp.marks) > maxMarks {
		t.Fatalf("%d marks kept, more than %d", len(sp.marks), maxMarks)
	}
	last := int64(-1)
	for _, off := range []int64{0, 17, 30, 55, 5003, 5003, 10*batches - 1, 10 * batches} {
		at, st, ok := sp.commitPoint(off)
		if !ok || at > off || at < last || st.MaxEvent != 100*(at-1) || st.Skip != max(off, 35) {
			t.Fatalf("commit of %d: at %d, %+v (%v); want at a mark at or before it, not before %d, its highest event time %d, Skip %d",
				off, at, st, ok, last, 100*(at-1), max(off, 35))
		}
		if off-at > 2*10*batches/(maxMarks/2) {
			t.Errorf("commit of %d stands at %d: too far back", off, at)
		}
		last = at
	}
	if at, _, ok := sp.commitPoint(last - 1); ok {
		t.Errorf("a commit before the last one's mark stands at %d", at)
	}
	// the points after it are marks again, the commit's kept
	for o := last + 3; o < last+30; o += 3 {
		sp.mu.Lock()
		sp.addMarkLocked(mark{o, 100 * (o - 1)})
		sp.mu.Unlock()
	}
	if at, st, ok := sp.commitPoint(last + 1); !ok || at != last || st.MaxEvent != 100*(last-1) {
		t.Errorf("commit of %d after the commit at %d: at %d, %+v (%v)", last+1, last, at, st, ok)
	}
	if at, _, ok := sp.commitPoint(last + 28); !ok || at != last+27 {
		t.Errorf("commit of %d: at %d (%v), want %d", last+28, at, ok, last+27)
	}
}

// TestCommitPointGapBound: however the commits before it stood, a commit
// of offset off stands at most one progress point's gap, or 1/2^markShift
// of the records between off and the last point read, behind off, at a
// point whose highest event time it knows; the marks never exceed
// maxMarks. Randomized: batches of 1 to 500 records (some much larger,
// as past dead letters), a commit at a random offset between the last
// commit and the read offset every 1 to 10,000 batches.
func TestCommitPointGapBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 17))
	seed := rng.Uint64()
	t.Logf("seed %d", seed)
	rng = rand.New(rand.NewPCG(seed, 17))
	sp := newSourcePartition(0, "t", 0, time.Now())
	// maxEvent[o]: the highest event time before offset o, at every point
	maxEvent := map[int64]int64{0: noWatermark}
	read, maxEv, maxGap, lastAt := int64(0), int64(noWatermark), int64(0), int64(0)
	worst := 0.0
	for c := 0; c < 200; c++ {
		for range rng.IntN(10_000) + 1 {
			n := rng.Int64N(500) + 1
			if rng.IntN(100) == 0 {
				n = rng.Int64N(20_000) + 1
			}
			before := maxEv
			maxEv = max(maxEv, read+n+rng.Int64N(1000)-500)
			sp.mu.Lock()
			sp.addMarkLocked(mark{read, before})
			sp.addMarkLocked(mark{read + n, maxEv})
			sp.mu.Unlock()
			read += n
			maxEvent[read] = maxEv
			maxGap = max(maxGap, n)
			if len(sp.marks) > maxMarks {
				t.Fatalf("%d marks, more than %d", len(sp.marks), maxMarks)
			}
		}
		if sp.shift != 0 && sp.shift != markShift {
			t.Fatalf("the marks were thinned wider (shift %d) after %d records since the last commit", sp.shift, read-lastAt)
		}
		off := lastAt + rng.Int64N(read-lastAt+1)
		at, st, ok := sp.commitPoint(off)
		want, point := maxEvent[at]
		switch {
		case !ok || at > off || at < lastAt || !point:
			t.Fatalf("commit %d of %d (last at %d, read %d): at %d (%v), want a point between %d and %d", c, off, lastAt, read, at, ok, lastAt, off)
		case st.MaxEvent != want:
			t.Fatalf("commit %d of %d at %d: highest event time %d, want %d", c, off, at, st.MaxEvent, want)
		case off-at > max(maxGap, (read-off)>>markShift):
			t.Fatalf("commit %d of %d (last at %d, read %d) stands at %d: %d behind, more than %d (a point's gap) and %d (1/%d of the %d records after it)",
				c, off, lastAt, read, at, off-at, maxGap, (read-off)>>markShift, 1<<markShift, read-off)
		}
		if read > lastAt {
			worst = max(worst, float64(off-at)/float64(read-lastAt))
		}
		lastAt = at
	}
	t.Logf("a commit stood at most %.2f%% of the records read since the last commit behind what was done (%d records read)", 100*worst, read)
}

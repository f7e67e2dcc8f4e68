package job

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/record"
)

func TestPerKeyOrderAndFinalCommit(t *testing.T) {
	input := genInput(2, 4, 600)
	for _, strat := range []string{"hash", "sticky", "fan_in"} {
		t.Run(strat, func(t *testing.T) {
			src := mem.NewSource("in", input)
			sink := &mem.Sink{}
			if _, err := Run(context.Background(), baseConfig(t, &fakeProgram{mode: "pass"}, strat, 3, src, sink)); err != nil {
				t.Fatal(err)
			}
			// offsets of each (key, source partition) must arrive ascending;
			// under sticky, those of each source partition.
			last := map[string]int64{}
			for _, r := range sink.Rows() {
				k := r.Values[0].Str() + "/" + r.Values[3].String()
				if strat == "sticky" {
					k = r.Values[3].String()
				}
				if off := r.Values[2].Int(); off <= last[k] && last[k] != 0 {
					t.Fatalf("%s: offset %d after %d", k, off, last[k])
				} else {
					last[k] = off
				}
			}
			committed := src.Committed()
			for p, msgs := range input {
				if committed[int32(p)] != int64(len(msgs)) {
					t.Errorf("partition %d committed %d, want %d", p, committed[int32(p)], len(msgs))
				}
			}
		})
	}
}

func TestOrderedMergeAndLimit(t *testing.T) {
	input := genInput(3, 2, 400)
	var want []string
	for _, n := range []int{1, 3} {
		sink := &mem.Sink{}
		prog := &fakeProgram{mode: "group", ordered: true, limit: 5}
		sum, err := Run(context.Background(), baseConfig(t, prog, "hash", n, mem.NewSource("in", input), sink))
		if err != nil {
			t.Fatal(err)
		}
		rows := sink.Rows()
		if len(rows) != 5 || sum.RowsWritten != 5 {
			t.Fatalf("N=%d: %d rows written (%d), want 5", n, len(rows), sum.RowsWritten)
		}
		var got []string
		for i := range rows {
			if i > 0 && prog.Less(&rows[i], &rows[i-1]) {
				t.Fatalf("N=%d: row %d out of order", n, i)
			}
			got = append(got, rows[i].Values[0].Str())
		}
		if want == nil {
			want = got
		} else if !slices.Equal(got, want) {
			t.Fatalf("N=%d: %v, want %v", n, got, want)
		}
	}
}

func TestBackpressureLosesNothing(t *testing.T) {
	input := genInput(4, 2, 800)
	sink := &mem.Sink{Delay: 200 * time.Microsecond}
	cfg := baseConfig(t, &fakeProgram{mode: "pass"}, "hash", 2, mem.NewSource("in", input), sink)
	cfg.BatchSize, cfg.QueueSize = 8, 2
	sum, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkBalance(t, sum, countMessages(input))
	if int64(len(sink.Rows())) != sum.Total.Accepted {
		t.Errorf("sink got %d rows, %d accepted", len(sink.Rows()), sum.Total.Accepted)
	}
	for i, p := range sum.Partitions {
		if p.MaxQueueDepth > p.QueueCap || p.QueueCap != 2 || p.MaxQueueDepth == 0 {
			t.Errorf("partition %d: max depth %d, capacity %d", i, p.MaxQueueDepth, p.QueueCap)
		}
	}
}

// runAside runs the job cfg until ctx ends, failing t if it fails, and
// sends its summary on the channel it returns.
func runAside(t *testing.T, ctx context.Context, cfg Config) <-chan *Summary {
	done := make(chan *Summary, 1)
	go func() {
		sum, err := Run(ctx, cfg)
		if err != nil {
			t.Error(err)
		}
		done <- sum
	}()
	return done
}

// runWindowsAside runs a job of windows size milliseconds long over src,
// hashed to two workers, whose partitions turn idle after idle without
// records, until stop; stop returns its summary.
func runWindowsAside(t *testing.T, src connector.Source, size int64, idle time.Duration) (sink *mem.Sink, stop func() *Summary) {
	t.Helper()
	sink = &mem.Sink{}
	cfg := baseConfig(t, &fakeProgram{mode: "window", size: size}, "hash", 2, src, sink)
	cfg.IdleTimeout = idle
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := runAside(t, ctx, cfg)
	return sink, func() *Summary {
		cancel()
		return <-done
	}
}

func TestIdlePartitionDoesNotHoldWindows(t *testing.T) {
	busy := genInput(5, 1, 400)[0]
	src := mem.NewSource("in", [][]mem.Message{busy, nil}, mem.Live(time.Millisecond))
	sink, stop := runWindowsAside(t, src, 200, 30*time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for len(sink.Rows()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	sum := stop()
	if len(sink.Rows()) == 0 {
		t.Fatal("no window fired while partition 1 was idle")
	}
	if !sum.Interrupted || sum.Watermark == noWatermark {
		t.Errorf("interrupted %v, watermark %d", sum.Interrupted, sum.Watermark)
	}
	checkBalance(t, sum, int64(len(busy)))
}

// checkingSource checks, at every commit, that the sink's flushed rows hold
// the effect of every record before the committed offsets.
type checkingSource struct {
	*mem.Source
	t      *testing.T
	sink   *mem.Sink
	input  [][]mem.Message
	mu     sync.Mutex
	checks int
}

func (c *checkingSource) Commit(ctx context.Context, offsets map[int32]int64) error {
	have := map[[2]int64]bool{}
	for _, r := range c.sink.Flushed() {
		have[[2]int64{r.Values[3].Int(), r.Values[2].Int()}] = true
	}
	for p, off := range offsets {
		for i := int64(0); i < off; i++ {
			if v := c.input[p][i].Fields["v"].Int(); v%3 != 0 && !have[[2]int64{int64(p), i}] {
				c.t.Errorf("committed partition %d up to %d, but record %d is not in the sink", p, off, i)
				return nil
			}
		}
	}
	c.mu.Lock()
	c.checks++
	c.mu.Unlock()
	return c.Source.Commit(ctx, offsets)
}

func TestShutdownCommitsOnlyWhatIsDoneAndRestartCompletes(t *testing.T) {
	input := genInput(6, 3, 1500)
	sink := &mem.Sink{Delay: 300 * time.Microsecond}
	src := &checkingSource{Source: mem.NewSource("in", input), t: t, sink: sink, input: input}
	cfg := baseConfig(t, &fakeProgram{mode: "pass"}, "hash", 3, src, sink)
	cfg.BatchSize, cfg.CommitInterval = 16, 5*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for len(sink.Rows()) < 300 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	sum, err := Run(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Interrupted {
		t.Fatal("run was not interrupted")
	}
	committed := src.Committed()
	if src.checks == 0 {
		t.Fatal("nothing committed")
	}
	var total int64
	for p := range input {
		total += int64(len(input[p])) - committed[int32(p)]
	}
	if total == 0 {
		t.Fatal("the first run read everything; the test needs a mid-run stop")
	}
	// restart from the committed offsets
	sink2 := &mem.Sink{}
	src2 := mem.NewSource("in", input, mem.WithStart(committed))
	cfg2 := baseConfig(t, &fakeProgram{mode: "pass"}, "hash", 2, src2, sink2)
	sum2, err := Run(context.Background(), cfg2)
	if err != nil {
		t.Fatal(err)
	}
	checkBalance(t, sum2, total)
	have := map[[2]int64]bool{}
	for _, r := range append(sink.Rows(), sink2.Rows()...) {
		have[[2]int64{r.Values[3].Int(), r.Values[2].Int()}] = true
	}
	for p, msgs := range input {
		for i, m := range msgs {
			if m.Fields["v"].Int()%3 != 0 && !have[[2]int64{int64(p), int64(i)}] {
				t.Fatalf("record %d/%d missing after restart", p, i)
			}
		}
	}
}

func TestShutdownWithOpenWindowsHoldsOffsets(t *testing.T) {
	input := genInput(7, 2, 2000)
	sink := &mem.Sink{Delay: 200 * time.Microsecond}
	src := mem.NewSource("in", input)
	cfg := baseConfig(t, &fakeProgram{mode: "window", size: 300}, "hash", 2, src, sink)
	cfg.BatchSize, cfg.CommitInterval = 16, 5*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for len(sink.Rows()) < 20 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	if _, err := Run(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	committed := src.Committed()
	// every record at or after a committed offset, re-run, must reproduce
	// the windows not yet in the sink: the union of both runs' windows
	// covers the full run's windows.
	sink2 := &mem.Sink{}
	if _, err := Run(context.Background(), baseConfig(t, &fakeProgram{mode: "window", size: 300}, "hash", 2,
		mem.NewSource("in", input, mem.WithStart(committed)), sink2)); err != nil {
		t.Fatal(err)
	}
	full := &mem.Sink{}
	if _, err := Run(context.Background(), baseConfig(t, &fakeProgram{mode: "window", size: 300}, "hash", 2,
		mem.NewSource("in", input), full)); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, s := range rowStrings(append(sink.Rows(), sink2.Rows()...)) {
		got[s] = true
	}
	// a window re-run from a committed offset in its middle may be partial;
	// what matters is that every full-run window start/key appears with at
	// least the full result in one of the runs.
	for _, s := range rowStrings(full.Rows()) {
		if !got[s] {
			t.Fatalf("window row %s missing from interrupted run + restart", s)
		}
	}
}

func TestDeadLetters(t *testing.T) {
	input := genInput(8, 2, 300)
	// an undecodable message (with non-UTF-8 bytes) and one failing evaluation
	input[0][10] = mem.Message{Raw: []byte{0xff, 0xfe, 'x'}}
	input[1][20] = mem.Message{Fields: map[string]record.Value{"k": record.StringValue("bad"), "v": record.IntValue(1),
		"ts": record.TimestampValue(1_700_000_000_000)}, Raw: []byte(`{"k":"bad"}`)}
	sink := &mem.Sink{}
	cfg := baseConfig(t, &fakeProgram{mode: "pass"}, "hash", 2, mem.NewSource("in", input), sink)
	sum, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkBalance(t, sum, countMessages(input))
	if sum.DeadLetters != 2 || sum.SourceDeadLettered["in"] != 1 || sum.Total.DeadLettered != 2 || sum.DLQPath != cfg.DLQPath {
		t.Fatalf("dead letters %d, source %v, total %d, path %q", sum.DeadLetters, sum.SourceDeadLettered, sum.Total.DeadLettered, sum.DLQPath)
	}
	f, err := os.Open(cfg.DLQPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []connector.DeadLetterJSON
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var l connector.DeadLetterJSON
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	slices.SortFunc(lines, func(a, b connector.DeadLetterJSON) int { return int(a.Partition - b.Partition) })
	raw0, _ := base64.StdEncoding.DecodeString(lines[0].Raw)
	if len(lines) != 2 || lines[0].RawEncoding != "base64" || string(raw0) != "\xff\xfex" || lines[0].Offset != 10 ||
		lines[1].Raw != `{"k":"bad"}` || lines[1].RawEncoding != "text" || lines[1].Offset != 20 ||
		!strings.Contains(lines[1].Reason, "bad key") || lines[1].Source != "in" || lines[1].Time.IsZero() {
		t.Fatalf("dead-letter lines: %+v", lines)
	}
}

// TestMaxErrorsStopsTheJob: 'dlq.max_errors' N stops the job at the
// (N+1)th dead letter, 0 at the first; without it there is no limit.
func TestMaxErrorsStopsTheJob(t *testing.T) {
	for _, tc := range []struct {
		limit bool
		max   int64
		fails bool
	}{{true, 3, true}, {true, 0, true}, {true, 5, false}, {false, 0, false}} {
		input := genInput(9, 1, 300)
		for i := 0; i < 5; i++ {
			input[0][i*10] = mem.Message{Raw: []byte("garbage")}
		}
		sink := &mem.Sink{}
		cfg := baseConfig(t, &fakeProgram{mode: "pass"}, "hash", 2, mem.NewSource("in", input), sink)
		cfg.MaxErrors, cfg.LimitErrors = tc.max, tc.limit
		s, err := Run(context.Background(), cfg)
		if !tc.fails {
			if err != nil || s.Total.DeadLettered != 5 {
				t.Errorf("%+v: err = %v, %d dead-lettered, want no error and 5", tc, err, s.Total.DeadLettered)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "dlq.max_errors") {
			t.Fatalf("%+v: err = %v, want the max errors error", tc, err)
		}
		if _, aborted := sink.State(); !aborted {
			t.Errorf("%+v: sink not aborted", tc)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	sink := &mem.Sink{}
	good := baseConfig(t, &fakeProgram{mode: "pass"}, "hash", 1, mem.NewSource("in", nil), sink)
	for name, mut := range map[string]func(*Config){
		"program":  func(c *Config) { c.Program = nil },
		"strategy": func(c *Config) { c.Strategy = nil },
		"sources":  func(c *Config) { c.Sources = nil },
		"negative": func(c *Config) { c.Partitions = -1 },
	} {
		c := good
		mut(&c)
		if _, err := Run(context.Background(), c); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	var _ connector.Sink = sink
}

func TestSeveralSourcesReadConcurrently(t *testing.T) {
	a, b := genInput(11, 2, 300), genInput(12, 3, 300)
	srcA, srcB := mem.NewSource("a", a), mem.NewSource("b", b)
	sink := &mem.Sink{}
	cfg := baseConfig(t, &fakeProgram{mode: "group"}, "hash", 3, srcA, sink)
	cfg.Sources = []connector.Source{srcA, srcB}
	cfg.Readers = 2 // fewer reader slots than source partitions
	sum, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	checkBalance(t, sum, countMessages(a)+countMessages(b))
	for _, c := range []struct {
		src   *mem.Source
		input [][]mem.Message
	}{{srcA, a}, {srcB, b}} {
		got := c.src.Committed()
		for p, msgs := range c.input {
			if got[int32(p)] != int64(len(msgs)) || sum.Committed[c.src.Name()][int32(p)] != int64(len(msgs)) {
				t.Errorf("source %s partition %d: committed %d (summary %d), want %d", c.src.Name(), p, got[int32(p)],
					sum.Committed[c.src.Name()][int32(p)], len(msgs))
			}
		}
	}
}

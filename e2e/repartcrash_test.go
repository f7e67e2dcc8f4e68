package e2e

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/internal/kafkatest"
)

// crashPoint is a place in a bounded repartitioned run where the first
// process of the group to reach it is killed: its connections are cut, as
// by kill -9 (nothing drains, nothing commits, no leave request). A process
// reaches it when one of its Kafka clients
// (the one named client) produces the after-th record that match accepts
// (match may keep what it saw in the process's hook), counted when the
// record is buffered (before it is sent: it never leaves) or, with acked,
// once the cluster acknowledged it.
type crashPoint struct {
	client string // "repartition" (stage 1's Shuffle, and the done markers) or "sink"
	match  func(r *kgo.Record, seen *crashHook) bool
	acked  bool
	after  int

	mu    sync.Mutex
	fired bool
	hit   chan int // the index of the process that reached the point
}

// opts returns the client options of process i of a test whose
// connections net carries: every client dials through net, and the client
// the point watches has its hook.
func (c *crashPoint) opts(i int, net *kafkatest.Cutter) func(client string) []kgo.Opt {
	h := &crashHook{point: c, proc: i, net: net, fresh: map[*kgo.Record]bool{}, ended: map[int32][]byte{}}
	return func(client string) []kgo.Opt {
		opts := []kgo.Opt{kgo.Dialer(net.Dial)}
		if strings.HasPrefix(client, c.client+":") {
			opts = append(opts, kgo.WithHooks(h))
		}
		return opts
	}
}

// crashHook is one process's watch of a crashPoint.
type crashHook struct {
	point *crashPoint
	proc  int
	net   *kafkatest.Cutter

	mu    sync.Mutex
	n     int
	fresh map[*kgo.Record]bool // buffered records that matched, until acknowledged
	ended map[int32][]byte     // per source partition, the first report saying it ended
}

// OnProduceRecordBuffered implements kgo.HookProduceRecordBuffered.
func (h *crashHook) OnProduceRecordBuffered(r *kgo.Record) {
	h.mu.Lock()
	matched := h.point.match(r, h)
	if h.point.acked && matched {
		h.fresh[r] = true
	}
	h.mu.Unlock()
	if !h.point.acked && matched {
		h.count()
	}
}

// OnProduceRecordUnbuffered implements kgo.HookProduceRecordUnbuffered.
func (h *crashHook) OnProduceRecordUnbuffered(r *kgo.Record, err error) {
	h.mu.Lock()
	matched := h.fresh[r]
	delete(h.fresh, r)
	h.mu.Unlock()
	if matched && err == nil {
		h.count()
	}
}

// count counts a matching record and fires the point at the after-th.
func (h *crashHook) count() {
	c := h.point
	h.mu.Lock()
	h.n++
	reached := h.n == c.after
	h.mu.Unlock()
	if !reached {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fired {
		return
	}
	c.fired = true
	h.net.Kill() // before the record is sent, when it is counted buffered
	c.hit <- h.proc
}

// controlKind returns the kind of a repartition topic's control record
// (kafka's repartition.go: 'p' a progress report, 'd' a done marker) and
// its value, or 0.
func controlKind(r *kgo.Record) (byte, []byte) {
	for _, h := range r.Headers {
		if h.Key == "sluice.control" && len(h.Value) > 0 {
			return h.Value[0], h.Value[1:]
		}
	}
	return 0, nil
}

// endReport matches a stage-1 progress report that is the process's first
// to say that a source partition ended (committed up to the end of the
// run): its end marker of that source partition, written to every
// repartition partition (the same report). A report is a count, then per
// source partition its number, watermark and committed offset (varints)
// and a flag byte (2: ended).
func endReport(r *kgo.Record, seen *crashHook) bool {
	kind, b := controlKind(r)
	if kind != 'p' {
		return false
	}
	value := b
	count, n := binary.Uvarint(b)
	if n <= 0 {
		return false
	}
	b = b[n:]
	first := false
	for range count {
		var v [3]int64
		for i := range v {
			if v[i], n = binary.Varint(b); n <= 0 {
				return false
			}
			b = b[n:]
		}
		if len(b) == 0 {
			return false
		}
		if b[0]&2 != 0 {
			p := int32(v[0])
			if seen.ended[p] == nil {
				seen.ended[p] = value
			}
			first = first || bytes.Equal(seen.ended[p], value)
		}
		b = b[1:]
	}
	return first
}

// doneMarker matches a stage-2 done marker: the process finished a
// repartition partition of the run.
func doneMarker(r *kgo.Record, _ *crashHook) bool {
	kind, _ := controlKind(r)
	return kind == 'd'
}

// windowAt returns a match of the sink's rows of the window starting at w
// (per_symbol's JSON "w").
func windowAt(w string) func(*kgo.Record, *crashHook) bool {
	return func(r *kgo.Record, _ *crashHook) bool {
		var row struct {
			W json.RawMessage `json:"w"`
		}
		return json.Unmarshal(r.Value, &row) == nil && string(row.W) == w
	}
}

// lastWindow returns the start of the last window of per_symbol rows, as
// JSON, and how many rows it has. Its windows fire only at the end of a
// bounded run: no watermark passes them.
func lastWindow(t *testing.T, rows []string) (string, int) {
	t.Helper()
	last, n := "", 0
	for _, line := range rows {
		var row struct {
			W json.RawMessage `json:"w"`
		}
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		switch w := string(row.W); {
		case w > last:
			last, n = w, 1
		case w == last:
			n++
		}
	}
	return last, n
}

// TestRepartitionedEndSurvivesCrash runs the unaligned windowed GROUP BY to
// the end of its source (--until-end) in three processes of one group and
// kills the first process to reach a point of the run's end: stage 1 has
// committed the last offsets of a source partition but not yet written
// that it ended (its end marker), or has written it to some repartition
// partitions only; stage 2 is writing the last windows, which no watermark
// fires, before it commits them; stage 2 has written the done marker of
// some of its partitions before committing them. The killed process is
// restarted. Whoever takes a source partition committed at its end says
// it ended again, whoever takes a repartition partition resumes it from
// its commit, and a fourth process joining while the run ends gets its
// share: every process ends, the windows are one process's (some written
// twice after the kill: at-least-once, none partial) and each last window
// is written exactly once across the group.
func TestRepartitionedEndSurvivesCrash(t *testing.T) {
	t.Parallel()
	trades := genTrades(t, 3000, 40)
	want := singleProcess(t, trades)
	last, lastRows := lastWindow(t, want)
	for _, tt := range []struct {
		name  string
		point *crashPoint
		join  bool // a fourth process joins when the point is reached (after the restart)
		// once: no last window can have been written by the killed
		// process before the kill, so each is written once; after some
		// end markers a partition may have ended and the killed process
		// written its last windows, which its restart writes again
		// (at-least-once)
		once bool
	}{
		{"committed-before-end-markers", &crashPoint{client: "repartition", match: endReport, after: 1}, false, true},
		{"some-end-markers", &crashPoint{client: "repartition", match: endReport, acked: true, after: 3}, true, false},
		{"last-windows-uncommitted", &crashPoint{client: "sink", match: windowAt(last), after: 1}, false, true},
		{"some-done-markers", &crashPoint{client: "repartition", match: doneMarker, acked: true, after: 1}, false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			brokers := startCluster(t, "trades", "windows")
			produce(t, brokers, "trades", keyBy(trades, byTrader))
			ctx, cancel := testContext(t)
			defer cancel()
			// each process is a static member: a restart takes the
			// killed one's place (and its partitions) at once
			text := func(id int) string {
				return strings.Replace(fmt.Sprintf(perSymbolWindow, kafkaTrades(brokers, "group.id", "g", "session.timeout.ms", "6000",
					"group.instance.id", fmt.Sprint("p", id)), "-"),
					"'per_symbol.type'='file_sink', 'per_symbol.path'='-', 'commit.interval'",
					fmt.Sprintf("'per_symbol.type'='kafka_sink', 'per_symbol.topic.name'='windows', 'per_symbol.bootstrap.servers'='%s', "+
						"'repartition.partitions'='8', 'commit.interval'", brokers), 1)
			}
			cp := tt.point
			cp.hit = make(chan int, 1)
			var procs []*stage
			for i := range 3 {
				procs = append(procs, prepareStage(t, ctx, text(i), cp.opts(i, &kafkatest.Cutter{})))
			}
			for _, p := range procs {
				p.start()
			}
			ended := make(chan struct{})
			go func(procs []*stage) {
				for _, p := range procs {
					<-p.done
				}
				close(ended)
			}(slices.Clone(procs))
			select {
			case i := <-cp.hit:
				// the killed process stops at once: its drain and its
				// goodbyes (all cut) are not waited for
				procs[i].cancel()
				procs[i] = startStage(t, ctx, text(i))
			case <-ended:
				t.Fatal("the group ended without reaching the crash point: the test checks nothing")
			}
			if tt.join {
				procs = append(procs, startStage(t, ctx, text(3)))
			}
			for i, p := range procs {
				p.wait(t, ctx, fmt.Sprint(i))
			}
			var lines []string
			n := 0
			for _, r := range readTopic(t, brokers, "windows") {
				lines = append(lines, string(r.Value))
				if windowAt(last)(r, nil) {
					n++
				}
			}
			sameLines(t, "windows", windowLines(t, lines), want)
			if tt.once && n != lastRows {
				t.Errorf("%d rows of the last window %s written, want each of its %d once", n, last, lastRows)
			}
		})
	}
}

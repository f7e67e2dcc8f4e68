package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/internal/kafkatest"
)

// TestRepartitionedWindowsSurviveKillAfterPause runs the unaligned windowed
// GROUP BY unbounded in three processes over input produced in two halves
// with a pause between, long enough for every source partition to be
// reported idle (stage 2's watermark then moves to the highest event time
// and the first half's windows fire). Once the second half's windows fire
// (the watermark passed the one the commits of the pause record), one
// process is killed (as by kill -9) and two more start. Whoever replays a
// partition starts with what the run before knew of every source partition
// at its committed offset (which were idle), so it judges every record as
// that run did: no window is written twice with different rows, the first
// half's windows are one process's, and no later window counts a record
// one process does not.
func TestRepartitionedWindowsSurviveKillAfterPause(t *testing.T) {
	t.Parallel()
	brokers := startCluster(t, "trades", "windows")
	trades := genTrades(t, 12000, 40)
	msgs := keyBy(trades, byTrader)
	want := singleProcessOf(t, perSymbolWindow, trades)
	highest := func(trs []trade) time.Time {
		var h time.Time
		for _, tr := range trs {
			var f struct {
				At time.Time `json:"trade_time"`
			}
			if err := json.Unmarshal(tr.line, &f); err != nil {
				t.Fatal(err)
			}
			if f.At.After(h) {
				h = f.At
			}
		}
		return h
	}
	firstEnd, end := highest(trades[:6000]), highest(trades)
	type window struct {
		Symbol string    `json:"symbol"`
		W      time.Time `json:"w"`
		N      int64     `json:"n"`
	}
	parse := func(line string) window {
		var w window
		if err := json.Unmarshal([]byte(line), &w); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		return w
	}
	oneRun := map[string]window{}
	for _, line := range want {
		w := parse(line)
		oneRun[w.Symbol+"@"+w.W.String()] = w
	}

	ctx, cancel := testContext(t)
	defer cancel()
	text := strings.Replace(fmt.Sprintf(perSymbolWindow, kafkaTrades(brokers, "group.id", "g", "session.timeout.ms", "6000"), "-"),
		"'per_symbol.type'='file_sink', 'per_symbol.path'='-'",
		fmt.Sprintf("'per_symbol.type'='kafka_sink', 'per_symbol.topic.name'='windows', 'per_symbol.bootstrap.servers'='%s', 'watermark.idle_timeout'='3s'", brokers), 1)
	victim := &kafkatest.Cutter{}
	produce(t, brokers, "trades", msgs[:6000])
	procs := []*stage{
		runUnbounded(t, ctx, strings.Replace(text, "'commit.interval'", "'drain.timeout'='1s', 'commit.interval'", 1), victim),
		runUnbounded(t, ctx, text, &kafkatest.Cutter{}), runUnbounded(t, ctx, text, &kafkatest.Cutter{})}
	defer func() {
		for _, p := range procs {
			p.cancel()
		}
		for i, p := range procs {
			ended(t, p.done, fmt.Sprint("process ", i))
		}
	}()
	written := func(after time.Time) int {
		n := 0
		for _, r := range readTopic(t, brokers, "windows") {
			if w := parse(string(r.Value)); !w.W.Before(after) {
				n++
			}
		}
		return n
	}
	// the pause: every source partition idle, the first half's windows out
	waitWithin(t, hangAfter(ctx), "the first half's windows", func() bool {
		return written(firstEnd.Add(-300*time.Millisecond)) > 0
	})
	produce(t, brokers, "trades", msgs[6000:])
	waitWithin(t, hangAfter(ctx), "windows of the second half", func() bool { return written(firstEnd.Add(200*time.Millisecond)) > 0 })
	victim.Kill()
	procs = append(procs, runUnbounded(t, ctx, text, &kafkatest.Cutter{}), runUnbounded(t, ctx, text, &kafkatest.Cutter{}))
	// the second pause: every window before the last fires
	waitWithin(t, hangAfter(ctx), "the last windows", func() bool {
		return written(end.Add(-300*time.Millisecond)) > 0
	})

	var lines []string
	for _, r := range readTopic(t, brokers, "windows") {
		lines = append(lines, string(r.Value))
	}
	for _, line := range windowLines(t, lines) { // fails on two rows of one window
		w := parse(line)
		one, ok := oneRun[w.Symbol+"@"+w.W.String()]
		switch {
		case !ok:
			t.Errorf("window %s not written by one process", line)
		case w.N > one.N:
			t.Errorf("window %s counts %d, one process %d", line, w.N, one.N)
		case w.W.Add(100*time.Millisecond).Before(firstEnd) && w.N != one.N:
			t.Errorf("window %s of the first half counts %d, one process %d", line, w.N, one.N)
		}
	}
}

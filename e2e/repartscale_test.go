package e2e

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/internal/kafkatest"
	"github.com/sluicesql/sluice/runner"
)

// repartRead is a kgo hook counting the data records a process read from a
// repartition topic; slow makes it read them slowly (a run that lasts).
type repartRead struct {
	slow bool
	n    atomic.Int64
}

// OnFetchRecordUnbuffered implements kgo.HookFetchRecordUnbuffered.
func (h *repartRead) OnFetchRecordUnbuffered(r *kgo.Record, polled bool) {
	if !polled || !strings.HasSuffix(r.Topic, "-repartition") {
		return
	}
	for _, hd := range r.Headers {
		if hd.Key == "sluice.origin" {
			h.n.Add(1)
			if h.slow {
				time.Sleep(200 * time.Microsecond)
			}
		}
	}
}

// TestRepartitionedFourthJoins scales a group up mid-run without any
// process stopping: three processes run an unaligned windowed GROUP BY (a
// topic of 8 partitions keyed by trader_id, grouped by symbol) or an
// unaligned stream-stream join (8 and 5 partitions keyed by other
// columns), and a fourth joins once the group has committed. The
// rebalance takes repartition partitions, with their open windows or join
// state, from running processes; the fourth replays them from their
// committed offsets and reads records there, and the group writes exactly
// the rows one process writes.
func TestRepartitionedFourthJoins(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"windows", "join"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var brokers, text, topic string
			var want []string
			var rows func([]string) []string
			if name == "windows" {
				brokers = startCluster(t, "trades", "results")
				trades := genTrades(t, 12000, 40)
				produce(t, brokers, "trades", keyBy(trades, byTrader))
				want = singleProcess(t, trades)
				text = strings.Replace(fmt.Sprintf(perSymbolWindow, kafkaTrades(brokers, "group.id", "g", "session.timeout.ms", "6000"), "-"),
					"'per_symbol.type'='file_sink', 'per_symbol.path'='-'",
					fmt.Sprintf("'per_symbol.type'='kafka_sink', 'per_symbol.topic.name'='results', 'per_symbol.bootstrap.servers'='%s'", brokers), 1)
				rows = func(lines []string) []string { return windowLines(t, lines) }
				topic = "g-per_symbol-repartition"
			} else {
				sc := paidOrdersN(6000, "JOIN")
				brokers = sc.start(t, "results")
				want = sc.oneProcess(t, brokers)
				text = sc.text(brokers, fmt.Sprintf("'out.type'='kafka_sink', 'out.topic.name'='results', 'out.bootstrap.servers'='%s'", brokers),
					"group.id", "g", "session.timeout.ms", "6000")
				rows = func(lines []string) []string { return sc.rows(t, lines) }
				topic = "g-out-repartition"
			}
			ctx, cancel := testContext(t)
			defer cancel()
			var procs []*stage
			for range 3 {
				procs = append(procs, startStageOn(t, ctx, text, &kafkatest.Cutter{}, kgo.WithHooks(&repartRead{slow: true})))
			}
			waitWithin(t, hangAfter(ctx), "the group commits on the repartition topic", func() bool {
				offs, err := groupOffsets(ctx, brokers, "g", topic)
				return err == nil && len(offs) > 0
			})
			fourth := &repartRead{}
			procs = append(procs, startStageOn(t, ctx, text, &kafkatest.Cutter{}, kgo.WithHooks(fourth)))
			for i, p := range procs {
				p.wait(t, ctx, fmt.Sprint(i))
			}
			if fourth.n.Load() == 0 {
				t.Error("the fourth process read no record of the repartition topic: it joined after the run")
			}
			var lines []string
			for _, r := range readTopic(t, brokers, "results") {
				lines = append(lines, string(r.Value))
			}
			sameLines(t, "rows of the group after a fourth process joined", rows(lines), want)
		})
	}
}

// TestRepartitionedBroadcastTableJoin: a windowed count per trader over a
// join of trades (keyed by symbol) with a traders table broadcast to every
// worker (the default for a table): the trades are repartitioned by trader,
// every process reads the whole table, and three processes write exactly
// the windows of one.
func TestRepartitionedBroadcastTableJoin(t *testing.T) {
	t.Parallel()
	sc := tradersWindows(t)
	sc.stmt = strings.Replace(sc.stmt, ", 'traders.broadcast'='false'", "", 1)
	brokers := sc.start(t, "results")
	want := sc.oneProcess(t, brokers)
	ctx, cancel := testContext(t)
	defer cancel()
	text := sc.text(brokers, fmt.Sprintf("'out.type'='kafka_sink', 'out.topic.name'='results', 'out.bootstrap.servers'='%s'", brokers),
		"group.id", "g", "session.timeout.ms", "6000")
	j := prepare(t, ctx, text, runner.Options{UntilEnd: true})
	j.Discard()
	if in := j.Plan.Inputs[1]; !in.Broadcast || j.Plan.Repartition == nil {
		t.Fatalf("table %s broadcast %v, repartition %+v: want a broadcast table and the trades repartitioned", in.Name, in.Broadcast, j.Plan.Repartition)
	}
	var procs []*stage
	for range 3 {
		procs = append(procs, startStageOn(t, ctx, text, &kafkatest.Cutter{}))
	}
	for i, p := range procs {
		p.wait(t, ctx, fmt.Sprint(i))
	}
	var lines []string
	for _, r := range readTopic(t, brokers, "results") {
		lines = append(lines, string(r.Value))
	}
	sameLines(t, "windows over a broadcast table join", sc.rows(t, lines), want)
}

package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/internal/kafkatest"
)

// TestRepartitionedExactlyOnce runs the unaligned windowed GROUP BY with
// 'processing.guarantee'='exactly_once' in three processes of one group
// writing to one Kafka topic; mid-run one is killed (its connections cut,
// as by kill -9: its open transaction stays open until Kafka times it out)
// and restarted, and a fourth joins. Every rebalance aborts the open
// transactions of stage 2, and whoever takes a partition replays it from
// its last committed transaction; stage 1's records sent again after the
// kill are dropped by their source offsets. Read read_committed, the topic
// holds exactly the windows one process writes, each once.
func TestRepartitionedExactlyOnce(t *testing.T) {
	t.Parallel()
	// static: each process is a static member, so the restart takes the
	// killed process's place at once and fences its open transaction
	for _, static := range []bool{false, true} {
		name := "dynamic"
		if static {
			name = "static"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			repartitionedExactlyOnce(t, static)
		})
	}
}

func repartitionedExactlyOnce(t *testing.T, static bool) {
	brokers := startCluster(t, "trades", "windows")
	trades := genTrades(t, 12000, 40)
	produce(t, brokers, "trades", keyBy(trades, byTrader))
	want := singleProcess(t, trades)
	ctx, cancel := testContext(t)
	defer cancel()
	text := func(process int, victim bool) string {
		src := []string{"group.id", "eos", "session.timeout.ms", "6000"}
		if static {
			src = append(src, "group.instance.id", fmt.Sprintf("p%d", process))
		}
		q := strings.Replace(fmt.Sprintf(perSymbolWindow, kafkaTrades(brokers, src...), "-"),
			"'per_symbol.type'='file_sink', 'per_symbol.path'='-'",
			fmt.Sprintf("'per_symbol.type'='kafka_sink', 'per_symbol.topic.name'='windows', 'per_symbol.bootstrap.servers'='%s', "+
				"'processing.guarantee'='exactly_once'", brokers), 1)
		// a longer interval leaves more output in the open transactions
		// that the kill and the rebalances abort (at-least-once writes it
		// again)
		q = strings.Replace(q, "'commit.interval'='50ms'", "'commit.interval'='300ms'", 1)
		if victim {
			// a killed process drains nothing: do not wait for it
			q = strings.Replace(q, "'commit.interval'", "'drain.timeout'='1s', 'commit.interval'", 1)
		}
		return q
	}
	procs := []*stage{startStageOn(t, ctx, text(0, true), &kafkatest.Cutter{}), startStageOn(t, ctx, text(1, false), &kafkatest.Cutter{}),
		startStageOn(t, ctx, text(2, false), &kafkatest.Cutter{})}
	// kill it once a good part of the output is written: some of it is in
	// the open transactions then
	// (a loaded machine under the race detector takes long to get there)
	waitWithin(t, hangAfter(ctx), "a quarter of the output is written", func() bool {
		n, err := kafkatest.TopicEnd(ctx, strings.Split(brokers, ","), "windows")
		return err == nil && n >= int64(len(want)/4)
	})
	procs[0].kill(t, "0")
	procs = append(procs[1:], startStageOn(t, ctx, text(0, false), &kafkatest.Cutter{}), startStageOn(t, ctx, text(3, false), &kafkatest.Cutter{}))
	for i, p := range procs {
		p.wait(t, ctx, fmt.Sprint(i+1))
	}
	var got []string
	for _, v := range readCommittedValues(t, brokers, "windows") {
		got = append(got, string(v))
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		counts := map[string]int{}
		for _, l := range got {
			counts[l]++
		}
		for _, l := range want {
			counts[l]--
		}
		for l, n := range counts {
			switch {
			case n > 0:
				t.Errorf("%d extra: %s", n, l)
			case n < 0:
				t.Errorf("missing: %s", l)
			}
		}
	}
	sameLines(t, "windows read committed", got, want)
}

// TestRepartitionedExactlyOnceDeadLetters: with records late for their
// windows dead-lettered to a Kafka topic, three exactly-once processes, one
// killed mid-run and a fourth joining (the rebalances abort the open
// transactions) write exactly one process's windows and each late record
// once to the dead-letter topic: stage 2's dead letters commit in its
// transaction.
func TestRepartitionedExactlyOnceDeadLetters(t *testing.T) {
	t.Parallel()
	q := strings.Replace(lateWindows, "'commit.interval'='%s'", "'commit.interval'='300ms'", 1)
	brokers := startCluster(t, "trades", "windows")
	trades, _ := disorderedTrades(t, 30000, 40, 300)
	produce(t, brokers, "trades", keyBy(trades, byTrader))
	// one process, reading the same Kafka partitions (the lateness of a
	// record depends on the records before it in its partition)
	want, sum := oneProcessReference(t, func(path string) string {
		return fmt.Sprintf(q, kafkaTrades(brokers), fmt.Sprintf("'per_symbol.type'='file_sink', 'per_symbol.path'='%s'", path), "drop", "")
	}, 20, true)
	ctx, cancel := testContext(t)
	defer cancel()
	text := fmt.Sprintf(q, kafkaTrades(brokers, "group.id", "eos-dead", "session.timeout.ms", "6000"),
		fmt.Sprintf("'per_symbol.type'='kafka_sink', 'per_symbol.topic.name'='windows', 'per_symbol.bootstrap.servers'='%s'", brokers),
		"dead_letter", ", 'dlq.topic'='dead', 'processing.guarantee'='exactly_once'")
	victimText := strings.Replace(text, "'commit.interval'", "'drain.timeout'='1s', 'commit.interval'", 1)
	procs := []*stage{startStageOn(t, ctx, victimText, &kafkatest.Cutter{}), startStageOn(t, ctx, text, &kafkatest.Cutter{}), startStageOn(t, ctx, text, &kafkatest.Cutter{})}
	waitWithin(t, hangAfter(ctx), "the group commits on the repartition topic", func() bool {
		offs, err := groupOffsets(ctx, brokers, "eos-dead", "eos-dead-per_symbol-repartition")
		return err == nil && len(offs) > 0
	})
	procs[0].kill(t, "0")
	procs = append(procs[1:], startStageOn(t, ctx, text, &kafkatest.Cutter{}))
	for i, p := range procs {
		p.wait(t, ctx, fmt.Sprint(i))
	}
	var got []string
	for _, v := range readCommittedValues(t, brokers, "windows") {
		got = append(got, string(v))
	}
	slices.Sort(got)
	sameLines(t, "windows read committed", got, want)
	dead := readCommittedValues(t, brokers, "dead")
	if len(dead) != int(sum.Total.Late) {
		t.Errorf("%d dead letters read committed, want the %d late records of one process", len(dead), sum.Total.Late)
	}
	// each late record once: a record's place in the source is its own
	seen := map[string][]string{}
	for _, v := range dead {
		var l connector.DeadLetterJSON
		if err := json.Unmarshal(v, &l); err != nil {
			t.Fatalf("dead letter %q: %v", v, err)
		}
		place := fmt.Sprintf("%s/%d/%d", l.Source, l.Partition, l.Offset)
		seen[place] = append(seen[place], fmt.Sprintf("%+v", l.Repartition))
	}
	twice := 0
	for place, via := range seen {
		if len(via) > 1 {
			if twice++; twice <= 10 {
				t.Errorf("record %s dead-lettered %d times (read in the repartition topic at %v)", place, len(via), via)
			}
		}
	}
}

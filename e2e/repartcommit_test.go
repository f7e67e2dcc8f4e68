package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/internal/kafkatest"
	"github.com/sluicesql/sluice/runner"
)

// polled is a kgo hook counting the records a process polled, and
// slowing its reading of the source (a few seconds for the test's trades),
// so that stage 1 has records left to read when its producer is cut.
type polled struct{ n atomic.Int64 }

// OnFetchRecordUnbuffered implements kgo.HookFetchRecordUnbuffered.
func (p *polled) OnFetchRecordUnbuffered(r *kgo.Record, ok bool) {
	if !ok {
		return
	}
	p.n.Add(1)
	if r.Topic == "trades" {
		time.Sleep(300 * time.Microsecond)
	}
}

// TestRepartitionedCommitsWaitForAcknowledgement: at-least-once across the
// two stages. One process runs the unaligned windowed GROUP BY alone; once
// its group has committed on both topics, the connections of one of its
// producers are cut while everything else of it (its group membership,
// its commits) goes on: the sink's (stage 2 must not commit the offsets of
// records whose windows the sink did not acknowledge) or the repartition
// topic's (stage 1 must not commit the source offsets of records the topic
// did not acknowledge). It reads on for a while, then is killed; two
// processes started afterwards write every window one process writes.
func TestRepartitionedCommitsWaitForAcknowledgement(t *testing.T) {
	t.Parallel()
	for _, cut := range []string{"sink:", "repartition:"} {
		t.Run(strings.TrimSuffix(cut, ":"), func(t *testing.T) {
			t.Parallel()
			brokers := startCluster(t, "trades", "windows")
			trades := genTrades(t, 12000, 40)
			produce(t, brokers, "trades", keyBy(trades, byTrader))
			want := singleProcess(t, trades)
			ctx, cancel := testContext(t)
			defer cancel()
			text := strings.Replace(fmt.Sprintf(perSymbolWindow, kafkaTrades(brokers, "group.id", "g", "session.timeout.ms", "6000"), "-"),
				"'per_symbol.type'='file_sink', 'per_symbol.path'='-'",
				fmt.Sprintf("'per_symbol.type'='kafka_sink', 'per_symbol.topic.name'='windows', 'per_symbol.bootstrap.servers'='%s'", brokers), 1)
			victimText := strings.Replace(text, "'commit.interval'", "'drain.timeout'='1s', 'commit.interval'", 1)

			producer, rest, reads := &kafkatest.Cutter{}, &kafkatest.Cutter{}, &polled{}
			victim := &stage{done: make(chan struct{}), net: rest}
			runCtx, stop := context.WithCancel(ctx)
			victim.cancel = stop
			j := prepare(t, runCtx, victimText, runner.Options{Partitions: 2, UntilEnd: true,
				KafkaOpts: func(_, client string) []kgo.Opt {
					if strings.HasPrefix(client, cut) {
						return []kgo.Opt{kgo.Dialer(producer.Dial)}
					}
					return []kgo.Opt{kgo.Dialer(rest.Dial), kgo.WithHooks(reads)}
				}})
			go func() {
				defer close(victim.done)
				victim.sum, victim.err = j.Run(runCtx)
			}()
			waitWithin(t, hangAfter(ctx), "the group commits on the source and the repartition topic", func() bool {
				src, err1 := groupOffsets(ctx, brokers, "g", "trades")
				rep, err2 := groupOffsets(ctx, brokers, "g", "g-per_symbol-repartition")
				return err1 == nil && err2 == nil && len(src) > 0 && len(rep) > 0
			})
			producer.Kill()
			// give the process time to read on (and, were it wrong, to
			// commit what its dead producer never delivered)
			from := reads.n.Load()
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && reads.n.Load() < from+5000; {
				select {
				case <-victim.done:
				case <-time.After(20 * time.Millisecond):
					continue
				}
				break
			}
			victim.kill(t, "0")

			procs := []*stage{startStageOn(t, ctx, text, &kafkatest.Cutter{}), startStageOn(t, ctx, text, &kafkatest.Cutter{})}
			for i, p := range procs {
				p.wait(t, ctx, fmt.Sprint(i))
			}
			var lines []string
			for _, r := range readTopic(t, brokers, "windows") {
				lines = append(lines, string(r.Value))
			}
			sameLines(t, "windows after the "+strings.TrimSuffix(cut, ":")+" producer was cut", windowLines(t, lines), want)
		})
	}
}

package e2e

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/runner"
)

// TestRestartJudgesLateAsOneRun: a record dropped by WHERE before the
// committed offset raised its partition's watermark, and made a record
// after it late; a job stopped with its commit behind its read offset (a
// window still open) and restarted from its checkpoint judges that record
// late too, and writes exactly what one uninterrupted run writes:
// exactly-once (the transactional source's checkpoint) and as an aligned
// member at least once (the checkpoint its readers report).
func TestRestartJudgesLateAsOneRun(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ guarantee, props string }{
		{"exactly_once", ""},
		{"at_least_once", "'trades.partition.key'='trader_id', "},
	} {
		t.Run(tc.guarantee, func(t *testing.T) {
			t.Parallel()
			// one partition: 10s (dropped by WHERE), 6s (its window open
			// at the stop), 1.5s (late by 10s with 5s of allowed lateness)
			got, want := stopAndRestart(t, stopCluster(t), tc.guarantee, func(string) string { return tc.props },
				[]kafka.Message{lateTrade(0, 10*time.Second), lateTrade(5, 6*time.Second), lateTrade(7, 1500*time.Millisecond)})
			if len(want) != 1 {
				t.Fatalf("one run wrote %q, want the window at 6s alone (the record at 1.5s is late)", want)
			}
			if !slices.Equal(got, want) {
				t.Errorf("stopped and restarted, the job wrote %q; one run wrote %q", got, want)
			}
		})
	}
}

// TestStoppedExactlyOnceKeepsItsOpenWindow: an exactly-once job stopped
// while a window is open commits its last transaction's offsets as it
// closes, not those of the records it read: the restart reads the
// window's record again and writes the window.
func TestStoppedExactlyOnceKeepsItsOpenWindow(t *testing.T) {
	t.Parallel()
	got, want := stopAndRestart(t, stopCluster(t), "exactly_once", noProps, []kafka.Message{lateTrade(0, 10*time.Second), lateTrade(5, 11*time.Second), lateTrade(7, 12*time.Second)})
	if len(want) != 2 {
		t.Fatalf("one run wrote %q, want the windows at 11s and 12s", want)
	}
	if !slices.Equal(got, want) {
		t.Errorf("stopped and restarted, the job wrote %q; one run wrote %q", got, want)
	}
}

// TestStoppedExactlyOnceDeadLettersOnce: a record that fails to decode,
// read before the commit of a job stopped exactly once and read again on
// its restart, is in the dead-letter topic once, as one run puts it: its
// dead letter committed with the transaction that read past it.
func TestStoppedExactlyOnceDeadLettersOnce(t *testing.T) {
	t.Parallel()
	brokers := stopCluster(t)
	bad := kafka.Message{Key: []byte("1"), Value: []byte("not json")}
	got, want := stopAndRestart(t, brokers, "exactly_once", func(group string) string { return "'dlq.topic'='dead-" + group + "', " },
		[]kafka.Message{lateTrade(5, 6*time.Second), bad, lateTrade(7, 7*time.Second)})
	if !slices.Equal(got, want) {
		t.Errorf("stopped and restarted, the job wrote %q; one run wrote %q", got, want)
	}
	one, restarted := deadOffsets(t, brokers, "dead-one"), deadOffsets(t, brokers, "dead-g")
	if !slices.Equal(one, []string{"1"}) || !slices.Equal(restarted, one) {
		t.Errorf("dead letters at offsets %q stopped and restarted, %q in one run; want [1] in both", restarted, one)
	}
}

// TestRestartFromAnEarlierCheckpoint: a job upgraded from a version that
// stored its checkpoints as sluice1:<watermark>:<read offset> restarts
// from such a commit: it reads its read offset (a record that failed to
// decode before it is not dead-lettered again), writes what one run
// writes, and its own commits store the current format, sluice2:.
func TestRestartFromAnEarlierCheckpoint(t *testing.T) {
	t.Parallel()
	brokers := stopCluster(t)
	bad := kafka.Message{Key: []byte("1"), Value: []byte("not json")}
	downgraded := 0
	got, want := stopAndRestartAfter(t, brokers, "exactly_once", func(group string) string { return "'dlq.topic'='dead-" + group + "', " },
		[]kafka.Message{lateTrade(5, 6*time.Second), bad, lateTrade(7, 7*time.Second)},
		func() { downgraded = downgradeCheckpoints(t, brokers, "g") })
	if downgraded == 0 {
		t.Fatal("the first run committed no sluice2: checkpoint to write as an earlier version would")
	}
	if !slices.Equal(got, want) {
		t.Errorf("restarted from an earlier version's checkpoint, the job wrote %q; one run wrote %q", got, want)
	}
	if one, restarted := deadOffsets(t, brokers, "dead-one"), deadOffsets(t, brokers, "dead-g"); !slices.Equal(restarted, one) {
		t.Errorf("dead letters at offsets %q restarted from an earlier version's checkpoint, %q in one run", restarted, one)
	}
	if len(currentCheckpoints(t, brokers, "g")) == 0 {
		t.Error("the restarted job's commits store no sluice2: checkpoint")
	}
}

// downgradeCheckpoints commits again the offsets of topic trades that
// group committed with a sluice2:<watermark>:<read>:<skip>:<max event>
// checkpoint, with the metadata an earlier version stored,
// sluice1:<watermark>:<read>, and returns how many there were.
func downgradeCheckpoints(t *testing.T, brokers, group string) int {
	t.Helper()
	offsets := kadm.Offsets{}
	for _, o := range currentCheckpoints(t, brokers, group) {
		f := strings.Split(o.Metadata, ":")
		o.Metadata = "sluice1:" + f[1] + ":" + f[2]
		offsets.Add(o)
	}
	if len(offsets) == 0 {
		return 0
	}
	withAdmin(t, brokers, func(ctx context.Context, adm *kadm.Client) error {
		resp, err := adm.CommitOffsets(ctx, group, offsets)
		if err == nil {
			err = resp.Error()
		}
		return err
	})
	return len(offsets["trades"])
}

// currentCheckpoints returns the offsets of topic trades that group
// committed with a checkpoint in the current format (sluice2:, five
// fields).
func currentCheckpoints(t *testing.T, brokers, group string) []kadm.Offset {
	t.Helper()
	var out []kadm.Offset
	withAdmin(t, brokers, func(ctx context.Context, adm *kadm.Client) error {
		resp, err := adm.FetchOffsets(ctx, group)
		if err == nil {
			err = resp.Error()
		}
		for _, o := range resp["trades"] {
			if strings.HasPrefix(o.Metadata, "sluice2:") && len(strings.Split(o.Metadata, ":")) == 5 {
				out = append(out, o.Offset)
			}
		}
		return err
	})
	return out
}

// withAdmin calls do with an admin client of the cluster, failing t on
// its error.
func withAdmin(t *testing.T, brokers string, do func(context.Context, *kadm.Client) error) {
	t.Helper()
	ctx, cancel := testContext(t)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := do(ctx, kadm.NewClient(cl)); err != nil {
		t.Fatal(err)
	}
}

// deadOffsets returns the source offsets of the dead letters in topic,
// read read_committed.
func deadOffsets(t *testing.T, brokers, topic string) []string {
	t.Helper()
	var out []string
	for _, r := range readCommittedRecords(t, brokers, topic) {
		for _, h := range r.Headers {
			if h.Key == kafka.HeaderDLQOffset {
				out = append(out, string(h.Value))
			}
		}
	}
	slices.Sort(out)
	return out
}

// lateTrade is a trade of trader 1 (one partition) of quantity qty at
// event time at after an epoch.
func lateTrade(qty int, at time.Duration) kafka.Message {
	ts := time.Date(2024, 1, 15, 0, 0, 0, 0, time.UTC).Add(at).Format("2006-01-02T15:04:05.000Z")
	return kafka.Message{Key: []byte("1"), Value: fmt.Appendf(nil,
		`{"trader_id":1,"symbol":"S","price":1.5,"quantity":%d,"trade_time":"%s"}`, qty, ts)}
}

// stopCluster starts a cluster with the topics of stopAndRestart.
func stopCluster(t *testing.T) string {
	return startCluster(t, "trades", "one", "restarted", "dead-one", "dead-g")
}

// noProps adds no properties.
func noProps(string) string { return "" }

// stopAndRestart runs a windowed count of the trades with quantity > 0
// (5s of allowed lateness) over msgs under guarantee, with the extra
// properties props gives for its group ("one" for the one run, "g" for
// the other), on a cluster from stopCluster, twice: once to the end, and
// once stopped once it has
// committed a checkpoint of every record read (the topic's other
// partitions, empty, hold the watermark back: no window fires before),
// then restarted to the end. It returns what the stopped and restarted
// job wrote and what the one run wrote, read read_committed and sorted.
func stopAndRestart(t *testing.T, brokers, guarantee string, props func(group string) string, msgs []kafka.Message) (got, want []string) {
	t.Helper()
	return stopAndRestartAfter(t, brokers, guarantee, props, msgs, nil)
}

// stopAndRestartAfter is stopAndRestart, calling between (if not nil)
// after the stop and before the restart.
func stopAndRestartAfter(t *testing.T, brokers, guarantee string, props func(group string) string, msgs []kafka.Message, between func()) (got, want []string) {
	t.Helper()
	produce(t, brokers, "trades", msgs)
	stmt := func(group, out string) string {
		return fmt.Sprintf("CREATE STREAM %s AS SELECT trader_id, _WINDOW_START AS w, COUNT(*) AS n FROM trades WHERE quantity > 0 "+
			"GROUP BY trader_id WINDOW TUMBLING(trade_time, INTERVAL '1' SECOND) EMIT FINAL WITH (%s, %s"+
			"'%s.type'='kafka_sink', '%s.bootstrap.servers'='%s', 'commit.interval'='20ms', 'processing.guarantee'='%s', "+
			"'window.allowed_lateness'='5s', 'watermark.max_out_of_orderness'='0ms')",
			out, kafkaTrades(brokers, "group.id", group), props(group), out, out, brokers, guarantee)
	}
	runToEnd(t, stmt("one", "one"))
	want = committedStrings(t, brokers, "one")

	ctx, cancel := testContext(t)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	first := prepare(t, runCtx, stmt("g", "restarted"), runner.Options{Partitions: 2})
	ran := make(chan error, 1)
	go func() {
		_, err := first.Run(runCtx)
		ran <- err
	}()
	read := strconv.Itoa(len(msgs))
	waitFor(t, "the first run commits a checkpoint of every record read", func() bool {
		return readOffset(ctx, brokers, "g") == read
	})
	stop()
	if err := <-ran; err != nil {
		t.Fatalf("first run: %v", err)
	}
	if between != nil {
		between()
	}
	runToEnd(t, stmt("g", "restarted"))
	return committedStrings(t, brokers, "restarted"), want
}

// committedStrings returns the values of topic read read_committed, sorted.
func committedStrings(t *testing.T, brokers, topic string) []string {
	t.Helper()
	var out []string
	for _, v := range readCommittedValues(t, brokers, topic) {
		out = append(out, string(v))
	}
	slices.Sort(out)
	return out
}

// readOffset returns the read offset of the checkpoint group committed with
// a partition of topic trades that has one ("" when none has).
func readOffset(ctx context.Context, brokers, group string) string {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(brokers, ",")...))
	if err != nil {
		return ""
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err != nil {
		return ""
	}
	for _, o := range resp["trades"] {
		// sluice1:<watermark>:<read> or sluice2:<watermark>:<read>:...
		if f := strings.Split(o.Metadata, ":"); o.Err == nil && len(f) >= 3 && strings.HasPrefix(f[0], "sluice") {
			return f[2]
		}
	}
	return ""
}

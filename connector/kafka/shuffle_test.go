package kafka

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/internal/kafkatest"
	"github.com/sluicesql/sluice/record"
)

// TestShuffleEventTimeStamps: a Shuffle writes each row with its event time
// as the record timestamp, however old (the producer's delivery timeout
// does not count from it), unless Kafka would refuse it (far ahead of the
// clock), and the source timestamp's difference in its origin header; when the cluster stops answering, a Flush fails once
// nothing was acknowledged for the delivery timeout instead of waiting
// for ever.
func TestShuffleEventTimeStamps(t *testing.T) {
	c := kafkatest.Cluster(t, kfake.NumBrokers(2), kfake.SeedTopics(2, "trades", "r"))
	shortDeliveryTimeout(t)
	src, err := NewSource("trades", sourceProps(c.ListenAddrs()))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := src.CheckFacts(ctx, nil); err != nil { // the partition count, as the planner finds it
		t.Fatal(err)
	}
	s := NewShuffle([]*Source{src}, ShuffleConfig{Topic: "r", Partitions: 2, IdleTimeout: time.Minute,
		EventTime: func(r *record.Record) (int64, bool) { return r.EventTime, r.HasEventTime }})
	if err := s.Open(ctx, record.NewSchema("k"), nil); err != nil {
		t.Fatal(err)
	}
	defer s.Abort()
	const eventTime = 1_500_000_000_000 // 2017: far beyond any delivery timeout
	now := time.Now().UnixMilli()
	rows := []record.Record{
		{Values: []record.Value{record.StringValue("a")}, Timestamp: now, EventTime: eventTime, HasEventTime: true},
		{Values: []record.Value{record.StringValue("b")}, Timestamp: now, Offset: 1},
		// ahead of the clock by more than Kafka 4.0 accepts: the source's
		{Values: []record.Value{record.StringValue("c")}, Timestamp: now, Offset: 2, EventTime: now + 2*3600_000, HasEventTime: true},
	}
	if err := s.Write(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("flush of a row with an old event time: %v", err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("r"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	seen := map[string]bool{}
	for len(seen) < len(rows) && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(kr *kgo.Record) {
			v, ok := header(kr, originHeader)
			if !ok {
				return // a progress report
			}
			o, err := parseOrigin(v)
			if err != nil {
				t.Fatal(err)
			}
			want := int64(now)
			if string(kr.Key) == `a` {
				want = eventTime
			}
			if ts := kr.Timestamp.UnixMilli(); ts != want || ts+o.shift != now {
				t.Errorf("record %s: timestamp %d, shift %d; want %d, its source timestamp %d", kr.Key, ts, o.shift, want, now)
			}
			seen[string(kr.Key)] = true
		})
	}
	if len(seen) < len(rows) {
		t.Fatalf("read back %v", seen)
	}

	c.Close()
	if err := s.Write(ctx, rows[:1]); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(ctx); err == nil || ctx.Err() != nil {
		t.Errorf("flush with the cluster gone: %v (context: %v), want the delivery timeout's error", err, ctx.Err())
	}
}

// TestShuffleNoIdleTimeout: without an idle timeout no source partition is
// reported idle, however long it goes without records (reporting every
// partition idle at once let stage 2's watermark run ahead of the slowest
// partition, and its records came late).
func TestShuffleNoIdleTimeout(t *testing.T) {
	s := NewShuffle(nil, ShuffleConfig{})
	t0 := time.UnixMilli(1_700_000_000_000)
	s.progressLocked([]ownedParts{{parts: []int32{0}}}, t0)
	if ps := s.progressLocked([]ownedParts{{parts: []int32{0}}}, t0.Add(time.Hour)); len(ps) != 1 || ps[0].flags&progressIdle != 0 {
		t.Errorf("progress %+v, want partition 0 not idle", ps)
	}
}

// TestShuffleFlushNotBehindABlockedReport: a Flush (stage 1's drain, before
// its last commit) to a cluster that no longer answers, with the producer's
// buffer full, ends with its context although a periodic report holds the
// order of the producing while it waits for room in the buffer. Before, the
// Flush waited for that report, whose wait only an Abort (after the drain)
// or the stall watch (the 2-minute delivery timeout, then again for each
// record of the report) ended: a process stopped as its periodic report
// took the lock did not end within minutes (TestStopWhileMarkingDoneIsBounded).
func TestShuffleFlushNotBehindABlockedReport(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var net kafkatest.Cutter
	st := openOffsetShuffle(ctx, t, 50, "blocked-report", kgo.Dialer(net.Dial), kgo.MaxBufferedRecords(1))
	net.Kill()
	// a periodic report fills the buffer with its first record and waits
	// for room for the next
	time.Sleep(5 * progressInterval)
	drain, stop := context.WithTimeout(ctx, time.Second)
	defer stop()
	flushed := make(chan error, 1)
	go func() { flushed <- st.sh.Flush(drain) }()
	select {
	case err := <-flushed:
		if err == nil || !strings.Contains(err.Error(), `"rp"`) {
			t.Fatalf("flush to a cluster gone: %v, want an error naming the topic", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the flush did not end with its context: it waits behind the periodic report")
	}
}

// TestShuffleFinishWithDeadBrokers: a Finish (a bounded run's end) whose
// brokers no longer answer ends with its context (the job's drain
// timeout), not after Kafka's delivery timeout (2 minutes), with an error
// naming the topic, the brokers and the context's cause.
func TestShuffleFinishWithDeadBrokers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var net kafkatest.Cutter
	st := openOffsetShuffle(ctx, t, 50, "finish-dead", kgo.Dialer(net.Dial))
	rows, _ := rowsRead(st.read.records())
	if err := st.sh.Write(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if err := st.sh.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	net.Kill()
	drain, stop := context.WithTimeoutCause(ctx, time.Second, errors.New("the drain timeout passed"))
	defer stop()
	start := time.Now()
	err := st.sh.Finish(drain)
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("finish took %s", took)
	}
	if err == nil {
		t.Fatal("finish with the brokers gone succeeded")
	}
	t.Logf("finish: %v", err)
	for _, want := range []string{`"rp"`, st.brokers[0], "the drain timeout passed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("finish: %v, want it to say %s", err, want)
		}
	}
}

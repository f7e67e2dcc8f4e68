package kafka

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/record"
)

// TestShuffleReportsRevokedPartitionsLast pins the order of a handover in
// stage 1: the rows of a source partition the group takes away that the
// job writes and commits during the handover (read before the rebalance,
// still in the pipeline when it began) are followed, in every partition
// of the repartition topic, by a progress report of that source partition
// covering them (its watermark past their event times, its committed
// offset past them). Its last report came before them, and stage 2's
// watermark stayed behind their event times until the new owner, reading
// nothing more in a lull, reported the partition idle: windows fired up to
// 'watermark.idle_timeout' late (here an hour: the test would time out).
func TestShuffleReportsRevokedPartitionsLast(t *testing.T) {
	brokers := startCluster(t, "trades", "rp")
	const n = 400
	produce(t, brokers, "trades", trades(n, 40))
	const g = "lull"
	a, err := NewSource("trades", sourceProps(brokers, "group.id", g, "session.timeout.ms", "6000"))
	if err != nil {
		t.Fatal(err)
	}
	a.UseEagerRebalancing()
	// a row's event time is its source offset: a source partition's
	// watermark is the offset of its last row written
	sh := NewShuffle([]*Source{a}, ShuffleConfig{Topic: "rp", Partitions: testPartitions, IdleTimeout: time.Hour,
		EventTime: func(r *record.Record) (int64, bool) { return r.Offset, true }})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sh.Open(ctx, tradeSchema(), nil); err != nil {
		t.Fatal(err)
	}
	defer sh.Abort()
	ca := openCollected(t, a) // reads, and keeps, what a reads: the pipeline
	waitFor(t, "the first member reads every record", func() bool { return len(ca.records()) == n })

	b, err := NewSource("trades", sourceProps(brokers, "group.id", g, "session.timeout.ms", "6000"))
	if err != nil {
		t.Fatal(err)
	}
	b.UseEagerRebalancing()
	openCollected(t, b)
	waitFor(t, "the rebalance takes the partitions away", func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return len(a.revoking) > 0
	})
	// the job writes what it read during the handover, and commits it
	// once acknowledged
	read := ca.records()
	rows := make([]record.Record, len(read))
	next := map[int32]int64{}
	last := map[int32]int64{}
	for i, r := range read {
		rows[i] = record.Record{Values: r.values, Partition: r.part, Offset: r.offset, Timestamp: r.ts}
		next[r.part] = max(next[r.part], r.offset+1)
		last[r.part] = max(last[r.part], r.offset)
	}
	if err := sh.Write(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if err := sh.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Commit(ctx, next); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the second member holds partitions", func() bool { return ownedCount(b) > 0 })

	// every repartition partition: after the last row of each source
	// partition, a report of it that covers the row
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("rp"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	type place struct{ q, p int32 }
	lastRow := map[place]int64{} // the repartition offset of a source partition's last row there
	covered := map[place]int64{} // the repartition offset of a report covering it
	rowsRead := 0
	missing := func() []string {
		var out []string
		for at, off := range lastRow {
			if c, ok := covered[at]; !ok || c < off {
				out = append(out, fmt.Sprintf("source partition %d in repartition partition %d", at.p, at.q))
			}
		}
		slices.Sort(out)
		return out
	}
	for rowsRead < n || len(missing()) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%d of %d rows read back; no report after the last rows of %s", rowsRead, n, strings.Join(missing(), ", "))
		}
		fs.EachRecord(func(kr *kgo.Record) {
			if v, ok := header(kr, originHeader); ok {
				o, err := parseOrigin(v)
				if err != nil {
					t.Fatal(err)
				}
				rowsRead++
				lastRow[place{kr.Partition, o.partition}] = kr.Offset
				return
			}
			v, _ := header(kr, controlHeader)
			ps, _, err := parseControl(v, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range ps {
				if p.watermark >= last[p.partition] && p.committed >= next[p.partition] {
					covered[place{kr.Partition, p.partition}] = kr.Offset
				}
			}
		})
	}
	if len(a.Owned()) == len(next) {
		t.Error("no source partition moved to the second member: the test checks little")
	}
}

// TestShuffleCloseReportsLastRows pins the report of a clean stop: the
// rows a stopping job writes last (a burst just before its context was
// cancelled) are followed, in every partition of the repartition topic,
// by a report of their source partition whose watermark covers them, once
// the Shuffle closed, without waiting for the next periodic report (the
// sources then leave the group without a handover, and the other
// processes' stage 2 would have kept the watermark behind the burst until
// the idle timeout, an hour here).
func TestShuffleCloseReportsLastRows(t *testing.T) {
	brokers := startCluster(t, "trades", "rp")
	const n = 200
	produce(t, brokers, "trades", trades(n, 40))
	a, err := NewSource("trades", sourceProps(brokers, "group.id", "clean-stop", "session.timeout.ms", "6000"))
	if err != nil {
		t.Fatal(err)
	}
	a.UseEagerRebalancing()
	sh := NewShuffle([]*Source{a}, ShuffleConfig{Topic: "rp", Partitions: testPartitions, IdleTimeout: time.Hour,
		EventTime: func(r *record.Record) (int64, bool) { return r.Offset, true }})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sh.Open(ctx, tradeSchema(), nil); err != nil {
		t.Fatal(err)
	}
	defer sh.Abort()
	ca := openCollected(t, a)
	waitFor(t, "the member reads every record", func() bool { return len(ca.records()) == n })
	read := ca.records()
	rows := make([]record.Record, len(read))
	last := map[int32]int64{}
	for i, r := range read {
		rows[i] = record.Record{Values: r.values, Partition: r.part, Offset: r.offset, Timestamp: r.ts}
		last[r.part] = max(last[r.part], r.offset)
	}
	if err := sh.Write(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if err := sh.Close(); err != nil {
		t.Fatal(err)
	}
	// everything Close sent is acknowledged: read the topic to its end
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("rp"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	listed, err := kadm.NewClient(cl).ListEndOffsets(ctx, "rp")
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	ends, readTo := map[int32]int64{}, map[int32]int64{}
	listed.Each(func(o kadm.ListedOffset) { ends[o.Partition] = o.Offset })
	type place struct{ q, p int32 }
	lastRow := map[place]int64{}
	covered := map[place]int64{}
	atEnd := func() bool {
		for q, end := range ends {
			if got, ok := readTo[q]; end > 0 && (!ok || got < end-1) {
				return false
			}
		}
		return true
	}
	for !atEnd() {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %v of the repartition topic, whose ends are %v", readTo, ends)
		}
		fs.EachRecord(func(kr *kgo.Record) {
			readTo[kr.Partition] = kr.Offset
			if v, ok := header(kr, originHeader); ok {
				o, err := parseOrigin(v)
				if err != nil {
					t.Fatal(err)
				}
				lastRow[place{kr.Partition, o.partition}] = kr.Offset
				return
			}
			v, _ := header(kr, controlHeader)
			ps, _, err := parseControl(v, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range ps {
				if p.watermark >= last[p.partition] {
					covered[place{kr.Partition, p.partition}] = kr.Offset
				}
			}
		})
	}
	if len(lastRow) == 0 {
		t.Fatal("no row read back")
	}
	for at, off := range lastRow {
		if c, ok := covered[at]; !ok || c < off {
			t.Errorf("no report after the last row of source partition %d in repartition partition %d", at.p, at.q)
		}
	}
}

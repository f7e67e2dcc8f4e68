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
	const n, g = 400, "lull"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := openOffsetShuffle(ctx, t, n, g)
	brokers, a, sh := st.brokers, st.src, st.sh

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
	rows, last := rowsRead(st.read.records())
	next := map[int32]int64{}
	for p, o := range last {
		next[p] = o + 1
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
	var rr rowReports
	for rr.rows < n || len(rr.missing()) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%d of %d rows read back; no report after the last rows of %s", rr.rows, n, strings.Join(rr.missing(), ", "))
		}
		fs.EachRecord(func(kr *kgo.Record) {
			rr.take(t, kr, func(p partProgress) bool { return p.watermark >= last[p.partition] && p.committed >= next[p.partition] })
		})
	}
	if len(a.Owned()) == len(next) {
		t.Error("no source partition moved to the second member: the test checks little")
	}
}

// TestShuffleFlushReportsBeforeTheCommit pins the report before a commit:
// the rows a Flush acknowledges (which the job then commits on the
// source) are followed, in every partition of the repartition topic, by a
// report of their source partition whose watermark covers them, without
// the periodic reports (stopped here). Killed between its commit and its
// next periodic report, a process left the rows' event times out of every
// report, and its successor, resuming at the commit with the partition's
// watermark started again there, judged its first records by less than
// one process does.
func TestShuffleFlushReportsBeforeTheCommit(t *testing.T) {
	const n = 200
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := openOffsetShuffle(ctx, t, n, "flush-report")
	sh := st.sh
	close(sh.stop) // no periodic report, no stall watch
	sh.stopped.Wait()
	sh.stop = make(chan struct{}) // for Abort
	rows, last := rowsRead(st.read.records())
	if err := sh.Write(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if err := sh.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	rr := readRowReports(ctx, t, st.brokers, func(p partProgress) bool { return p.watermark >= last[p.partition] })
	for _, m := range rr.missing() {
		t.Errorf("no report after the last row of %s", m)
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
	const n = 200
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st := openOffsetShuffle(ctx, t, n, "clean-stop")
	brokers, sh := st.brokers, st.sh
	rows, last := rowsRead(st.read.records())
	if err := sh.Write(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if err := sh.Close(); err != nil {
		t.Fatal(err)
	}
	// everything Close sent is acknowledged
	rr := readRowReports(ctx, t, brokers, func(p partProgress) bool { return p.watermark >= last[p.partition] })
	for _, m := range rr.missing() {
		t.Errorf("no report after the last row of %s", m)
	}
}

// readRowReports reads the repartition topic "rp" to its end (what was
// acknowledged when it starts), taking each record into a rowReports whose
// reports cover their rows by covers; it fails t when no row was written.
func readRowReports(ctx context.Context, t *testing.T, brokers []string, covers func(partProgress) bool) *rowReports {
	t.Helper()
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
	var rr rowReports
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
			rr.take(t, kr, covers)
		})
	}
	if rr.rows == 0 {
		t.Fatal("no row read back")
	}
	return &rr
}

// offsetShuffle is a stage-1 member of a group reading trades from a new
// cluster, with a Shuffle writing its rows to the repartition topic "rp":
// a row's event time is its source offset (a source partition's watermark
// is the offset of its last row written), the idle timeout an hour.
type offsetShuffle struct {
	brokers []string
	src     *Source
	sh      *Shuffle
	read    *collector // what src read, kept: the job's pipeline
}

// openOffsetShuffle opens an offsetShuffle of group over n trades, its
// producing client with opts, and waits until its member read every one.
func openOffsetShuffle(ctx context.Context, t *testing.T, n int, group string, opts ...kgo.Opt) offsetShuffle {
	t.Helper()
	brokers := startCluster(t, "trades", "rp")
	produce(t, brokers, "trades", trades(n, 40))
	a, err := NewSource("trades", sourceProps(brokers, "group.id", group, "session.timeout.ms", "6000"))
	if err != nil {
		t.Fatal(err)
	}
	a.UseEagerRebalancing()
	if _, err := a.CheckFacts(ctx, nil); err != nil { // the partition count, as the planner finds it
		t.Fatal(err)
	}
	sh := NewShuffle([]*Source{a}, ShuffleConfig{Topic: "rp", Partitions: testPartitions, IdleTimeout: time.Hour,
		EventTime: func(r *record.Record) (int64, bool) { return r.Offset, true }}, opts...)
	if err := sh.Open(ctx, tradeSchema(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sh.Abort)
	ca := openCollected(t, a)
	waitFor(t, "the member reads every record", func() bool { return len(ca.records()) == n })
	return offsetShuffle{brokers: brokers, src: a, sh: sh, read: ca}
}

// rowsRead returns what a source read as the rows a job writes, and the
// offset of the last row of each source partition.
func rowsRead(read []got) ([]record.Record, map[int32]int64) {
	rows := make([]record.Record, len(read))
	last := map[int32]int64{}
	for i, r := range read {
		rows[i] = record.Record{Values: r.values, Partition: r.part, Offset: r.offset, Timestamp: r.ts}
		last[r.part] = max(last[r.part], r.offset)
	}
	return rows, last
}

// place is source partition p in repartition partition q.
type place struct{ q, p int32 }

// rowReports follows a repartition topic read back: in each place, the
// offset of the last row and of the last report covering the rows.
type rowReports struct {
	rows             int
	lastRow, covered map[place]int64
}

// take reads kr: a row, or a report whose entries covers says cover the
// rows of their source partition.
func (rr *rowReports) take(t *testing.T, kr *kgo.Record, covers func(partProgress) bool) {
	if rr.lastRow == nil {
		rr.lastRow, rr.covered = map[place]int64{}, map[place]int64{}
	}
	if v, ok := header(kr, originHeader); ok {
		o, err := parseOrigin(v)
		if err != nil {
			t.Fatal(err)
		}
		rr.rows++
		rr.lastRow[place{kr.Partition, o.partition}] = kr.Offset
		return
	}
	v, _ := header(kr, controlHeader)
	ps, _, err := parseControl(v, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if covers(p) {
			rr.covered[place{kr.Partition, p.partition}] = kr.Offset
		}
	}
}

// missing lists the places whose last row no report after it covers.
func (rr *rowReports) missing() []string {
	var out []string
	for at, off := range rr.lastRow {
		if c, ok := rr.covered[at]; !ok || c < off {
			out = append(out, fmt.Sprintf("source partition %d in repartition partition %d", at.p, at.q))
		}
	}
	slices.Sort(out)
	return out
}

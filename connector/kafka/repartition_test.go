package kafka

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRepartitionHeaders round-trips the origin and control headers and
// refuses corrupt ones.
func TestRepartitionHeaders(t *testing.T) {
	for _, shift := range []int64{0, -86_400_000, 1} {
		o, err := parseOrigin(appendOrigin(nil, 7, 123456, noWatermark, shift, 0))
		if want := (origin{partition: 7, offset: 123456, watermark: noWatermark, shift: shift}); err != nil || o != want {
			t.Errorf("origin = %+v, %v; want %+v", o, err, want)
		}
	}
	in := []partProgress{{partition: 0, watermark: -5, committed: -1}, {partition: 3, watermark: 1700000000000, committed: 42, flags: progressEnded}}
	out, done, err := parseControl(appendProgress(nil, in), nil)
	if err != nil || done || len(out) != 2 || out[0] != in[0] || out[1] != in[1] {
		t.Errorf("progress = %+v, %v, %v", out, done, err)
	}
	if _, done, err := parseControl([]byte{controlDone}, nil); !done || err != nil {
		t.Errorf("done marker: %v, %v", done, err)
	}
	for _, bad := range [][]byte{nil, {'x'}, {controlProgress, 5}, {controlProgress, 1, 2}} {
		if _, _, err := parseControl(bad, nil); err == nil {
			t.Errorf("parseControl(%v) accepted", bad)
		}
	}
	if _, err := parseOrigin([]byte{1}); err == nil {
		t.Error("parseOrigin accepted a truncated header")
	}
	if _, err := parseOrigin(append(appendOrigin(nil, 1, 2, 3, 4, 0), 0)); err == nil {
		t.Error("parseOrigin accepted a header with a byte too many")
	}
	for _, shift := range []int64{0, 3} {
		o, err := parseOrigin(appendOrigin(nil, 7, 123456, noWatermark, shift, 42))
		if want := (origin{partition: 7, offset: 123456, watermark: noWatermark, shift: shift, sub: 42}); err != nil || o != want {
			t.Errorf("origin with a sub-position = %+v, %v; want %+v", o, err, want)
		}
	}
	if _, err := parseOrigin(append(appendOrigin(nil, 1, 2, 3, 4, 5), 0)); err == nil {
		t.Error("parseOrigin accepted a header with a sub-position and a zero event-time shift")
	}
	o, err := parseOrigin(binary.AppendVarint(appendOrigin(nil, 7, 12, noWatermark, 0, 42), -5_000_000_000_000))
	if want := (origin{partition: 7, offset: 12, watermark: noWatermark, sub: 42, eventShift: -5_000_000_000_000}); err != nil || o != want {
		t.Errorf("origin with an event-time shift = %+v, %v; want %+v", o, err, want)
	}
	if _, err := parseOrigin(append(binary.AppendVarint(appendOrigin(nil, 1, 2, 3, 4, 5), 6), 0)); err == nil {
		t.Error("parseOrigin accepted a header with an event-time shift and a byte too many")
	}
	// an exchange topic's row with its place in its source, after an
	// event-time shift written also when 0
	for _, shift := range []int64{0, -5_000_000_000_000} {
		o, err := parseOrigin(appendSource(appendOrigin(nil, 7, 12, noWatermark, 0, 42), shift, 9, 1207))
		want := origin{partition: 7, offset: 12, watermark: noWatermark, sub: 42, eventShift: shift, source: true, sourcePartition: 9, sourceOffset: 1207}
		if err != nil || o != want {
			t.Errorf("origin with a source place = %+v, %v; want %+v", o, err, want)
		}
	}
	for _, bad := range [][]byte{
		appendSource(appendOrigin(nil, 7, 12, noWatermark, 0, 42), 0, -1, 1207),
		appendSource(appendOrigin(nil, 7, 12, noWatermark, 0, 42), 0, 9, -1),
		append(appendSource(appendOrigin(nil, 7, 12, noWatermark, 0, 42), 0, 9, 1207), 0),
		binary.AppendVarint(binary.AppendVarint(appendOrigin(nil, 7, 12, noWatermark, 0, 42), 0), 9),
	} {
		if _, err := parseOrigin(bad); err == nil {
			t.Errorf("parseOrigin accepted %v: a source place out of range, cut short or followed by a byte", bad)
		}
	}
}

// TestUpstreamDropsCopiesOfRows: an exchange topic's rows are told apart
// by their source offset and sub-position, in that order: a stage-2
// replay sends again the rows of a record, each with the same
// sub-position, and only those past the last handed out are kept.
func TestUpstreamDropsCopiesOfRows(t *testing.T) {
	row := func(offset int64, srcOffset, sub int64) *kgo.Record {
		return &kgo.Record{Offset: offset, Headers: []kgo.RecordHeader{{Key: originHeader, Value: appendOrigin(nil, 0, srcOffset, noWatermark, 0, sub)}}}
	}
	u := newUpstream(1, false)
	var kept []string
	for i, r := range [][2]int64{{10, 3}, {10, 6}, {10, 3}, {10, 6}, {10, 8}, {11, 1}, {10, 9}, {11, 1}, {11, 4}} {
		if keep, err := u.admit(row(int64(i), r[0], r[1])); err != nil {
			t.Fatal(err)
		} else if keep {
			kept = append(kept, fmt.Sprintf("%d.%d", r[0], r[1]))
		}
	}
	if want := "10.3 10.6 10.8 11.1 11.4"; strings.Join(kept, " ") != want {
		t.Errorf("kept %s, want %s", strings.Join(kept, " "), want)
	}
	u.admit(progressRecord(9, partProgress{partition: 0, committed: 12}))
	if keep, _ := u.admit(row(10, 11, 9)); keep {
		t.Error("a row of a record before the offset stage 2 committed was kept")
	}
}

func dataRecord(offset int64, p int32, srcOffset, wm int64) *kgo.Record {
	return &kgo.Record{Offset: offset, Headers: []kgo.RecordHeader{{Key: originHeader, Value: appendOrigin(nil, p, srcOffset, wm, 0, 0)}}}
}

func progressRecord(offset int64, ps ...partProgress) *kgo.Record {
	return &kgo.Record{Offset: offset, Headers: []kgo.RecordHeader{{Key: controlHeader, Value: appendProgress(nil, ps)}}}
}

// TestUpstream pins a repartition partition's view of its source: its
// watermark is the minimum over the source partitions once every one was
// reported, records sent again are dropped, commits stop before records
// stage 1 may send again, and a bounded source ends the partition when
// every source partition ended.
func TestUpstream(t *testing.T) {
	u := newUpstream(2, true)
	if keep, err := u.admit(dataRecord(0, 0, 10, 100)); !keep || err != nil || u.carried != 100 {
		t.Fatalf("first record: keep %v, err %v, carried %d", keep, err, u.carried)
	}
	if keep, _ := u.admit(dataRecord(1, 0, 10, 100)); keep {
		t.Error("a record sent again was kept")
	}
	u.admit(dataRecord(2, 1, 5, 50))
	u.publish(3)
	if got := u.safe.Load(); got != 0 {
		t.Errorf("safe = %d before any commit upstream, want 0", got)
	}
	if _, ok := u.watermark(); ok {
		t.Error("a watermark before every source partition was reported")
	}
	u.admit(progressRecord(3, partProgress{partition: 0, watermark: 200, committed: 11}))
	u.admit(progressRecord(4, partProgress{partition: 1, watermark: 70, committed: 3}))
	u.publish(5)
	if wm, ok := u.watermark(); !ok || wm != 70 {
		t.Errorf("watermark = %d, %v; want 70", wm, ok)
	}
	if got := u.safe.Load(); got != 2 {
		t.Errorf("safe = %d, want 2 (source partition 1 offset 5 is not committed upstream)", got)
	}
	if u.ended() {
		t.Error("ended before any source partition ended")
	}
	u.admit(progressRecord(5, partProgress{partition: 0, watermark: 200, committed: 20, flags: progressEnded}))
	u.admit(progressRecord(6, partProgress{partition: 1, watermark: 90, committed: 9, flags: progressEnded}))
	if !u.ended() {
		t.Error("not ended after every source partition ended")
	}
	if wm, _ := u.watermark(); wm != 200 {
		t.Errorf("watermark with every source partition ended = %d, want the highest, 200", wm)
	}
	if _, err := u.admit(&kgo.Record{}); err == nil {
		t.Error("a record without repartition headers was accepted")
	}
	if _, err := u.admit(dataRecord(7, 9, 1, 1)); err == nil {
		t.Error("a record from a source partition the source does not have was accepted")
	}
}

// TestFenceCarriedForward pins that a checkpoint keeps the fence its
// partition resumed from: a generation that has not yet read as far, or
// seen as high a watermark, as the one before it must not let the next
// replay count again the windows that one wrote. One behind the fence's
// read offset with a watermark above the fence's commits nothing
// (connector.Fence.Join).
func TestFenceCarriedForward(t *testing.T) {
	u := newUpstream(1, false)
	if read, wm, ok := u.fence(40, 500); read != 40 || wm != 500 || !ok {
		t.Errorf("no fence: %d, %d, %v; want the checkpoint's 40, 500", read, wm, ok)
	}
	u.fenceTo, u.fenceWM = 100, 900
	for _, c := range []struct {
		read, wm, wantRead, wantWM int64
		commits                    bool
	}{
		{40, 500, 100, 900, true},
		{150, 500, 150, 900, true},
		{40, 1200, 100, 1200, false},
		{100, 1200, 100, 1200, true},
		{150, 1200, 150, 1200, true},
		{40, noWatermark, 100, 900, true},
	} {
		read, wm, ok := u.fence(c.read, c.wm)
		if ok != c.commits || ok && (read != c.wantRead || wm != c.wantWM) {
			t.Errorf("fence(%d, %d) = %d, %d, %v; want %d, %d, %v", c.read, c.wm, read, wm, ok, c.wantRead, c.wantWM, c.commits)
		}
	}
}

// TestUpstreamDropsCommittedCopies pins that a record whose source offset
// is before the one reported committed upstream is a copy (its original
// preceded the report), even when this reader never saw the original.
func TestUpstreamDropsCommittedCopies(t *testing.T) {
	u := newUpstream(1, false)
	u.admit(progressRecord(0, partProgress{partition: 0, watermark: 100, committed: 50}))
	if keep, _ := u.admit(dataRecord(1, 0, 40, 90)); keep {
		t.Error("a copy of a record committed upstream was kept")
	}
	if keep, _ := u.admit(dataRecord(2, 0, 50, 100)); !keep {
		t.Error("the first record not committed upstream was dropped")
	}
}

// TestRepartitionOrigin: a repartition topic's source names the source,
// and its partition, of each partition number stage 1 gives its records:
// the source it was made from, or the join's streams numbered one after
// the other.
func TestRepartitionOrigin(t *testing.T) {
	var srcs []*Source
	for name, n := range map[string]int{"orders": 8, "payments": 5} {
		s, err := NewSource(name, map[string]string{name + ".bootstrap.servers": "localhost:9092", name + ".group.id": "g"})
		if err != nil {
			t.Fatal(err)
		}
		s.partitions = n
		srcs = append(srcs, s)
	}
	if srcs[0].Name() != "orders" {
		srcs[0], srcs[1] = srcs[1], srcs[0]
	}
	in := srcs[0].RepartitionSource("g-s-repartition", nil, 8, nil, nil)
	if name, p := in.Origin(7); name != "orders" || p != 7 {
		t.Errorf("one stream: Origin(7) = %s %d, want orders 7", name, p)
	}
	in = srcs[0].RepartitionSource("g-s-repartition", nil, 13, nil, nil)
	in.ReadsFrom(srcs)
	for _, tt := range []struct {
		n    int32
		name string
		p    int32
	}{{0, "orders", 0}, {7, "orders", 7}, {8, "payments", 0}, {12, "payments", 4}} {
		if name, p := in.Origin(tt.n); name != tt.name || p != tt.p {
			t.Errorf("Origin(%d) = %s %d, want %s %d", tt.n, name, p, tt.name, tt.p)
		}
	}
}

// TestCommitWaitsForTheConfirmationInItsView pins the commit rule against
// a confirmation read after the checkpoint: stage 1 sent source offsets
// 0-2, died before committing them and sent them again; its successor's
// report that they are committed comes after the resend. A checkpoint that
// read past the originals but not to the report must not commit past the
// originals: a replay from there starts with the view at its offset,
// which lacks the report, and would take the resend for new.
func TestCommitWaitsForTheConfirmationInItsView(t *testing.T) {
	recs := []*kgo.Record{
		progressRecord(0, partProgress{partition: 0, watermark: 100, committed: 0}),
		dataRecord(1, 0, 0, 100), dataRecord(2, 0, 1, 100), dataRecord(3, 0, 2, 100), // the originals
		dataRecord(4, 0, 0, 100), dataRecord(5, 0, 1, 100), dataRecord(6, 0, 2, 100), // the resend
		progressRecord(7, partProgress{partition: 0, watermark: 100, committed: 3}),
		dataRecord(8, 0, 3, 100),
	}
	u := newUpstream(1, false)
	for _, kr := range recs {
		u.admit(kr)
	}
	u.publish(9)
	if got := u.safe.Load(); got != 8 {
		t.Fatalf("safe = %d, want 8: the reader knows the originals committed", got)
	}
	for _, c := range []struct{ read, want int64 }{{1, 1}, {5, 1}, {7, 1}, {8, 8}, {9, 8}} {
		if got := u.commitOffset(c.read); got != c.want {
			t.Errorf("commitOffset(%d) = %d, want %d", c.read, got, c.want)
		}
	}
	// a commit at 8 records the view with the report: a later commit
	// passes the originals without looking again
	if v := u.viewAt(u.commitOffset(8)); v == nil || v.parts[0].committed != 3 {
		t.Errorf("the view at 8 = %+v lacks the report confirming the originals", v)
	}
	if got := u.commitOffset(9); got != 8 {
		t.Errorf("commitOffset(9) after the commit at 8 = %d, want 8", got)
	}
	if u.pending != noSpan || u.views[0].confirmsFrom != noSpan {
		t.Errorf("spans passed by the commit are kept: pending %d, the commit's view %d", u.pending, u.views[0].confirmsFrom)
	}
}

// TestReplayFromACommitAdmitsEachRecordOnce replays repartition partitions
// in which stage 1's members die and their successors send again what
// they had not committed, from each commit a reader makes while it reads
// on (its reports confirming records at any distance after its
// checkpoints): the records the run before handed out before the commit
// and those the replay hands out from it are each source record once.
func TestReplayFromACommitAdmitsEachRecordOnce(t *testing.T) {
	const sources = 3
	commits, lowered := 0, 0
	for seed := range uint64(150) {
		rng := rand.New(rand.NewPCG(seed, 11))
		recs, sent := resendingRecords(rng, sources, 100+rng.IntN(500))
		for p := range sources { // the run ends: every record sent is committed
			recs = append(recs, progressRecord(int64(len(recs)), partProgress{partition: int32(p), committed: sent[p]}))
		}
		run := newUpstream(sources, false)
		kept := make([]bool, len(recs))
		read, last := int64(0), int64(0)
		for i, kr := range recs {
			kept[i], _ = run.admit(kr)
			run.publish(int64(i + 1))
			if rng.IntN(10) > 0 {
				continue
			}
			// a checkpoint that read up to read, committed now
			read = read + rng.Int64N(int64(i+1)-read+1)
			o := run.commitOffset(read)
			if o < last || o > read {
				t.Fatalf("seed %d: commitOffset(%d) = %d after a commit at %d", seed, read, o, last)
			}
			commits++
			if o < read {
				lowered++
			}
			last = o
			v := run.viewAt(o)
			replay := newUpstream(sources, false)
			if v != nil {
				_, _, got, _ := parseStageCheckpoint(stagePrefix + "0:0:" + encodeView(v, 0))
				replay.resumeFrom(got)
			}
			seen := map[[2]int64]int64{}
			note := func(j int, kr *kgo.Record) {
				o, _ := parseOrigin(kr.Headers[0].Value)
				key := [2]int64{int64(o.partition), o.offset}
				if at, ok := seen[key]; ok {
					t.Fatalf("seed %d: commit at %d (read %d, reader at %d): source %d/%d handed out at %d and again at %d", seed, last, read, i+1, o.partition, o.offset, at, j)
				}
				seen[key] = int64(j)
			}
			for j := range recs[:o] {
				if kept[j] {
					note(j, recs[j])
				}
			}
			for j := o; j < int64(len(recs)); j++ {
				if keep, _ := replay.admit(recs[j]); keep {
					note(int(j), recs[j])
				}
			}
			for p := range sources {
				for off := range sent[p] {
					if _, ok := seen[[2]int64{int64(p), off}]; !ok {
						t.Fatalf("seed %d: commit at %d: source %d/%d lost", seed, last, p, off)
					}
				}
			}
		}
	}
	if lowered == 0 || lowered == commits {
		t.Errorf("%d of %d commits held back for a confirmation: the test checks little", lowered, commits)
	}
}

// resendingRecords returns n records of a repartition partition whose
// stage 1 reads sources source partitions, with members that report
// progress, die and send again what they had not committed, and the next
// source offset stage 1 sends of each.
func resendingRecords(rng *rand.Rand, sources, n int) ([]*kgo.Record, []int64) {
	var recs []*kgo.Record
	sent := make([]int64, sources)      // the next source offset stage 1 sends
	committed := make([]int64, sources) // stage 1's committed offset
	for i := range n {
		off := int64(len(recs))
		p := rng.IntN(sources)
		switch r := rng.IntN(20); {
		case r == 0:
			sent[p] = committed[p] // its member dies: its successor sends again
		case r < 5:
			committed[p] += rng.Int64N(sent[p] - committed[p] + 1)
			recs = append(recs, progressRecord(off, partProgress{partition: int32(p), watermark: int64(i), committed: committed[p]}))
		default:
			recs = append(recs, dataRecord(off, int32(p), sent[p], int64(i)))
			sent[p]++
		}
	}
	return recs, sent
}

// TestStage1RestartLowersNoWatermark pins stage 2's rule across stage-1
// restarts: a member that takes a source partition over starts its
// watermark again from the event times it reads from the committed offset
// (lower than one run's), and reports it, but a repartition partition's
// watermark never goes back, every record it keeps is judged late by at
// least its partition's highest watermark before it and its source
// partition's highest report (so no record goes into a window that fired,
// which would write it twice, and a record late before the restart is
// late after it), the copies of records handed out are dropped (a record
// judged on time is not judged again), and a replay from any commit
// judges every record as the run did. With a report before each commit
// (Shuffle.Flush), every record is judged by the watermark one process
// judges it by. Randomized: members commit (some commits reported only
// later), die at random, and their successors send again what was not
// committed.
func TestStage1RestartLowersNoWatermark(t *testing.T) {
	const sources, window = 3, 50
	restarts, lowered := 0, 0
	for seed := range uint64(40) {
		rng := rand.New(rand.NewPCG(seed, 13))
		// each source partition's event times, out of order by up to 40
		var events [sources][]int64
		for p := range events {
			for o := range 400 {
				events[p] = append(events[p], int64(o)*3+rng.Int64N(40))
			}
		}
		// stage 1: each member's watermark is the highest event time it
		// read since it took the partition, less 20 (noWatermark before one)
		var recs []*kgo.Record
		var sent, committed, from [sources]int64
		wm := func(p int) int64 {
			w := int64(noWatermark)
			for _, e := range events[p][from[p]:sent[p]] {
				w = max(w, e-20)
			}
			return w
		}
		for range 1500 {
			off := int64(len(recs))
			p := rng.IntN(sources)
			switch r := rng.IntN(30); {
			case r == 0 && sent[p] > committed[p]:
				// its member dies: its successor starts from the committed
				// offset, and its watermark from the records from there
				sent[p], from[p] = committed[p], committed[p]
				restarts++
			case r < 3:
				// committed after a report of the watermark (Shuffle.Flush),
				// the committed offset not reported yet (the member may die
				// before its next report)
				recs = append(recs, progressRecord(off, partProgress{partition: int32(p), watermark: wm(p), committed: committed[p]}))
				committed[p] += rng.Int64N(sent[p] - committed[p] + 1)
			case r < 6:
				committed[p] += rng.Int64N(sent[p] - committed[p] + 1)
				recs = append(recs, progressRecord(off, partProgress{partition: int32(p), watermark: wm(p), committed: committed[p]}))
			case sent[p] < int64(len(events[p])):
				recs = append(recs, dataRecord(off, int32(p), sent[p], wm(p)))
				sent[p]++
			}
		}

		run := newUpstream(sources, false)
		type judged struct {
			kept    bool
			carried int64 // the watermark the record is judged late by
			wm      int64 // the partition's watermark after it (noWatermark: none)
		}
		got := make([]judged, len(recs))
		reported := make([]int64, sources)
		for p := range reported {
			reported[p] = noWatermark
		}
		high, seen := int64(noWatermark), map[[2]int64]bool{}
		for i, kr := range recs {
			o, isData := origin{}, false
			if v, ok := header(kr, originHeader); ok {
				o, _ = parseOrigin(v)
				isData = true
			}
			keep, err := run.admit(kr)
			if err != nil {
				t.Fatalf("seed %d: record %d: %v", seed, i, err)
			}
			got[i] = judged{kept: keep, carried: run.carried, wm: noWatermark}
			if w, ok := run.watermark(); ok {
				got[i].wm = w
				if w < high {
					t.Fatalf("seed %d: record %d: the partition's watermark went back from %d to %d", seed, i, high, w)
				}
				high = w
			}
			if !isData {
				ps, _, _ := parseControl(kr.Headers[0].Value, nil)
				for _, pp := range ps {
					reported[pp.partition] = max(reported[pp.partition], pp.watermark)
				}
				continue
			}
			key := [2]int64{int64(o.partition), o.offset}
			if keep == seen[key] {
				t.Fatalf("seed %d: record %d (source %d/%d): kept %v, seen before %v", seed, i, o.partition, o.offset, keep, seen[key])
			}
			seen[key] = true
			if !keep {
				continue
			}
			if c := run.carried; c < high || c < reported[o.partition] {
				t.Fatalf("seed %d: record %d (source %d/%d) judged by watermark %d, below the partition's %d or its source partition's report %d",
					seed, i, o.partition, o.offset, c, high, reported[o.partition])
			}
			if o.watermark < run.carried {
				lowered++
			}
			// as one process judges it: by the highest event time before
			// it in its source partition
			one := int64(noWatermark)
			for _, e := range events[o.partition][:o.offset] {
				one = max(one, e-20)
			}
			if run.carried != one {
				t.Fatalf("seed %d: record %d (source %d/%d) judged by watermark %d, one process by %d", seed, i, o.partition, o.offset, run.carried, one)
			}
			// a window that fired: the record is late by it
			if e := events[o.partition][o.offset]; (e/window+1)*window <= high && (e/window+1)*window > run.carried {
				t.Fatalf("seed %d: record %d (event time %d) joins a window that fired under %d", seed, i, e, high)
			}
		}

		// a replay from each commit a reader makes as it reads (as one
		// at every twentieth record would) judges the records after it as the
		// run did
		again := newUpstream(sources, false)
		for i, kr := range recs {
			again.admit(kr)
			again.publish(int64(i + 1))
			if i%20 != 0 {
				continue
			}
			o := again.commitOffset(int64(i + 1))
			replay := newUpstream(sources, false)
			if v := again.viewAt(o); v != nil {
				_, _, rv, _ := parseStageCheckpoint(stagePrefix + "0:0:" + encodeView(v, 0))
				replay.resumeFrom(rv)
			}
			for j := o; j < int64(len(recs)); j++ {
				keep, _ := replay.admit(recs[j])
				r := judged{kept: keep, carried: replay.carried, wm: noWatermark}
				if w, ok := replay.watermark(); ok {
					r.wm = w
				}
				if keep != got[j].kept || (keep && r.carried != got[j].carried) || r.wm != got[j].wm {
					t.Fatalf("seed %d: replay from %d: record %d: %+v, the run had %+v", seed, o, j, r, got[j])
				}
			}
		}
	}
	if restarts == 0 || lowered == 0 {
		t.Errorf("%d restarts, %d records carrying a watermark below the one they were judged by: the test checks little", restarts, lowered)
	}
}

// TestAfterStop: the context MarkDone works under outlives its parent's
// end by the grace only: not done when the parent ends, done once the
// grace passed, and done at once when released.
func TestAfterStop(t *testing.T) {
	parent, stop := context.WithCancel(context.Background())
	long, release := afterStop(parent, time.Hour)
	short, releaseShort := afterStop(parent, time.Millisecond)
	defer releaseShort()
	stop()
	select {
	case <-short.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("a millisecond's grace did not end")
	}
	if long.Err() != nil {
		t.Fatalf("an hour's grace ended with its parent: %v", long.Err())
	}
	release()
	if long.Err() == nil {
		t.Fatal("released, the context goes on")
	}
}

package kafka

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicesql/sluice/record"
)

func doneRecord(offset int64, ps ...partProgress) *kgo.Record {
	return &kgo.Record{Offset: offset, Headers: []kgo.RecordHeader{{Key: controlHeader, Value: appendDone(nil, ps)}}}
}

// TestUpstreamEndsAtThisRunsEnd pins that a bounded run's repartition
// partition ends where this process's run of the source ends: a done
// marker, or the last reports, of an earlier run of the group (which said
// every source partition ended, at that run's end) neither end the
// partition nor let the watermark pass a source partition this run still
// reads, and a done marker of this run ends it at once.
func TestUpstreamEndsAtThisRunsEnd(t *testing.T) {
	ends := func() map[int32]int64 { return map[int32]int64{0: 30, 1: 10} }
	earlier := []partProgress{
		{partition: 0, watermark: 100, committed: 20, flags: progressEnded},
		{partition: 1, watermark: 200, committed: 10, flags: progressEnded},
	}
	u := newUpstream(2, true)
	u.sourceEnds = ends
	if keep, err := u.admit(doneRecord(0, earlier...)); keep || err != nil {
		t.Fatalf("done marker: keep %v, err %v", keep, err)
	}
	if u.ended() {
		t.Error("an earlier run's done marker ended the partition")
	}
	if wm, ok := u.watermark(); !ok || wm != 100 {
		t.Errorf("watermark = %d, %v; want 100: source partition 0 is still read in this run", wm, ok)
	}
	u.admit(progressRecord(1, partProgress{partition: 0, watermark: 150, committed: 30, flags: progressEnded}))
	if !u.ended() {
		t.Error("not ended once every source partition was committed to this run's end")
	}

	again := newUpstream(2, true)
	again.sourceEnds = ends
	again.admit(doneRecord(0, u.progress()...))
	if !again.ended() {
		t.Error("this run's done marker did not end the partition")
	}

	if ps, done, err := parseControl([]byte{controlDone}, nil); !done || err != nil || len(ps) != 0 {
		t.Errorf("an earlier version's done marker: %v, %v, %v", ps, done, err)
	}
}

// TestShuffleIdleAfterRebalance pins the idle rule of an unbounded run's
// progress reports: a source partition is idle once IdleTimeout passed
// without a record since this member got it, so one the group gives back
// after a rebalance is not reported idle at once (which would let stage 2's
// watermark pass the records this member is about to send again).
func TestShuffleIdleAfterRebalance(t *testing.T) {
	s := NewShuffle(nil, ShuffleConfig{IdleTimeout: time.Second})
	t0 := time.UnixMilli(1_700_000_000_000)
	idle := func(at time.Duration, owned ...int32) bool {
		ps := s.progressLocked([]ownedParts{{parts: owned, lag: caughtUp(owned...)}}, t0.Add(at))
		return len(ps) == 1 && ps[0].flags&progressIdle != 0
	}
	if idle(0, 0) {
		t.Error("idle as soon as assigned")
	}
	if !idle(1500*time.Millisecond, 0) {
		t.Error("not idle after IdleTimeout without records")
	}
	s.progressLocked([]ownedParts{{}}, t0.Add(2*time.Second)) // taken away
	if idle(3*time.Second, 0) {
		t.Error("idle at once when the group gave the partition back")
	}
	if !idle(4500*time.Millisecond, 0) {
		t.Error("not idle after IdleTimeout since it was given back")
	}
}

// TestShuffleNotIdleWhileRecordsWait: a source partition with records the
// member has not read yet (its lag above 0, or not known while the group
// has not said where it starts) is not idle, however long since the last
// record; it is once IdleTimeout passed after the member read everything.
// Under load a member took over 3s to read its first records after the
// group gave it its partitions, reported them idle with thousands of
// records waiting, and stage 2 wrote windows without them
// (TestRepartitionedWindowsSurviveKillAfterPause, under -race).
func TestShuffleNotIdleWhileRecordsWait(t *testing.T) {
	s := NewShuffle(nil, ShuffleConfig{IdleTimeout: time.Second})
	t0 := time.UnixMilli(1_700_000_000_000)
	idle := func(at time.Duration, lag map[int32]int64) bool {
		ps := s.progressLocked([]ownedParts{{parts: []int32{0}, lag: lag}}, t0.Add(at))
		return len(ps) == 1 && ps[0].flags&progressIdle != 0
	}
	if idle(0, nil) {
		t.Error("idle as soon as assigned")
	}
	if idle(2*time.Second, nil) {
		t.Error("idle while its position is not known")
	}
	if idle(4*time.Second, map[int32]int64{0: 3000}) {
		t.Error("idle with 3000 records waiting")
	}
	if idle(4500*time.Millisecond, caughtUp(0)) {
		t.Error("idle less than IdleTimeout after its records were read")
	}
	if !idle(5500*time.Millisecond, caughtUp(0)) {
		t.Error("not idle IdleTimeout after its records were read")
	}
}

// caughtUp is the lag of a source that read every record of parts.
func caughtUp(parts ...int32) map[int32]int64 {
	lag := map[int32]int64{}
	for _, p := range parts {
		lag[p] = 0
	}
	return lag
}

// runEndMember returns a group member whose subscription carries ends of kind.
func runEndMember(kind byte, ends map[string][]int64) kmsg.JoinGroupResponseMember {
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Version, meta.Topics = 3, []string{"trades"}
	meta.UserData = encodeRunEnds(kind, ends)
	m := kmsg.NewJoinGroupResponseMember()
	m.ProtocolMetadata = meta.AppendTo(nil)
	return m
}

// TestRunEndDecided pins how the leader of a generation decides where a
// bounded run ends: the end the members adopted from the group (the
// highest, should a member of an earlier run be back), else the lowest
// each partition was listed at (the process that started first), and
// that a member of another version (no user data) counts for nothing.
func TestRunEndDecided(t *testing.T) {
	r := &runEnd{}
	first := map[string][]int64{"trades": {10, 20}}
	grown := map[string][]int64{"trades": {15, 18}}
	later := map[string][]int64{"trades": {30, 40}}
	old := kmsg.NewJoinGroupResponseMember()
	for _, tt := range []struct {
		name    string
		members []kmsg.JoinGroupResponseMember
		want    map[string][]int64
	}{
		{"listed", []kmsg.JoinGroupResponseMember{runEndMember(runEndListed, first), runEndMember(runEndListed, grown), runEndMember(runEndNone, nil), old},
			map[string][]int64{"trades": {10, 18}}},
		{"adopted", []kmsg.JoinGroupResponseMember{runEndMember(runEndListed, later), runEndMember(runEndAgreed, first), runEndMember(runEndNone, nil)}, first},
		{"earlier run back", []kmsg.JoinGroupResponseMember{runEndMember(runEndAgreed, first), runEndMember(runEndAgreed, later)}, later},
	} {
		got, err := r.decide(tt.members)
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: decided %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
	two := map[string][]int64{"orders": {1, 2, 3}, "trades": {4}}
	kind, ends, ok := decodeRunEnds(encodeRunEnds(runEndAgreed, two))
	if !ok || kind != runEndAgreed || !reflect.DeepEqual(ends, two) {
		t.Errorf("decoded %d %v %v, want the agreed %v", kind, ends, ok, two)
	}
	for _, bad := range [][]byte{nil, {runEndVersion}, {9, runEndAgreed}, {runEndVersion, runEndAgreed, 5}, append(encodeRunEnds(runEndListed, two), 0)} {
		if _, _, ok := decodeRunEnds(bad); ok {
			t.Errorf("decoded %v", bad)
		}
	}
}

// TestRunEndAgreedAcrossMembers: two processes of a bounded run, the
// second started after the topic grew, read up to the end the group
// agreed when the first started: the second adopts it from its assignment
// (stage 1 stops there, and stage 2 ends its partitions there) instead of
// the end it listed itself, past which no one else reads.
func TestRunEndAgreedAcrossMembers(t *testing.T) {
	brokers := startCluster(t, "trades", "rp")
	produce(t, brokers, "trades", trades(400, 40))
	const g = "agreed"
	start := func() (*Source, *Source) {
		src, err := NewSource("trades", sourceProps(brokers, "group.id", g, "stop.at", "end", "session.timeout.ms", "6000"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := src.CheckFacts(context.Background(), nil); err != nil { // the partition count, as the planner finds it
			t.Fatal(err)
		}
		in := src.RepartitionSource("rp", nil, testPartitions, nil, func(*record.Record, int64) bool { return false })
		src.UseEagerRebalancing()
		src.KeepOpen()
		// commits what it read, so that a handover does not wait
		ctx, cancel := context.WithCancel(context.Background())
		ch, err := src.Open(ctx, tradeSchema(), nil)
		if err != nil {
			t.Fatal(err)
		}
		c := &collector{after: func(p int32, last int64) { _ = src.Commit(ctx, map[int32]int64{p: last + 1}) }}
		go c.run(ctx, ch)
		t.Cleanup(func() {
			cancel()
			src.Close()
			c.wg.Wait()
		})
		return src, in
	}
	a, ain := start()
	waitFor(t, "the first process holds the source", func() bool { return ownedCount(a) == testPartitions })
	_, first := a.Offsets()
	produce(t, brokers, "trades", trades(400, 40))
	b, bin := start()
	openCollected(t, bin)
	openCollected(t, ain)
	waitFor(t, "the processes share the source", func() bool { return ownedCount(a) > 0 && ownedCount(b) > 0 })
	if _, ends := b.Offsets(); !reflect.DeepEqual(ends, first) {
		t.Errorf("the second process ends its source at %v, want the first's %v", ends, first)
	}
	for name, in := range map[string]*Source{"first": ain, "second": bin} {
		if got := in.repart.sourceEnds(); !reflect.DeepEqual(got, first) {
			t.Errorf("the %s process's stage 2 ends at %v, want %v", name, got, first)
		}
	}
}

// TestRunEndLeaderWithoutEnd pins the fallback when the group's leader
// does not agree the run's end (a process of an older sluice leads): an
// assignment without it fails both stages of the run at once, saying why,
// instead of leaving each process to wait for records past its own end
// that no one reads; an assignment with it is adopted, and one that is no
// consumer assignment at all changes nothing.
func TestRunEndLeaderWithoutEnd(t *testing.T) {
	src, err := NewSource("trades", sourceProps([]string{"127.0.0.1:1", "127.0.0.1:2"}, "group.id", "old-leader", "stop.at", "end"))
	if err != nil {
		t.Fatal(err)
	}
	in := src.RepartitionSource("rp", nil, testPartitions, nil, func(*record.Record, int64) bool { return false })
	if src.run == nil || in.run != src.run {
		t.Fatal("the stages of a bounded run do not share its end")
	}
	b := runEndBalancer{kgo.RangeBalancer(), src.run}
	assignment := func(userData []byte) []byte {
		a := kmsg.NewConsumerMemberAssignment()
		a.Topics = []kmsg.ConsumerMemberAssignmentTopic{{Topic: "trades", Partitions: []int32{0, 1}}}
		a.UserData = userData
		return a.AppendTo(nil)
	}
	failed := func(s *Source) bool {
		select {
		case <-s.Failed():
			return true
		default:
			return false
		}
	}
	ends := map[string][]int64{"trades": {7, 9}}
	if _, err := b.ParseSyncAssignment(assignment(encodeRunEnds(runEndAgreed, ends))); err != nil {
		t.Fatal(err)
	}
	if got := src.run.endsOf("trades"); !reflect.DeepEqual(got, ends["trades"]) || failed(src) || failed(in) {
		t.Fatalf("an assignment with the run's end: adopted %v (want %v), failed %v %v", got, ends["trades"], failed(src), failed(in))
	}
	if _, _ = b.ParseSyncAssignment(nil); failed(src) || failed(in) {
		t.Fatal("an empty assignment failed the run")
	}
	got, err := b.ParseSyncAssignment(assignment(nil))
	if err != nil || !reflect.DeepEqual(got, map[string][]int32{"trades": {0, 1}}) {
		t.Fatalf("assignment = %v, %v", got, err)
	}
	for name, s := range map[string]*Source{"stage 1": src, "stage 2": in} {
		if !failed(s) {
			t.Fatalf("%s did not fail on an assignment without the run's end", name)
		}
		if msg := s.Failure().Error(); !strings.Contains(msg, `leader of group "old-leader"`) || !strings.Contains(msg, "stop.at=end") {
			t.Errorf("%s failed with %q", name, msg)
		}
	}
}

// TestOneSourceNumbering pins that the Shuffle and a bounded run's end
// number a join's source partitions alike, one source after the other by
// the partition counts the planner saw, when the first source's topic grew
// before it opened: the second source's ends are those of the partitions
// the Shuffle numbers so, and a partition added since is refused by the
// Shuffle, saying why, instead of taking the number of another source's.
func TestOneSourceNumbering(t *testing.T) {
	var srcs []*Source
	for _, tt := range []struct {
		name string
		n    int
	}{{"orders", 4}, {"payments", 3}} {
		s, err := NewSource(tt.name, map[string]string{tt.name + ".bootstrap.servers": "localhost:9092", tt.name + ".group.id": "g", tt.name + ".stop.at": "end"})
		if err != nil {
			t.Fatal(err)
		}
		s.partitions = tt.n // as planned
		srcs = append(srcs, s)
	}
	in := srcs[0].RepartitionSource("g-s-repartition", nil, SourcePartitions(srcs), nil, nil)
	in.FollowEnds(srcs)
	in.ReadsFrom(srcs)
	sh := NewShuffle(srcs, ShuffleConfig{Topic: "g-s-repartition", Partitions: 8})
	// the sources open: orders has grown to 6 partitions
	opened := []map[int32]int64{{0: 10, 1: 11, 2: 12, 3: 13, 4: 14, 5: 15}, {0: 20, 1: 21, 2: 22}}
	for i, s := range srcs {
		s.mu.Lock()
		s.ends, s.partitions = opened[i], len(opened[i])
		s.mu.Unlock()
	}
	in.repart.sourceEnds() // nil until agreed
	srcs[0].run.adopt(map[string][]int64{"orders": {10, 11, 12, 13}, "payments": {20, 21, 22}})
	want := map[int32]int64{0: 10, 1: 11, 2: 12, 3: 13, 4: 20, 5: 21, 6: 22}
	if got := in.repart.sourceEnds(); !reflect.DeepEqual(got, want) {
		t.Errorf("the run's ends by source partition = %v, want %v (payments from 4, as the Shuffle numbers it)", got, want)
	}
	for _, tt := range []struct {
		topic string
		p     int32
		want  int32
	}{{"orders", 3, 3}, {"payments", 0, 4}, {"payments", 2, 6}} {
		if got, err := sh.upstream(&record.Record{Topic: tt.topic, Partition: tt.p}); got != tt.want || err != nil {
			t.Errorf("Shuffle numbers %s/%d as %d, %v; want %d", tt.topic, tt.p, got, err, tt.want)
		}
		if name, p := in.Origin(tt.want); name != tt.topic || p != tt.p {
			t.Errorf("stage 2 takes %d for %s/%d, want %s/%d", tt.want, name, p, tt.topic, tt.p)
		}
	}
	_, err := sh.upstream(&record.Record{Topic: "orders", Partition: 4})
	if err == nil || !strings.Contains(err.Error(), "partition 4, but had 4 partitions when the statement started") {
		t.Errorf("a partition added since: %v", err)
	}
}

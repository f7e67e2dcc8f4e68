package kafkatest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestJoinerStaysInGroup: a member that rejoins at once waits in JoinGroup
// for another still handing its partitions over (longer than the session
// timeout, heartbeating all along), and is in the generation the
// rebalance ends with, as on Kafka; kfake alone dropped it once its
// session timeout passed in JoinGroup.
func TestJoinerStaysInGroup(t *testing.T) {
	c := Cluster(t, kfake.SeedTopics(6, "t"), kfake.BrokerConfigs(map[string]string{"group.min.session.timeout.ms": "1000"}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const session = 1500 * time.Millisecond
	// member starts a group member that polls until the test ends and
	// returns its client and a channel of its assignments.
	member := func(revoke time.Duration) (*kgo.Client, <-chan []int32) {
		assigned := make(chan []int32, 10)
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumerGroup("g"), kgo.ConsumeTopics("t"),
			kgo.Balancers(kgo.RangeBalancer()), kgo.SessionTimeout(session), kgo.HeartbeatInterval(session/10),
			kgo.RebalanceTimeout(20*time.Second),
			kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { assigned <- m["t"] }),
			kgo.OnPartitionsRevoked(func(context.Context, *kgo.Client, map[string][]int32) {
				if ctx.Err() == nil {
					time.Sleep(revoke)
				}
			}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		go func() {
			for ctx.Err() == nil && !cl.PollFetches(ctx).IsClientClosed() {
			}
		}()
		return cl, assigned
	}
	members := func() []string {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		adm := kadm.NewClient(cl)
		gs, err := adm.DescribeGroups(ctx, "g")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range gs["g"].Members {
			ids = append(ids, m.MemberID)
		}
		slices.Sort(ids)
		return ids
	}
	next := func(ch <-chan []int32) []int32 {
		t.Helper()
		select {
		case ps := <-ch:
			return ps
		case <-ctx.Done():
			t.Fatal("no assignment")
			return nil
		}
	}

	a, aAssigned := member(0)
	next(aAssigned)
	// b takes 2.5 session timeouts to hand its partitions over
	b, bAssigned := member(5 * session / 2)
	next(aAssigned)
	next(bAssigned)
	// c joins: a rejoins at once and waits for b
	cc, cAssigned := member(0)
	if len(next(aAssigned)) == 0 {
		t.Error("a got no partitions after c joined")
	}
	next(bAssigned)
	next(cAssigned)
	want := []string{}
	for _, cl := range []*kgo.Client{a, b, cc} {
		id, _ := cl.GroupMetadata()
		want = append(want, id)
	}
	slices.Sort(want)
	if got := members(); !slices.Equal(got, want) {
		t.Errorf("members %v, want a, b and c %v", got, want)
	}
}

// TestCutJoinerExpires: members whose connections are cut while their
// JoinGroup waits for the group (a process killed mid-rebalance) are
// answered in the new generation, and assigned partitions, but never sync
// nor heartbeat; Kafka expires them after their session timeout and the
// one live member ends with every partition. kfake starts a new member's
// session timer only once its join answer is written, and an answer to a
// cut connection is often dropped: without kafkatest such a member stayed
// in the group, holding its partitions, until another rebalance timed out
// (here never: the rebalance timeout is longer than the test).
func TestCutJoinerExpires(t *testing.T) {
	const parts, dead = 16, 8
	c := Cluster(t, kfake.SeedTopics(parts, "t"), kfake.BrokerConfigs(map[string]string{"group.min.session.timeout.ms": "1000"}))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opts := func(id string, session time.Duration) []kgo.Opt {
		return []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...), kgo.ClientID(id), kgo.ConsumerGroup("g"), kgo.ConsumeTopics("t"),
			kgo.Balancers(kgo.RangeBalancer()), kgo.SessionTimeout(session), kgo.HeartbeatInterval(session / 10),
			kgo.RebalanceTimeout(10 * time.Minute)}
	}
	poll := func(cl *kgo.Client) {
		t.Cleanup(cl.Close)
		go func() {
			for ctx.Err() == nil && !cl.PollFetches(ctx).IsClientClosed() {
			}
		}()
	}

	// each dead member is cut as its JoinGroup with its member ID arrives,
	// before the group answers it
	cutters := map[string]*Cutter{}
	for i := range dead {
		cutters[fmt.Sprintf("dead%d", i)] = &Cutter{}
	}
	var mu sync.Mutex
	cut := map[string]bool{}
	allCut := make(chan struct{})
	c.ControlKey(int16(kmsg.JoinGroup), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		id := req.(*kmsg.JoinGroupRequest).MemberID
		client, _, _ := strings.Cut(id, "-")
		mu.Lock()
		defer mu.Unlock()
		if cu := cutters[client]; cu != nil && id != client && !cut[client] {
			cut[client] = true
			cu.Kill()
			if len(cut) == dead {
				close(allCut)
			}
		}
		return nil, nil, false
	})

	// the live member rejoins only once every dead member waits in the
	// group, so one rebalance answers them all and the group is then stable
	live, err := kgo.NewClient(append(opts("live", 1500*time.Millisecond), kgo.OnPartitionsRevoked(func(context.Context, *kgo.Client, map[string][]int32) {
		select {
		case <-allCut:
		case <-ctx.Done():
		}
	}))...)
	if err != nil {
		t.Fatal(err)
	}
	poll(live)
	if _, err := c.WaitGroupStable(ctx, "g", 1); err != nil {
		t.Fatal(err)
	}
	for id, cu := range cutters {
		// a longer session: kafkatest heartbeats a member waiting in
		// JoinGroup a third of it after it joined, which would start
		// kfake's own timer
		cl, err := kgo.NewClient(append(opts(id, 3*time.Second), kgo.Dialer(cu.Dial))...)
		if err != nil {
			t.Fatal(err)
		}
		poll(cl)
	}
	// a failed test closes the cluster first: the live member's client,
	// waiting in JoinGroup, would close only as the rebalance ends
	t.Cleanup(c.Close)
	select {
	case <-allCut:
	case <-ctx.Done():
		t.Fatalf("dead members cut while joining: %d of %d", len(cut), dead)
	}
	g, err := c.WaitGroupInfo(ctx, "g", func(g *kfake.GroupInfo) bool {
		return g != nil && g.State == "Stable" && len(g.Members) == 1 && g.NumAssigned() == parts
	})
	if err != nil {
		var ms []string
		for _, m := range g.Members {
			ms = append(ms, fmt.Sprintf("%s%v", m.MemberID, m.Assignment["t"]))
		}
		t.Fatalf("group %s: members %v; want the live member alone with all %d partitions", g.State, ms, parts)
	}
	if id, _ := live.GroupMetadata(); g.Members[0].MemberID != id {
		t.Errorf("member %s, want the live member %s", g.Members[0].MemberID, id)
	}
}

// TestSessionsStopOnAClusterClosedEarly: a test may close its cluster
// before it ends; the sessions then stop without waiting for a read of a
// group's state, which kfake never answers on a closed cluster.
func TestSessionsStopOnAClusterClosedEarly(t *testing.T) {
	c, err := kfake.NewCluster(kfake.SeedTopics(1, "t"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := watchSessions(c)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	assigned := make(chan struct{}, 1)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumerGroup("g"), kgo.ConsumeTopics("t"),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
			select {
			case assigned <- struct{}{}:
			default:
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for ctx.Err() == nil && !cl.PollFetches(ctx).IsClientClosed() {
		}
	}()
	select {
	case <-assigned:
	case <-ctx.Done():
		t.Fatal("the member was never assigned")
	}
	s.mu.Lock()
	followed := s.groups["g"] != nil
	s.mu.Unlock()
	if !followed {
		t.Fatal("the sessions do not follow the group: the test checks nothing")
	}
	c.Close()
	// the sessions read the group's state on the closed cluster
	time.Sleep(3 * poll)
	closed := make(chan struct{})
	go func() {
		s.close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-ctx.Done():
		t.Fatal("the sessions never stopped: a read of the closed cluster held them")
	}
	cancel()
	cl.Close()
}

// TestStaticReplacedInSync: a static member restarted (same instance ID,
// no member ID) while its old member waits in SyncGroup replaces it and
// starts a rebalance; once every member has joined again the rebalance
// ends, as on Kafka. On kfake alone the rebalance waited for one join
// more than its members (until its timeout, here 10 minutes).
func TestStaticReplacedInSync(t *testing.T) {
	w := newWire(t, true)
	p := w.pairInSync(wireSession, true)
	// b restarts meanwhile: the new b joins before the leader syncs
	b2j := w.join(w.client(), "", p.bi, wireSession)
	w.arrived(2, "the new b's join", restartOf(p.bi))
	// the leader syncs, and joins again if the group rebalances
	gen := p.gen
	as := await(w, w.sync(p.ca, p.a, p.ai, p.gen, p.a, p.b), "the leader's sync")
	if as.ErrorCode == kerr.RebalanceInProgress.Code {
		gen = answer(w, w.join(p.ca, p.a, p.ai, wireSession), "a rejoins after b restarted").Generation
	}
	await(w, p.bSync, "b's sync") // answered or fenced
	if b2 := answer(w, b2j, "the new b joins"); b2.Generation != gen {
		t.Errorf("generations %d and %d", gen, b2.Generation)
	}
}

package kafkatest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
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

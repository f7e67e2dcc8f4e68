package kafkatest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Cluster starts an in-process Kafka cluster with opts, closed when t and
// its cleanups end; a test may close it earlier to take it away. A group
// member waiting in JoinGroup is kept in its group as Kafka keeps it
// (keepJoinersAlive).
func Cluster(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	k, err := keepJoinersAlive(c)
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(k.close) // before the cluster closes
	return c
}

// joinKeeper heartbeats, on their behalf, the members of a kfake cluster's
// groups that wait in JoinGroup.
//
// Kafka never expires a known member while it waits in JoinGroup (the
// coordinator keeps a member awaiting join alive, and the rebalance
// timeout bounds the wait): the members that joined first wait for the
// ones still handing their partitions over. kfake instead drops a member
// whose session timeout passes since its last heartbeat, even in
// JoinGroup, and never answers its join (the member notices at its
// request's timeout, some 25s later, and joins again, starting another
// rebalance). On a loaded machine a member's handover can take longer
// than a short session timeout, so the first members back were dropped
// in every rebalance and a group of several processes could rebalance
// for ever: an artefact of the test broker, not something the engine
// meets on Kafka. A heartbeat in the generation the member left keeps it
// in kfake's group (while the group prepares the rebalance, kfake answers
// it with REBALANCE_IN_PROGRESS and restarts the session timer), until
// the rebalance ends (a new generation), the member is gone, or its
// rebalance timeout passed.
type joinKeeper struct {
	cl     *kgo.Client
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	gens  map[member]int32 // the latest generation each member was seen in
	alive map[member]int32 // the members being kept alive, in their generation
}

// member is a group member: its group and member ID.
type member struct{ group, id string }

// keepJoinersAlive starts keeping c's members alive in JoinGroup.
func keepJoinersAlive(c *kfake.Cluster) (*joinKeeper, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		return nil, err
	}
	k := &joinKeeper{cl: cl, gens: map[member]int32{}, alive: map[member]int32{}}
	k.ctx, k.cancel = context.WithCancel(context.Background())
	// every request that names a member's generation says where it is
	for _, key := range []kmsg.Key{kmsg.Heartbeat, kmsg.SyncGroup, kmsg.OffsetCommit} {
		c.ControlKey(int16(key), func(req kmsg.Request) (kmsg.Response, error, bool) {
			switch r := req.(type) {
			case *kmsg.HeartbeatRequest:
				k.saw(r.Group, r.MemberID, r.Generation)
			case *kmsg.SyncGroupRequest:
				k.saw(r.Group, r.MemberID, r.Generation)
			case *kmsg.OffsetCommitRequest:
				k.saw(r.Group, r.MemberID, r.Generation)
			}
			return nil, nil, false
		})
	}
	c.ControlKey(int16(kmsg.JoinGroup), func(req kmsg.Request) (kmsg.Response, error, bool) {
		k.joining(req.(*kmsg.JoinGroupRequest))
		return nil, nil, false
	})
	return k, nil
}

// saw notes that a member of group was seen in generation gen.
func (k *joinKeeper) saw(group, id string, gen int32) {
	if id == "" || gen < 0 {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	m := member{group, id}
	if g, ok := k.gens[m]; !ok || gen > g {
		k.gens[m] = gen
	}
}

// joining starts heartbeating a known member that (re)joins its group.
func (k *joinKeeper) joining(req *kmsg.JoinGroupRequest) {
	m := member{req.Group, req.MemberID}
	k.mu.Lock()
	defer k.mu.Unlock()
	gen, known := k.gens[m]
	if kept, ok := k.alive[m]; !known || ok && kept >= gen || k.ctx.Err() != nil {
		return
	}
	k.alive[m] = gen
	hb := kmsg.NewPtrHeartbeatRequest()
	hb.Group, hb.MemberID, hb.Generation, hb.InstanceID = req.Group, req.MemberID, gen, req.InstanceID
	every := time.Duration(req.SessionTimeoutMillis) * time.Millisecond / 3
	until := time.Now().Add(time.Duration(max(req.RebalanceTimeoutMillis, req.SessionTimeoutMillis)) * time.Millisecond)
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		defer func() {
			k.mu.Lock()
			if k.alive[m] == gen {
				delete(k.alive, m)
			}
			k.mu.Unlock()
		}()
		for time.Now().Before(until) {
			select {
			case <-k.ctx.Done():
				return
			case <-time.After(every):
			}
			resp, err := hb.RequestWith(k.ctx, k.cl)
			if err == nil && resp.ErrorCode != kerr.RebalanceInProgress.Code {
				return // the rebalance ended, or the member is gone
			}
		}
	}()
}

// close stops the heartbeats and their client.
func (k *joinKeeper) close() {
	k.mu.Lock()
	k.cancel()
	k.mu.Unlock()
	k.wg.Wait()
	k.cl.Close()
}

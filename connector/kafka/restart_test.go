package kafka

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/internal/kafkatest"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// assignedAll opens src and waits until it has readers of n partitions.
func assignedAll(t *testing.T, ctx context.Context, src *Source, n int) {
	t.Helper()
	ch, err := src.Open(ctx, record.NewSchema("trader_id"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []connector.PartitionReader
	for len(got) < n {
		select {
		case r := <-ch:
			got = append(got, r)
		case <-ctx.Done():
			t.Fatalf("%d of %d partitions assigned before the deadline", len(got), n)
		}
	}
	go func() {
		for r := range ch {
			r.Close()
		}
	}()
}

// TestStaticMemberRestart: a static member ('<n>.group.instance.id') killed
// without leaving is replaced by its restart at once, not after its 2-minute
// session timeout (the test's 30s deadline would pass first); a clean close
// leaves the group at once.
func TestStaticMemberRestart(t *testing.T) {
	brokers := startCluster(t, "trades")
	produce(t, brokers, "trades", trades(50, 5))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	first, restarted := restartStaticMember(t, ctx, brokers, true)
	if err := restarted.Close(); err != nil {
		t.Fatal(err)
	}
	if m := groupMembers(t, ctx, brokers); len(m) != 0 {
		t.Errorf("after a clean close the group still has %d members: %v", len(m), m)
	}
	first.Close()
}

// TestStaticMemberLeavesOnlyItself: a static member that closes leaves its
// group as the member it was, through its own connections. A process killed
// (kill -9) whose shutdown still runs reaches no broker, and one whose
// instance id its restart took over (it hung past its session) names its own
// member id, which Kafka fences (KIP-345; kfake removes whoever holds the
// instance id, so the test answers as Kafka does): neither removes the
// restart, whose partitions would move and be read again from their last
// commits. The restart's own close leaves at once.
func TestStaticMemberLeavesOnlyItself(t *testing.T) {
	for _, killed := range []bool{true, false} {
		name := map[bool]string{true: "killed", false: "replaced"}[killed]
		t.Run(name, func(t *testing.T) {
			c := kafkatest.Cluster(t, kfake.NumBrokers(3), kfake.SeedTopics(testPartitions, "trades"))
			brokers := c.ListenAddrs()
			produce(t, brokers, "trades", trades(50, 5))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			first, restarted := restartStaticMember(t, ctx, brokers, killed)
			holder := groupMembers(t, ctx, brokers)
			if len(holder) != 1 {
				t.Fatalf("members after the restart: %v", holder)
			}
			c.ControlKey(int16(kmsg.LeaveGroup), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				req := kreq.(*kmsg.LeaveGroupRequest)
				resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
				fenced := false
				for _, m := range req.Members {
					r := kmsg.NewLeaveGroupResponseMember()
					r.MemberID, r.InstanceID = m.MemberID, m.InstanceID
					if m.MemberID != "" && m.MemberID != holder[0] {
						r.ErrorCode, fenced = kerr.FencedInstanceID.Code, true
					}
					resp.Members = append(resp.Members, r)
				}
				return resp, nil, fenced
			})
			first.Close()
			if got := groupMembers(t, ctx, brokers); len(got) != 1 || got[0] != holder[0] {
				t.Errorf("the %s process's close left the group with members %v, want its restart %v", name, got, holder)
			}
			if err := restarted.Close(); err != nil {
				t.Fatal(err)
			}
			if got := groupMembers(t, ctx, brokers); len(got) != 0 {
				t.Errorf("after the restart's clean close the group has members %v", got)
			}
		})
	}
}

// restartStaticMember starts a static member of group g (instance
// worker-1, a 2-minute session) over a network the test may cut and waits
// until it holds every partition of trades; when kill it then stops it as
// kill -9 does (its connections cut, no leave). It starts the member's
// restart, waits until that holds every partition, and returns both.
func restartStaticMember(t *testing.T, ctx context.Context, brokers []string, kill bool) (first, restarted *Source) {
	t.Helper()
	props := sourceProps(brokers, "group.id", "g", "group.instance.id", "worker-1", "session.timeout.ms", "120000")
	var net kafkatest.Cutter
	first, err := NewSource("trades", props, kgo.Dialer(net.Dial))
	if err != nil {
		t.Fatal(err)
	}
	assignedAll(t, ctx, first, testPartitions)
	if kill {
		net.Kill()
	}
	if restarted, err = NewSource("trades", props); err != nil {
		t.Fatal(err)
	}
	assignedAll(t, ctx, restarted, testPartitions)
	return first, restarted
}

// groupMembers returns the member ids of group g.
func groupMembers(t *testing.T, ctx context.Context, brokers []string) []string {
	t.Helper()
	cl, err := newClient(Plain(brokers))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	groups, err := kadm.NewClient(cl).DescribeGroups(ctx, "g")
	if err == nil {
		err = groups.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range groups["g"].Members {
		ids = append(ids, m.MemberID)
	}
	return ids
}

// TestUnavailableTimeout: a source whose brokers go away says how long it
// retries and, past '<n>.unavailable.timeout', fails with a message naming
// the option; without it, it retries forever and says so.
func TestUnavailableTimeout(t *testing.T) {
	for _, timeout := range []string{"1s", ""} {
		c := kafkatest.Cluster(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "trades"))
		brokers := c.ListenAddrs()
		produce(t, brokers, "trades", trades(10, 2))
		props := sourceProps([]string{brokers[0], brokers[0]})
		if timeout != "" {
			props["trades.unavailable.timeout"] = timeout
		}
		src, err := NewSource("trades", props)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		assignedAll(t, ctx, src, 2)
		c.Close()
		if timeout != "" {
			select {
			case <-src.Failed():
			case <-ctx.Done():
				t.Fatal("the source did not fail")
			}
			if err := src.Failure(); err == nil || !strings.Contains(err.Error(), "'trades.unavailable.timeout' (1s)") {
				t.Errorf("failure: %v", err)
			}
		} else {
			for src.Status() == "" && ctx.Err() == nil {
				time.Sleep(50 * time.Millisecond)
			}
			if st := src.Status(); !strings.Contains(st, "retrying forever ('trades.unavailable.timeout' not set)") {
				t.Errorf("status %q", st)
			}
			if src.UnavailableTimeout() != 0 || src.Unavailable() == 0 {
				t.Errorf("unavailable %s, timeout %s", src.Unavailable(), src.UnavailableTimeout())
			}
		}
		src.Close()
		cancel()
	}
	if _, err := NewSource("t", map[string]string{"t.unavailable.timeout": "soon"}); err == nil || !strings.Contains(err.Error(), "'t.unavailable.timeout'") {
		t.Errorf("bad timeout: %v", err)
	}
	if _, err := NewSource("t", map[string]string{"t.group.instance.id": "a"}); err == nil || !strings.Contains(err.Error(), "'t.group.id'") {
		t.Errorf("instance id without group: %v", err)
	}
}

// joinFailure opens a group source configured by props and returns why it
// failed, which it must do at once rather than retry the join for ever.
func joinFailure(t *testing.T, props map[string]string) error {
	t.Helper()
	src, err := NewSource("trades", props)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := src.Open(ctx, record.NewSchema("trader_id"), nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-src.Failed():
	case <-ctx.Done():
		t.Fatal("the source did not fail")
	}
	return src.Failure()
}

// TestSessionTimeoutOutOfRange: a group member whose session timeout the
// brokers refuse fails at once, naming the option.
func TestSessionTimeoutOutOfRange(t *testing.T) {
	brokers := startCluster(t, "trades")
	var pe *sql.PropertyError
	err := joinFailure(t, sourceProps(brokers, "group.id", "g", "session.timeout.ms", "1000"))
	if !errors.As(err, &pe) || pe.Key != "trades.session.timeout.ms" || !strings.Contains(err.Error(), "outside the range the brokers allow") {
		t.Errorf("failure: %v", err)
	}
}

// TestGroupNotAuthorized: a member whose user may read the topic but not
// join its group fails at once with an authentication error.
func TestGroupNotAuthorized(t *testing.T) {
	c := kafkatest.Cluster(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "trades"), kfake.EnableSASL(), kfake.EnableACLs(),
		kfake.Superuser("PLAIN", "admin", "admin-pw"),
		kfake.User("PLAIN", "bob", "bob-pw",
			kfake.ACL{Resource: kmsg.ACLResourceTypeTopic, Name: "trades", Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: kmsg.ACLOperationRead, Allow: true},
			kfake.ACL{Resource: kmsg.ACLResourceTypeTopic, Name: "trades", Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: kmsg.ACLOperationDescribe, Allow: true}))
	var ae *AuthError
	err := joinFailure(t, sourceProps([]string{c.ListenAddrs()[0], c.ListenAddrs()[0]}, "group.id", "g", "sasl.mechanism", "PLAIN",
		"sasl.username", "bob", "sasl.password", "bob-pw"))
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "GROUP_AUTHORIZATION_FAILED") {
		t.Errorf("failure: %v", err)
	}
}

package kafka

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A group member that needs the whole topic (RequireWholeTopic) and is
// given part of it stops, and so does every other member given the rest.
// The other members learn of it only from their own share, which each
// gets when its SyncGroup reaches the coordinator: if the leader stopped
// and left the group first, a later SyncGroup found the group
// rebalancing again, and that member, now alone, was given the whole
// topic and carried on from the leader's offsets. So a leader that stops
// for a split stays in the group until the group rebalances again (the
// others leaving), at most a session timeout.

// splitBalancer is the range balancer of a member that needs the whole
// topic: it tells the source how many members a generation it leads has,
// and when the member joins again.
type splitBalancer struct {
	kgo.GroupBalancer
	s *Source
}

// JoinGroupMetadata is called at each join: the group is rebalancing.
func (b splitBalancer) JoinGroupMetadata(topics []string, current map[string][]int32, generation int32) []byte {
	b.s.rejoining()
	return b.GroupBalancer.JoinGroupMetadata(topics, current, generation)
}

// MemberBalancer is called on the leader of a generation with its members.
func (b splitBalancer) MemberBalancer(members []kmsg.JoinGroupResponseMember) (kgo.GroupMemberBalancer, map[string]struct{}, error) {
	b.s.mu.Lock()
	b.s.ledMembers = len(members)
	b.s.mu.Unlock()
	return b.GroupBalancer.MemberBalancer(members)
}

// rejoining notes that the member joins the group again: a leader held
// after a split may leave, and what it led is past.
func (s *Source) rejoining() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ledMembers = 0
	if s.splitHeld != nil {
		close(s.splitHeld)
		s.splitHeld = nil
	}
}

// holdSplitLocked makes a leader of a generation with other members stay
// in the group when it closes, until the group rebalances again.
func (s *Source) holdSplitLocked() {
	if s.ledMembers > 1 && s.splitHeld == nil {
		s.splitHeld = make(chan struct{})
	}
}

// awaitSplit waits, before a held leader leaves, until the group
// rebalances again or a session timeout has passed.
func (s *Source) awaitSplit() {
	s.mu.Lock()
	held := s.splitHeld
	s.mu.Unlock()
	if held == nil {
		return
	}
	t := time.NewTimer(s.cfg.sessionTimeout)
	defer t.Stop()
	start := time.Now()
	select {
	case <-held:
		s.logger().Debug("kafka split group rebalanced: leaving", "waited", time.Since(start))
	case <-t.C:
		s.logger().Debug("kafka split group did not rebalance within the session timeout: leaving", "waited", time.Since(start))
	}
}

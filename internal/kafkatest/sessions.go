package kafkatest

import (
	"context"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// sessions runs the session timeouts of a kfake cluster's classic
// consumer groups as Kafka's group coordinator does, in the two places
// where kfake differs, so that a test's group meets what it would on
// Kafka:
//
//   - Kafka never expires a member waiting in JoinGroup (the rebalance
//     timeout bounds the wait): the members that joined first wait for
//     the ones still handing their partitions over. kfake drops a member
//     whose session timeout passes in JoinGroup and never answers its
//     join (the member notices as its request times out, and joins again,
//     starting another rebalance); on a loaded machine a handover can outlast a
//     short session timeout, and a group of several processes could
//     rebalance for ever. sessions heartbeats, on its behalf, a member
//     waiting in JoinGroup, in its group's generation, every third of its
//     session timeout, until its join is answered or its rebalance timeout
//     passed since it joined (Kafka would have answered it by then; kfake
//     restarts the rebalance's timer at every join, and the answer to a
//     member may be missed here when the group completes and rebalances
//     again between two reads: keeping such a member, dead, for ever held
//     the group in its rebalance).
//   - Kafka starts every member's session timer when a join completes,
//     whether or not the answer reaches the member. kfake starts it only
//     once the answer is written, and drops the answer to a connection
//     already cut (a process killed while it waited in JoinGroup): such a
//     member, if new to the group (kfake stops a pending member's timer
//     as it joins), stayed in the group holding the partitions it was
//     assigned until a later rebalance timed out, or for ever. sessions
//     makes a member leave once its session timeout passed with no
//     SyncGroup or Heartbeat naming its generation since its join was
//     answered (or, if it was waiting in SyncGroup, since that was), as
//     Kafka expires it.
//
// And in a third, a miscount: kfake keeps a count of the members waiting
// in JoinGroup, and a rebalance ends as it reaches the group's size. But
// it counts a member by whether it has a request waiting, which may be a
// SyncGroup, never counted: removing such a member (removeMember)
// decrements the count, and its JoinGroup (updateMemberAndRebalance, with
// another subscription: one that gave its SyncGroup up) does not
// increment it. The rebalance that starts then waits for one join more
// than there are members, and ends only as its timer fires, which kfake
// restarts at every join and leave: with members that time out and join
// again, never (the static e2e hang of eos4: every process waiting for an
// assignment, joins failing "i/o timeout"). Kafka counts only the members
// awaiting a join (ClassicGroup.remove and updateMember change
// numMembersAwaitingJoinResponse by whether the member isAwaitingJoin).
// sessions keeps kfake from miscounting:
//
//   - a LeaveGroup naming a member waiting in SyncGroup, the JoinGroup of
//     a static member with no member ID (a restarted process) replacing
//     one, and a JoinGroup of one: sessions holds the request until the
//     member no longer waits in SyncGroup (holdMiscount);
//   - kfake also removes a member waiting in SyncGroup as its session
//     timeout passes, which Kafka never does
//     (ClassicGroupMember.hasSatisfiedHeartbeat: "Members that are
//     awaiting a rebalance automatically satisfy expected heartbeats"; the
//     wait is bounded by the leader's SyncGroup or, if that never comes,
//     the rebalance timeout after which the members that did not sync are
//     removed): kfake keeps the timer it started as it answered the
//     member's join running. sessions heartbeats, on its behalf, a member
//     waiting in SyncGroup, every third of its session timeout, as it does
//     one waiting in JoinGroup.
//
// It sees every JoinGroup, SyncGroup, Heartbeat and LeaveGroup through
// control functions that only observe (some may wait), and reads
// each group's state (GroupInfo) every poll. A control function runs on
// the cluster's loop just before its request is handled, so a request
// seen before a read is handled before it. The heartbeats and leaves go
// through clients with no credentials: on a cluster with SASL they fail
// and kfake behaves as itself.
type sessions struct {
	c      *kfake.Cluster
	cl     *kgo.Client // sends the heartbeats
	leaves *kgo.Client // sends the leaves, which may be held while heartbeats go on
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	seq     uint64                   // counts the requests seen
	members map[member]*session      // by member
	static  map[member]*session      // the joins of static members with no member ID yet, by instance ID
	groups  map[string]*groupSession // the groups with members seen
}

// member is a group member: its group and member ID (or instance ID).
type member struct{ group, id string }

// session is what was seen of one member.
type session struct {
	timeout   time.Duration // its session timeout, from its latest JoinGroup
	rebalance time.Duration // its rebalance timeout, from its latest JoinGroup
	last      uint64        // the sequence number of its latest request

	join    uint64    // its latest JoinGroup's sequence number while not known to be answered, else 0
	joinAt  time.Time // when join was seen
	joinGen int32     // the group's generation first read after join, -1 before

	gen    int32     // the generation it is known in: named in a request, or answered in
	liveAt time.Time // when it last named gen, or its join in gen was answered
	synced bool      // it sent a SyncGroup naming gen

	keptAt time.Time // the latest heartbeat sent on its behalf
	leftAt time.Time // when it was last made to leave
}

// groupSession is what was seen of one group.
type groupSession struct {
	settledGen int32     // the latest generation whose SyncGroups were seen answered...
	settledAt  time.Time // ...first seen then
}

// poll is how often sessions reads the state of the groups it follows.
const poll = 100 * time.Millisecond

// watchSessions starts running c's group sessions.
func watchSessions(c *kfake.Cluster) (*sessions, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		return nil, err
	}
	leaves, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		cl.Close()
		return nil, err
	}
	s := &sessions{c: c, cl: cl, leaves: leaves, members: map[member]*session{}, static: map[member]*session{}, groups: map[string]*groupSession{}}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for _, key := range []kmsg.Key{kmsg.JoinGroup, kmsg.SyncGroup, kmsg.Heartbeat, kmsg.LeaveGroup} {
		c.ControlKey(int16(key), func(req kmsg.Request) (kmsg.Response, error, bool) {
			s.holdMiscount(req)
			s.saw(req)
			return nil, nil, false
		})
	}
	s.wg.Add(1)
	go s.run()
	return s, nil
}

// holdMiscount holds, on the cluster's loop, a request that kfake
// miscounts when it names a member waiting in SyncGroup (see sessions: a
// LeaveGroup naming it, the JoinGroup of a static member with no member ID
// replacing the instance's member, or its own JoinGroup), until that
// member no longer waits: the leader synced, a rebalance started, or the
// rebalance timeout removed the members that did not sync. The request is
// then handled as kfake should. Kafka handles it at once (and counts
// right): holding it only delays it, as a slow network could, and Kafka
// too handles a connection's requests one at a time, in order, so the
// test's clients meet an order Kafka could give them. The wait is bounded
// by the rebalance timeout, within a JoinGroup's own timeout on the
// client (a LeaveGroup's may pass: the member leaves either way).
func (s *sessions) holdMiscount(req kmsg.Request) {
	var group string
	var names func(kfake.GroupMember) bool
	switch r := req.(type) {
	case *kmsg.JoinGroupRequest:
		group = r.Group
		switch {
		case r.MemberID != "":
			names = func(m kfake.GroupMember) bool { return m.MemberID == r.MemberID }
		case r.InstanceID != nil:
			names = func(m kfake.GroupMember) bool { return m.InstanceID != nil && *m.InstanceID == *r.InstanceID }
		default:
			return // a new member
		}
	case *kmsg.LeaveGroupRequest:
		group = r.Group
		names = func(m kfake.GroupMember) bool {
			if r.Version < 3 {
				return m.MemberID == r.MemberID
			}
			for _, l := range r.Members {
				if l.InstanceID != nil && m.InstanceID != nil && *l.InstanceID == *m.InstanceID ||
					l.InstanceID == nil && l.MemberID == m.MemberID {
					return true
				}
			}
			return false
		}
	default:
		return
	}
	s.c.SleepControl(func() {
		for s.syncing(group, names) {
			select {
			case <-s.ctx.Done():
				return
			case <-time.After(poll):
			}
		}
	})
}

// syncing reports whether a member of group that names selects waits
// in SyncGroup: the group completes a rebalance and the member sent a
// SyncGroup naming its generation. It reads the group's state, so runs
// off the cluster's loop.
func (s *sessions) syncing(group string, names func(kfake.GroupMember) bool) bool {
	info, ok := s.read(group)
	if !ok || info == nil || info.State != "CompletingRebalance" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range info.Members {
		if ss := s.members[member{group, m.MemberID}]; names(m) && ss != nil && ss.synced && ss.gen == info.Epoch {
			return true
		}
	}
	return false
}

// saw notes a group request.
func (s *sessions) saw(req kmsg.Request) {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	switch r := req.(type) {
	case *kmsg.JoinGroupRequest:
		m := member{r.Group, r.MemberID}
		if r.MemberID == "" {
			if r.InstanceID == nil {
				return // a new member asking for its ID
			}
			m = member{r.Group, *r.InstanceID} // a static member: kfake gives it an ID
		}
		ss := s.session(m, r.MemberID == "")
		ss.timeout = time.Duration(r.SessionTimeoutMillis) * time.Millisecond
		ss.rebalance = time.Duration(r.RebalanceTimeoutMillis) * time.Millisecond
		ss.join, ss.joinAt, ss.joinGen = s.seq, now, -1
	case *kmsg.SyncGroupRequest:
		ss := s.session(member{r.Group, r.MemberID}, false)
		ss.join = 0 // a member syncs once its join was answered
		ss.named(r.Generation, true, now)
	case *kmsg.HeartbeatRequest:
		s.session(member{r.Group, r.MemberID}, false).named(r.Generation, false, now)
	}
}

// session returns m's session (in static, by instance ID), marking it
// seen in the latest request.
func (s *sessions) session(m member, static bool) *session {
	ms := s.members
	if static {
		ms = s.static
	}
	ss := ms[m]
	if ss == nil {
		ss = &session{gen: -1, joinGen: -1}
		ms[m] = ss
	}
	if s.groups[m.group] == nil {
		s.groups[m.group] = &groupSession{settledGen: -1}
	}
	ss.last = s.seq
	return ss
}

// named notes that the member named generation gen at now, in a SyncGroup
// if sync.
func (ss *session) named(gen int32, sync bool, now time.Time) {
	switch {
	case gen > ss.gen:
		ss.gen, ss.liveAt, ss.synced = gen, now, sync
	case gen == ss.gen:
		ss.liveAt, ss.synced = now, ss.synced || sync
	}
}

// answered notes that the member's join was answered in generation gen,
// seen at now.
func (ss *session) answered(gen int32, now time.Time) {
	ss.join = 0
	if gen > ss.gen {
		ss.gen, ss.liveAt, ss.synced = gen, now, false
	} else if gen == ss.gen && now.After(ss.liveAt) {
		ss.liveAt = now
	}
}

// run reads the groups' states every poll until the sessions stop.
func (s *sessions) run() {
	defer s.wg.Done()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
		}
		s.mu.Lock()
		seq := s.seq
		groups := make([]string, 0, len(s.groups))
		for g := range s.groups {
			groups = append(groups, g)
		}
		s.mu.Unlock()
		for _, g := range groups {
			info, ok := s.read(g)
			if !ok {
				return
			}
			s.check(g, info, seq, time.Now())
		}
	}
}

// read returns group's state, or false once the sessions stop.
// GroupInfo blocks for ever once the cluster is closed (a test may close
// it before it ends): such a read is left behind.
func (s *sessions) read(group string) (*kfake.GroupInfo, bool) {
	info := make(chan *kfake.GroupInfo, 1)
	go func() { info <- s.c.GroupInfo(group) }()
	select {
	case i := <-info:
		return i, true
	case <-s.ctx.Done():
		return nil, false
	}
}

// check keeps or expires the members of group as info, read after the
// request numbered seq and before now, says.
func (s *sessions) check(group string, info *kfake.GroupInfo, seq uint64, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gs := s.groups[group]
	in := map[string]bool{}
	var gen int32
	var state string
	if info != nil {
		gen, state = info.Epoch, info.State
		if (state == "Stable" || state == "PreparingRebalance") && gs.settledGen != gen {
			gs.settledGen, gs.settledAt = gen, now
		}
		for _, gm := range info.Members {
			in[gm.MemberID] = true
			m := member{group, gm.MemberID}
			ss := s.members[m]
			if gm.InstanceID != nil {
				ss = s.adopt(m, *gm.InstanceID, ss, seq)
			}
			if ss != nil {
				s.checkMember(m, ss, gs, state, gen, seq, now)
			}
		}
	}
	// forget the members gone (or never let in) and their group once all are
	left := 0
	for _, ms := range []map[member]*session{s.members, s.static} {
		for m, ss := range ms {
			switch {
			case m.group != group:
			case !in[m.id] && ss.last <= seq:
				delete(ms, m)
			default:
				left++
			}
		}
	}
	if left == 0 {
		delete(s.groups, group)
	}
}

// adopt returns the session of member m of a group, static member
// instance: a static member that joins with no member ID is given one by
// kfake, so its JoinGroup was noted by instance. ss is m's session, if
// any.
func (s *sessions) adopt(m member, instance string, ss *session, seq uint64) *session {
	sm := member{m.group, instance}
	joined := s.static[sm]
	if joined == nil || joined.last > seq {
		return ss // no such join, or not yet handled
	}
	delete(s.static, sm)
	switch {
	case ss == nil:
		s.members[m] = joined
		return joined
	case ss.timeout == 0: // it synced or heartbeated under its new ID
		ss.timeout = joined.timeout
	}
	return ss
}

// checkMember keeps or expires member m of a group in state at generation
// gen (see check).
func (s *sessions) checkMember(m member, ss *session, gs *groupSession, state string, gen int32, seq uint64, now time.Time) {
	preparing := state == "PreparingRebalance"
	if ss.join != 0 && ss.join <= seq {
		// kfake answers every join waiting in a group as the rebalance
		// completes, and a group at rest holds none
		switch {
		case !preparing:
			ss.answered(gen, now)
		case ss.joinGen < 0:
			ss.joinGen = gen
		case gen > ss.joinGen:
			ss.answered(gen, now)
		}
	}
	if ss.join != 0 {
		if ss.join <= seq && preparing && now.Sub(ss.joinAt) < max(ss.rebalance, ss.timeout) &&
			now.Sub(later(ss.joinAt, ss.keptAt)) >= ss.timeout/3 {
			ss.keptAt = now
			hb := kmsg.NewPtrHeartbeatRequest()
			hb.Group, hb.MemberID, hb.Generation = m.group, m.id, gen
			s.send(s.cl, hb)
		}
		return // waiting in JoinGroup
	}
	if ss.timeout == 0 || ss.gen > gen {
		return // its join was never seen, or info is older than its requests
	}
	if ss.gen < gen {
		ss.answered(gen, now) // it is in gen, so was answered in it
	}
	if ss.synced && state == "CompletingRebalance" {
		// waiting in SyncGroup: kfake runs the timer it started as it
		// answered the member's join
		if now.Sub(ss.keptAt) >= ss.timeout/3 {
			ss.keptAt = now
			hb := kmsg.NewPtrHeartbeatRequest()
			hb.Group, hb.MemberID, hb.Generation = m.group, m.id, gen
			s.send(s.cl, hb)
		}
		return
	}
	live := ss.liveAt
	if ss.synced && gs.settledGen == gen {
		live = later(live, gs.settledAt) // its SyncGroup was answered
	}
	if now.Sub(live) > ss.timeout && now.Sub(ss.leftAt) > ss.timeout {
		ss.leftAt = now
		leave := kmsg.NewPtrLeaveGroupRequest()
		leave.Group, leave.MemberID = m.group, m.id
		lm := kmsg.NewLeaveGroupRequestMember()
		lm.MemberID = m.id
		reason := "kafkatest: session timeout expired"
		lm.Reason = &reason
		leave.Members = append(leave.Members, lm)
		s.send(s.leaves, leave)
	}
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// send sends req to the cluster through cl in the background, ignoring
// its answer. s.mu is held.
func (s *sessions) send(cl *kgo.Client, req kmsg.Request) {
	if s.ctx.Err() != nil {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		cl.Request(s.ctx, req)
	}()
}

// close stops the sessions.
func (s *sessions) close() {
	s.mu.Lock()
	s.cancel()
	s.mu.Unlock()
	s.wg.Wait()
	s.cl.Close()
	s.leaves.Close()
}

package kafka

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A bounded run of a repartitioned statement (stop.at=end) across
// processes ends where the group agreed, not where each process listed
// the source's end when it started: a process started after the topic
// grew would otherwise wait for records past the others' ends that no one
// reads. The end is decided as the group assigns, with Kafka's consumer
// protocol (as Kafka Streams' assignor shares its own information):
//
//   - every member of the group (both stages of every process, each an
//     eagerly rebalancing range member) sends, in its subscription's user
//     data, the run's end it adopted, or, before it adopted one, the ends
//     its process listed when its sources opened;
//   - the leader of each generation decides the run's end: the one the
//     members adopted (the highest, should they differ: a member of an
//     earlier run has a lower one), else the lowest each source partition
//     was listed at (the process that started first), else the ends it
//     lists itself; and sends it with every member's assignment;
//   - each member adopts the end its assignment carries, before its
//     readers are made: stage 1 reads every source partition up to it,
//     and stage 2 ends a partition of the repartition topic once every
//     source partition was committed up to it.
//
// So every process that joins while the run goes on takes the run's end,
// and a run that starts in an empty group (every process of the run
// before has left) takes the ends its first processes listed.

// runEnd is a bounded run's end as a process knows it, shared by the
// process's members of the group (stage 1's sources and stage 2's).
type runEnd struct {
	in   *Source   // stage 2's source, of the repartition topic
	srcs []*Source // stage 1's sources, in the Shuffle's order
	nums sourceNumbers

	mu     sync.Mutex
	agreed map[string][]int64 // per topic, each partition's end; nil until adopted
}

// newRunEnd makes srcs, and the repartition topic's source in, share one
// run's end.
func newRunEnd(in *Source, srcs []*Source) *runEnd {
	r := &runEnd{in: in, srcs: srcs, nums: numberSources(srcs)}
	for _, s := range append([]*Source{in}, srcs...) {
		s.mu.Lock()
		s.run = r
		s.mu.Unlock()
	}
	return r
}

// The kinds of ends a member's user data carries.
const (
	runEndNone   byte = 0 // it knows none yet
	runEndListed byte = 1 // its process listed them
	runEndAgreed byte = 2 // the group's assignment gave them
)

// runEndVersion starts the user data's encoding.
const runEndVersion byte = 1

// encodeRunEnds encodes ends of kind.
func encodeRunEnds(kind byte, ends map[string][]int64) []byte {
	b := []byte{runEndVersion, kind}
	if kind == runEndNone {
		return b
	}
	b = binary.AppendUvarint(b, uint64(len(ends)))
	for _, topic := range sortedKeys(ends) {
		b = binary.AppendUvarint(b, uint64(len(topic)))
		b = append(b, topic...)
		b = binary.AppendUvarint(b, uint64(len(ends[topic])))
		for _, e := range ends[topic] {
			b = binary.AppendVarint(b, e)
		}
	}
	return b
}

// decodeRunEnds reads encodeRunEnds's encoding; false for anything else
// (a member or leader of another version, or none).
func decodeRunEnds(b []byte) (byte, map[string][]int64, bool) {
	if len(b) < 2 || b[0] != runEndVersion || b[1] > runEndAgreed {
		return 0, nil, false
	}
	kind := b[1]
	b = b[2:]
	if kind == runEndNone {
		return kind, nil, len(b) == 0
	}
	count, n := binary.Uvarint(b)
	if n <= 0 || count > uint64(len(b)) {
		return 0, nil, false
	}
	b = b[n:]
	ends := make(map[string][]int64, count)
	for range count {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return 0, nil, false
		}
		topic := string(b[n : n+int(l)])
		b = b[n+int(l):]
		parts, n := binary.Uvarint(b)
		if n <= 0 || parts > uint64(len(b)) {
			return 0, nil, false
		}
		b = b[n:]
		es := make([]int64, parts)
		for i := range es {
			if es[i], n = binary.Varint(b); n <= 0 {
				return 0, nil, false
			}
			b = b[n:]
		}
		ends[topic] = es
	}
	return kind, ends, len(b) == 0
}

// sortedKeys returns m's keys in order.
func sortedKeys(m map[string][]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// known returns what this process knows of the run's end: the agreed end,
// else the ends its sources listed when they opened (once all did).
func (r *runEnd) known() (byte, map[string][]int64) {
	r.mu.Lock()
	agreed := r.agreed
	r.mu.Unlock()
	if agreed != nil {
		return runEndAgreed, agreed
	}
	listed := map[string][]int64{}
	for _, s := range r.srcs {
		_, ends := s.Offsets()
		if len(ends) == 0 {
			return runEndNone, nil // not open yet
		}
		listed[s.cfg.topic] = endsSlice(ends)
	}
	return runEndListed, listed
}

// endsSlice returns a partition's end by partition number.
func endsSlice(ends map[int32]int64) []int64 {
	out := make([]int64, len(ends))
	for p, e := range ends {
		if int(p) < len(out) {
			out[p] = e
		}
	}
	return out
}

// decide returns the run's end for a generation with members: the highest
// end a member adopted, else the lowest each source partition was listed
// at, else the ends the leader lists now.
func (r *runEnd) decide(members []kmsg.JoinGroupResponseMember) (map[string][]int64, error) {
	var agreed, listed map[string][]int64
	for _, m := range members {
		meta := kmsg.NewConsumerMemberMetadata()
		if meta.ReadFrom(m.ProtocolMetadata) != nil {
			continue
		}
		kind, ends, ok := decodeRunEnds(meta.UserData)
		switch {
		case !ok || kind == runEndNone:
		case kind == runEndAgreed:
			agreed = mergeEnds(agreed, ends, true)
		default:
			listed = mergeEnds(listed, ends, false)
		}
	}
	switch {
	case agreed != nil:
		return agreed, nil
	case listed != nil:
		return listed, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), listEndsWait)
	defer cancel()
	now := map[string][]int64{}
	for _, s := range r.srcs {
		_, ends, err := listOffsets(ctx, s.cfg.conn, s.cfg.topic)
		if err != nil {
			return nil, fmt.Errorf("deciding where the bounded run ends: %w", err)
		}
		now[s.cfg.topic] = endsSlice(ends)
	}
	return now, nil
}

// listEndsWait bounds a leader's listing of the run's end.
const listEndsWait = 10 * time.Second

// mergeEnds merges ends into into, keeping each partition's highest end
// (highest) or lowest.
func mergeEnds(into, ends map[string][]int64, highest bool) map[string][]int64 {
	if into == nil {
		into = map[string][]int64{}
	}
	for topic, es := range ends {
		have := into[topic]
		for i, e := range es {
			switch {
			case i >= len(have):
				have = append(have, e)
			case highest:
				have[i] = max(have[i], e)
			default:
				have[i] = min(have[i], e)
			}
		}
		into[topic] = have
	}
	return into
}

// adopt takes the run's end the group's assignment gave: every source
// stops at it (one opening later takes it too).
func (r *runEnd) adopt(ends map[string][]int64) {
	r.mu.Lock()
	r.agreed = ends
	r.mu.Unlock()
	for _, s := range r.srcs {
		s.mu.Lock()
		s.adoptEndsLocked(ends[s.cfg.topic])
		s.mu.Unlock()
	}
}

// endsOf returns the agreed end of topic's partitions, or nil.
func (r *runEnd) endsOf(topic string) []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.agreed == nil {
		return nil
	}
	return r.agreed[topic]
}

// sourceEnds returns where every source partition ends in the run, numbered
// as the Shuffle numbers them (sourceNumbers): the group's agreed end (a partition the
// agreement lacks, added to the topic since, ends where its source listed
// it); nil until the group agreed one and every source opened.
func (r *runEnd) sourceEnds() map[int32]int64 {
	r.mu.Lock()
	agreed := r.agreed
	r.mu.Unlock()
	if agreed == nil {
		return nil
	}
	out := map[int32]int64{}
	for i, s := range r.srcs {
		_, ends := s.Offsets()
		if len(ends) == 0 {
			return nil // not open yet
		}
		es := agreed[s.cfg.topic]
		for p, e := range ends {
			up, ok := r.nums.of(i, p)
			if !ok {
				continue // added since the statement started: the Shuffle sends none of it
			}
			if int(p) < len(es) {
				e = es[p]
			}
			out[up] = e
		}
	}
	return out
}

// adoptEndsLocked makes ends the end of the source's partitions (stop.at=end),
// once the source listed its own at Open.
func (s *Source) adoptEndsLocked(ends []int64) {
	if s.ends == nil || len(ends) == 0 {
		return
	}
	for p := range s.ends {
		if int(p) < len(ends) {
			s.ends[p] = ends[p]
		}
	}
}

// runEndBalancer is the range balancer of a member of a bounded run's
// group: it carries the run's end in the members' subscriptions and
// assignments (see runEnd).
type runEndBalancer struct {
	kgo.GroupBalancer
	run *runEnd
}

// JoinGroupMetadata adds what the member knows of the run's end to its
// subscription.
func (b runEndBalancer) JoinGroupMetadata(topics []string, current map[string][]int32, generation int32) []byte {
	inner := b.GroupBalancer.JoinGroupMetadata(topics, current, generation)
	meta := kmsg.NewConsumerMemberMetadata()
	if meta.ReadFrom(inner) != nil {
		return inner
	}
	meta.UserData = encodeRunEnds(b.run.known())
	return meta.AppendTo(nil)
}

// ParseSyncAssignment adopts the run's end the assignment carries. An
// assignment without one comes from a leader that does not agree the
// run's end (a process of an older sluice leads the group): the members
// could not agree where the run ends, and each would wait for records
// past its own end that no one reads, so the run fails at once, saying
// why.
func (b runEndBalancer) ParseSyncAssignment(assignment []byte) (map[string][]int32, error) {
	a := kmsg.NewConsumerMemberAssignment()
	if a.ReadFrom(assignment) == nil {
		if kind, ends, ok := decodeRunEnds(a.UserData); ok && kind == runEndAgreed {
			b.run.adopt(ends)
		} else {
			b.run.fail()
		}
	}
	return b.GroupBalancer.ParseSyncAssignment(assignment)
}

// fail fails the run's sources: the group's leader gave no run's end.
func (r *runEnd) fail() {
	for _, s := range append([]*Source{r.in}, r.srcs...) {
		s.fail(fmt.Errorf("kafka source %q: the leader of group %q assigned partitions without the bounded run's end (stop.at=end): "+
			"every member of the group must agree where the run ends (a sluice that does, and no statement of the group that is not a bounded run)", s.cfg.name, s.cfg.group))
	}
}

// MemberBalancer decides the run's end for the generation this member
// leads, and balances as the range balancer does.
func (b runEndBalancer) MemberBalancer(members []kmsg.JoinGroupResponseMember) (kgo.GroupMemberBalancer, map[string]struct{}, error) {
	inner, topics, err := b.GroupBalancer.MemberBalancer(members)
	if err != nil {
		return inner, topics, err
	}
	ends, err := b.run.decide(members)
	if err != nil {
		return nil, nil, err
	}
	return runEndMembers{inner, encodeRunEnds(runEndAgreed, ends)}, topics, nil
}

// runEndMembers balances a generation and gives every member the run's
// end with its assignment.
type runEndMembers struct {
	kgo.GroupMemberBalancer
	ends []byte // encodeRunEnds's
}

// Balance implements kgo.GroupMemberBalancer.
func (m runEndMembers) Balance(topics map[string]int32) kgo.IntoSyncAssignment {
	into := m.GroupMemberBalancer.Balance(topics)
	if into == nil {
		return nil // failed
	}
	return runEndPlan{into, m.ends}
}

// BalanceOrError implements kgo.GroupMemberBalancerOrError.
func (m runEndMembers) BalanceOrError(topics map[string]int32) (kgo.IntoSyncAssignment, error) {
	b, ok := m.GroupMemberBalancer.(kgo.GroupMemberBalancerOrError)
	if !ok {
		return m.Balance(topics), nil
	}
	into, err := b.BalanceOrError(topics)
	if err != nil || into == nil {
		return into, err
	}
	return runEndPlan{into, m.ends}, nil
}

// runEndPlan is a balance plan whose assignments carry the run's end.
type runEndPlan struct {
	plan kgo.IntoSyncAssignment
	ends []byte
}

// IntoSyncAssignment implements kgo.IntoSyncAssignment.
func (p runEndPlan) IntoSyncAssignment() []kmsg.SyncGroupRequestGroupAssignment {
	out := p.plan.IntoSyncAssignment()
	for i := range out {
		a := kmsg.NewConsumerMemberAssignment()
		if a.ReadFrom(out[i].MemberAssignment) != nil {
			continue
		}
		a.UserData = p.ends
		out[i].MemberAssignment = a.AppendTo(nil)
	}
	return out
}

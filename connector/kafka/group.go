package kafka

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// assigned creates a reader for each partition the group assigns. Fetching
// starts after adjustOffsets, so no records reach a reader before it exists.
// A member that must hold the whole topic (RequireWholeTopic) and was given
// only part of it stops.
//
// A stop.at=end member stops fetching a partition whose reader reached its
// end (push), and the client keeps it paused across rebalances; but the
// group may take the partition away before the offsets up to its end were
// committed (a handover commits what the job finished) and give it back, to
// be read again from the committed offset: every partition the group
// assigns is fetched again.
func (s *Source) assigned(_ context.Context, cl *kgo.Client, m map[string][]int32) {
	s.abortRevoked()
	if s.cfg.stopAtEnd && len(m[s.cfg.topic]) > 0 {
		cl.ResumeFetchPartitions(map[string][]int32{s.cfg.topic: m[s.cfg.topic]})
	}
	s.mu.Lock()
	for _, p := range m[s.cfg.topic] {
		s.owned[p] = true
		if _, ok := s.readers[p]; ok || s.unparkLocked(p) {
			continue
		}
		s.addReaderLocked(p, -1)
	}
	owned, total := len(s.owned), s.partitions
	shared := s.wholeTopic != "" && owned < total
	if shared {
		s.holdSplitLocked()
	}
	s.mu.Unlock()
	s.logger().Debug("kafka partitions assigned", "partitions", m[s.cfg.topic])
	if shared {
		s.fail(s.sharedError(fmt.Sprintf("the group gave this process %d of the topic's %d partitions", owned, total)))
	}
}

// RequireWholeTopic makes a consumer-group member stop as soon as the group
// gives any partition of the topic to another member: why says what needs
// every record in one process, and remedy what else than one process would
// do (or ""). It does nothing without '<n>.group.id'. Call it before Open.
func (s *Source) RequireWholeTopic(why, remedy string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wholeTopic, s.remedy = why, remedy
}

// Whole returns a channel closed once the job has been handed a reader of
// every partition of the topic: at Open without a consumer group, else
// after the first assignment that gives this member the whole topic.
func (s *Source) Whole() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wholeLocked()
}

func (s *Source) wholeLocked() chan struct{} {
	if s.whole == nil {
		s.whole = make(chan struct{})
	}
	return s.whole
}

// noteWholeLocked closes Whole's channel, once.
func (s *Source) noteWholeLocked() {
	w := s.wholeLocked()
	select {
	case <-w:
	default:
		close(w)
	}
}

// HoldUntil keeps the source's partition readers from the job until ready
// is closed: another stream of a stream-stream join run in one process per
// group waits for the FROM stream's member to hold its whole topic
// (Whole), or it would move the watermark alone. Call it before Open.
func (s *Source) HoldUntil(ready <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holdFor = ready
}

// park keeps the readers of the partitions a rebalance revokes from a
// member that needs the whole topic (RequireWholeTopic), and reports
// whether it did. Ended, they would let the watermark pass the records
// still to come on them (a window would fire with part of its records),
// and the readers the group's next assignment made would read again from
// the committed offsets, which the state still open holds back: records
// counted twice. A parked reader is given back if the next assignment
// holds the whole topic (unparkLocked), fetching on after the records it
// was handed; if it holds part, the member stops (assigned). Nothing is
// committed for a parked partition.
func (s *Source) park(parts []int32) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wholeTopic == "" || s.closing {
		return false
	}
	for _, p := range parts {
		if r := s.readers[p]; r != nil {
			delete(s.readers, p)
			s.parked[p] = r
		}
		delete(s.owned, p)
	}
	s.logger().Debug("kafka partitions revoked: readers kept for the next assignment", "partitions", parts)
	return true
}

// unparkLocked gives partition p its parked reader back, to fetch from
// the offset after the records it was handed; false when p has none.
func (s *Source) unparkLocked(p int32) bool {
	r := s.parked[p]
	if r == nil {
		return false
	}
	delete(s.parked, p)
	s.readers[p] = r
	if at, ok := s.pushed[p]; ok {
		s.resume[p] = at
	}
	return true
}

// CommitNothing makes a consumer-group member commit no offset, so that a
// restart reads the topic again from the group's reset position: the
// statement cannot resume from committed offsets (the other streams of
// its joins are read whole, without any). Call it before Open.
func (s *Source) CommitNothing() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noCommits = true
}

// sharedError says that another member shares the group although the
// statement needs the whole topic in this process.
func (s *Source) sharedError(what string) error {
	remedy := ""
	if s.remedy != "" {
		remedy = "; or " + s.remedy
	}
	return fmt.Errorf("kafka source %q: group %q has another member (%s), but this statement runs in one process per group: %s. Run one process%s",
		s.cfg.name, s.cfg.group, what, s.wholeTopic, remedy)
}

// MarkRereads makes a consumer-group member mark Reread
// (record.Record.Reread) every record before a partition's end as the
// group assigns it: the member that had the partition before, killed or
// revoked, may have written rows for records past its last commit, which
// the new member reads again. A statement whose state EMIT CHANGES updates
// retracts such rows as a repartition topic's reader does. Its readers
// also report the checkpoint their partition resumed from (Fence), which
// commits through Checkpointing store. Call it before Open.
func (s *Source) MarkRereads() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rereads = true
}

// disowned forgets partitions the group took away. A member that needs the
// whole topic decides in assigned, which sees the generation's share: under
// eager rebalancing every rebalance revokes everything first.
func (s *Source) disowned(parts []int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range parts {
		delete(s.owned, p)
	}
}

// adjustOffsets learns where each newly assigned partition starts: its
// committed offset, else the reset offset, which its reader then knows as
// its position. Under stop.at=end it pins the
// start of partitions without a commit to the offsets listed at Open and
// ends at once the readers of partitions already at their end.
func (s *Source) adjustOffsets(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	if s.txn != nil && s.repart == nil {
		for p, o := range offsets[s.cfg.topic] {
			s.checkResume(p, o.EpochOffset().Offset)
		}
	}
	if s.repart != nil || s.rereads {
		// without its fence a replay would emit windows again in part
		if err := s.loadFences(ctx, offsets[s.cfg.topic]); err != nil {
			s.mu.Lock()
			closing := s.closing
			s.mu.Unlock()
			if !closing {
				s.fail(fmt.Errorf("kafka source %q: %w", s.cfg.name, err))
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for p, o := range offsets[s.cfg.topic] {
		// what the group committed is committed for this member too: a
		// Shuffle reports it, so a partition already read to its end by
		// another member counts as ended
		if c := o.EpochOffset().Offset; c >= 0 {
			s.noteCommittedLocked(p, c)
		}
		if at, ok := s.resume[p]; ok {
			// a parked reader goes on after the records it was handed
			offsets[s.cfg.topic][p] = kgo.NewOffset().At(at)
			delete(s.resume, p)
		}
		// the reader's position is known from here on (Lag), before it
		// fetched anything: a partition the group has no commit of starts
		// where the reset policy says
		if r := s.readers[p]; r != nil {
			at := offsets[s.cfg.topic][p].EpochOffset().Offset
			if at < 0 {
				at = s.directStart(p)
			}
			r.start.CompareAndSwap(-1, at)
		}
	}
	if !s.cfg.stopAtEnd {
		return offsets, nil
	}
	var atEnd []int32
	for p, o := range offsets[s.cfg.topic] {
		start := o.EpochOffset().Offset
		if start < 0 {
			start = s.directStart(p)
			offsets[s.cfg.topic][p] = kgo.NewOffset().At(start)
			s.noteCommittedLocked(p, start)
		}
		if r := s.readers[p]; r != nil && start >= s.ends[p] {
			r.ended.Store(true)
			r.finish()
			atEnd = append(atEnd, p)
		}
	}
	if len(atEnd) > 0 && s.client != nil {
		// nothing to read: as push does for a reader reaching its end
		s.client.PauseFetchPartitions(map[string][]int32{s.cfg.topic: atEnd})
	}
	s.signal()
	return offsets, nil
}

// revoked hands revoked partitions over cleanly: their readers return io.EOF
// after the records already fetched, and the rebalance waits (at most
// revokeWait) until each has drained and the coordinator has committed its
// offsets. Commits for these partitions are accepted until then. A
// repartition topic's handover also waits for the job that read them to
// stop and for the commits under way, and then ends the assignment. A
// Shuffle's source then has the Shuffle report the partitions' progress a
// last time (handedOver): the report covers their last records, written
// and committed during the handover, so stage 2's watermark moves past
// them without waiting for the idle timeout of a partition whose next
// owner reads nothing more (a lull). A member that needs the whole topic
// hands nothing over: it keeps its readers for the next assignment (park).
func (s *Source) revoked(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
	if s.repart != nil && s.txn != nil {
		s.dropAssignment(m)
		return
	}
	if s.park(m[s.cfg.topic]) {
		return
	}
	stopped := s.notifyRevoke(m[s.cfg.topic])
	s.disowned(m[s.cfg.topic])
	rs := s.release(m, true)
	if len(rs) == 0 {
		s.mu.Lock()
		s.endAssignmentLocked()
		s.mu.Unlock()
		return
	}
	deadline := time.Now().Add(revokeWait)
	// one deadline for all: a timer fires once, and readers after the
	// first would wait on for ever
	wait, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	for _, r := range rs {
		select {
		case <-r.drained:
		case <-wait.Done():
		}
	}
	// a job that stopped made its last commit: nothing more will come
	jobStopped := false
	if stopped != nil {
		select {
		case <-stopped:
			jobStopped = true
		case <-wait.Done():
		}
	}
	wake := time.AfterFunc(time.Until(deadline), func() {
		s.mu.Lock()
		s.commitCond.Broadcast()
		s.mu.Unlock()
	})
	defer wake.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	since := s.seq
	for !jobStopped && !s.closing && time.Now().Before(deadline) && ctx.Err() == nil && !s.committedLocked(rs, since) {
		s.commitCond.Wait()
	}
	for s.repart != nil && s.repart.committing > 0 && !s.closing && time.Now().Before(deadline) && ctx.Err() == nil {
		s.commitCond.Wait()
	}
	report := s.handedOver
	if report != nil && !s.closing {
		// a Shuffle reports the partitions (still revoking) once more,
		// after their last records: its reports stop covering them once
		// they are gone
		s.mu.Unlock()
		rctx, cancel := context.WithTimeout(ctx, handoverReportWait)
		report(rctx)
		cancel()
		s.mu.Lock()
	}
	for _, r := range rs {
		delete(s.revoking, r.part)
	}
	s.endAssignmentLocked()
	s.logger().Debug("kafka partitions revoked", "partitions", m[s.cfg.topic])
}

// handoverReportWait bounds how long a handover waits for a Shuffle's
// last report of the revoked partitions to be acknowledged (a cluster
// that answers takes milliseconds).
const handoverReportWait = 2 * time.Second

// reporting returns the partitions a Shuffle reports the progress of: those
// the group assigns to this member now and those it is handing over, whose
// last records may still be on their way to the repartition topic.
func (s *Source) reporting() []int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]int32, 0, len(s.owned)+len(s.revoking))
	for p := range s.owned {
		out = append(out, p)
	}
	for p := range s.revoking {
		if !s.owned[p] {
			out = append(out, p)
		}
	}
	return out
}

// committedLocked reports whether every reader in rs has had its offsets
// committed: up to what it handed out, or by a commit after since.
func (s *Source) committedLocked(rs []*partReader, since int64) bool {
	for _, r := range rs {
		next := r.next.Load()
		if next < 0 {
			continue
		}
		if c, ok := s.committed[r.part]; ok && c >= next {
			continue
		}
		if s.commitSeq[r.part] > since {
			continue
		}
		return false
	}
	return true
}

// leftBehindLocked records that a commit of the job left partitions ps
// where they were, their replays being behind their fences
// (connector.Fence.Join): a handover waiting for their last commit
// (committedLocked) has it. The next owner resumes from the checkpoint
// they resumed from.
func (s *Source) leftBehindLocked(ps []int32) {
	if len(ps) == 0 {
		return
	}
	s.seq++
	for _, p := range ps {
		s.commitSeq[p] = s.seq
	}
	s.commitCond.Broadcast()
}

// lost ends the readers of partitions the group took away without a
// handover; their offsets can no longer be committed by this member.
func (s *Source) lost(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	if s.repart != nil && s.txn != nil {
		s.dropAssignment(m)
		return
	}
	s.notifyRevoke(m[s.cfg.topic])
	s.disowned(m[s.cfg.topic])
	s.release(m, false)
	s.mu.Lock()
	closing := s.closing
	s.endAssignmentLocked()
	s.mu.Unlock()
	if len(m[s.cfg.topic]) > 0 && !closing {
		s.logger().Warn("kafka partitions lost", "partitions", m[s.cfg.topic])
	}
}

// release removes the readers of m's partitions from the owned set and ends
// them; with handover their commits stay accepted until revoked returns.
// While the source closes, nothing waits for a handover.
func (s *Source) release(m map[string][]int32, handover bool) []*partReader {
	s.mu.Lock()
	defer s.mu.Unlock()
	var rs []*partReader
	for _, p := range m[s.cfg.topic] {
		r := s.readers[p]
		if r == nil {
			continue
		}
		delete(s.readers, p)
		r.finish()
		if handover && !s.closing {
			s.revoking[p] = true
			rs = append(rs, r)
		}
	}
	s.signal()
	return rs
}

// noteCommittedLocked records that every record of p before offset c is
// committed, unless a later offset is known.
func (s *Source) noteCommittedLocked(p int32, c int64) {
	if old, ok := s.committed[p]; !ok || c > old {
		s.committed[p] = c
	}
}

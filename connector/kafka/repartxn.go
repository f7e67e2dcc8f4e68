package kafka

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Exactly-once across the two stages of a repartitioned statement. A
// repartition topic's reader made Transactional is stage 2's transactional
// client (franz-go's GroupTransactSession): the statement's Kafka sink and
// dead-letter topic produce in its transaction, and each commit of the
// generation's job ends that transaction with the topic's offsets and their
// fences (CommitCheckpoint), so the rows of the windows that fired under a
// commit's watermark and the fence that makes a replay skip their records
// become visible together, or not at all.
//
// A rebalance aborts the open transaction (the session refuses to commit
// one that spans it): the member gives its partitions up at once, without
// a handover commit (dropAssignment), the generation stops, and before the
// next assignment reads anything the transaction is aborted (abortRevoked)
// and the next generation begins a new one (BeginTransaction). Whoever gets
// a partition replays it from its last committed transaction.

// commitTransaction ends stage 2's transaction with the offsets commit and
// their metadata meta, and begins the next. A transaction a rebalance
// aborted (the assignment the commit was made under ended) is no error:
// its generation is stopping, and its output went with the transaction;
// any other abort is.
func (s *Source) commitTransaction(ctx context.Context, assignment int64, commit map[int32]kgo.EpochOffset, meta map[int32]string, reads map[int32]int64) error {
	s.mu.Lock()
	session := s.session
	s.mu.Unlock()
	if session == nil {
		return fmt.Errorf("kafka repartition topic %q: commit: not open", s.cfg.topic)
	}
	id, err := s.topicID(ctx, session.Client())
	if err != nil {
		return fmt.Errorf("kafka repartition topic %q: %w", s.cfg.topic, err)
	}
	if err := s.takeTurn(ctx); err != nil {
		return err
	}
	defer func() { s.turn <- struct{}{} }()
	s.txn.ending.Lock()
	defer s.txn.ending.Unlock()
	if s.txn.isClosed() {
		return nil // a rebalance aborted it: nothing of this generation commits
	}
	// the dead letters of the records before the checkpoint's read
	// offsets commit with it, no others
	s.txn.releaseLetters(ctx, session, reads)
	session.Client().MarkCommitOffsets(map[string]map[int32]kgo.EpochOffset{s.cfg.topic: commit})
	// The fences change with the watermark even when no offset moved, so
	// the offsets commit with every transaction: the function fills the
	// request in (franz-go sends one even when it has nothing marked).
	t := kmsg.NewTxnOffsetCommitRequestTopic()
	t.Topic, t.TopicID = s.cfg.topic, id
	for p, o := range commit {
		tp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		tp.Partition, tp.Offset, tp.LeaderEpoch = p, o.Offset, -1
		m := meta[p]
		tp.Metadata = &m
		t.Partitions = append(t.Partitions, tp)
	}
	topics := []kmsg.TxnOffsetCommitRequestTopic{t}
	ctx = kgo.PreTxnCommitFnContext(ctx, func(req *kmsg.TxnOffsetCommitRequest) error {
		req.Topics = topics
		return nil
	})
	committed, err := session.End(ctx, kgo.TryCommit)
	if err != nil {
		return fmt.Errorf("kafka repartition topic %q: ending the transaction: %w (it may have committed or not: stopping, a restart resumes from what Kafka holds)", s.cfg.topic, err)
	}
	if !committed {
		s.mu.Lock()
		moved := assignment != s.repart.assignment
		s.mu.Unlock()
		if !moved {
			return fmt.Errorf("kafka repartition topic %q: the transaction was aborted (a message failed): stopping, a restart resumes from the last committed transaction", s.cfg.topic)
		}
		s.txn.mu.Lock()
		s.txn.closed = true
		s.txn.mu.Unlock()
		return nil
	}
	s.txn.committed(topics)
	if err := session.Begin(); err != nil {
		return fmt.Errorf("kafka repartition topic %q: beginning a transaction: %w", s.cfg.topic, err)
	}
	s.mu.Lock()
	s.seq++
	for p, o := range commit {
		s.committed[p] = o.Offset
		s.commitSeq[p] = s.seq
	}
	s.commitCond.Broadcast()
	s.mu.Unlock()
	s.purge(ctx, session.Client(), commit)
	return nil
}

// takeTurn takes the poll loop's turn: no poll runs while the transaction
// ends. It ends the poll under way, again until the turn comes (a poll may
// start after the first cancel).
func (s *Source) takeTurn(ctx context.Context) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		s.mu.Lock()
		if s.pollCancel != nil {
			s.pollCancel()
		}
		s.mu.Unlock()
		select {
		case <-s.turn:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("kafka source %q: commit: %w", s.cfg.name, ctx.Err())
		case <-t.C:
		}
	}
}

// dropAssignment gives the partitions of m up without a handover
// (exactly-once stage 2): the session aborts the transaction holding what
// the generation wrote since its last commit, so nothing is left to
// commit. The assignment ends at once, so the generation's commits are
// refused; it stops, and the transaction is aborted before the next
// assignment's readers start (abortRevoked). A done marker's commit
// (MarkDone, outside the transaction) that was under way goes through
// first, at most revokeWait: sent later, with the member's next
// generation, it would move a partition that another member may have read
// past back to the marker.
func (s *Source) dropAssignment(m map[string][]int32) {
	deadline := time.Now().Add(revokeWait)
	wake := time.AfterFunc(revokeWait, func() {
		s.mu.Lock()
		s.commitCond.Broadcast()
		s.mu.Unlock()
	})
	defer wake.Stop()
	s.mu.Lock()
	for s.repart.marking > 0 && !s.closing && time.Now().Before(deadline) {
		s.commitCond.Wait()
	}
	s.endAssignmentLocked()
	s.repart.abort = true
	s.mu.Unlock()
	s.disowned(m[s.cfg.topic])
	stopped := s.notifyRevoke(m[s.cfg.topic])
	s.mu.Lock()
	s.repart.stopped = stopped
	s.mu.Unlock()
	s.release(m, false)
}

// abortRevoked aborts the transaction of an assignment a rebalance took
// away (dropAssignment), before the next assignment's readers exist: the
// aborted generation's output is gone, and so are its uncommitted offsets
// (whoever holds the partitions now resumes from the last commit). The
// next generation begins a new transaction (BeginTransaction); what the
// stopping one still writes meanwhile is dropped.
func (s *Source) abortRevoked() {
	if s.repart == nil || s.txn == nil {
		return
	}
	s.mu.Lock()
	abort, stopped := s.repart.abort, s.repart.stopped
	s.repart.abort, s.repart.stopped = false, nil
	s.mu.Unlock()
	if !abort {
		return
	}
	session := s.openSession()
	if session == nil {
		return // closing
	}
	// the stopping generation's last writes go into the transaction
	// aborted here; then nothing more is written until the next begins
	if stopped != nil {
		select {
		case <-stopped:
		case <-time.After(revokeWait):
		}
	}
	s.txn.mu.Lock()
	s.txn.closed = true
	s.txn.mu.Unlock()
	s.txn.dropLetters()
	ctx, cancel := context.WithTimeout(context.Background(), abortWait)
	defer cancel()
	// No poll runs while the group assigns (the poll loop may hold its
	// turn, waiting for the assignment to end): only a commit's end is
	// waited for. The session aborts (the group rebalanced since the
	// transaction began) and forgets the rebalance, so that the next
	// transaction may commit.
	s.txn.ending.Lock()
	defer s.txn.ending.Unlock()
	if _, err := session.End(ctx, kgo.TryAbort); err != nil {
		s.fail(fmt.Errorf("kafka repartition topic %q: aborting the transaction of a revoked assignment: %w", s.cfg.topic, err))
	}
}

// openSession returns the transactional session once Open stored it (the
// group may assign before: the client joins as it is made), or nil when
// the source closes (or fails to open) first.
func (s *Source) openSession() *kgo.GroupTransactSession {
	for deadline := time.Now().Add(abortWait); ; {
		s.mu.Lock()
		session, closing := s.session, s.closing
		s.mu.Unlock()
		if session != nil || closing || time.Now().After(deadline) {
			return session
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// BeginTransaction begins a new transaction for stage 2's next generation
// when a rebalance aborted the last one (exactly-once); otherwise it does
// nothing. Call it once the generation's readers arrived, before it writes.
func (s *Source) BeginTransaction() error {
	if s.txn == nil {
		return nil
	}
	s.txn.mu.Lock()
	defer s.txn.mu.Unlock()
	if !s.txn.closed || s.txn.session == nil {
		return nil
	}
	if err := s.txn.session.Begin(); err != nil {
		return fmt.Errorf("kafka repartition topic %q: beginning a transaction: %w", s.cfg.topic, err)
	}
	s.txn.closed = false
	return nil
}

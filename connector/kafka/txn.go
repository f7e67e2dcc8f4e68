package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicesql/sluice/connector"
)

// Transaction is the Kafka transaction a transactional source's client
// holds open between commits (exactly-once). A Sink and a DeadLetterQueue
// given it with UseTransaction produce through that client, so their
// messages and the source's offsets commit together, once per commit
// interval, or not at all.
type Transaction struct {
	mu      sync.Mutex
	session *kgo.GroupTransactSession // set when the source opens
	commit  bool                      // a sink closed normally: Close may commit what is open
	aborted bool                      // a sink aborted: Close aborts what is open
	// closed: a rebalance aborted the transaction of a repartition
	// topic's reader and the next has not begun; what the stopping
	// generation still writes is dropped, as its transaction was
	closed bool
	// dropAborted: the transaction is a repartition topic's reader's,
	// which a rebalance may abort while a stopping generation writes
	dropAborted bool
	// ending is held while a repartition topic's reader ends the
	// transaction (a commit, or an abort while the group assigns)
	ending sync.Mutex
	// letters are the dead letters that wait for the commit whose
	// checkpoint read past their records (hold)
	letters []heldLetter
	// offsets is the offset commit of the last transaction committed:
	// the one a transaction that ends as the source closes commits again
	// (endTransaction)
	offsets []kmsg.TxnOffsetCommitRequestTopic
}

// committed notes the offset commit of a transaction that committed.
func (t *Transaction) committed(offsets []kmsg.TxnOffsetCommitRequestTopic) {
	t.mu.Lock()
	t.offsets = offsets
	t.mu.Unlock()
}

// heldLetter is a dead letter waiting for its commit: the source
// partition and offset of its record, and its message.
type heldLetter struct {
	partition int32
	offset    int64
	msg       *kgo.Record
	promise   func(*kgo.Record, error)
}

// hold keeps the dead letter msg of the record at offset of the source's
// partition until the commit whose checkpoint read past it
// (releaseLetters). Produced at once, it would commit with the
// transaction under way even when its record is after that commit's read
// offset (the workers go on while a commit ends), and a replay from that
// commit would dead-letter the record again.
func (t *Transaction) hold(partition int32, offset int64, msg *kgo.Record, promise func(*kgo.Record, error)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		promise(msg, nil) // the stopping generation's: its transaction was aborted
		return
	}
	t.letters = append(t.letters, heldLetter{partition: partition, offset: offset, msg: msg, promise: promise})
}

// releaseLetters produces in the open transaction the held dead letters of
// records before read's offset of their partition, and keeps the others.
// ctx is the commit's: once it ends (a stopping job's drain timeout), a
// letter still waiting for room in the producer's buffer fails instead of
// holding the commit, and the transaction with it, for as long as a
// cluster that no longer answers leaves the buffer full.
func (t *Transaction) releaseLetters(ctx context.Context, s *kgo.GroupTransactSession, read map[int32]int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	kept := t.letters[:0]
	for _, l := range t.letters {
		if r, ok := read[l.partition]; !ok || l.offset >= r {
			kept = append(kept, l)
			continue
		}
		s.Produce(ctx, l.msg, l.promise)
	}
	clear(t.letters[len(kept):])
	t.letters = kept
}

// dropLetters forgets the held dead letters: their generation's
// transaction is aborted, and whoever replays their records dead-letters
// them again.
func (t *Transaction) dropLetters() {
	t.mu.Lock()
	defer t.mu.Unlock()
	clear(t.letters)
	t.letters = t.letters[:0]
}

// producer is what a Sink and a DeadLetterQueue produce through: their own
// client, or (exactly-once) a transactional source's.
type producer interface {
	Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error))
	Flush(ctx context.Context) error
	AbortBufferedRecords(ctx context.Context) error
	Close()
}

// txnProducer produces in a Transaction. Closing it lets the source commit
// what the transaction holds when it closes; aborting makes it abort.
type txnProducer struct{ t *Transaction }

func (p txnProducer) Produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	p.t.produce(ctx, r, promise)
}

func (p txnProducer) Flush(ctx context.Context) error { return p.t.flush(ctx) }

func (p txnProducer) AbortBufferedRecords(context.Context) error {
	p.t.mu.Lock()
	p.t.aborted = true
	p.t.mu.Unlock()
	return nil
}

func (p txnProducer) Close() {
	p.t.mu.Lock()
	p.t.commit = !p.t.aborted
	p.t.mu.Unlock()
}

// produce sends r in the open transaction; without one (the source is not
// open) the promise gets an error.
func (t *Transaction) produce(ctx context.Context, r *kgo.Record, promise func(*kgo.Record, error)) {
	t.mu.Lock()
	s, closed := t.session, t.closed
	t.mu.Unlock()
	switch {
	case s == nil:
		promise(r, errors.New("no open transaction: the transactional source is not open"))
		return
	case closed:
		promise(r, nil)
		return
	case t.dropAborted:
		// a message the abort of the transaction for a rebalance
		// failed went with its generation's output, as it should
		s.Produce(ctx, r, func(r *kgo.Record, err error) {
			if err != nil && t.isClosed() {
				err = nil
			}
			promise(r, err)
		})
		return
	}
	s.Produce(ctx, r, promise)
}

// isClosed reports whether a rebalance aborted the transaction and the
// next has not begun.
func (t *Transaction) isClosed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.closed
}

// flush waits until every message produced in the transaction so far is
// acknowledged (it is still uncommitted).
func (t *Transaction) flush(ctx context.Context) error {
	t.mu.Lock()
	s, closed := t.session, t.closed
	t.mu.Unlock()
	if s == nil || closed {
		return nil
	}
	return s.Client().Flush(ctx)
}

// TxnSource is a Kafka source in exactly-once mode: a consumer-group member
// reading read_committed whose client is also the transactional producer
// of the job's Kafka sink and dead-letter topic. Its commits end the
// transaction (output, dead letters and offsets together) and begin the
// next; it stores the job's connector.Checkpoint in the offsets' metadata.
type TxnSource struct {
	*Source
}

// Transactional switches s, before Open, to exactly-once mode with the
// transactional id txnID and returns it with the transaction its sink and
// dead-letter queue produce in. s must have a '<n>.group.id'.
func (s *Source) Transactional(txnID string) (*TxnSource, *Transaction, error) {
	if s.cfg.group == "" {
		return nil, nil, fmt.Errorf("kafka source %q: exactly-once needs '%s.group.id' (offsets commit with the output for a consumer group)", s.cfg.name, s.cfg.name)
	}
	s.txnID = txnID
	s.txn = &Transaction{dropAborted: s.repart != nil}
	s.turn = make(chan struct{}, 1)
	s.turn <- struct{}{}
	return &TxnSource{s}, s.txn, nil
}

// minTransactionTimeout is the shortest transaction timeout: Kafka
// Streams' default for exactly-once.
const minTransactionTimeout = 10 * time.Second

// The offset metadata of a partition's checkpoint is
// "sluice1:<watermark>:<read offset>", or, with the partition's
// connector.Start, "sluice2:<watermark>:<read offset>:<skip>:<max event>"
// (checkpointMeta, parseCheckpoint).
const (
	checkpointPrefix      = "sluice1:"
	startCheckpointPrefix = "sluice2:"
)

// CommitCheckpoint commits offsets and cp with everything produced in the
// transaction since the last commit, and begins the next transaction. A
// transaction Kafka aborted (the group rebalanced, a produce failed) or
// whose end failed is an error: the job stops, and a restart resumes from
// what Kafka holds, which is every committed transaction and nothing else.
func (t *TxnSource) CommitCheckpoint(ctx context.Context, offsets map[int32]int64, cp connector.Checkpoint) error {
	s := t.Source
	s.mu.Lock()
	session := s.session
	commit := make(map[int32]int64, len(offsets))
	for p, o := range offsets {
		if _, owned := s.readers[p]; owned || s.revoking[p] {
			commit[p] = o
		}
	}
	s.mu.Unlock()
	if session == nil {
		return fmt.Errorf("kafka source %q: commit: not open", s.cfg.name)
	}
	marks := make(map[int32]kgo.EpochOffset, len(commit))
	for p, o := range commit {
		marks[p] = kgo.EpochOffset{Epoch: -1, Offset: o}
	}
	// Take the poll loop's turn: no poll runs while the transaction ends.
	if err := s.commitTurn(ctx); err != nil {
		return fmt.Errorf("kafka source %q: commit: %w", s.cfg.name, err)
	}
	defer func() { s.turn <- struct{}{} }()
	s.txn.releaseLetters(ctx, session, checkpointReads(commit, cp))
	session.Client().MarkCommitOffsets(map[string]map[int32]kgo.EpochOffset{s.cfg.topic: marks})
	topics := checkpointTopics(s.cfg.topic, commit, cp)
	ctx = kgo.PreTxnCommitFnContext(ctx, func(req *kmsg.TxnOffsetCommitRequest) error {
		req.Topics = topics
		return nil
	})
	committed, err := session.End(ctx, kgo.TryCommit)
	if err != nil {
		// The transaction may have committed even so (an EndTxn whose
		// answer was lost): only a restart, reading what Kafka holds, is safe.
		return fmt.Errorf("kafka source %q: ending the transaction: %w (it may have committed or not: stopping, a restart resumes from what Kafka holds)", s.cfg.name, err)
	}
	if !committed {
		return fmt.Errorf("kafka source %q: the transaction was aborted (the consumer group rebalanced or a message failed): stopping, a restart resumes from the last committed transaction", s.cfg.name)
	}
	s.txn.committed(topics)
	if err := session.Begin(); err != nil {
		return fmt.Errorf("kafka source %q: beginning a transaction: %w", s.cfg.name, err)
	}
	s.mu.Lock()
	s.seq++
	for p, o := range commit {
		s.committed[p] = o
		s.commitSeq[p] = s.seq
	}
	s.commitCond.Broadcast()
	s.mu.Unlock()
	return nil
}

// commitTurn takes the poll loop's turn for a commit, cancelling the poll
// under way and any that starts before the commit has the turn; the
// commit hands it back.
func (s *Source) commitTurn(ctx context.Context) error {
	s.mu.Lock()
	s.commitsWaiting++
	if s.pollCancel != nil {
		s.pollCancel()
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.commitsWaiting--
		s.mu.Unlock()
	}()
	select {
	case <-s.turn:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Commit commits offsets in the transaction, without a checkpoint.
func (t *TxnSource) Commit(ctx context.Context, offsets map[int32]int64) error {
	return t.CommitCheckpoint(ctx, offsets, connector.Checkpoint{Watermark: noCheckpointWatermark})
}

// noCheckpointWatermark marks a commit without a watermark.
const noCheckpointWatermark = -1 << 63

// checkpointReads returns, per partition of offsets, how far the job had
// read at checkpoint cp (the offset itself when cp does not say).
func checkpointReads(offsets map[int32]int64, cp connector.Checkpoint) map[int32]int64 {
	reads := make(map[int32]int64, len(offsets))
	for p, o := range offsets {
		read, ok := cp.Read[p]
		if !ok {
			read = o
		}
		reads[p] = read
	}
	return reads
}

// checkpointTopics returns the offset commit of offsets with cp in each
// partition's metadata.
func checkpointTopics(topic string, offsets map[int32]int64, cp connector.Checkpoint) []kmsg.TxnOffsetCommitRequestTopic {
	t := kmsg.NewTxnOffsetCommitRequestTopic()
	t.Topic = topic
	reads := checkpointReads(offsets, cp)
	for p, o := range offsets {
		tp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		tp.Partition, tp.Offset, tp.LeaderEpoch = p, o, -1
		st, started := cp.Starts[p]
		meta := checkpointMeta(connector.Fence{Read: reads[p], Watermark: cp.Watermark, Start: st, HasStart: started})
		tp.Metadata = &meta
		t.Partitions = append(t.Partitions, tp)
	}
	return []kmsg.TxnOffsetCommitRequestTopic{t}
}

// checkpointMeta returns the offset metadata of a partition's part of a
// checkpoint: its Start too when it has one.
func checkpointMeta(f connector.Fence) string {
	if !f.HasStart {
		return checkpointPrefix + strconv.FormatInt(f.Watermark, 10) + ":" + strconv.FormatInt(f.Read, 10)
	}
	return startCheckpointPrefix + strconv.FormatInt(f.Watermark, 10) + ":" + strconv.FormatInt(f.Read, 10) + ":" +
		strconv.FormatInt(f.Start.Skip, 10) + ":" + strconv.FormatInt(f.Start.MaxEvent, 10)
}

// parseCheckpoint reads an offset's metadata written by checkpointMeta, of
// either version.
func parseCheckpoint(meta string) (connector.Fence, bool) {
	var f connector.Fence
	rest, found := strings.CutPrefix(meta, checkpointPrefix)
	want := 2
	if !found {
		if rest, found = strings.CutPrefix(meta, startCheckpointPrefix); !found {
			return f, false
		}
		want, f.HasStart = 4, true
	}
	fields := strings.Split(rest, ":")
	if len(fields) != want {
		return connector.Fence{}, false
	}
	to := []*int64{&f.Watermark, &f.Read, &f.Start.Skip, &f.Start.MaxEvent}
	for i, field := range fields {
		v, err := strconv.ParseInt(field, 10, 64)
		if err != nil {
			return connector.Fence{}, false
		}
		*to[i] = v
	}
	return f, true
}

// Restored returns the checkpoint stored with the group's committed offsets
// when the source opened.
func (t *TxnSource) Restored() (connector.Checkpoint, bool) {
	s := t.Source
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.restored == nil {
		return connector.Checkpoint{}, false
	}
	return *s.restored, true
}

// restoreCheckpoint reads the group's committed offsets of the topic, once
// every pending transaction's are settled, and the checkpoint in their
// metadata.
func (s *Source) restoreCheckpoint(ctx context.Context) error {
	cl, err := newClient(s.cfg.conn)
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).FetchOffsets(ctx, s.cfg.group)
	if err == nil {
		err = resp.Error()
	}
	if errors.Is(err, kerr.GroupIDNotFound) {
		return nil // a new group: nothing committed, nothing to restore
	}
	if err != nil {
		return fmt.Errorf("fetching the committed offsets of group %q: %w", s.cfg.group, s.cfg.conn.connError(err))
	}
	cp := connector.Checkpoint{Watermark: noCheckpointWatermark, Read: map[int32]int64{}}
	offsets := map[int32]int64{}
	for p, o := range resp[s.cfg.topic] {
		offsets[p] = o.At
		if f, ok := parseCheckpoint(o.Metadata); ok {
			cp.Read[p] = f.Read
			if cp.Watermark == noCheckpointWatermark || f.Watermark < cp.Watermark {
				cp.Watermark = f.Watermark
			}
			if f.HasStart {
				if cp.Starts == nil {
					cp.Starts = map[int32]connector.Start{}
				}
				cp.Starts[p] = f.Start
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.resumeAt = offsets
	if len(cp.Read) > 0 {
		s.restored = &cp
	}
	return nil
}

// checkResume fails the source when the group resumes a partition from
// another offset than the one its checkpoint was read with (another member
// committed since): the checkpoint would not match the records read.
func (s *Source) checkResume(p int32, start int64) {
	s.mu.Lock()
	want, ok := s.resumeAt[p]
	s.mu.Unlock()
	if ok && start >= 0 && start != want {
		s.fail(fmt.Errorf("kafka source %q: partition %d resumes at offset %d, but its checkpoint was read at %d "+
			"(another member of group %q committed since the job started): stopping, restart the job", s.cfg.name, p, start, want, s.cfg.group))
	}
}

// endTransaction ends the transaction still open when the source closes:
// committed when the job's sink closed normally, with the offsets (and
// checkpoint) of the last transaction committed again: what it holds was
// written after that commit. The offsets of the records read since are
// not committed (the client would commit them, as read): their effect
// may still be in open state only, a window a stop left open. Without a
// commit before, it is aborted, as it is when the sink did not close
// normally.
func (s *Source) endTransaction() {
	if s.session == nil {
		return
	}
	s.txn.mu.Lock()
	commit, offsets := s.txn.commit && s.txn.offsets != nil, s.txn.offsets
	s.txn.session = nil
	s.txn.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), abortWait)
	defer cancel()
	ctx = kgo.PreTxnCommitFnContext(ctx, func(req *kmsg.TxnOffsetCommitRequest) error {
		req.Topics = assignedOffsets(offsets, req.Topics)
		return nil
	})
	if _, err := s.session.End(ctx, kgo.TransactionEndTry(commit)); err != nil {
		s.logger().Warn("kafka transaction could not end on close; Kafka aborts it after its timeout", "error", err)
	}
}

// assignedOffsets returns the partitions of offsets that the client would
// commit (assigned: its request's), so that a member never commits again
// an offset of a partition the group has given another since.
func assignedOffsets(offsets, assigned []kmsg.TxnOffsetCommitRequestTopic) []kmsg.TxnOffsetCommitRequestTopic {
	type tp struct {
		topic string
		p     int32
	}
	own := map[tp]bool{}
	for _, t := range assigned {
		for _, p := range t.Partitions {
			own[tp{t.Topic, p.Partition}] = true
		}
	}
	var out []kmsg.TxnOffsetCommitRequestTopic
	for _, t := range offsets {
		kept := t
		kept.Partitions = nil
		for _, p := range t.Partitions {
			if own[tp{t.Topic, p.Partition}] {
				kept.Partitions = append(kept.Partitions, p)
			}
		}
		if len(kept.Partitions) > 0 {
			out = append(out, kept)
		}
	}
	return out
}

// newTransactSession returns the exactly-once client: a group member that
// reads read_committed, commits only the offsets the job marks, and
// produces in transactions. A transaction times out a second before the
// group's session, so a killed process's open transaction, which holds
// read_committed readers of its output back, ends about when its
// partitions move; but not before minTransactionTimeout, which a loaded
// machine may take between two commits (a broker that aborts a
// transaction for its timeout stops the job).
func (s *Source) newTransactSession(opts []kgo.Opt) (*kgo.GroupTransactSession, error) {
	timeout := max(s.cfg.sessionTimeout-time.Second, minTransactionTimeout)
	opts = append(opts,
		kgo.TransactionalID(s.txnID),
		kgo.TransactionTimeout(timeout),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.AutoCommitMarks(),
	)
	session, err := kgo.NewGroupTransactSession(append(s.cfg.conn.opts(), opts...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka transactional client for %v: %w", s.cfg.conn.Brokers, err)
	}
	if err := session.Begin(); err != nil {
		session.Close()
		return nil, fmt.Errorf("beginning a transaction: %w", err)
	}
	return session, nil
}

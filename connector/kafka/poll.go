package kafka

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/sql"
)

// pollLoop fetches records and hands each partition's records to its
// reader's queue. With a group, rebalances wait between polls
// (BlockRebalanceOnPoll), so a revoked reader's queue never receives
// records after it was closed.
func (s *Source) pollLoop(ctx context.Context) {
	defer s.wg.Done()
	cl := s.client
	for {
		pctx, release := s.pollTurn(ctx)
		fs := cl.PollRecords(pctx, pollRecords)
		release()
		if ctx.Err() != nil || fs.IsClientClosed() {
			cl.AllowRebalance()
			return
		}
		fs.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, kerr.InvalidSessionTimeout) {
				// the group refuses the member for good: no retry helps
				key := s.cfg.name + ".session.timeout.ms"
				s.fail(&sql.PropertyError{Key: key, InValue: true, Msg: fmt.Sprintf("kafka source %q: option '%s' (%d) is outside the range the brokers allow "+
					"(their group.min.session.timeout.ms to group.max.session.timeout.ms, 6000 to 1800000 by default): %v",
					s.cfg.name, key, s.cfg.sessionTimeout.Milliseconds(), err)})
				return
			}
			if errors.Is(err, kerr.FencedInstanceID) {
				// another member joined with this member's instance id
				// and took its place: a retry would fence that one
				key := s.cfg.name + ".group.instance.id"
				s.fail(&sql.PropertyError{Key: key, InValue: true, Msg: fmt.Sprintf("kafka source %q: another process joined group %q with this process's "+
					"group.instance.id %q and took its place (Kafka's static membership): each process of a group needs its own '%s'; this one stops: %v",
					s.cfg.name, s.cfg.group, s.cfg.instanceID, key, err)})
				return
			}
			if isAuthError(err) {
				// refused credentials or rights (the group's, the
				// topic's): no retry helps either
				s.fail(fmt.Errorf("kafka source %q: %w", s.cfg.name, s.cfg.conn.connError(err)))
				return
			}
			if !errors.Is(err, context.Canceled) {
				s.logger().Warn("kafka fetch error", "partition", p, "error", err)
			}
		})
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			if fp.Topic != s.cfg.topic {
				return
			}
			if fp.Err == nil {
				s.noteFetch(fp.Partition, fp.HighWatermark, fp.LogStartOffset, fp.Records)
			}
			if len(fp.Records) > 0 {
				s.push(ctx, cl, fp.Partition, fp.Records)
			}
		})
		cl.AllowRebalance()
	}
}

// pollTurn returns the context of one poll and the function that ends it.
// A transactional source's polls take turns with its commits (a
// transaction must not end during a poll): a commit cancels the poll under
// way and runs before the next. Handing the polled records to the readers
// is not part of the turn, so a commit never waits for a full reader.
//
// A commit that asked for the turn between the poll loop taking it and
// storing its cancel function cancelled the previous poll, not this one:
// the poll is cancelled here instead, or it could wait for ever for
// records (every partition read to its end) while the commit waits for it.
func (s *Source) pollTurn(ctx context.Context) (context.Context, func()) {
	if s.txn == nil {
		return ctx, func() {}
	}
	select {
	case <-s.turn:
	case <-ctx.Done():
		return ctx, func() {}
	}
	return s.startPoll(ctx)
}

// startPoll returns the context of a poll whose turn the poll loop has
// taken, and the function that ends the poll and hands the turn back.
func (s *Source) startPoll(ctx context.Context) (context.Context, func()) {
	pctx, cancel := context.WithCancel(ctx)
	s.mu.Lock()
	s.pollCancel = cancel
	if s.commitsWaiting > 0 {
		cancel()
	}
	s.mu.Unlock()
	return pctx, func() {
		cancel()
		s.turn <- struct{}{}
	}
}

// noteFetch records partition p's high watermark from a fetch and, for a
// reader that does not know its start yet, the first fetched offset. A
// reader that has handed out nothing yet starts no earlier than the log's
// start (logStart): its start taken from the listing at Open (adjustOffsets)
// may have been purged since, and a fetch of a partition purged whole
// brings no record to say so. It must run before push, which hands recs
// over.
func (s *Source) noteFetch(p int32, hwm, logStart int64, recs []*kgo.Record) {
	s.mu.Lock()
	r := s.readers[p]
	s.mu.Unlock()
	if r == nil {
		return
	}
	r.hwm.Store(hwm)
	if len(recs) > 0 {
		r.start.CompareAndSwap(-1, recs[0].Offset)
		return
	}
	if at := r.start.Load(); r.next.Load() < 0 && at >= 0 && at < logStart {
		r.start.CompareAndSwap(at, logStart)
	}
}

// Lag returns the consumer lag of each partition the source reads: the
// partition's latest known high watermark (listed at Open, then from every
// fetch) minus the offset of the next record the source hands out. A group
// member's partition that has fetched no record since the group assigned
// it is at the group's committed offset (a partition read to its end
// before a rebalance has lag 0), or, without one, where the reset policy
// starts it; one whose committed offset the group has not answered yet is
// left out. It is safe for concurrent use.
func (s *Source) Lag() map[int32]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[int32]int64, len(s.readers))
	var committed map[int32]kgo.EpochOffset // the group's, read once
	for p, r := range s.readers {
		if l, ok := s.lagLocked(r, &committed); ok {
			out[p] = l
		}
	}
	return out
}

// lagLocked returns the consumer lag of r's partition as Lag does, and
// false when it is not known; committed caches the group's committed
// offsets, read at the first reader that needs them. The caller holds
// s.mu.
func (s *Source) lagLocked(r *partReader, committed *map[int32]kgo.EpochOffset) (int64, bool) {
	if l, ok := r.lag(); ok {
		return l, true
	}
	if s.cfg.group == "" || s.client == nil {
		return 0, false
	}
	if *committed == nil {
		*committed = s.client.CommittedOffsets()[s.cfg.topic]
	}
	c, ok := (*committed)[r.part]
	if hwm := r.hwm.Load(); ok && c.Offset >= 0 && hwm >= 0 {
		return max(0, hwm-c.Offset), true
	}
	return 0, false
}

// recordsWaiting reports whether a partition whose consumer lag is lag
// (known: whether it is) may hold records its reader has not handed out:
// its lag is above 0 or not known. Such a partition is not idle, in one
// process (partReader.RecordsWaiting) as through a repartition topic
// (Shuffle.progressLocked).
func recordsWaiting(lag int64, known bool) bool { return !known || lag > 0 }

// RecordsWaiting implements connector.Backlog: the partition's records
// past the reader's position wait, or its lag is not known yet (Lag). A
// reader the source no longer has (its partition revoked) has none.
func (r *partReader) RecordsWaiting() bool {
	s := r.src
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.readers[r.part] != r {
		return false
	}
	var committed map[int32]kgo.EpochOffset
	return recordsWaiting(s.lagLocked(r, &committed))
}

// push queues recs for partition p's reader. Under stop.at=end it drops
// records at or past the end offset and ends the reader at its end.
func (s *Source) push(ctx context.Context, cl *kgo.Client, p int32, recs []*kgo.Record) {
	s.mu.Lock()
	r, end := s.readers[p], s.ends[p]
	if r != nil && s.wholeTopic != "" {
		s.pushed[p] = recs[len(recs)-1].Offset + 1
	}
	s.mu.Unlock()
	if r == nil || r.ended.Load() {
		return
	}
	// Transaction markers (control records) are kept: they are no data,
	// but the reader's position moves past them as it reads (decodeInto),
	// so that a partition whose last records are markers (a topic written
	// in transactions) is read up to its end.
	last := recs[len(recs)-1].Offset
	if s.cfg.stopAtEnd {
		n := len(recs)
		for n > 0 && recs[n-1].Offset >= end {
			n--
		}
		recs = recs[:n]
	}
	// The reader owns recs once pushed: read what is needed first.
	atEnd := s.cfg.stopAtEnd && last+1 >= end
	if len(recs) > 0 && !r.push(ctx, recs) {
		return
	}
	if atEnd {
		r.ended.Store(true)
		r.finish()
		cl.PauseFetchPartitions(map[string][]int32{s.cfg.topic: {p}})
		s.signal()
	}
}

// deliverLoop sends new readers on out. Without a group every reader exists
// at Open, so out closes once they are sent; with a group, out closes when
// the source closes or, under stop.at=end, when every reader has ended.
func (s *Source) deliverLoop(ctx context.Context, out chan<- connector.PartitionReader) {
	defer s.wg.Done()
	defer close(out)
	s.mu.Lock()
	hold := s.holdFor
	s.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return
		}
	}
	for {
		s.mu.Lock()
		batch := s.pending
		s.pending = nil
		// a repartition topic's readers channel stays open: a rebalance
		// may give a member partitions after its own ended
		ends := s.cfg.stopAtEnd && !s.keepOpen
		done := s.cfg.group == "" || (ends && s.allEndedLocked())
		s.mu.Unlock()
		for _, r := range batch {
			var rd connector.PartitionReader = r
			if s.repart != nil {
				rd = repartReader{r}
			}
			select {
			case out <- rd:
			case <-ctx.Done():
				return
			}
		}
		s.mu.Lock()
		if s.partitions > 0 && len(s.readers) == s.partitions && len(s.pending) == 0 {
			s.noteWholeLocked()
		}
		s.mu.Unlock()
		if done {
			return
		}
		select {
		case <-s.wake:
		case <-ctx.Done():
			return
		}
	}
}

// AllEnded reports whether the source has owned partitions and every
// reader it owns has reached its end.
func (s *Source) AllEnded() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.allEndedLocked()
}

// allEndedLocked reports whether the source has owned partitions and every
// reader it owns has reached its end.
func (s *Source) allEndedLocked() bool {
	if !s.everOwned || len(s.pending) > 0 {
		return false
	}
	if (s.repart != nil || s.onRevoke != nil) && len(s.readers) == 0 {
		// between a rebalance's revoking and assigning (a repartition
		// topic's reader, a member that restarts per assignment): the
		// partitions to end are still to come
		return false
	}
	for _, r := range s.readers {
		if !r.ended.Load() {
			return false
		}
	}
	return true
}

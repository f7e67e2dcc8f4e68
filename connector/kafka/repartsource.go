package kafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/record"
)

// repartIn configures the reader of a repartition topic.
type repartIn struct {
	sourcePartitions int  // the partitions of the source stage 1 reads
	bounded          bool // the source ends, and so does every partition
	// sourceEnds returns where this process's run of the source ends
	// (stop.at=end), per source partition; empty until stage 1 opened
	sourceEnds func() map[int32]int64
	// assignment numbers the group's assignments of this member: it grows
	// when a handover ends (revoked) or partitions are lost, and each
	// reader keeps the number it was created under
	assignment int64
	// committing counts the commits under way; a handover ends only
	// after them
	committing int
	// marking counts MarkDone's commits under way (among committing);
	// an exactly-once member giving its partitions up waits for them
	// (dropAssignment), not for a transaction's, which the rebalance
	// aborts
	marking int
	// fired reports whether a record read again before its partition's
	// fence had its whole effect under the fence's watermark (every window
	// of the record fired); it may mark a record it keeps Settled
	fired func(rec *record.Record, wm int64) bool
	// topicID is the topic's id once known (commits with metadata use it)
	topicID [16]byte
	// abort: exactly-once, a rebalance took the assignment away, and the
	// transaction holding its generation's output is aborted before the
	// next assignment reads anything
	abort bool
	// stopped is closed once the generation a rebalance stopped returned
	stopped <-chan struct{}
	// upstream names the sources stage 1 reads, in the order the Shuffle
	// numbers their partitions, and nums is that numbering (Origin)
	upstream []string
	nums     sourceNumbers
	// bigView warns once that a commit's view did not fit its metadata
	bigView sync.Once
	// liveEnds: sourceEnds gives the ends of the source partitions as
	// they become known, and is asked again until it gives them all (an
	// exchange topic's: ExchangeSource)
	liveEnds bool
	// eventTimes: a record's timestamp is its event time, which the
	// reader sets (an exchange topic's rows: their joined time is no
	// column's)
	eventTimes bool
	// commitWM is, per partition, the watermark of the last checkpoint
	// committed, and doneAt the offset of the done marker this member
	// last committed it at (MarkDone): what an exchange topic's reports
	// say of stage 2's partitions (NewExchange); commitPending the least
	// event time of a row the job could still write from the partition
	// behind that watermark (connector.Checkpoint.Pending), when there
	// was one
	commitWM, doneAt, commitPending map[int32]int64
	// purged is, per partition, the offset before which this member last
	// deleted the records (purge): a commit that did not move past it has
	// nothing to delete
	purged map[int32]int64
	// partitionWatermarks: a record carries its partition's watermark
	// (StampPartitionWatermarks)
	partitionWatermarks bool
}

// StampPartitionWatermarks makes the records of stage 2's source carry the
// watermark of their partition as the reports before each give it (the
// lowest of the source partitions', which no record that is not late is
// behind) instead of the one its lateness is judged by (which adds its
// own source partition's): an outer join that writes its joined rows to
// an exchange topic decides its rows with NULLs by it, record by record
// (join.Program.WriteRows). Call it before the source is opened.
func (s *Source) StampPartitionWatermarks() {
	s.repart.partitionWatermarks = true
}

// RepartitionSource returns stage 2's source: the repartition topic that a
// Shuffle fed from s writes, read in s's consumer group (another member of
// it, with eager rebalancing) and decoded into the same schema. key names
// the routing key columns the topic is partitioned by (nil when they are
// not all plain columns); sourcePartitions is s's partition count. The
// source's partitions end when every source partition ended upstream
// (stop.at=end) or a done marker says stage 2 finished them. onRevoke is
// called when a rebalance starts taking partitions away, before their
// readers end: stage 2 keeps no durable state, so its job must stop and
// start again from the committed offsets, where each partition skips the
// records before the read offset of its last commit whose windows (fired
// says) had all fired under that commit's watermark (fired may mark a
// record it keeps record.Record.Settled: an outer join's). The handover waits
// for the channel onRevoke returns (the job stopped, its last commit made)
// and accepts no commit of that job afterwards (see CommitCheckpoint).
// Call UseEagerRebalancing on s too.
func (s *Source) RepartitionSource(topic string, key []string, sourcePartitions int, onRevoke func() <-chan struct{}, fired func(*record.Record, int64) bool) *Source {
	r := s.internalSource(topic, key, sourcePartitions, "-repartition", onRevoke, fired)
	r.FollowEnds([]*Source{s})
	return r
}

// internalSource returns the source of an internal topic of s's group
// (a repartition or exchange topic) read as another member of the group,
// its static membership suffixed with suffix.
func (s *Source) internalSource(topic string, key []string, sourcePartitions int, suffix string, onRevoke func() <-chan struct{}, fired func(*record.Record, int64) bool) *Source {
	cfg := s.cfg
	cfg.topic = topic
	cfg.format, cfg.values, cfg.keys, cfg.registry, cfg.keyField = "json", nil, nil, nil, ""
	cfg.partitionKey = append([]string(nil), key...)
	cfg.stopAtEnd, cfg.reset = false, "earliest"
	if cfg.instanceID != "" {
		cfg.instanceID += suffix // one member per client of the group
	}
	r := &Source{cfg: cfg, wake: make(chan struct{}, 1), extraOpts: s.extraOpts, failed: make(chan struct{}), eager: true, onRevoke: onRevoke,
		repart: &repartIn{sourcePartitions: sourcePartitions, bounded: s.cfg.stopAtEnd, fired: fired,
			upstream: []string{s.cfg.name}, nums: numberSources([]*Source{s}),
			commitWM: map[int32]int64{}, doneAt: map[int32]int64{}, commitPending: map[int32]int64{}, purged: map[int32]int64{}}}
	r.commitCond = sync.NewCond(&r.mu)
	return r
}

// ReadsFrom says which sources stage 1 reads for a repartition topic
// (RepartitionSource) when there are several (a join's streams): their
// partitions are numbered one after the other, as the Shuffle numbers
// them, and Origin tells them apart. Call it before Open.
func (s *Source) ReadsFrom(srcs []*Source) {
	names := make([]string, len(srcs))
	for i, src := range srcs {
		names[i] = src.cfg.name
	}
	nums := numberSources(srcs)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repart.upstream, s.repart.nums = names, nums
}

// Origin implements connector.Upstream for a repartition topic's source:
// the name of the source, and its partition, that stage 1 numbered
// partition (record.Record.OriginPartition).
func (s *Source) Origin(partition int32) (string, int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.repart == nil || len(s.repart.upstream) == 0 {
		return s.cfg.name, partition
	}
	names, base := s.repart.upstream, s.repart.nums.base
	i := len(names) - 1
	for i > 0 && partition < base[i] {
		i--
	}
	return names[i], partition - base[i]
}

// FollowEnds makes a bounded run's repartition topic (RepartitionSource)
// end where the group's run of srcs, the sources its Shuffle reads, ends:
// the group agrees on one end as it assigns (runEnd), which srcs read up
// to; their partitions are numbered one after the other, as the Shuffle
// numbers them. Call it before Open.
func (s *Source) FollowEnds(srcs []*Source) {
	if s.repart == nil || !s.repart.bounded {
		return
	}
	s.repart.sourceEnds = newRunEnd(s, srcs).sourceEnds
}

// UseEagerRebalancing makes the member rebalance eagerly (range balancer),
// as every member of a group that also reads a repartition topic must.
// Call it before Open.
func (s *Source) UseEagerRebalancing() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.eager = true
}

// ReadInGroupOf makes s a member of first's consumer group, with first's
// session timeout (and static membership, suffixed with s's name): the
// second stream of a join repartitioned through a topic is read in the
// statement's group like the first, so that each of its records is read
// by one process. Call it before Open.
func (s *Source) ReadInGroupOf(first *Source) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.group, s.cfg.sessionTimeout = first.cfg.group, first.cfg.sessionTimeout
	s.cfg.instanceID = ""
	if first.cfg.instanceID != "" {
		s.cfg.instanceID = first.cfg.instanceID + "-" + s.cfg.name
	}
}

// KeepOpen keeps a stop.at=end group member's readers channel open after
// its partitions ended, so that it reads partitions a rebalance gives it
// later (those of a member that stopped). Call it before Open.
func (s *Source) KeepOpen() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keepOpen = true
}

// Current reports whether rd is the reader of its partition that the
// group assigned last: false for one whose partition was revoked since.
func (s *Source) Current(rd connector.PartitionReader) bool {
	r := partReaderOf(rd)
	if r == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readers[r.part] == r
}

// Assignment returns the number of the group assignment that gave a
// repartition topic's reader rd its partition: the one to commit the
// offsets read from it under (CommitCheckpoint).
func (s *Source) Assignment(rd connector.PartitionReader) int64 {
	if r := partReaderOf(rd); r != nil {
		return r.assignment
	}
	return -1
}

// partReaderOf returns the partition reader rd is, or nil.
func partReaderOf(rd connector.PartitionReader) *partReader {
	switch v := rd.(type) {
	case *partReader:
		return v
	case repartReader:
		return v.partReader
	}
	return nil
}

// FenceWatermark returns the watermark of the checkpoint that partition p
// of a repartition topic, or of an aligned member (MarkRereads), resumed
// from when the group last gave it to this member (see CommitCheckpoint),
// or false when it resumed from none: every window that fired under it
// was written before. The answer stays once the group takes the partition
// away, until it gives it back: the job that read it may still be passing
// the rows it read through its windows.
func (s *Source) FenceWatermark(p int32) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.fences[p]
	return f.wm, ok && f.wm != noWatermark
}

// FenceEpoch returns a number that grows whenever partitions resume from
// their checkpoints again (the group assigned them to this member): a
// fence FenceWatermark returned before may no longer be the partition's.
func (s *Source) FenceEpoch() uint64 { return s.fenceEpoch.Load() }

// Owned returns the partitions the group assigns to this member now.
func (s *Source) Owned() []int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]int32, 0, len(s.owned))
	for p := range s.owned {
		out = append(out, p)
	}
	return out
}

// Committed returns, per partition, the last offset this member committed.
func (s *Source) Committed() map[int32]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.committed)
}

// notifyRevoke tells a repartition topic's reader, or a member whose job
// restarts per assignment (RestartOnRebalance), that partitions are taken
// away, and returns what onRevoke returned (or nil).
func (s *Source) notifyRevoke(parts []int32) <-chan struct{} {
	if s.onRevoke != nil && len(parts) > 0 {
		return s.onRevoke()
	}
	return nil
}

// RestartOnRebalance makes an aligned consumer-group member (MarkRereads)
// rebalance eagerly, so that every rebalance takes all its partitions
// away, and call onRevoke when it does: its job keeps no durable state, so
// it stops and starts again on the next assignment, every partition of
// which it replays from the committed offset with its fence, as stage 2
// of a repartitioned statement does (RepartitionSource). The handover
// waits (at most revokeWait) for the channel onRevoke returns, closed once
// the job stopped (its last commit made). Between a rebalance's revoking
// and assigning, the member has not ended (AllEnded) under stop.at=end.
// Call it before Open.
func (s *Source) RestartOnRebalance(onRevoke func() <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.eager, s.onRevoke = true, onRevoke
}

// endAssignmentLocked ends a repartition topic's assignment after its
// handover: commits made under it are refused from now on.
func (s *Source) endAssignmentLocked() {
	if s.repart != nil {
		s.repart.assignment++
	}
}

// purge deletes a repartition topic's records before the committed
// offsets (DeleteRecords, as Kafka Streams does since KIP-811). Stage 2
// resumes at its committed offsets and stage 1 never sends again what they
// passed, so nothing a replay needs goes. A failure only leaves records for
// the next purge. A partition whose commit is not past this member's last
// purge of it is left out, and no request is sent when none is: a commit
// follows every commit interval whether the partitions moved or not, and
// each purge is a request to every broker leading one of them, in the
// commit's path (a stopping job's last commit waits for it).
func (s *Source) purge(ctx context.Context, cl *kgo.Client, commit map[int32]kgo.EpochOffset) {
	var os kadm.Offsets
	s.mu.Lock()
	for p, o := range commit {
		if o.Offset > s.repart.purged[p] {
			os.Add(kadm.Offset{Topic: s.cfg.topic, Partition: p, At: o.Offset, LeaderEpoch: -1})
		}
	}
	s.mu.Unlock()
	if len(os) == 0 {
		return
	}
	resp, err := kadm.NewClient(cl).DeleteRecords(ctx, os)
	if err != nil {
		s.logger().Debug("kafka repartition topic purge failed", "error", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ps := range resp {
		for p, r := range ps {
			if r.Err != nil {
				s.logger().Debug("kafka repartition topic purge failed", "partition", p, "error", r.Err)
				continue
			}
			if o, ok := os.Lookup(s.cfg.topic, p); ok {
				s.repart.purged[p] = max(s.repart.purged[p], o.At)
			}
		}
	}
}

// MarkDone ends a bounded run's partitions that this member finished:
// for each that ended upstream it writes a done marker with sh's producer
// and commits the marker's own offset, with donePrefix metadata, so that a
// member the group gives the partition later (this one stopped) reads the
// marker and ends at once, and a member without partitions sees that the
// run is over (GroupDone). A partition that ended at another member's
// marker gets one again: the job's last commit moved past that one, and
// whoever reads on from there (when no stage 1 reports any more) would
// wait for ever. Call it after the job ran to its end, before Close.
//
// A marker's offset is committed only while this member still holds the
// partition under the assignment its reader read it in, and a handover
// waits for that commit, as for CommitCheckpoint's: once the partition
// moved, its next holder may have read past the marker, committed further
// and purged what is before, and this member's commit, sent with its new
// generation (which the group accepts), would move the partition back to
// records that are gone.
//
// The markers and their commit take at most deliveryTimeout (Kafka's
// delivery.timeout.ms, the bound of the topic's other writes) and, once
// ctx ends (a stop), at most markGrace more: a stop does not cut them
// short on a cluster that answers, nor waits minutes for one that does
// not. A marker not acknowledged in time is not committed.
func (s *Source) MarkDone(ctx context.Context, sh *Shuffle) error {
	ctx, stop := afterStop(ctx, markGrace)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, deliveryTimeout)
	defer cancel()
	s.mu.Lock()
	cl := s.client
	ended := map[int32]*partReader{}
	for p, r := range s.readers {
		if r.up != nil && r.ended.Load() {
			ended[p] = r
		}
	}
	s.mu.Unlock()
	if cl == nil || len(ended) == 0 {
		return nil
	}
	commit := make(map[int32]kgo.EpochOffset, len(ended))
	meta := make(map[int32]string, len(ended))
	for p, r := range ended {
		ps := r.up.progress()
		off, err := sh.produceDone(ctx, p, ps)
		if err != nil {
			return fmt.Errorf("kafka repartition topic %q: done marker: %w", s.cfg.topic, err)
		}
		commit[p] = kgo.EpochOffset{Epoch: -1, Offset: off}
		meta[p] = donePrefix + strconv.FormatInt(committedSum(ps), 10)
	}
	s.mu.Lock()
	for p, r := range ended {
		if s.readers[p] != r || r.assignment != s.repart.assignment {
			// handed over: whoever holds it now reads up to the marker
			delete(commit, p)
		}
	}
	if len(commit) == 0 {
		s.mu.Unlock()
		return nil
	}
	s.repart.committing++
	s.repart.marking++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.repart.committing--
		s.repart.marking--
		s.commitCond.Broadcast()
		s.mu.Unlock()
	}()
	if err := s.commit(ctx, cl, commit, meta); err != nil && !rebalanced(err) {
		return err
	}
	s.mu.Lock()
	for p, o := range commit {
		if s.committed[p] == o.Offset {
			s.repart.doneAt[p] = o.Offset
		}
	}
	s.mu.Unlock()
	// refused by a rebalance: the marker is in the partition, and whoever
	// resumes it from the commit before reads up to it
	return nil
}

// markGrace is how long MarkDone's markers and commits may still take
// once the run is stopped.
const markGrace = 5 * time.Second

// afterStop returns a context that ends grace after ctx ends, and the
// function that releases it.
func afterStop(ctx context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	out, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(grace, cancel)
		context.AfterFunc(out, func() { t.Stop() })
	})
	return out, func() {
		stop()
		cancel()
	}
}

// donePrefix starts the metadata of a done marker's commit, followed by
// the sum of the source's committed offsets it records.
const donePrefix = "sluice-done:"

// committedSum returns the sum of the committed offsets of ps.
func committedSum(ps []partProgress) int64 {
	var n int64
	for _, p := range ps {
		n += max(p.committed, 0)
	}
	return n
}

// GroupDone reports whether the group finished a bounded run: every
// partition of the repartition topic is committed at a done marker that
// records the source read at least to where this process's run of it ends
// (an earlier run's markers record less); for an aligned member that
// restarts per assignment (RestartOnRebalance), every partition of its
// topic is committed at least up to where this process's run of it ends
// (runDone). A member the group gives no partition ends then.
func (s *Source) GroupDone(ctx context.Context) (bool, error) {
	s.mu.Lock()
	cl, n := s.client, s.partitions
	s.mu.Unlock()
	if cl != nil && s.repart == nil && s.onRevoke != nil && s.cfg.stopAtEnd {
		return s.runDone(ctx, cl)
	}
	if cl == nil || s.repart == nil || s.repart.sourceEnds == nil || n == 0 {
		return false, nil
	}
	ends := s.repart.sourceEnds()
	if len(ends) == 0 || (s.repart.liveEnds && len(ends) < s.repart.sourcePartitions) {
		return false, nil
	}
	var want int64
	for _, e := range ends {
		want += e
	}
	resp, err := kadm.NewClient(cl).FetchOffsets(ctx, s.cfg.group)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return false, err
	}
	for p := range int32(n) {
		o, ok := resp.Lookup(s.cfg.topic, p)
		if !ok {
			return false, nil
		}
		sum, found := strings.CutPrefix(o.Metadata, donePrefix)
		v, err := strconv.ParseInt(sum, 10, 64)
		if !found || err != nil || v < want {
			return false, nil
		}
	}
	return true, nil
}

// runDone reports whether the group committed every partition of the
// topic at least up to where this process's run of it ends (stop.at=end:
// its end listed at Open); a partition without a commit counts when this
// member would start it there (nothing to read).
func (s *Source) runDone(ctx context.Context, cl *kgo.Client) (bool, error) {
	resp, err := kadm.NewClient(cl).FetchOffsets(ctx, s.cfg.group)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for p, end := range s.ends {
		o, ok := resp.Lookup(s.cfg.topic, p)
		if ok && o.At >= 0 {
			if o.At < end {
				return false, nil
			}
		} else if s.directStart(p) < end {
			return false, nil
		}
	}
	return len(s.ends) > 0, nil
}

// stagePrefix starts the metadata of a repartition topic's committed
// offsets: "<watermark>:<read offset>[:<view>]", the stage-2 watermark and
// read offset of the commit and, when it fits, the view of the source
// partitions the reader had (encodeView; earlier versions wrote none).
const stagePrefix = "sluice-stage2:"

// parseStageCheckpoint reads a commit's checkpoint metadata: its read offset,
// watermark and view (nil: none, or one that does not parse); false when
// it holds no checkpoint.
func parseStageCheckpoint(meta string) (read, wm int64, v *view, ok bool) {
	rest, ok := strings.CutPrefix(meta, stagePrefix)
	if !ok {
		return 0, 0, nil, false
	}
	fields := strings.SplitN(rest, ":", 3)
	if len(fields) < 2 {
		return 0, 0, nil, false
	}
	wm, err1 := strconv.ParseInt(fields[0], 10, 64)
	read, err2 := strconv.ParseInt(fields[1], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, nil, false
	}
	if len(fields) == 3 {
		// a view that does not parse is left out: the replay knows no
		// watermark until every source partition reported again
		v, _ = decodeView(fields[2], wm)
	}
	return read, wm, v, true
}

// CommitCheckpoint commits the offsets of a repartition topic's partitions
// with the checkpoint of stage 2's job in their metadata (its watermark and
// how far it read), so that whoever resumes a partition skips the records
// before the read offset whose windows had all fired: their rows are out.
//
// assignment is the Assignment of the readers the job read. Once their
// handover ended it commits nothing: the group may have given a partition
// back to this member, whose new reader resumed from the offset and fence
// committed then, and a later commit of the old job would move the
// partition past records the new reader still replays (and purge them),
// or leave a checkpoint that does not match where it started.
func (s *Source) CommitCheckpoint(ctx context.Context, assignment int64, offsets map[int32]int64, cp connector.Checkpoint) error {
	s.mu.Lock()
	cl := s.client
	if cl == nil || len(offsets) == 0 || assignment != s.repart.assignment {
		s.mu.Unlock()
		return nil
	}
	s.repart.committing++
	defer func() {
		s.mu.Lock()
		s.repart.committing--
		s.commitCond.Broadcast()
		s.mu.Unlock()
	}()
	commit := s.commitsLocked(offsets)
	meta := make(map[int32]string, len(commit))
	reads := make(map[int32]int64, len(commit))
	var behind []int32
	for p, o := range commit {
		read, ok := cp.Read[p]
		if !ok {
			read = o.Offset
		}
		wm, v := cp.Watermark, ""
		if u := s.ups[p]; u != nil {
			read, wm, ok = u.fence(read, wm)
			if !ok && s.txn == nil {
				// behind its fence: it stays at the checkpoint it
				// resumed from. Exactly once, its rows commit in this
				// transaction, so it commits the joined fence with
				// them: such a statement's windows change no more once
				// they fired (exec.Program.Replayable), and one a
				// replay fires above the fence's watermark has every
				// record of it that is not late (those it has not read
				// carry a watermark past it).
				delete(commit, p)
				behind = append(behind, p)
				continue
			}
			uv := u.viewAt(o.Offset)
			if v = encodeView(uv, wm); v == "" && uv != nil {
				s.repart.bigView.Do(func() {
					s.logger().Warn("kafka repartition topic: the source has too many partitions to record what stage 2 knew of them with its commits; "+
						"a replay after a rebalance waits for every source partition's next report for its watermark, and may take a record stage 1 sent again for new",
						"source_partitions", s.repart.sourcePartitions, "metadata_bytes", maxViewBytes)
				})
			}
		}
		meta[p] = stagePrefix + strconv.FormatInt(wm, 10) + ":" + strconv.FormatInt(read, 10)
		if v != "" {
			meta[p] += ":" + v
		}
		reads[p] = read
	}
	s.leftBehindLocked(behind)
	s.mu.Unlock()
	if s.txn != nil {
		return s.commitTransaction(ctx, assignment, commit, meta, reads)
	}
	err := s.commit(ctx, cl, commit, meta)
	if err == nil {
		// every row the job wrote before the checkpoint was flushed
		s.mu.Lock()
		for p := range commit {
			s.repart.commitWM[p] = cp.Watermark
			if et, ok := cp.Pending[p]; ok {
				s.repart.commitPending[p] = et
			} else {
				delete(s.repart.commitPending, p)
			}
		}
		s.mu.Unlock()
	}
	if rebalanced(err) {
		// the group moved on while the commit was under way: its
		// partitions resume from the commit before, as after a refusal
		s.logger().Debug("kafka repartition topic: commit refused by a rebalance", "error", err)
		return nil
	}
	return err
}

// rebalanced reports whether err is the group refusing a commit because
// a rebalance ended the member's generation.
func rebalanced(err error) bool {
	return errors.Is(err, kerr.IllegalGeneration) || errors.Is(err, kerr.RebalanceInProgress) ||
		errors.Is(err, kerr.UnknownMemberID) || errors.Is(err, kerr.FencedInstanceID)
}

// commitWithMetadata commits offsets with metadata as this member of the
// group (kgo's commits carry none).
func (s *Source) commitWithMetadata(ctx context.Context, cl *kgo.Client, commit map[int32]kgo.EpochOffset, meta map[int32]string) error {
	member, generation := cl.GroupMetadata()
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.MemberID, req.Generation = s.cfg.group, member, generation
	if s.cfg.instanceID != "" {
		id := s.cfg.instanceID
		req.InstanceID = &id
	}
	t := kmsg.NewOffsetCommitRequestTopic()
	t.Topic = s.cfg.topic
	// v10 names the topic by its id
	id, err := s.topicID(ctx, cl)
	if err != nil {
		return err
	}
	t.TopicID = id
	for p, o := range commit {
		tp := kmsg.NewOffsetCommitRequestTopicPartition()
		tp.Partition, tp.Offset, tp.LeaderEpoch = p, o.Offset, -1
		m := meta[p]
		tp.Metadata = &m
		t.Partitions = append(t.Partitions, tp)
	}
	req.Topics = append(req.Topics, t)
	resp, err := req.RequestWith(ctx, cl)
	return commitError(resp, err)
}

// topicID returns the repartition topic's id, looked up once.
func (s *Source) topicID(ctx context.Context, cl *kgo.Client) ([16]byte, error) {
	s.mu.Lock()
	id := s.repart.topicID
	s.mu.Unlock()
	if id != ([16]byte{}) {
		return id, nil
	}
	topics, err := kadm.NewClient(cl).ListTopics(ctx, s.cfg.topic)
	if err == nil {
		err = topics.Error()
	}
	if err != nil {
		return id, err
	}
	id = topics[s.cfg.topic].ID
	s.mu.Lock()
	s.repart.topicID = id
	s.mu.Unlock()
	return id, nil
}

// fetchStable fetches the group's committed offsets. Exactly-once, a
// transaction that commits offsets may be under way (another member's, or
// this member's last, ended by the rebalance): the offsets and fences are
// read once every such transaction has ended (RequireStable, asked again
// while the brokers answer that one is pending), or a replay would start
// from an older offset and fence than those its output committed with.
func (s *Source) fetchStable(ctx context.Context, cl *kgo.Client) (kadm.OffsetResponses, error) {
	adm := kadm.NewClient(cl)
	if s.txn == nil {
		resp, err := adm.FetchOffsets(ctx, s.cfg.group)
		if err == nil {
			err = resp.Error()
		}
		return resp, err
	}
	ctx = kadm.RequireStable(ctx)
	for {
		resp, err := adm.FetchOffsets(ctx, s.cfg.group)
		if err == nil {
			err = resp.Error()
		}
		if !errors.Is(err, kerr.UnstableOffsetCommit) {
			return resp, err
		}
		select {
		case <-ctx.Done():
			return resp, err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// assignedEnds lists the ends of the topic's partitions as the group
// assigns some to this member (nil if they cannot be listed): a
// repartition topic's, or an aligned member's (MarkRereads).
// The member that had a partition before, killed or revoked, read no
// record at or past its end then: the records before it that a new
// reader reads may have had their rows written (record.Record.Reread),
// even past the last commit's fence, which that member may have read
// beyond before it went.
func (s *Source) assignedEnds(ctx context.Context, cl *kgo.Client) kadm.ListedOffsets {
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, s.cfg.topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		// every record the new readers read counts as Reread: more
		// retractions, none missing
		s.logger().Debug("kafka source: listing the ends of assigned partitions", "topic", s.cfg.topic, "error", err)
		return nil
	}
	return ends
}

// rereadTo returns where the records of partition p of topic that a
// member before may have processed end: its end as listed at the
// assignment (assignedEnds), or every record when ends has none.
func rereadTo(ends kadm.ListedOffsets, topic string, p int32) int64 {
	if end, ok := ends.Lookup(topic, p); ok && end.Err == nil {
		return end.Offset
	}
	return math.MaxInt64
}

// fenceWait bounds how long a new assignment waits for its fences.
const fenceWait = 30 * time.Second

// loadFences reads the checkpoints stored with the committed offsets of the
// partitions this member was just assigned (CommitCheckpoint) and gives
// each reader its fence: the records before the read offset whose windows
// had all fired under the watermark are skipped, their rows being out
// already, by a repartition topic's reader itself, and for an aligned
// member (MarkRereads) by the job (connector.Fenced). A partition without
// a checkpoint has no fence. The offset and its checkpoint are one commit:
// a partition whose committed offset moved since the group fetched it
// starts at the one read here, with its fence. Each reader also learns
// where the records a member before may have processed end (rereadTo).
func (s *Source) loadFences(ctx context.Context, offsets map[int32]kgo.Offset) error {
	s.mu.Lock()
	cl := s.client
	s.mu.Unlock()
	if cl == nil {
		// the group assigned before Open stored its client (it joins as
		// the client is made)
		var err error
		if cl, err = newClient(s.cfg.conn); err != nil {
			return err
		}
		defer cl.Close()
	}
	// The group's context ends with a rebalance that follows at once, but
	// the readers exist already: they must not read without their fences.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fenceWait)
	defer cancel()
	resp, err := s.fetchStable(fctx, cl)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return fmt.Errorf("fetching the committed offsets of group %q: %w", s.cfg.group, s.cfg.conn.connError(err))
	}
	ends := s.assignedEnds(fctx, cl)
	s.mu.Lock()
	defer s.mu.Unlock()
	defer s.fenceEpoch.Add(1)
	for p, at := range offsets {
		r := s.readers[p]
		if r == nil {
			continue
		}
		r.rereadTo = rereadTo(ends, s.cfg.topic, p)
		// replaced in one step: a job still passing the rows of the
		// reader before through its windows never sees no fence
		s.fences[p] = fence{wm: noWatermark}
		o, ok := resp.Lookup(s.cfg.topic, p)
		if !ok || o.At < 0 {
			continue
		}
		if o.At != at.EpochOffset().Offset {
			offsets[p] = kgo.NewOffset().At(o.At)
		}
		if r.up == nil {
			if f, ok := parseCheckpoint(o.Metadata); ok {
				r.fence = fence{to: f.Read, wm: f.Watermark, start: f.Start, started: f.HasStart}
				s.fences[p] = r.fence
			}
			continue
		}
		if read, wm, v, ok := parseStageCheckpoint(o.Metadata); ok {
			r.up.fenceTo, r.up.fenceWM = read, wm
			if v != nil {
				r.up.resumeFrom(v)
			}
			s.fences[p] = fence{to: read, wm: wm}
		}
	}
	return nil
}

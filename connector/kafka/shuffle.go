package kafka

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/record"
)

// progressInterval is how often a Shuffle reports its source partitions'
// progress to every partition of the repartition topic when it writes
// nothing else.
const progressInterval = 100 * time.Millisecond

// ShuffleConfig configures a Shuffle.
type ShuffleConfig struct {
	// Topic is the repartition topic and Partitions its partition count.
	Topic      string
	Partitions int
	// MaxMessageBytes is the largest record batch the topic takes (0: the
	// client's default, 1 MB).
	MaxMessageBytes int
	// Key evaluates a row's routing key into buf; nil routes by the whole row.
	Key func(r *record.Record, buf []record.Value) []record.Value
	// EventTime returns a row's event time, if it has one.
	EventTime func(r *record.Record) (int64, bool)
	// MaxOutOfOrder is subtracted from a source partition's highest event
	// time to give its watermark; IdleTimeout is how long an unbounded
	// source partition may go without records before it is reported idle
	// (0: never).
	MaxOutOfOrder, IdleTimeout time.Duration
}

// Shuffle is stage 1's sink of a repartitioned statement: it writes each
// row the sources read (the statement's input rows, in source order per
// source partition) to the repartition topic partition of its routing key,
// and reports its sources' progress there (see RepartitionSource). It
// produces with its own idempotent client, so a source partition's records
// and reports reach each repartition partition in the order it wrote them.
//
// A join's streams share the topic: the source partitions of the sources
// are numbered one after the other (the first source's 0 to n-1, the
// second's from n), and the topic carries that number, so stage 2 follows
// every partition of every stream.
type Shuffle struct {
	cfg  ShuffleConfig
	srcs []*Source // stage 1's sources: the owned partitions, their commits and ends
	nums sourceNumbers
	opts []kgo.Opt
	conn Conn // the cluster to produce to
	// from, for an exchange topic (NewExchange), is the stage-2 source
	// whose partitions the rows come from, in place of srcs
	from *exchangeFrom

	client  *kgo.Client
	sinkCtx context.Context // the context Open was given (the job's for its sinks)
	enc     repartEncoder
	err     firstError

	acked atomic.Int64 // records the topic answered, for watchStall
	// mu orders rows before the reports that cover them. Its holder may
	// wait for room in the producer's buffer (a cluster that no longer
	// answers fills it), so taking it ends with the taker's context: a
	// Flush behind a periodic report gives up with the drain timeout
	mu       ctxMutex
	parts    map[int32]*sent
	held     map[int32]bool // the source partitions owned at the last report
	keyBuf   []record.Value
	rowBytes int // the bytes a message of the last Write took, on average
	// reportsEnd and stop end the periodic reports (reporting) and then
	// watchStall (stopped): a report waiting for room in the producer's
	// buffer (a cluster that no longer answers) gets it when watchStall
	// fails the records that wait, so the reports stop first. halt
	// cancels loopCtx, the periodic reports' context, when the Shuffle
	// drops what is not sent (Abort) or Finish's context ends: a report
	// waiting for room lets go.
	reportsEnd, stop   chan struct{}
	reporting, stopped sync.WaitGroup
	loopCtx            context.Context
	halt               context.CancelFunc
	// committed is told after each commit of a source: the report
	// after it tells stage 2 at once how far stage 1 committed, which it
	// may then commit and, at a bounded run's end, finish at
	committed chan struct{}
}

// sent is what a Shuffle wrote of one source partition.
type sent struct {
	maxEvent int64
	last     time.Time
}

// NewShuffle returns the sink writing the rows of srcs to cfg.Topic; a
// row's source is the one reading its topic. opts are added to its
// producing client's options.
func NewShuffle(srcs []*Source, cfg ShuffleConfig, opts ...kgo.Opt) *Shuffle {
	s := &Shuffle{cfg: cfg, srcs: srcs, nums: numberSources(srcs), opts: opts, mu: newCtxMutex(), parts: map[int32]*sent{}, committed: make(chan struct{}, 1)}
	if len(srcs) > 0 {
		s.conn = srcs[0].cfg.conn
	}
	for _, src := range srcs {
		src.mu.Lock()
		src.committedC = s.committed
		src.handedOver = s.handover
		src.mu.Unlock()
	}
	return s
}

// SourcePartitions returns the number of source partitions the sources
// have together: the partitions of a repartition topic's upstream.
func SourcePartitions(srcs []*Source) int {
	n := numberSources(srcs)
	if len(n.base) == 0 {
		return 0
	}
	return int(n.base[len(n.base)-1] + n.count[len(n.count)-1])
}

// sourceNumbers numbers the partitions of stage 1's sources one after the
// other, as the repartition topic carries them (the first source's 0 to
// n-1, the second's from n). The partition counts are those the planner
// saw (Facts), taken before the sources open: the Shuffle, its reports
// and stage 2's run's end (runEnd) number every partition alike, even
// when a topic grew before a source opened.
type sourceNumbers struct {
	base, count []int32 // per source: the number of its partition 0, its partition count
}

// numberSources numbers the partitions of srcs, in their order.
func numberSources(srcs []*Source) sourceNumbers {
	var n sourceNumbers
	next := int32(0)
	for _, src := range srcs {
		c := int32(src.Facts().Partitions)
		n.base, n.count = append(n.base, next), append(n.count, c)
		next += c
	}
	return n
}

// of returns the number of partition p of source i; false for a partition
// the numbering lacks (one added to the topic since).
func (n sourceNumbers) of(i int, p int32) (int32, bool) {
	if p < 0 || p >= n.count[i] {
		return 0, false
	}
	return n.base[i] + p, true
}

// upstream returns the number the topic carries for a row's source
// partition. A partition added to the source's topic since the statement
// started has none: the repartition topic's readers follow the source
// partitions counted then.
func (s *Shuffle) upstream(row *record.Record) (int32, error) {
	i := 0
	for j, src := range s.srcs[1:] {
		if src.cfg.topic == row.Topic {
			i = j + 1
			break
		}
	}
	up, ok := s.nums.of(i, row.Partition)
	if !ok {
		src := s.srcs[i]
		return 0, fmt.Errorf("kafka source %q: topic %q has a partition %d, but had %d partitions when the statement started: "+
			"a statement repartitioned through %q follows the source partitions it counted then; restart it to take in the new ones",
			src.cfg.name, src.cfg.topic, row.Partition, s.nums.count[i], s.cfg.Topic)
	}
	return up, nil
}

// RepartitionTopic is what stage 1 needs to know of its topic.
type RepartitionTopic struct {
	// Partitions is the topic's partition count, which decides the
	// partition of every key.
	Partitions int
	// MaxMessageBytes is the largest record batch the topic takes
	// (max.message.bytes), 0 when the cluster does not say.
	MaxMessageBytes int
}

// EnsureRepartitionTopic creates the repartition topic on the cluster of
// srcs (its statement's Kafka sources) with partitions partitions (and the
// cluster's replication factor) unless it exists, and returns its partition
// count and largest record: an existing topic keeps its own, and the
// partition count decides the key groups. It is created as Kafka Streams
// creates its repartition topics: CreateTime (a record's timestamp is its
// event time), deleted records only (no compaction) and no retention by
// time or size (stage 2 purges what it committed); and it takes records as
// large as the sources take (their largest max.message.bytes, with room
// for the record's header), so a record one process reads is never too
// large for the topic. An existing topic whose records would get the
// broker's append time instead is refused.
func EnsureRepartitionTopic(ctx context.Context, srcs []*Source, topic string, partitions int) (RepartitionTopic, error) {
	src := srcs[0]
	cl, err := newClient(src.cfg.conn)
	if err != nil {
		return RepartitionTopic{}, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	config := maps.Clone(repartitionTopicConfig)
	var topics []string
	for _, s := range srcs {
		topics = append(topics, s.cfg.topic)
	}
	// a cluster that does not let this client describe the sources'
	// configuration (its ACLs) gives the topic its default
	if largest := maxMessageBytes(ctx, adm, topics...); largest > 0 {
		config["max.message.bytes"] = kadm.StringPtr(strconv.Itoa(largest + repartitionRecordRoom))
	}
	resp, err := adm.CreateTopic(ctx, int32(partitions), -1, config, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return RepartitionTopic{}, src.cfg.conn.connError(fmt.Errorf("creating repartition topic %q: %w", topic, err))
	}
	details, err := adm.ListTopics(ctx, topic)
	if err == nil {
		err = details.Error()
	}
	if err != nil {
		return RepartitionTopic{}, src.cfg.conn.connError(fmt.Errorf("repartition topic %q: %w", topic, err))
	}
	rt := RepartitionTopic{Partitions: len(details[topic].Partitions)}
	if rt.Partitions == 0 {
		return RepartitionTopic{}, fmt.Errorf("repartition topic %q has no partitions", topic)
	}
	// a cluster that does not let this client describe the topic's
	// configuration (its ACLs) is trusted to keep the records' timestamps
	configs, err := adm.DescribeTopicConfigs(ctx, topic)
	if c, cerr := configs.On(topic, nil); err == nil && cerr == nil && c.Err == nil {
		for _, kv := range c.Configs {
			if kv.Key == "message.timestamp.type" && kv.Value != nil && *kv.Value == "LogAppendTime" {
				return RepartitionTopic{}, fmt.Errorf("repartition topic %q has 'message.timestamp.type'='LogAppendTime': the broker would replace each record's timestamp (its event time) "+
					"with the time it appended it; set it to CreateTime (kafka-configs --alter --entity-type topics --entity-name %s --add-config message.timestamp.type=CreateTime)", topic, topic)
			}
		}
	}
	rt.MaxMessageBytes = maxMessageBytes(ctx, adm, topic)
	return rt, nil
}

// repartitionRecordRoom is how much larger than its source's largest
// record a repartition topic's may be: its key, its header (source place,
// watermark) and the row's column names.
const repartitionRecordRoom = 64 << 10

// maxMessageBytes returns the largest max.message.bytes of topics, 0 when
// none can be described.
func maxMessageBytes(ctx context.Context, adm *kadm.Client, topics ...string) int {
	configs, err := adm.DescribeTopicConfigs(ctx, topics...)
	if err != nil {
		return 0
	}
	largest := 0
	for _, c := range configs {
		if c.Err != nil {
			continue
		}
		for _, kv := range c.Configs {
			if kv.Key != "max.message.bytes" || kv.Value == nil {
				continue
			}
			if n, err := strconv.Atoi(*kv.Value); err == nil {
				largest = max(largest, n)
			}
		}
	}
	return largest
}

// repartitionTopicConfig is the configuration a repartition topic is
// created with (see EnsureRepartitionTopic).
var repartitionTopicConfig = map[string]*string{
	"message.timestamp.type": kadm.StringPtr("CreateTime"),
	"cleanup.policy":         kadm.StringPtr("delete"),
	"retention.ms":           kadm.StringPtr("-1"),
}

// TopicExists reports whether topic exists on src's cluster.
func TopicExists(ctx context.Context, src *Source, topic string) (bool, error) {
	cl, err := newClient(src.cfg.conn)
	if err != nil {
		return false, err
	}
	defer cl.Close()
	topics, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err == nil {
		err = topics.Error()
	}
	if err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
		return false, src.cfg.conn.connError(err)
	}
	return topics.Has(topic), nil
}

// Open connects the producer and starts the progress reports.
func (s *Shuffle) Open(ctx context.Context, schema *record.Schema, _ []int) error {
	// no kgo.RecordDeliveryTimeout: it counts from a record's timestamp,
	// which is its event time here (watchStall bounds the wait instead)
	opts := append([]kgo.Opt{kgo.DefaultProduceTopic(s.cfg.Topic), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(time.Millisecond),
		// the rows are compact already, and both stages spend CPU on a
		// codec: Kafka Streams' repartition topics are not compressed either
		kgo.ProducerBatchCompression(kgo.NoCompression())}, s.opts...)
	if s.cfg.MaxMessageBytes > 0 {
		// a record as large as the topic takes (the client's default is 1 MB)
		opts = append(opts, kgo.ProducerBatchMaxBytes(int32(min(s.cfg.MaxMessageBytes, math.MaxInt32))))
	}
	cl, err := newClient(s.conn, opts...)
	if err != nil {
		return fmt.Errorf("kafka repartition topic %q: %w", s.cfg.Topic, err)
	}
	s.client, s.enc, s.sinkCtx = cl, newRepartEncoder(schema), ctx
	s.reportsEnd, s.stop = make(chan struct{}), make(chan struct{})
	s.loopCtx, s.halt = context.WithCancel(context.Background())
	s.reporting.Add(1)
	s.stopped.Add(1)
	go s.reportLoop()
	go s.watchStall()
	return nil
}

// Write produces one message per row to the partition of its routing key.
// The messages of a call share their storage (the producer keeps each
// until it is acknowledged, and the storage lives until the last is).
func (s *Shuffle) Write(ctx context.Context, rows []record.Record) error {
	if err := s.err.get(); err != nil {
		return err
	}
	if err := s.mu.lock(ctx); err != nil {
		return fmt.Errorf("kafka repartition topic %q: produce: %w", s.cfg.Topic, err)
	}
	defer s.mu.unlock()
	now := time.Now()
	latest := now.Add(time.Hour).UnixMilli()
	msgs := make([]kgo.Record, len(rows))
	hdrs := make([]kgo.RecordHeader, len(rows))
	buf := make([]byte, 0, len(rows)*s.rowBytes)
	for i := range rows {
		row := &rows[i]
		// the record's timestamp is the row's event time, the source's
		// going in the header; one Kafka would refuse (before 1970, or
		// further ahead than message.timestamp.after.max.ms, an hour
		// since Kafka 4.0) keeps the source's, which it took
		ts := row.Timestamp
		et, hasET := s.cfg.EventTime(row)
		if hasET && et >= 0 && et <= latest {
			ts = et
		}
		var up int32
		var err error
		if buf, up, err = s.message(buf, row, ts, &msgs[i], hdrs[i:i+1:i+1]); err != nil {
			return err
		}
		s.client.Produce(ctx, &msgs[i], s.produced)
		p := s.parts[up]
		if p == nil {
			p = &sent{maxEvent: noWatermark}
			s.parts[up] = p
		}
		if hasET && et > p.maxEvent {
			p.maxEvent = et
		}
		p.last = now
	}
	if len(rows) > 0 {
		// the next call's storage is sized by this one's rows
		s.rowBytes = len(buf)/len(rows) + 1
	}
	return nil
}

// message makes m the message of row, with timestamp ts and header h
// (one entry), and returns buf with m's bytes appended and the number of
// row's source partition. Later appends never write over m's bytes (they
// move buf when it is full).
func (s *Shuffle) message(buf []byte, row *record.Record, ts int64, m *kgo.Record, h []kgo.RecordHeader) ([]byte, int32, error) {
	up, off, wm, sub := row.Partition, row.Offset, row.Watermark, int64(0)
	if s.from != nil {
		// a joined row: its stage-2 partition, the offset of the record
		// that made it and of the one it met (see NewExchange)
		wm, sub = noWatermark, row.Sub+1
	} else {
		var err error
		if up, err = s.upstream(row); err != nil {
			return buf, 0, err
		}
	}
	var key []record.Value
	if s.cfg.Key != nil {
		s.keyBuf = s.cfg.Key(row, s.keyBuf)
		key = s.keyBuf
	} else {
		key = row.Values
	}
	start := len(buf)
	buf = AppendRoutingKey(buf, key)
	k := len(buf)
	buf = s.enc.appendRow(buf, row.Values)
	v := len(buf)
	buf = appendOrigin(buf, up, off, wm, row.Timestamp-ts, sub)
	if s.from != nil {
		var shift int64
		if row.HasEventTime && row.EventTime != ts {
			// a joined row's event time no column holds, which is not a
			// Kafka timestamp: the header carries it (origin.eventShift)
			shift = row.EventTime - ts
		}
		switch {
		case row.HasOrigin:
			// the place in its source of the record that made the row,
			// where stage 3 places its dead letter (origin.source)
			buf = appendSource(buf, shift, row.OriginPartition, row.OriginOffset)
		case shift != 0:
			buf = binary.AppendVarint(buf, shift)
		}
	}
	h[0] = kgo.RecordHeader{Key: originHeader, Value: buf[v:len(buf):len(buf)]}
	m.Key, m.Value, m.Partition = buf[start:k:k], buf[k:v:v], Partition(buf[start:k], s.cfg.Partitions)
	m.Timestamp, m.Headers = time.UnixMilli(ts), h
	return buf, up, nil
}

// reportLoop reports progress every progressInterval, and after each
// commit of a source, until Finish or Abort.
func (s *Shuffle) reportLoop() {
	defer s.reporting.Done()
	t := time.NewTicker(progressInterval)
	defer t.Stop()
	for {
		select {
		case <-s.reportsEnd:
			return
		case <-t.C:
		case <-s.committed:
		}
		// an error is the end of the loop's context (Abort)
		_ = s.report(s.loopCtx, nil)
	}
}

// report writes a progress report of every source partition this member
// owns or is handing over to every repartition partition. Rows written
// before it precede it in each partition: the mutex orders the producing.
// acked, if not nil, counts the report's records until the topic answered
// each. ctx bounds the wait for the mutex, whose holder may wait for room,
// and for room in the producer's buffer (a cluster that no longer answers
// fills it); a record buffered outlives it. It returns ctx's error when
// ctx ended before the report had the mutex.
func (s *Shuffle) report(ctx context.Context, acked *sync.WaitGroup) error {
	var ps []partProgress
	srcs := make([]ownedParts, len(s.srcs))
	for i, src := range s.srcs {
		_, ends := src.Offsets()
		parts := slices.DeleteFunc(src.reporting(), func(p int32) bool { _, ok := s.nums.of(i, p); return !ok })
		srcs[i] = ownedParts{base: s.nums.base[i], parts: parts, committed: src.Committed(), ends: ends, bounded: src.Bounded(), lag: src.Lag()}
	}
	if s.from != nil {
		ps = s.from.progress()
	}
	if err := s.mu.lock(ctx); err != nil {
		return err
	}
	defer s.mu.unlock()
	if s.client == nil {
		return nil // not open, or closed
	}
	if s.from == nil {
		ps = s.progressLocked(srcs, time.Now())
	}
	if len(ps) == 0 {
		return nil
	}
	v := appendProgress(nil, ps)
	promise := s.produced
	if acked != nil {
		promise = func(r *kgo.Record, err error) {
			s.produced(r, err)
			acked.Done()
		}
	}
	for q := range s.cfg.Partitions {
		if acked != nil {
			acked.Add(1)
		}
		produceBuffered(ctx, s.client, &kgo.Record{Partition: int32(q), Headers: []kgo.RecordHeader{{Key: controlHeader, Value: v}}}, promise)
	}
	return nil
}

// produceBuffered produces r with cl, ctx bounding only the wait for room
// in the producer's buffer: a record buffered is not failed when ctx ends
// (a record whose context ends before it is sent fails, with the others
// of its batch), unless ctx ends as it is being buffered. A record that
// found no room before ctx ended fails with ctx's error.
func produceBuffered(ctx context.Context, cl producer, r *kgo.Record, promise func(*kgo.Record, error)) {
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, cancel)
	cl.Produce(rctx, r, promise)
	if stop() {
		return // buffered before ctx ended; rctx is never cancelled
	}
	cancel()
}

// handover reports the progress of the source partitions a rebalance is
// taking away, after the records of theirs the handover wrote and
// committed, and waits until the topic acknowledged the report or ctx
// ends. The reports after it leave them out: without it, their last report
// could precede their last records, and stage 2's watermark waited for
// the idle timeout of a partition whose next owner reads nothing (a lull).
func (s *Shuffle) handover(ctx context.Context) {
	var acked sync.WaitGroup
	// ctx bounds the wait (for the mutex and room in the buffer, then
	// for the answers); a report not made leaves acked at 0
	_ = s.report(ctx, &acked)
	done := make(chan struct{})
	go func() {
		acked.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// ownedParts is what a source of the Shuffle owns when it reports: its
// partitions (numbered from base in the reports), their committed offsets,
// ends and consumer lag (Source.Lag).
type ownedParts struct {
	base      int32
	parts     []int32
	committed map[int32]int64
	ends      map[int32]int64
	lag       map[int32]int64
	bounded   bool
}

// progressLocked returns the progress of the source partitions owned at
// now. A partition is idle once IdleTimeout passed without a record since
// the group gave it to this member (a partition it owned before and gets
// back is not idle at once: its records are still to be read) and since
// it last had records waiting: its lag not known to be 0 (records fetched
// or listed but not read yet, or a position the group has not answered),
// a partition is not idle however long the member takes to read it. Before,
// a member slow to get its first records (a rebalance, a loaded machine)
// reported the partition idle, stage 2's watermark passed its records, and
// they came late: windows were written without them.
func (s *Shuffle) progressLocked(srcs []ownedParts, now time.Time) []partProgress {
	var ps []partProgress
	held := map[int32]bool{}
	for _, o := range srcs {
		for _, p := range o.parts {
			up := o.base + p
			held[up] = true
			pp := partProgress{partition: up, watermark: noWatermark, committed: -1}
			if c, ok := o.committed[p]; ok {
				pp.committed = c
			}
			st := s.parts[up]
			if st == nil {
				st = &sent{maxEvent: noWatermark, last: now}
				s.parts[up] = st
			} else if !s.held[up] {
				st.last = now
			}
			if lag, ok := o.lag[p]; recordsWaiting(lag, ok) {
				st.last = now
			}
			if st.maxEvent != noWatermark {
				pp.watermark = st.maxEvent - s.cfg.MaxOutOfOrder.Milliseconds()
			}
			switch {
			case o.bounded:
				// every record before the end was acknowledged and committed
				if end, ok := o.ends[p]; ok && pp.committed >= end {
					pp.flags |= progressEnded
				}
			case s.cfg.IdleTimeout > 0 && now.Sub(st.last) > s.cfg.IdleTimeout:
				pp.flags |= progressIdle
			}
			ps = append(ps, pp)
		}
	}
	s.held = held
	return ps
}

// produceDone writes a done marker recording ps to partition p and
// returns its offset. Stage 1 may have closed the producer meanwhile (it
// failed, or its drain timed out: Abort).
func (s *Shuffle) produceDone(ctx context.Context, p int32, ps []partProgress) (int64, error) {
	if err := s.mu.lock(ctx); err != nil {
		return 0, err
	}
	cl := s.client
	s.mu.unlock()
	if cl == nil {
		return 0, errors.New("the producer is closed")
	}
	type result struct {
		off int64
		err error
	}
	done := make(chan result, 1)
	cl.Produce(ctx, &kgo.Record{Partition: p, Headers: []kgo.RecordHeader{{Key: controlHeader, Value: appendDone(nil, ps)}}},
		func(r *kgo.Record, err error) { done <- result{r.Offset, err} })
	// a record already sent waits for its answer whatever ctx says (a
	// cluster that no longer answers): stop waiting at ctx's end
	select {
	case r := <-done:
		return r.off, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// watchStall fails the Shuffle when records wait and the topic answered
// none for deliveryTimeout (a cluster that no longer answers), as Kafka's
// delivery.timeout.ms does: a blocked Write or Flush then returns the
// error. It runs until Finish or Abort, apart from the mutex a blocked
// Write holds.
func (s *Shuffle) watchStall() {
	defer s.stopped.Done()
	t := time.NewTicker(stallCheck)
	defer t.Stop()
	acked, since := s.acked.Load(), time.Now()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			if n := s.acked.Load(); n != acked || s.client.BufferedProduceRecords() == 0 {
				acked, since = n, now
				continue
			}
			if now.Sub(since) <= deliveryTimeout {
				continue
			}
			// the Shuffle is failed for good: its records are dropped
			// without waiting for requests a dead cluster never answers
			s.err.set(fmt.Errorf("kafka repartition topic %q: produce: no record acknowledged for %s: %w", s.cfg.Topic, deliveryTimeout, kgo.ErrRecordTimeout))
			s.client.UnsafeAbortBufferedRecords()
			acked, since = s.acked.Load(), now
		}
	}
}

// stallCheck is how often watchStall looks.
const stallCheck = 250 * time.Millisecond

// produced records the first produce failure.
func (s *Shuffle) produced(_ *kgo.Record, err error) {
	s.acked.Add(1)
	if err != nil {
		s.err.set(fmt.Errorf("kafka repartition topic %q: produce: %w", s.cfg.Topic, err))
	}
}

// Flush writes a progress report after the rows written so far and waits
// until the topic acknowledged everything written. The job commits the
// sources' offsets after it, so every repartition partition holds, before
// a commit, a report whose watermark covers the records the commit
// passes: a process killed between its commit and its next periodic
// report left them out of every report, and its successor, which resumes
// at the commit with the partition's watermark started again there,
// judged its first records by a lower watermark than one process does.
func (s *Shuffle) Flush(ctx context.Context) error {
	// ctx bounds the wait for room for the report, and for a periodic
	// report waiting for room before it: a stopping job that does not
	// drain in time cancels it (a cluster that no longer answers)
	if err := s.report(ctx, nil); err != nil {
		return fmt.Errorf("kafka repartition topic %q: flush: progress report: %w", s.cfg.Topic, err)
	}
	if err := s.client.Flush(ctx); err != nil {
		return fmt.Errorf("kafka repartition topic %q: flush: %w", s.cfg.Topic, err)
	}
	return s.err.get()
}

// Close reports the progress after the last rows written and flushes
// both (Flush); the client stays, for the reports after (see Shuffle.Finish). A
// job that stops cleanly (its context cancelled) writes its last rows and
// commits them, and its sources leave the group without a handover: a
// periodic report might not have followed those rows, and stage 2 of the
// other processes kept the partitions' watermarks behind them until their
// new owners, reading nothing more, reported them idle (or for ever,
// without an idle timeout): windows the rows closed fired late.
func (s *Shuffle) Close() error {
	// the job's context for its sinks: a stopping job that does not drain
	// in time cancels it, and a flush to a cluster that no longer answers
	// lets go
	ctx := s.sinkCtx
	if ctx == nil {
		ctx = context.Background()
	}
	return s.Flush(ctx)
}

// Finish stops the periodic reports, flushes (after a last report) and
// disconnects. ctx bounds it (the job's drain timeout, not Kafka's
// delivery timeout): when it ends first, as with brokers that no longer
// answer, what is not acknowledged is dropped and the error names the
// topic, the brokers and ctx's cause. Nothing is committed after Finish:
// the sources' offsets were committed after their records were
// acknowledged (Flush).
func (s *Shuffle) Finish(ctx context.Context) error {
	if s.client == nil {
		return nil
	}
	s.stopReports(ctx)
	err := s.Flush(ctx)
	s.stopStall()
	s.closeClient()
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("kafka repartition topic %q: finishing: records not acknowledged by %s: %w", s.cfg.Topic, s.conn, context.Cause(ctx))
	}
	return err
}

// Abort stops the reports and disconnects, dropping what is not sent.
func (s *Shuffle) Abort() {
	if s.client == nil {
		return
	}
	s.halt() // a report waiting for room lets go
	s.stopReports(context.Background())
	s.stopStall()
	ctx, cancel := context.WithTimeout(context.Background(), abortWait)
	defer cancel()
	_ = s.client.AbortBufferedRecords(ctx)
	s.closeClient()
}

// stopReports stops the periodic reports and waits for the loop to end. A
// report waiting for room in the producer's buffer gets it from
// watchStall (still running) within the delivery timeout, or gives up
// when ctx ends (or Abort halted the loop already).
func (s *Shuffle) stopReports(ctx context.Context) {
	close(s.reportsEnd)
	defer context.AfterFunc(ctx, s.halt)()
	s.reporting.Wait()
	s.halt()
}

// stopStall stops watchStall and waits for it to end.
func (s *Shuffle) stopStall() {
	close(s.stop)
	s.stopped.Wait()
}

// closeClient disconnects; a handover's report (from a source's rebalance)
// finds no client afterwards.
func (s *Shuffle) closeClient() {
	_ = s.mu.lock(context.Background())
	cl := s.client
	s.client = nil
	s.mu.unlock()
	cl.Close()
}

// ctxMutex is a mutex whose lock gives up when a context ends.
type ctxMutex chan struct{}

func newCtxMutex() ctxMutex { return make(ctxMutex, 1) }

// lock takes the mutex, or returns ctx's error if ctx ends first.
func (m ctxMutex) lock(ctx context.Context) error {
	select {
	case m <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// unlock releases the mutex.
func (m ctxMutex) unlock() { <-m }

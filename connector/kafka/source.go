// Package kafka reads and writes Kafka topics with franz-go: a consumer
// source (consumer-group member or direct reader of all partitions) that
// decodes each partition in its own goroutine, a keyed JSON sink with an
// idempotent producer, Kafka's default partitioner (murmur2) and the
// partitioning facts the planner relies on, checked against the data.
package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/record"
)

// pollRecords bounds the records taken from the client per poll.
const pollRecords = 10000

// revokeWait bounds how long a revocation waits for the revoked partitions'
// readers to drain and for the coordinator to commit their offsets.
const revokeWait = 10 * time.Second

// Source is a Kafka topic read as one Sluice source ('<n>.type'='kafka_source').
//
// With '<n>.group.id' it is a consumer-group member: it reads the partitions
// the group assigns it, starting from the group's committed offsets (else
// '<n>.auto.offset.reset'), and commits only what Commit is given. Without a
// group it reads every partition of the topic and Commit stores nothing.
//
// Facts reports the declared or observed partition key; a running source
// checks it on every record it reads and, on a contradiction, warns once,
// closes Contradicted() and drops the key from Facts.
type Source struct {
	cfg sourceConfig

	mu         sync.Mutex
	committedC chan struct{} // told after each commit (a Shuffle's sources), or nil
	// handedOver is called (a Shuffle's sources) when a handover has
	// committed what the revoked partitions' readers handed out, before
	// they are forgotten
	handedOver func(context.Context)
	opened     bool
	closing    bool
	client     *kgo.Client
	schema     *record.Schema
	dlq        connector.DeadLetters
	partitions int
	starts     map[int32]int64 // log start offsets listed at Open
	ends       map[int32]int64 // high watermarks listed at Open (stop.at=end)
	readers    map[int32]*partReader
	revoking   map[int32]bool
	owned      map[int32]bool  // the partitions the group assigned to this member
	wholeTopic string          // why the statement needs every partition (RequireWholeTopic), or ""
	noCommits  bool            // commit no offset (CommitNothing)
	rereads    bool            // mark the records a member before may have processed, and fence them (MarkRereads)
	remedy     string          // what else than one process would do (RequireWholeTopic)
	whole      chan struct{}   // closed once the job has every partition's reader (Whole)
	holdFor    <-chan struct{} // the readers wait for it before they reach the job (HoldUntil)
	// a member that needs the whole topic keeps its readers across a
	// rebalance (park): parked are those of the partitions revoked, pushed
	// the offset after the last record each reader was handed, and resume
	// the offsets to fetch the partitions given back from
	parked     map[int32]*partReader
	pushed     map[int32]int64
	resume     map[int32]int64
	everOwned  bool
	committed  map[int32]int64
	commitSeq  map[int32]int64 // per partition: the sequence number of its latest commit
	seq        int64
	commitCond *sync.Cond
	pending    []*partReader
	wake       chan struct{}
	observed   []string
	check      *verifier
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	extraOpts  []kgo.Opt // options added to the consuming client (metrics hooks, test timings)
	health     *health   // whether the consuming client's brokers answer
	failed     chan struct{}
	failOnce   sync.Once
	failure    error

	// exactly-once (Transactional): the transactional id, the transaction
	// the sink and DLQ produce in, the client's session, the checkpoint
	// stored with the offsets resumed from, and those offsets.
	txnID    string
	txn      *Transaction
	session  *kgo.GroupTransactSession
	restored *connector.Checkpoint
	resumeAt map[int32]int64
	// turn is held by the poll loop while it polls and by a commit while
	// it ends the transaction; pollCancel ends the poll under way, and
	// commitsWaiting counts the commits waiting for the turn (a poll that
	// starts while one waits is cancelled at once).
	turn           chan struct{}
	pollCancel     context.CancelFunc
	commitsWaiting int

	// ledMembers is how many members the generation this member leads
	// has (0: it does not lead); splitHeld, closed when the group
	// rebalances again, holds its close after a split (split.go)
	ledMembers int
	splitHeld  chan struct{}

	// eager: the member rebalances eagerly (range), as the members of a
	// group shared with a repartition topic's readers must
	eager bool
	// run is a bounded run's end as the group agrees it (runend.go), for
	// the members of a repartitioned statement's group; nil otherwise
	run *runEnd
	// keepOpen: under stop.at=end the readers channel stays open after
	// every reader ended, for partitions the group may still assign
	keepOpen bool
	// onRevoke is called when the group takes partitions away from a
	// repartition topic's reader or a member that restarts its job per
	// assignment (RestartOnRebalance); the handover waits (at most
	// revokeWait) until the channel it returns, if any, is closed: the
	// job that read them has stopped
	onRevoke func() <-chan struct{}
	// repart is set for the reader of a repartition topic
	// (RepartitionSource); ups holds each partition's upstream view
	repart *repartIn
	ups    map[int32]*upstream
	// fences holds, per partition, the checkpoint that this member's last
	// reader of it resumed from (loadFences), for a repartition topic's
	// reader and an aligned member (MarkRereads). It outlives the reader:
	// a job still passes the rows it read through its windows after the
	// group took the partition away (FenceWatermark), and a handover's
	// last commit joins it (CommitCheckpoint).
	fences map[int32]fence
	// fenceEpoch grows whenever fences change (FenceEpoch)
	fenceEpoch atomic.Uint64
}

// NewSource returns the Kafka source named name configured by the
// statement's WITH properties: '<n>.topic.name' (default: name),
// '<n>.bootstrap.servers' (comma-separated; default localhost:9092),
// '<n>.group.id', '<n>.auto.offset.reset' (earliest, the default, or latest),
// '<n>.format' (json, the default, or string: the value as the STRING column
// "value"), '<n>.key.field' (a column set to the message key's text),
// '<n>.stop.at' (end: read to the high watermarks seen at Open, then each
// reader returns io.EOF) and '<n>.partition.key' (comma-separated columns
// the topic is keyed and default-partitioned by). It accepts the schema
// options '<n>.columns', '<n>.primary.key' and '<n>.infer.records', which
// the runner reads (see SourceSchema). It does not connect.
// opts are added to the options of the consuming client (kgo.WithHooks for
// metrics, for example); the short-lived clients that list offsets or sample
// the topic do not get them.
func NewSource(name string, props map[string]string, opts ...kgo.Opt) (*Source, error) {
	cfg, err := parseSourceConfig(name, props)
	if err != nil {
		return nil, err // it names the source and the option
	}
	s := &Source{cfg: cfg, wake: make(chan struct{}, 1), extraOpts: opts, failed: make(chan struct{})}
	s.commitCond = sync.NewCond(&s.mu)
	return s, nil
}

// Name returns the source's name in the statement.
func (s *Source) Name() string { return s.cfg.name }

// Topic returns the topic the source reads.
func (s *Source) Topic() string { return s.cfg.topic }

// Brokers returns the source's bootstrap servers.
func (s *Source) Brokers() []string { return s.cfg.conn.Brokers }

// Group returns the source's consumer group ("" for none).
func (s *Source) Group() string { return s.cfg.group }

// InstanceID returns the source's static group membership id ("" for none).
func (s *Source) InstanceID() string { return s.cfg.instanceID }

// Conn returns how the source connects to its cluster.
func (s *Source) Conn() Conn { return s.cfg.conn }

// Bounded reports whether the source stops at the end of its topic
// (stop.at=end).
func (s *Source) Bounded() bool { return s.cfg.stopAtEnd }

// ReadAllAtOnce implements connector.AllAtOnce: the poll loop feeds every
// partition's reader, and blocks on one whose queue is full.
func (s *Source) ReadAllAtOnce() bool { return true }

// Facts returns the source's partitioning: the declared partition key (Origin
// "declared"), else one observed by CheckFacts ("observed"), with the
// partition count once known. A key contradicted by the data is dropped and
// Note says why.
func (s *Source) Facts() connector.Facts {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := connector.Facts{Partitions: s.partitions}
	if s.check != nil {
		if err := s.check.result(); err != nil {
			f.Note = err.Error()
			return f
		}
	}
	switch {
	case len(s.cfg.partitionKey) > 0:
		f.Key, f.Origin = append([]string(nil), s.cfg.partitionKey...), "declared"
	case len(s.observed) > 0:
		f.Key, f.Origin = append([]string(nil), s.observed...), "observed"
	}
	return f
}

// TellPartitions sets the topic's partition count, for Facts, when the
// source has not listed the topic itself: another source over the same
// topic listed it to infer the schema this one was given.
func (s *Source) TellPartitions(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.partitions == 0 {
		s.partitions = n
	}
}

// Offsets returns the log start offsets and the end offsets (high
// watermarks) of the topic's partitions as listed when the source opened
// (nil before Open); the end offsets of a bounded run of a repartitioned
// statement are the ones its group agreed (runEnd) once it did. A table read from the topic is bootstrapped once each
// partition has been read up to its end offset.
func (s *Source) Offsets() (starts, ends map[int32]int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.starts), maps.Clone(s.ends)
}

// Contradiction returns why the data contradicts the partition key, or nil.
func (s *Source) Contradiction() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.check == nil {
		return nil
	}
	return s.check.result()
}

// Contradicted returns a channel closed when the data contradicts the
// partition key (declared or observed). It is nil when there is no key to
// check; a nil channel never fires in a select.
func (s *Source) Contradicted() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.check == nil {
		return nil
	}
	return s.check.contradicted
}

// Verified reports whether the partition key has been confirmed on the first
// VerifyRecords records read (always false without a key).
func (s *Source) Verified() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.check != nil && s.check.verified()
}

// verify checks rec against the partition key while the check is running.
func (s *Source) verify(rec *record.Record) {
	if c := s.check; c != nil {
		c.check(rec)
	}
}

// newClient returns a franz-go client connecting as conn says, with extra
// options.
func newClient(conn Conn, opts ...kgo.Opt) (*kgo.Client, error) {
	cl, err := kgo.NewClient(append(conn.opts(), opts...)...)
	if err != nil {
		return nil, fmt.Errorf("kafka client for %v: %w", conn.Brokers, err)
	}
	return cl, nil
}

// listOffsets returns the log start offsets and high watermarks of topic's
// partitions.
func listOffsets(ctx context.Context, conn Conn, topic string) (starts, ends map[int32]int64, err error) {
	cl, err := newClient(conn)
	if err != nil {
		return nil, nil, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	get := func(list func(context.Context, ...string) (kadm.ListedOffsets, error)) (map[int32]int64, error) {
		listed, err := list(ctx, topic)
		if err != nil {
			return nil, err
		}
		if err := listed.Error(); err != nil {
			return nil, err
		}
		out := make(map[int32]int64, len(listed[topic]))
		for p, o := range listed[topic] {
			out[p] = o.Offset
		}
		if len(out) == 0 {
			return nil, &UnknownTopicError{Topic: topic}
		}
		return out, nil
	}
	if starts, err = get(adm.ListStartOffsets); err != nil {
		return nil, nil, fmt.Errorf("listing offsets of topic %q: %w", topic, conn.topicError(topic, err))
	}
	if ends, err = get(adm.ListEndOffsets); err != nil {
		return nil, nil, fmt.Errorf("listing offsets of topic %q: %w", topic, conn.topicError(topic, err))
	}
	return starts, ends, nil
}

// topicError is connError for a request about topic: the brokers' answer
// that they do not have it becomes an *UnknownTopicError.
func (c Conn) topicError(topic string, err error) error {
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return &UnknownTopicError{Topic: topic, Err: err}
	}
	return c.connError(err)
}

// UnknownTopicError is a source topic the cluster does not have (a wrong
// name, or a topic not created yet). It is the user's to fix, whether the
// statement declares its columns or they are to be inferred from the topic.
type UnknownTopicError struct {
	Topic string
	Err   error // the brokers' answer, or nil when they listed no partition
}

func (e *UnknownTopicError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("topic %q not found", e.Topic)
	}
	return fmt.Sprintf("topic %q not found: %v", e.Topic, e.Err)
}

// Unwrap returns the brokers' answer.
func (e *UnknownTopicError) Unwrap() error { return e.Err }

// Open connects and starts reading. Readers arrive on the returned channel:
// every partition at once without a group; with a group, each partition when
// the group assigns it. The channel closes when the source closes or, with
// stop.at=end, once every reader so far has reached its end. ctx bounds
// connecting; reading goes on until Close.
func (s *Source) Open(ctx context.Context, schema *record.Schema, dlq connector.DeadLetters) (<-chan connector.PartitionReader, error) {
	s.mu.Lock()
	if s.opened {
		s.mu.Unlock()
		return nil, fmt.Errorf("kafka source %q: already open", s.cfg.name)
	}
	s.opened = true
	s.mu.Unlock()

	starts, ends, err := listOffsets(ctx, s.cfg.conn, s.cfg.topic)
	if err != nil {
		return nil, fmt.Errorf("kafka source %q: %w", s.cfg.name, err)
	}
	if s.txn != nil && s.repart == nil {
		if err := s.restoreCheckpoint(ctx); err != nil {
			return nil, fmt.Errorf("kafka source %q: %w", s.cfg.name, err)
		}
	}
	s.mu.Lock()
	s.schema, s.dlq = schema, dlq
	s.starts, s.ends, s.partitions = starts, ends, len(ends)
	if s.run != nil {
		// the group agreed where the run ends before this source opened
		s.adoptEndsLocked(s.run.endsOf(s.cfg.topic))
	}
	s.readers = make(map[int32]*partReader)
	s.revoking = make(map[int32]bool)
	s.owned = make(map[int32]bool)
	s.committed = make(map[int32]int64)
	s.commitSeq = make(map[int32]int64)
	s.ups = make(map[int32]*upstream)
	s.fences = make(map[int32]fence)
	s.parked = make(map[int32]*partReader)
	s.pushed = make(map[int32]int64)
	s.resume = make(map[int32]int64)
	if key := s.factsKeyLocked(); len(key) > 0 && (s.check == nil || s.check.result() == nil) {
		origin := "declared"
		if len(s.cfg.partitionKey) == 0 {
			origin = "observed"
		}
		s.check = newVerifier(s.cfg.name, origin, key, schema, s.partitions)
	}
	s.mu.Unlock()

	s.health = newHealth()
	cl, err := s.newConsumer()
	if err != nil {
		return nil, fmt.Errorf("kafka source %q: %w", s.cfg.name, err)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s.mu.Lock()
	s.client, s.cancel = cl, cancel
	var idle []int32
	if s.cfg.group == "" {
		for p := range s.ends {
			if r := s.addReaderLocked(p, s.directStart(p)); r.ended.Load() {
				idle = append(idle, p)
			}
		}
	}
	s.mu.Unlock()
	if len(idle) > 0 {
		cl.PauseFetchPartitions(map[string][]int32{s.cfg.topic: idle})
	}

	out := make(chan connector.PartitionReader)
	s.wg.Add(3)
	go s.pollLoop(runCtx)
	go s.deliverLoop(runCtx, out)
	go s.watchHealth(runCtx.Done())
	return out, nil
}

// factsKeyLocked returns the partition key to verify: declared, else observed.
func (s *Source) factsKeyLocked() []string {
	if len(s.cfg.partitionKey) > 0 {
		return s.cfg.partitionKey
	}
	return s.observed
}

// directStart returns where a direct (group-less) reader of p starts.
func (s *Source) directStart(p int32) int64 {
	if s.cfg.reset == "latest" {
		return s.ends[p]
	}
	return s.starts[p]
}

// newConsumer returns the consuming client: a group member with manual
// commits, or a direct reader of every partition from its start offset.
func (s *Source) newConsumer() (*kgo.Client, error) {
	opts := append([]kgo.Opt{kgo.FetchMaxWait(250 * time.Millisecond), kgo.WithHooks(s.health), kgo.KeepControlRecords()}, s.extraOpts...)
	if s.cfg.readCommitted {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	if s.cfg.group == "" {
		parts := make(map[int32]kgo.Offset, len(s.ends))
		for p := range s.ends {
			parts[p] = kgo.NewOffset().At(s.directStart(p))
		}
		opts = append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{s.cfg.topic: parts}))
		return newClient(s.cfg.conn, opts...)
	}
	reset := kgo.NewOffset().AtStart()
	if s.cfg.reset == "latest" {
		reset = kgo.NewOffset().AtEnd()
	}
	opts = append(opts,
		kgo.ConsumerGroup(s.cfg.group),
		kgo.ConsumeTopics(s.cfg.topic),
		kgo.ConsumeResetOffset(reset),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(s.assigned),
		kgo.OnPartitionsRevoked(s.revoked),
		kgo.OnPartitionsLost(s.lost),
		kgo.AdjustFetchOffsetsFn(s.adjustOffsets),
		kgo.SessionTimeout(s.cfg.sessionTimeout),
		kgo.HeartbeatInterval(s.heartbeat()),
	)
	if s.cfg.instanceID != "" {
		opts = append(opts, kgo.InstanceID(s.cfg.instanceID))
	}
	// Eager rebalancing hands every member its share in the same generation,
	// so each member of a shared group that needs the whole topic sees only
	// part of it in assigned and stops; with cooperative rebalancing the first
	// member could leave before the newcomer got anything, and the newcomer
	// would silently carry on from the old member's offsets. Every member also
	// offers the eager range protocol, so members whose plans differ (facts
	// sampled at different times) still agree on one protocol. The members of
	// a group that reads a repartition topic rebalance eagerly too (eager).
	switch {
	case s.wholeTopic != "":
		opts = append(opts, kgo.Balancers(splitBalancer{kgo.RangeBalancer(), s}))
	case s.eager && s.run != nil:
		opts = append(opts, kgo.Balancers(runEndBalancer{kgo.RangeBalancer(), s.run}))
	case s.eager:
		opts = append(opts, kgo.Balancers(kgo.RangeBalancer()))
	default:
		opts = append(opts, kgo.Balancers(kgo.CooperativeStickyBalancer(), kgo.RangeBalancer()))
	}
	if s.eager {
		// A member rejoins within revokeWait of a rebalance (its
		// handover's bound), so the group need not wait Kafka's default
		// minute for one that does not: a bounded run's last members,
		// leaving as one joins, held their close that long on kfake.
		opts = append(opts, kgo.RebalanceTimeout(eagerRebalanceTimeout))
	}
	if s.txn != nil {
		session, err := s.newTransactSession(opts)
		if err != nil {
			return nil, err
		}
		s.mu.Lock()
		s.session = session
		s.mu.Unlock()
		s.txn.mu.Lock()
		s.txn.session = session
		s.txn.mu.Unlock()
		return session.Client(), nil
	}
	return newClient(s.cfg.conn, append(opts, kgo.DisableAutoCommit())...)
}

// eagerHeartbeat is the heartbeat interval of an eagerly rebalancing
// member of a group shared with a repartition topic's readers: a member
// learns of a rebalance at its next heartbeat, and every member of both
// stages stops until all have rejoined.
const eagerHeartbeat = 300 * time.Millisecond

// eagerRebalanceTimeout is how long the group waits for the members of a
// group shared with a repartition topic's readers to rejoin in a
// rebalance: their handover takes at most revokeWait.
const eagerRebalanceTimeout = revokeWait + 5*time.Second

// heartbeat returns the member's heartbeat interval: at most a third of
// the session timeout, 3s (Kafka's default), or eagerHeartbeat.
func (s *Source) heartbeat() time.Duration {
	hb := 3 * time.Second
	if s.eager {
		hb = eagerHeartbeat
	}
	return min(hb, s.cfg.sessionTimeout/3)
}

// addReaderLocked creates the reader of partition p, starting at offset
// start, and queues it for delivery. Under stop.at=end a partition already
// at its end gets a reader that ends at once.
func (s *Source) addReaderLocked(p int32, start int64) *partReader {
	var dec *decoder
	if s.repart != nil {
		dec = newRepartDecoder(&s.cfg, s.schema)
	} else {
		dec = newDecoder(&s.cfg, s.schema)
	}
	r := newPartReader(s, p, dec)
	if s.repart != nil {
		r.up = newUpstream(s.repart.sourcePartitions, s.repart.bounded)
		r.up.sourceEnds, r.up.live = s.repart.sourceEnds, s.repart.liveEnds
		r.assignment = s.repart.assignment
		s.ups[p] = r.up
	}
	if end, ok := s.ends[p]; ok {
		r.hwm.Store(end)
	}
	if start >= 0 {
		r.start.Store(start)
	}
	s.readers[p] = r
	s.everOwned = true
	if s.cfg.stopAtEnd && start >= 0 && start >= s.ends[p] {
		r.ended.Store(true)
		r.finish()
	}
	s.pending = append(s.pending, r)
	s.signal()
	return r
}

// signal wakes the delivery goroutine.
func (s *Source) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Commit commits, for the group, the next offset to read of each partition
// this member owns (or is handing over in a rebalance); offsets of other
// partitions are ignored, so a late commit never rewinds another member.
// Without a group it does nothing.
func (s *Source) Commit(ctx context.Context, offsets map[int32]int64) error {
	return s.commitOwned(ctx, offsets, nil)
}

// commitOwned commits offsets for the partitions this member owns or is
// handing over (commitsLocked), each with the metadata that metaLocked,
// called under s.mu, returns for it (none when metaLocked is nil): the
// client's own commit, which a rebalance waits for.
func (s *Source) commitOwned(ctx context.Context, offsets map[int32]int64, metaLocked func(commit map[int32]kgo.EpochOffset) map[int32]string) error {
	s.mu.Lock()
	cl := s.client
	if s.cfg.group == "" || s.noCommits || cl == nil || len(offsets) == 0 {
		s.mu.Unlock()
		return nil
	}
	commit := s.commitsLocked(offsets)
	var meta map[int32]string
	if metaLocked != nil && len(commit) > 0 {
		meta = metaLocked(commit)
	}
	s.mu.Unlock()
	if meta != nil {
		ctx = kgo.PreCommitFnContext(ctx, func(req *kmsg.OffsetCommitRequest) error {
			for i := range req.Topics {
				t := &req.Topics[i]
				for j := range t.Partitions {
					if m, ok := meta[t.Partitions[j].Partition]; ok && t.Topic == s.cfg.topic {
						t.Partitions[j].Metadata = &m
					}
				}
			}
			return nil
		})
	}
	return s.commit(ctx, cl, commit, nil)
}

// commitsLocked returns the offsets of the partitions this member owns or
// is handing over, as commits.
func (s *Source) commitsLocked(offsets map[int32]int64) map[int32]kgo.EpochOffset {
	commit := make(map[int32]kgo.EpochOffset, len(offsets))
	for p, o := range offsets {
		if _, owned := s.readers[p]; owned || s.revoking[p] {
			if u := s.ups[p]; u != nil {
				// never past a record stage 1 may send again, unless the
				// commit's view says it will not: a replay from here must
				// meet the original first
				o = u.commitOffset(o)
			}
			commit[p] = kgo.EpochOffset{Epoch: -1, Offset: o}
		}
	}
	return commit
}

// commit commits offsets for the group, with meta as each partition's
// metadata when it is not nil, and, for a repartition topic, purges the
// records before them.
func (s *Source) commit(ctx context.Context, cl *kgo.Client, commit map[int32]kgo.EpochOffset, meta map[int32]string) error {
	if len(commit) == 0 {
		return nil
	}
	var cerr error
	if meta != nil {
		cerr = s.commitWithMetadata(ctx, cl, commit, meta)
	} else {
		cl.CommitOffsetsSync(ctx, map[string]map[int32]kgo.EpochOffset{s.cfg.topic: commit},
			func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
				cerr = commitError(resp, err)
			})
	}
	if cerr != nil && s.eager && rebalancing(cerr) {
		// The group moved on while the commit was on its way: whoever
		// holds the partitions now resumes from the last commit that went
		// through, and reads again what this one would have passed
		// (at-least-once). A revocation waiting for it goes on.
		s.logger().Info("kafka commit refused: the group is rebalancing", "error", cerr)
		s.mu.Lock()
		s.seq++
		for p := range commit {
			s.commitSeq[p] = s.seq
		}
		s.commitCond.Broadcast()
		s.mu.Unlock()
		return nil
	}
	if cerr != nil {
		return fmt.Errorf("kafka source %q: commit: %w", s.cfg.name, cerr)
	}
	s.mu.Lock()
	s.seq++
	for p, o := range commit {
		s.committed[p] = o.Offset
		s.commitSeq[p] = s.seq
	}
	s.commitCond.Broadcast()
	if s.committedC != nil {
		select {
		case s.committedC <- struct{}{}:
		default:
		}
	}
	s.mu.Unlock()
	if s.repart != nil {
		s.purge(ctx, cl, commit)
	}
	return nil
}

// rebalancing reports whether a commit was refused because the group is
// rebalancing or has rebalanced since the member's generation began.
func rebalancing(err error) bool {
	return errors.Is(err, kerr.IllegalGeneration) || errors.Is(err, kerr.RebalanceInProgress) || errors.Is(err, kerr.UnknownMemberID)
}

// Close stops reading, leaves the group and closes every reader.
func (s *Source) Close() error {
	s.mu.Lock()
	s.closing = true
	cl, cancel := s.client, s.cancel
	s.commitCond.Broadcast()
	s.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	s.wg.Wait()
	s.awaitSplit()
	s.endTransaction()
	// the group's last callbacks run as the member stops taking part; a
	// static member then leaves through the same client, before it closes
	cl.AllowRebalance()
	cl.LeaveGroup()
	s.leaveStatic(cl)
	cl.Close()
	s.mu.Lock()
	for _, r := range s.readers {
		r.finish()
	}
	for _, r := range s.parked {
		r.finish()
	}
	s.mu.Unlock()
	return nil
}

// leaveWait bounds how long a closing static member waits to leave its group.
const leaveWait = 5 * time.Second

// leaveStatic makes a static member ('<n>.group.instance.id') leave its
// group on a clean shutdown, which franz-go does not do by itself, so its
// partitions move to the other members at once instead of after the session
// timeout. A process killed without shutting down keeps its membership, and
// its restart takes its partitions back without a rebalance.
//
// It leaves as the member cl, the member's own client, last was: its member
// id with its instance id. Once a restart took the instance id over (this
// process hung past its session, or stopped while the restart had already
// joined), Kafka answers FENCED_INSTANCE_ID instead of removing the member
// that replaced it, whose partitions would move and be read again from
// their last commits; a client that never got a member id has nothing to
// leave. Through cl, the request takes the member's own connections, and
// options such as a dialer: a process that can no longer reach the
// cluster says nothing.
func (s *Source) leaveStatic(cl *kgo.Client) {
	member, _ := cl.GroupMetadata()
	if s.cfg.instanceID == "" || member == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), leaveWait)
	defer cancel()
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group, req.MemberID = s.cfg.group, member // v0 to v2 name the member alone
	m := kmsg.NewLeaveGroupRequestMember()
	m.MemberID, m.InstanceID, m.Reason = member, kmsg.StringPtr(s.cfg.instanceID), kmsg.StringPtr("sluice shut down")
	req.Members = append(req.Members, m)
	resp, err := req.RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
		for _, m := range resp.Members {
			if err == nil {
				err = kerr.ErrorForCode(m.ErrorCode)
			}
		}
	}
	// not a member (any more), or no longer the one with the instance id:
	// nothing to leave
	if err != nil && !errors.Is(err, kerr.UnknownMemberID) && !errors.Is(err, kerr.FencedInstanceID) {
		s.logger().Warn("kafka static member could not leave its group; its partitions move after the session timeout",
			"group", s.cfg.group, "instance", s.cfg.instanceID, "error", err)
	}
}

// commitError returns the commit's error: the request's, else the first
// partition's.
func commitError(resp *kmsg.OffsetCommitResponse, err error) error {
	if err != nil {
		return err
	}
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return fmt.Errorf("partition %d: %w", p.Partition, err)
			}
		}
	}
	return nil
}

// logger returns the source's logger.
func (s *Source) logger() *slog.Logger {
	return slog.Default().With("source", s.cfg.name, "topic", s.cfg.topic)
}

package job

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/partition"
	"github.com/sluicesql/sluice/record"
)

// run is the state of one running job.
type run struct {
	cfg  Config
	prog Program
	// restored holds, per source index, the checkpoint a
	// connector.Checkpointer source resumed from; replayed counts the
	// records it let the job skip.
	restored map[int]connector.Checkpoint
	replayed atomic.Int64
	// rule decides about the records read again before a fence
	// (hadEffect), taken from the program once
	rule     func(*record.Record, int64) bool
	ruleOnce sync.Once
	// resumeMu orders the watermarks told to a Resumer program (resumeFrom)
	resumeMu sync.Mutex
	ordered  bool
	hasLimit bool
	limit    int64

	ctx     context.Context // cancelled to stop reading
	cancel  context.CancelFunc
	sinkCtx context.Context // for sinks and commits: outlives a stop so in-flight work drains

	workers  []*worker
	batches  *batchPool
	rows     *rowPool
	emitCh   chan emitMsg
	emitDone chan struct{}
	slots    chan struct{}
	dlq      *dlqGuard
	srcDLQ   []*sourceDLQ
	fileDLQ  *FileDLQ

	ingestWG, workerWG sync.WaitGroup

	spMu sync.Mutex
	sps  []*sourcePartition

	wm atomic.Int64
	// wmMu orders watermarks and commit barriers on the workers' queues:
	// the control loop holds it to send either, an ingester to send a
	// watermark early (advanceEarly)
	wmMu sync.Mutex
	// awaiting counts bounded sources still to hand out partitions: the
	// watermark does not move while any is
	awaiting atomic.Int32
	written  atomic.Int64
	halted   atomic.Bool
	// finish: the input ended normally (decided once, as the workers'
	// queues close: see finishing)
	finish bool
	// writeThrough: every sink's Write is durable by itself
	// (connector.WriteThrough), so rows count as written at once
	writeThrough bool
	start        time.Time

	errMu sync.Mutex
	err   error

	commitMu  sync.Mutex
	committed map[string]map[int32]int64
}

// Run runs the job until its bounded input ends, ctx is cancelled, or it
// fails. On cancellation it stops reading, drains what is in flight,
// flushes, commits what is done and returns the summary with Interrupted
// set and a nil error. On failure it aborts the sinks and returns the error
// together with the summary so far. It closes every source on every return,
// also one that fails before reading: the writer of an in-process stream
// waits, in its gate's Close, until the stream's reader commits or closes.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		closeSources(cfg.Sources)
		return nil, err
	}
	r := &run{cfg: cfg, prog: cfg.Program, ordered: cfg.Program.Ordered(), start: time.Now(),
		committed: map[string]map[int32]int64{}}
	r.limit, r.hasLimit = cfg.Program.Limit()
	r.ctx, r.cancel = context.WithCancel(ctx)
	defer r.cancel()
	sinkCtx, cancelSinks := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelSinks(nil)
	r.sinkCtx = sinkCtx
	finished := make(chan struct{})
	defer close(finished)
	go r.drainTimer(finished, cancelSinks)
	r.wm.Store(noWatermark)
	if cfg.DLQ == nil {
		r.fileDLQ = NewFileDLQ(cfg.DLQPath)
		r.cfg.DLQ = r.fileDLQ
	}
	r.dlq = &dlqGuard{next: r.cfg.DLQ, ctx: r.sinkCtx, limit: cfg.LimitErrors, max: cfg.MaxErrors, stop: r.fail}

	if err := r.openSinks(); err != nil {
		closeSources(cfg.Sources)
		return nil, err
	}
	if cfg.OnOpen != nil {
		cfg.OnOpen()
	}
	r.writeThrough = true
	for _, s := range cfg.Sinks {
		wt, ok := s.(connector.WriteThrough)
		r.writeThrough = r.writeThrough && ok && wt.WriteThrough()
	}
	n := cfg.Partitions
	r.batches = newBatchPool(n*(cfg.QueueSize+2) + 2*n*min(cfg.Readers, 16))
	r.rows = newRowPool(4 * n)
	r.emitCh = make(chan emitMsg, 2*n)
	r.emitDone = make(chan struct{})
	r.slots = make(chan struct{}, cfg.Readers)
	for i := 0; i < n; i++ {
		w := &worker{id: i, r: r, in: make(chan message, cfg.QueueSize), pipe: r.prog.NewPipeline()}
		w.col = collector{w: w, buf: r.rows.get()}
		if r.ordered {
			w.col.round = r.rows.get()
		}
		r.workers = append(r.workers, w)
	}
	if a, ok := r.prog.(Aborter); ok {
		defer context.AfterFunc(r.ctx, a.Abort)()
	}
	em := &emitter{r: r, hold: cfg.Transactional}
	go em.loop()
	r.workerWG.Add(n)
	for _, w := range r.workers {
		go w.loop()
	}
	// Open every source and register the partitions they hand out at once
	// before reading any, so that none is missing from the first watermark.
	schema := r.prog.InputSchema()
	type opened struct {
		readers <-chan connector.PartitionReader
		initial []pendingReader
	}
	var open []opened
	for i, src := range cfg.Sources {
		sd := &sourceDLQ{g: r.dlq}
		r.srcDLQ = append(r.srcDLQ, sd)
		readers, err := src.Open(r.ctx, schema, sd)
		if err != nil {
			// a job stopped while it was still opening is interrupted,
			// not failed: it read nothing
			if r.ctx.Err() == nil {
				r.fail(fmt.Errorf("source %q: open: %w", src.Name(), err))
			}
			break
		}
		r.restore(i, src)
		open = append(open, opened{readers, r.openReaders(i, src, readers)})
	}
	r.resumeRestored()
	r.seedWatermark()
	checkers := r.watchKeys()
	r.watchFailures()
	for i, o := range open {
		r.ingestWG.Add(1)
		// A bounded source that has not handed out all its partitions
		// yet holds the watermark back until it has: records of a
		// partition that starts late must not find the watermark past them.
		awaited := 0
		if b, ok := cfg.Sources[i].(connector.Bounded); ok && b.Bounded() {
			awaited = cfg.Sources[i].Facts().Partitions - len(o.initial)
		}
		if awaited > 0 {
			r.awaiting.Add(1)
		}
		go r.readSource(i, cfg.Sources[i], o.initial, o.readers, awaited)
	}
	ctrlStop, ctrlDone := make(chan struct{}), make(chan struct{})
	go r.control(ctrlStop, ctrlDone)

	r.ingestWG.Wait()
	r.checkKeys(checkers)
	close(ctrlStop)
	<-ctrlDone
	r.finish = r.ctx.Err() == nil
	for _, w := range r.workers {
		close(w.in)
	}
	r.workerWG.Wait()
	close(r.emitCh)
	<-r.emitDone
	if r.failure() == nil {
		next := map[*sourcePartition]int64{}
		for _, sp := range r.sourcePartitions() {
			sp.mu.Lock()
			next[sp] = sp.next
			sp.mu.Unlock()
		}
		// final checkpoint: the emitter is done, so this goroutine owns the sinks now.
		em.checkpoint(&barrier{next: next, wm: r.wm.Load()}, em.final)
	}
	if n := r.replayed.Load(); n > 0 {
		slog.Info("skipped records read again after a restart or a rebalance that had their effect already (their windows were written)", "records", n)
	}
	err = r.finishOutputs()
	if cerr := closeSources(cfg.Sources); err == nil {
		err = cerr
	}
	if err == nil {
		err = r.failure()
	}
	sum := r.summary(ctx.Err() != nil)
	sum.Failed = err != nil
	return sum, err
}

// closeSources closes every source and returns the first error.
func closeSources(sources []connector.Source) error {
	var err error
	for _, src := range sources {
		if cerr := src.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("source %q: close: %w", src.Name(), cerr)
		}
	}
	return err
}

// drainTimer gives a stopping job cfg.DrainTimeout to drain, then fails it
// and cancels the sinks' context, so that a sink blocked on a reader that
// does not read (stdout) or a broker that does not answer lets go.
func (r *run) drainTimer(finished <-chan struct{}, cancelSinks context.CancelCauseFunc) {
	select {
	case <-r.ctx.Done():
	case <-finished:
		return
	}
	t := time.NewTimer(r.cfg.DrainTimeout)
	defer t.Stop()
	select {
	case <-t.C:
		err := fmt.Errorf("stopping: what was in flight did not drain within %s (%s): a sink is blocked",
			r.cfg.DrainTimeout, PropDrainTimeout)
		r.fail(err)
		cancelSinks(err)
	case <-finished:
	}
}

// watchKeys stops the job when a source contradicts the partition key that
// its routing relies on: records of one key may already sit in two workers,
// so no later re-routing could make the result right. It returns the
// checkers it watches, for a last look once the input has ended.
func (r *run) watchKeys() []connector.KeyChecker {
	switch r.cfg.Strategy.Name() {
	case partition.SmartRepartition, partition.StickyPartition:
	default:
		return nil // the strategy hashes or ignores the source partition
	}
	if !r.cfg.Routing.Aligned() {
		return nil
	}
	var checkers []connector.KeyChecker
	for _, src := range r.cfg.Sources {
		kc, ok := src.(connector.KeyChecker)
		if !ok {
			continue
		}
		checkers = append(checkers, kc)
		go func() {
			select {
			case <-kc.Contradicted():
				r.keyContradicted(kc)
			case <-r.ctx.Done():
			}
		}()
	}
	return checkers
}

// restore takes the checkpoint a connector.Checkpointer source resumed from
// (exactly-once): its partitions skip the records read before the commit
// whose windows had all fired, and the job's watermark starts at the
// checkpoint's.
func (r *run) restore(idx int, src connector.Source) {
	cp, ok := src.(connector.Checkpointer)
	if !ok {
		return
	}
	c, ok := cp.Restored()
	if !ok {
		return
	}
	if r.restored == nil {
		r.restored = map[int]connector.Checkpoint{}
	}
	r.restored[idx] = c
}

// Replayer is implemented by programs that can tell whether a record read
// again after a restart or a rebalance, from before the read offset of the
// checkpoint its partition resumed from, had its whole effect under that
// checkpoint's watermark (*exec.Program, *join.Program): ReplayRule
// returns the rule, which reports true for a record every window of which
// fired, or that was late by the watermark it carries, and may adjust a
// record it keeps (its watermark, so that it skips the windows that
// fired).
type Replayer interface {
	ReplayRule() func(rec *record.Record, wm int64) bool
}

// hadEffect reports whether rec, read again before its partition's fence,
// had its whole effect under the fence's watermark wm: false for programs
// that cannot tell (it is kept).
func (r *run) hadEffect(rec *record.Record, wm int64) bool {
	r.ruleOnce.Do(func() {
		if p, ok := r.prog.(Replayer); ok {
			r.rule = p.ReplayRule()
		}
	})
	return r.rule != nil && r.rule(rec, wm)
}

// seedWatermark starts the job's watermark at the lowest restored
// checkpoint's, ahead of every record, so that windows which fired before
// a restart are not opened again.
func (r *run) seedWatermark() {
	if len(r.restored) == 0 {
		return
	}
	wm := int64(math.MaxInt64)
	for _, c := range r.restored {
		wm = min(wm, c.Watermark)
	}
	if wm <= noWatermark || wm == math.MaxInt64 {
		return
	}
	r.wm.Store(wm)
	for _, w := range r.workers {
		w.in <- message{kind: msgWatermark, wm: wm}
	}
}

// watchFailures stops the job when a source fails while none of its readers
// can say so (connector.Failer).
func (r *run) watchFailures() {
	for _, src := range r.cfg.Sources {
		f, ok := src.(connector.Failer)
		if !ok {
			continue
		}
		go func() {
			select {
			case <-f.Failed():
				r.fail(f.Failure())
			case <-r.ctx.Done():
			}
		}()
	}
}

// checkKeys fails the job if a watched key claim was contradicted: called
// once the input has ended, so a contradiction seen by the last records
// stops the job before its final commit even if the watcher has not run.
func (r *run) checkKeys(checkers []connector.KeyChecker) {
	for _, kc := range checkers {
		select {
		case <-kc.Contradicted():
			r.keyContradicted(kc)
		default:
		}
	}
}

// keyContradicted fails the job with kc's contradiction.
func (r *run) keyContradicted(kc connector.KeyChecker) {
	r.fail(fmt.Errorf("%w; routing relied on that key, so groups may be split: stopping "+
		"(remove the partition.key claim, or fix the producer's keys)", kc.Contradiction()))
}

// openSinks opens every sink, aborting the opened ones when one fails.
func (r *run) openSinks() error {
	for i, s := range r.cfg.Sinks {
		if err := s.Open(r.sinkCtx, r.prog.OutputSchema(), r.prog.KeySlots()); err != nil {
			for _, o := range r.cfg.Sinks[:i] {
				o.Abort()
			}
			return fmt.Errorf("sink %d: open: %w", i, err)
		}
	}
	return nil
}

// finishOutputs closes the sinks after a good run and aborts them after a
// failed one, then closes a file dead-letter queue.
func (r *run) finishOutputs() error {
	var err error
	if r.failure() != nil {
		for _, s := range r.cfg.Sinks {
			s.Abort()
		}
	} else {
		for i, s := range r.cfg.Sinks {
			if cerr := s.Close(); cerr != nil && err == nil {
				err = fmt.Errorf("sink %d: close: %w", i, cerr)
			}
		}
	}
	if r.fileDLQ != nil {
		if cerr := r.fileDLQ.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	return err
}

// fail records the job's first error and stops reading.
func (r *run) fail(err error) {
	r.errMu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.errMu.Unlock()
	r.cancel()
}

// failure returns the job's first error.
func (r *run) failure() error {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	return r.err
}

// halt stops reading because the output is complete (LIMIT reached).
func (r *run) halt() {
	r.halted.Store(true)
	r.cancel()
}

// finishing reports whether the input ended normally, so the pipelines
// must fire and emit everything they still hold. It is decided once for
// every worker, when the input ended: a stop that comes while the workers
// drain their queues (a rebalance revoking a repartition topic's
// partitions, say) must not leave some pipelines finished and others not.
// Those finished would have fired their windows and sessions, letting go
// of the offsets they held, while those stopped hold earlier offsets of
// the same source partitions (routed by hash, a partition's records are
// on every worker): the final commit would resume a replay there, and it
// would write again, from part of their records, the windows and sessions
// fired by the finish.
func (r *run) finishing() bool { return r.finish }

// control sends watermarks and commit barriers to every worker until stop
// is closed.
func (r *run) control(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(min(max(r.cfg.Linger, time.Millisecond), 50*time.Millisecond))
	defer tick.Stop()
	nextCommit := time.Now().Add(r.cfg.CommitInterval)
	nextProgress := time.Now().Add(r.cfg.ProgressInterval)
	ended := 0 // source partitions ended at the last commit
	for {
		select {
		case <-stop:
			return
		case now := <-tick.C:
			sps := r.sourcePartitions()
			r.wmMu.Lock()
			r.advanceLocked(sps, now)
			r.wmMu.Unlock()
			if r.cfg.Progress != nil && !now.Before(nextProgress) {
				nextProgress = now.Add(r.cfg.ProgressInterval)
				r.cfg.Progress(r.summary(false))
			}
			n := ended
			if r.cfg.CommitOnEnd {
				n = endedCount(sps)
			}
			if r.cfg.CommitInterval > 0 && (!now.Before(nextCommit) || n > ended) {
				nextCommit, ended = now.Add(r.cfg.CommitInterval), n
				r.wmMu.Lock()
				bar := &barrier{next: map[*sourcePartition]int64{}, wm: r.wm.Load()}
				for _, sp := range sps {
					sp.mu.Lock()
					bar.next[sp] = sp.next
					sp.mu.Unlock()
				}
				for _, w := range r.workers {
					w.in <- message{kind: msgBarrier, bar: bar}
				}
				r.wmMu.Unlock()
			}
		}
	}
}

// endedCount returns the number of partitions of sps that ended.
func endedCount(sps []*sourcePartition) int {
	n := 0
	for _, sp := range sps {
		sp.mu.Lock()
		if sp.ended {
			n++
		}
		sp.mu.Unlock()
	}
	return n
}

// advanceLocked sends the job's watermark over sps to every worker when
// it moved; the caller holds wmMu. A bounded source's partition still to
// come holds it back.
func (r *run) advanceLocked(sps []*sourcePartition, now time.Time) {
	if r.awaiting.Load() != 0 {
		return
	}
	for _, sp := range sps {
		sp.noteBacklog(now, r.cfg.IdleTimeout)
	}
	if wm := watermarkOf(sps, now, r.cfg.IdleTimeout, r.cfg.MaxOutOfOrder); wm > r.wm.Load() {
		r.wm.Store(wm)
		for _, w := range r.workers {
			w.in <- message{kind: msgWatermark, wm: wm}
		}
	}
}

// recordCommit remembers a committed offset for the summary.
func (r *run) recordCommit(sp *sourcePartition, off int64) {
	r.commitMu.Lock()
	defer r.commitMu.Unlock()
	m := r.committed[sp.name]
	if m == nil {
		m = map[int32]int64{}
		r.committed[sp.name] = m
	}
	m[sp.partition] = off
}

var _ connector.DeadLetters = (*FileDLQ)(nil)

package job

import (
	"container/heap"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/sluicesql/sluice/connector"

	"github.com/sluicesql/sluice/record"
)

// finalRound numbers the run a worker sends when its input is done.
const finalRound = -1

// emitKind says what an emitter message carries.
type emitKind uint8

const (
	emitRows emitKind = iota // unordered rows to write
	emitRun                  // a sorted run of one round, to merge
	emitAck                  // a worker passed a commit barrier
	emitDone                 // a worker finished
)

// emitMsg is what workers send the emitter.
type emitMsg struct {
	kind   emitKind
	worker int
	rows   *rowBuf
	round  int
	bar    *barrier
	held   []heldOffset
	// pending: the worker holds rows that wait for the end (ordered jobs)
	pending bool
}

// barrier is a commit point: next holds, per source partition, the offset
// after the last record that was in the worker queues when it was issued.
type barrier struct {
	next map[*sourcePartition]int64
	wm   int64 // the watermark the workers had applied when they passed it
}

// emitter is the only goroutine that writes to the sinks. It merges ordered
// runs, applies LIMIT, flushes the sinks and commits offsets.
type emitter struct {
	r       *run
	written int64
	failed  bool
	rounds  map[int][]*rowBuf
	acks    map[*barrier][]heldOffset
	ackN    map[*barrier]int
	pending map[*barrier]bool
	done    int
	final   []heldOffset
	merged  []record.Record

	// hold: the sources commit in the transaction that holds the output
	// written since their last commit (Config.Transactional), so the
	// transaction of a barrier must hold exactly the rows emitted before
	// it. A worker that passed a barrier goes on while the others
	// have not: its rows wait in deferred until the barrier is committed
	// (a window it fires under a later watermark would otherwise commit
	// under the barrier's checkpoint, and a replay from it would write
	// the window again). passed counts the barriers each worker passed,
	// committed those all workers passed.
	hold      bool
	passed    []int
	committed int
	deferred  []deferredRows
}

// deferredRows are rows a worker emitted after passing barrier number
// after (counting from 1), kept until that barrier is committed.
type deferredRows struct {
	after int
	rows  *rowBuf
}

// loop consumes the emitter channel until every worker is done, then
// writes the final runs.
func (e *emitter) loop() {
	defer close(e.r.emitDone)
	e.rounds = map[int][]*rowBuf{}
	e.acks = map[*barrier][]heldOffset{}
	e.ackN = map[*barrier]int{}
	e.pending = map[*barrier]bool{}
	n := len(e.r.workers)
	e.passed = make([]int, n)
	for m := range e.r.emitCh {
		switch m.kind {
		case emitRows:
			if e.hold && e.passed[m.worker] > e.committed {
				e.deferred = append(e.deferred, deferredRows{after: e.passed[m.worker], rows: m.rows})
				continue
			}
			e.write(m.rows.rows)
			e.r.rows.put(m.rows)
		case emitRun:
			e.rounds[m.round] = append(e.rounds[m.round], m.rows)
			if m.round != finalRound && len(e.rounds[m.round]) == n {
				e.merge(e.rounds[m.round])
				delete(e.rounds, m.round)
			}
		case emitAck:
			// Every worker sends its runs of the watermark rounds before a
			// barrier ahead of its ack, so once all acks are in, those rounds
			// are merged and written.
			e.acks[m.bar] = append(e.acks[m.bar], m.held...)
			e.ackN[m.bar]++
			e.pending[m.bar] = e.pending[m.bar] || m.pending
			e.passed[m.worker]++
			if e.ackN[m.bar] == n {
				if !e.pending[m.bar] {
					e.checkpoint(m.bar, e.acks[m.bar])
				}
				delete(e.acks, m.bar)
				delete(e.ackN, m.bar)
				delete(e.pending, m.bar)
				// every worker passes the barriers in the order they were
				// sent, so they complete in that order
				e.committed++
				e.release(e.committed)
			}
		case emitDone:
			e.done++
			e.final = append(e.final, m.held...)
		}
	}
	// the final checkpoint covers everything the workers emitted
	e.release(math.MaxInt)
	if runs := e.rounds[finalRound]; len(runs) > 0 {
		e.merge(runs)
	}
}

// release writes the deferred rows of the barriers up to number upTo, in
// the order they came.
func (e *emitter) release(upTo int) {
	kept := e.deferred[:0]
	for _, d := range e.deferred {
		if d.after > upTo {
			kept = append(kept, d)
			continue
		}
		e.write(d.rows.rows)
		e.r.rows.put(d.rows)
	}
	clear(e.deferred[len(kept):])
	e.deferred = kept
}

// write hands rows to every sink, up to the LIMIT.
func (e *emitter) write(rows []record.Record) {
	r := e.r
	if e.failed || len(rows) == 0 {
		return
	}
	if r.hasLimit {
		if e.written >= r.limit {
			return
		}
		if left := r.limit - e.written; int64(len(rows)) > left {
			rows = rows[:left]
		}
	}
	for i, s := range r.cfg.Sinks {
		if err := s.Write(r.sinkCtx, rows); err != nil {
			e.failed = true
			r.fail(fmt.Errorf("sink %d: write: %w", i, err))
			return
		}
	}
	e.written += int64(len(rows))
	if r.writeThrough {
		r.written.Store(e.written)
	}
	if r.hasLimit && e.written >= r.limit {
		r.halt()
	}
}

// merge k-way merges sorted runs (one per worker) and writes the result in
// batches.
func (e *emitter) merge(runs []*rowBuf) {
	h := &runHeap{less: e.r.prog.Less}
	for _, run := range runs {
		if len(run.rows) > 0 {
			h.runs = append(h.runs, run.rows)
		}
	}
	heap.Init(h)
	out := e.merged[:0]
	for h.Len() > 0 {
		out = append(out, h.runs[0][0])
		if h.runs[0] = h.runs[0][1:]; len(h.runs[0]) == 0 {
			heap.Pop(h)
		} else {
			heap.Fix(h, 0)
		}
		if len(out) == e.r.cfg.BatchSize {
			e.write(out)
			out = out[:0]
		}
	}
	e.write(out)
	clear(out[:cap(out)])
	e.merged = out[:0]
	for _, run := range runs {
		e.r.rows.put(run)
	}
}

// checkpoint flushes the sinks and the dead-letter queue, then commits, per
// source partition, the barrier's offset lowered to the smallest offset a
// pipeline still holds in open state.
func (e *emitter) checkpoint(bar *barrier, held []heldOffset) {
	if e.failed {
		return
	}
	if err := e.r.flushAll(); err != nil {
		e.failed = true
		e.r.fail(err)
		return
	}
	// every row written so far is durable (flushed, acknowledged)
	e.r.written.Store(e.written)
	if err := e.r.commit(bar, held); err != nil {
		e.failed = true
		e.r.fail(err)
	}
}

// runHeap orders sorted runs by their first rows.
type runHeap struct {
	runs [][]record.Record
	less func(a, b *record.Record) bool
}

func (h *runHeap) Len() int           { return len(h.runs) }
func (h *runHeap) Less(i, j int) bool { return h.less(&h.runs[i][0], &h.runs[j][0]) }
func (h *runHeap) Swap(i, j int)      { h.runs[i], h.runs[j] = h.runs[j], h.runs[i] }
func (h *runHeap) Push(x any)         { h.runs = append(h.runs, x.([]record.Record)) }
func (h *runHeap) Pop() any {
	x := h.runs[len(h.runs)-1]
	h.runs = h.runs[:len(h.runs)-1]
	return x
}

// flushAll flushes every sink and the dead-letter queue.
func (r *run) flushAll() error {
	for i, s := range r.cfg.Sinks {
		if err := s.Flush(r.sinkCtx); err != nil {
			return fmt.Errorf("sink %d: flush: %w", i, err)
		}
	}
	if f, ok := r.cfg.DLQ.(Flusher); ok {
		if err := f.Flush(r.sinkCtx); err != nil {
			return err
		}
	}
	return nil
}

// commit commits, per source, the offsets that are done: the barrier's next
// lowered by every held offset reported for the partition. A held report
// whose topic no source partition carries lowers every partition with its
// number. A connector.Checkpointer source commits every partition it has
// read, moved or not, with the barrier's watermark and read offsets (the
// checkpoint moves on while open state holds the offsets back); exactly-once
// (Config.Transactional) in the transaction that holds the output written
// since its last commit. A partition whose progress points its ingester
// tracks commits at the last one at or before the offset that is done,
// with the Start that lets a replay judge lateness as this run did
// (sourcePartition.commitPoint), which a Resumer program is told
// (resumeFrom).
func (r *run) commit(bar *barrier, held []heldOffset) error {
	next := bar.next
	bySource := map[int]map[int32]commitPoint{}
	for sp, off := range next {
		_, checkpoints := r.cfg.Sources[sp.source].(connector.Checkpointer)
		sp.mu.Lock()
		topics := sp.topics
		sp.mu.Unlock()
		pending, anyPending := int64(math.MaxInt64), false
		for _, h := range held {
			switch {
			case h.partition != sp.partition || (!slices.Contains(topics, h.topic) && r.knownTopic(h.topic)):
			case h.pending:
				pending, anyPending = min(pending, h.offset), true
			default:
				off = min(off, h.offset)
			}
		}
		if off < 0 || (off <= sp.committed && !checkpoints) {
			continue
		}
		if bySource[sp.source] == nil {
			bySource[sp.source] = map[int32]commitPoint{}
		}
		c := commitPoint{sp: sp, at: off, done: off, pending: pending, anyPending: anyPending}
		if checkpoints {
			c.at, c.start, c.started = sp.commitPoint(off)
		}
		if have, ok := bySource[sp.source][sp.partition]; ok && have.done <= off {
			continue
		}
		bySource[sp.source][sp.partition] = c
	}
	for _, src := range slices.Sorted(maps.Keys(bySource)) {
		offs := make(map[int32]int64, len(bySource[src]))
		var starts map[int32]connector.Start
		var pending map[int32]int64
		for p, c := range bySource[src] {
			offs[p] = c.at
			if c.anyPending {
				if pending == nil {
					pending = map[int32]int64{}
				}
				pending[p] = c.pending
			}
			if c.started {
				if starts == nil {
					starts = map[int32]connector.Start{}
				}
				starts[p] = c.start
			}
		}
		var err error
		if cp, ok := r.cfg.Sources[src].(connector.Checkpointer); ok {
			read := make(map[int32]int64, len(offs))
			for sp, n := range next {
				if sp.source == src && n >= 0 {
					read[sp.partition] = n
				}
			}
			err = cp.CommitCheckpoint(r.sinkCtx, offs, connector.Checkpoint{Watermark: bar.wm, Read: read, Starts: starts, Pending: pending})
		} else {
			err = r.cfg.Sources[src].Commit(r.sinkCtx, offs)
		}
		if err != nil {
			return fmt.Errorf("source %q: commit: %w", r.cfg.Sources[src].Name(), err)
		}
		r.resumeCommitted(bySource[src])
		for sp := range next {
			if sp.source == src {
				if off, ok := offs[sp.partition]; ok {
					sp.committed = off
					r.recordCommit(sp, off)
				}
			}
		}
	}
	return nil
}

// commitPoint is where a source partition's commit stands: at, with start
// when started (sourcePartition.commitPoint); the effect of its records
// before done is out.
type commitPoint struct {
	sp       *sourcePartition
	at, done int64
	start    connector.Start
	started  bool
	// pending is the least event time of a row the pipelines may still
	// write from the partition behind the watermark (anyPending: one)
	pending    int64
	anyPending bool
}

// knownTopic reports whether some source partition's records carry topic.
func (r *run) knownTopic(topic string) bool {
	for _, sp := range r.sourcePartitions() {
		sp.mu.Lock()
		ok := slices.Contains(sp.topics, topic)
		sp.mu.Unlock()
		if ok {
			return true
		}
	}
	return false
}

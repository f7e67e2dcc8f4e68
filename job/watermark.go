package job

import (
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicesql/sluice/connector"
)

// noWatermark is the watermark before any event time was seen.
const noWatermark = math.MinInt64

// sourcePartition is the job's view of one (source, partition). Its ingest
// goroutine publishes progress only after a full flush, so that everything
// published is already in the worker queues: a watermark or commit barrier
// sent after reading it reaches every worker behind those records.
type sourcePartition struct {
	source    int // index in Config.Sources
	name      string
	partition int32
	// bounded: the source ends (connector.Bounded), so the partition is
	// never idle
	bounded bool
	// follows: its reader follows the watermarks of the source partitions
	// upstream (connector.Watermarker), each idle or not by its own
	// records there, so the partition is never idle here (set before its
	// first progress is published)
	follows atomic.Bool

	// busy is set while the ingest goroutine hands records over (possibly
	// waiting on a full queue): a partition held up by backpressure is not idle.
	busy atomic.Bool

	mu       sync.Mutex
	maxEvent int64 // highest event time handed over (noWatermark: none)
	// backlog, when set (as its reader starts), is a reader that knows
	// whether records wait to be read (connector.Backlog): while they do,
	// the partition is not idle (noteBacklog)
	backlog  connector.Backlog
	next     int64 // offset after the last record handed over (-1: none)
	lastData time.Time
	ended    bool
	// caughtUp: the partition's last read did not fill a batch, so its
	// reader has no records waiting (alignment does not wait for it)
	caughtUp  bool
	topics    []string // record topics seen, to match Pipeline.Held reports
	committed int64    // last committed offset (-1: none)

	// fenceTo and fenceWM are a restored checkpoint's read offset and
	// watermark (exactly-once): a record before fenceTo whose windows had
	// all fired under fenceWM is not processed again. Set before reading.
	fenceTo, fenceWM int64
	// start is where the committed offset the partition resumed from
	// stands in its records (connector.Start), when started; set before
	// its first records are routed, under mu (a commit reads its Skip)
	start   connector.Start
	started bool
	// resumeWM is the watermark the partition would resume at from what
	// the job committed, or the checkpoint it resumed from, when resumes
	// (resumeFrom). Under mu.
	resumeWM int64
	resumes  bool
	// lows are, for a partition whose reader follows the watermarks
	// upstream, the lowest watermarks its records carried since its last
	// commit (addLowLocked, lowSince). Under mu.
	lows []lowMark

	// marks are the partition's progress points, oldest first, from the
	// one its last commit stood at, when its ingester tracks them
	// (ingester.tracks):
	// a commit stands at one, whose highest event time before it it knows
	// (commitPoint). Under mu.
	marks []mark
	// shift is how close thinMarksLocked keeps the marks: two kept marks
	// with points dropped between them are at most 1/2^shift of the
	// records from the later one to the last point apart (0: markShift).
	// Under mu.
	shift uint
}

// mark is a progress point of a partition: its records before offset have
// maxEvent as their highest event time.
type mark struct{ offset, maxEvent int64 }

// maxMarks bounds a partition's marks: when it has that many, it keeps
// only some of them (thinMarksLocked), and a commit stands a little
// further back.
const maxMarks = 1024

// markShift is how close the marks are kept: a commit stands at most
// 1/2^markShift of the records between what is done and the read offset
// (or one progress point) behind what is done. Past about 3/4 maxMarks
// marks so kept (about 140,000 points since the last commit), thinning
// halves the closeness until they fit (at 1/32, beyond 100 million).
const markShift = 6

// addMarkLocked notes a progress point, keeping the marks in offset order
// and the last point always.
func (sp *sourcePartition) addMarkLocked(m mark) {
	n := len(sp.marks)
	if n > 0 && m.offset <= sp.marks[n-1].offset {
		return
	}
	if n >= maxMarks {
		sp.thinMarksLocked()
	}
	sp.marks = append(sp.marks, m)
}

// thinMarksLocked drops marks on a grid that widens with the distance
// from the last point: a mark goes when the kept one before it and the
// one after it are at most 1/2^shift of the records from the one after
// it to the last point apart. So every two neighbouring marks kept are
// neighbouring points, or that close: a commit of offset off, which
// stands at the last mark at or before it, is at most one point's gap or
// (last - off)/2^shift behind it, however the commits before it stood
// (the gaps near the last point, where the next commits stand, stay
// narrow). The first mark (the last commit's) and the last stay. When
// more than 3/4 maxMarks remain, the shift goes down (wider gaps) until
// they fit; commitPoint restores it once few marks remain.
func (sp *sourcePartition) thinMarksLocked() {
	if sp.shift == 0 {
		sp.shift = markShift
	}
	for {
		n := len(sp.marks)
		last := sp.marks[n-1]
		kept := 1
		for i := 1; i < n-1; i++ {
			next := sp.marks[i+1].offset
			if next-sp.marks[kept-1].offset <= (last.offset-next)>>sp.shift {
				continue
			}
			sp.marks[kept] = sp.marks[i]
			kept++
		}
		sp.marks[kept] = last
		sp.marks = sp.marks[:kept+1]
		if len(sp.marks) <= 3*maxMarks/4 || sp.shift == 1 {
			return
		}
		sp.shift--
	}
}

// commitPoint returns where a commit of the partition whose records before
// off had their whole effect stands: the offset of its last mark at or
// before off, with the Start that says what the records before it were
// (Skip: off, or the restored Skip when the partition has not read that
// far yet). The marks before it are dropped: commits only move on. ok is
// false when the partition tracks no mark there (its watermark is not its
// own, or off is before its marks).
func (sp *sourcePartition) commitPoint(off int64) (at int64, st connector.Start, ok bool) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	i := sort.Search(len(sp.marks), func(i int) bool { return sp.marks[i].offset > off }) - 1
	if i < 0 {
		return off, connector.Start{}, false
	}
	m := sp.marks[i]
	sp.marks = sp.marks[:copy(sp.marks, sp.marks[i:])]
	if len(sp.marks)*4 < maxMarks {
		sp.shift = markShift
	}
	skip := off
	if sp.started {
		skip = max(skip, sp.start.Skip)
	}
	return m.offset, connector.Start{MaxEvent: m.maxEvent, Skip: skip}, true
}

func newSourcePartition(src int, name string, p int32, now time.Time) *sourcePartition {
	return &sourcePartition{source: src, name: name, partition: p, maxEvent: noWatermark, next: -1, lastData: now, committed: -1}
}

// publish records progress that is now entirely in the worker queues.
func (sp *sourcePartition) publish(maxEvent, next int64, lastData time.Time, ended bool) {
	sp.mu.Lock()
	if maxEvent > sp.maxEvent {
		sp.maxEvent = maxEvent
	}
	if next > sp.next {
		sp.next = next
	}
	if lastData.After(sp.lastData) {
		sp.lastData = lastData
	}
	sp.ended = sp.ended || ended
	sp.mu.Unlock()
}

// noteBacklog restarts the idle clock of a partition about to turn idle
// (no data for longer than idle) whose reader still has records waiting
// (connector.Backlog): a reader slow to hand out its first records (a
// Kafka fetch after a rebalance, on a loaded machine) must not let the
// watermark pass them. The reader is asked outside mu, and only then.
func (sp *sourcePartition) noteBacklog(now time.Time, idle time.Duration) {
	sp.mu.Lock()
	b := sp.backlog
	due := b != nil && !sp.ended && !sp.bounded && !sp.follows.Load() && now.Sub(sp.lastData) > idle
	sp.mu.Unlock()
	if !due || !b.RecordsWaiting() {
		return
	}
	sp.mu.Lock()
	if now.After(sp.lastData) {
		sp.lastData = now
	}
	sp.mu.Unlock()
}

// inactiveLocked reports whether the partition holds back no watermark:
// it ended, or it has had no data for longer than idle, is not busy
// handing records over, belongs to a source that does not end and does
// not follow the watermarks upstream. A repartition topic's partition
// gets progress reports while it gets no records, and its watermark
// leaves out the idle source partitions itself: were it idle here, the
// watermark would move past it by when the process read its other
// partitions, and a replay after a rebalance (reading it at once) would
// judge its records otherwise.
func (sp *sourcePartition) inactiveLocked(now time.Time, idle time.Duration) bool {
	return sp.ended || (!sp.bounded && !sp.follows.Load() && now.Sub(sp.lastData) > idle && !sp.busy.Load())
}

// watermarkOf computes the job watermark over the source partitions: the
// minimum of (highest event time - maxOutOfOrder) over partitions that are
// neither ended nor idle (no data for longer than idle, not busy handing
// records over, and of a source that does not end). When none is active, it is the
// maximum over all of them (idle partitions do not hold it back).
func watermarkOf(sps []*sourcePartition, now time.Time, idle, maxOutOfOrder time.Duration) int64 {
	active, passive := int64(math.MaxInt64), int64(noWatermark)
	any := false
	ooo := maxOutOfOrder.Milliseconds()
	for _, sp := range sps {
		sp.mu.Lock()
		w := int64(noWatermark)
		if sp.maxEvent != noWatermark {
			w = sp.maxEvent - ooo
		}
		inactive := sp.inactiveLocked(now, idle)
		sp.mu.Unlock()
		if inactive {
			passive = max(passive, w)
			continue
		}
		any = true
		active = min(active, w)
	}
	if any {
		return active
	}
	return passive
}

// highestEvent returns the highest event time handed over by any partition.
func highestEvent(sps []*sourcePartition) int64 {
	m := int64(noWatermark)
	for _, sp := range sps {
		sp.mu.Lock()
		m = max(m, sp.maxEvent)
		sp.mu.Unlock()
	}
	return m
}

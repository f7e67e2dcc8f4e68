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

	// marks are the partition's progress points, oldest first, from the
	// one its last commit stood at, when its ingester tracks them
	// (ingester.tracks):
	// a commit stands at one, whose highest event time before it it knows
	// (commitPoint). Under mu.
	marks []mark
	// stride is how many progress points a kept mark stands for (it
	// doubles as the marks are thinned, so that they stay evenly spread);
	// pending counts those the last mark stands for so far (while it is
	// short of stride it moves on with each point). Under mu.
	stride, pending int
}

// mark is a progress point of a partition: its records before offset have
// maxEvent as their highest event time.
type mark struct{ offset, maxEvent int64 }

// maxMarks bounds a partition's marks: past it, every other one is
// dropped, and a commit stands a little further back.
const maxMarks = 1024

// addMarkLocked notes a progress point, keeping the marks in offset order,
// evenly spread over the points since the last commit, and the last point
// always.
func (sp *sourcePartition) addMarkLocked(m mark) {
	n := len(sp.marks)
	if n > 0 && m.offset <= sp.marks[n-1].offset {
		return
	}
	switch {
	case sp.pending > 0:
		sp.marks[n-1] = m
	case n >= maxMarks:
		sp.thinMarksLocked()
		fallthrough
	default:
		sp.marks = append(sp.marks, m)
	}
	if sp.pending++; sp.pending >= max(sp.stride, 1) {
		sp.pending = 0
	}
}

// thinMarksLocked drops every other mark but the last, and doubles the
// stride.
func (sp *sourcePartition) thinMarksLocked() {
	last := sp.marks[len(sp.marks)-1]
	n := 0
	for i := 0; i < len(sp.marks)-1; i += 2 {
		sp.marks[n] = sp.marks[i]
		n++
	}
	sp.marks[n] = last
	sp.marks = sp.marks[:n+1]
	sp.stride = 2 * max(sp.stride, 1)
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
	for sp.stride > 1 && len(sp.marks)*4 < maxMarks {
		sp.stride /= 2
	}
	if len(sp.marks) == 1 {
		// the mark a commit stands at stays: the next point is a mark of
		// its own
		sp.pending = 0
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

package job

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
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

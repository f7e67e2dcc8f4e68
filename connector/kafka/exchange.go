package kafka

import (
	"context"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/record"
)

// exchangeFrom is what an exchange topic's writer reports of stage 2: the
// partitions of the repartition topic its source src holds, and the lag
// of the join's watermark behind theirs.
type exchangeFrom struct {
	src *Source
	lag int64
}

// NewExchange returns stage 2's sink of a statement whose query after its
// stream-stream join needs the joined rows on another key than the
// join's: it writes each row to the partition of its key (cfg.Key) in the
// exchange topic cfg.Topic, as a Shuffle writes records to a repartition
// topic, for stage 3 to read with ExchangeSource. src is stage 2's source
// (RepartitionSource): its partitions are the exchange topic's source
// partitions. A row carries its partition there, the offset of the record
// whose arrival made it (record.Record.Offset) and the offset of the
// record it met (record.Record.Sub, written one past it), and the place in
// its source of the record that made it (record.Record.OriginPartition and
// OriginOffset, origin.source), where stage 3 dead-letters it: stage
// 2 reads a partition in order and joins it the same way every time, so
// a replay after a rebalance makes the same rows with the same positions,
// in the same order, and stage 3 drops the copies as stage 2 drops those
// of stage 1. Its reports give, for each partition src holds, the offset
// stage 2 committed (the rows of the records before it were acknowledged
// first, and are never made again), the watermark of that commit less
// lag (every row stage 2 makes later from the partition is at or after
// it: its records' lateness is judged by their partition's watermark), or
// the event time of the earliest row with NULLs stage 2 had still to
// write then when earlier (connector.Checkpoint.Pending), and
// whether stage 2 finished it in a bounded run (committed at a done
// marker). A row's event time is its record's timestamp, or, when it is
// no Kafka timestamp (before 1970, or more than an hour ahead), the row's
// own timestamp with the difference in the origin header
// (origin.eventShift). opts are added to its producing client's options.
func NewExchange(src *Source, cfg ShuffleConfig, lag int64, opts ...kgo.Opt) *Shuffle {
	s := &Shuffle{cfg: cfg, opts: opts, conn: src.cfg.conn, mu: newCtxMutex(), parts: map[int32]*sent{}, committed: make(chan struct{}, 1),
		from: &exchangeFrom{src: src, lag: lag}}
	src.mu.Lock()
	src.committedC = s.committed
	src.handedOver = s.handover
	src.mu.Unlock()
	return s
}

// progress returns the progress of the partitions stage 2 holds or is
// handing over.
func (x *exchangeFrom) progress() []partProgress {
	parts := x.src.reporting()
	x.src.mu.Lock()
	defer x.src.mu.Unlock()
	ps := make([]partProgress, 0, len(parts))
	for _, p := range parts {
		pp := partProgress{partition: p, watermark: noWatermark, committed: -1}
		if c, ok := x.src.committed[p]; ok {
			pp.committed = c
		}
		if wm, ok := x.src.repart.commitWM[p]; ok && wm > math.MinInt64+x.lag {
			pp.watermark = wm - x.lag
		}
		if et, ok := x.src.repart.commitPending[p]; ok && pp.watermark != noWatermark {
			// a row with NULLs still to write is not late
			pp.watermark = min(pp.watermark, et)
		}
		if d, ok := x.src.repart.doneAt[p]; ok && d == pp.committed {
			pp.flags |= progressEnded
		}
		ps = append(ps, pp)
	}
	return ps
}

// ExchangeSource returns stage 3's source: the exchange topic that an
// exchange sink (NewExchange) fed from s, stage 2's source of a
// repartition topic of partitions partitions, writes, read in s's group
// (another member of it, sharing s's bounded run's end) and decoded into
// the joined rows' schema, each with its event time (its timestamp, or as
// its origin header shifts it). A
// partition ends in a bounded run once every partition of the repartition
// topic did: stage 2 committed it at a done marker of this run (one that
// records the source read to its end) and reported it so; its offset is
// that partition's end, exchangeEnds. onRevoke and fired are as
// RepartitionSource's.
func (s *Source) ExchangeSource(topic string, partitions int, onRevoke func() <-chan struct{}, fired func(*record.Record, int64) bool) *Source {
	x := s.internalSource(topic, nil, partitions, "-exchange", onRevoke, fired)
	if instance := s.cfg.instanceID; instance != "" {
		x.cfg.instanceID = strings.TrimSuffix(instance, "-repartition") + "-exchange"
	}
	s.mu.Lock()
	x.run = s.run
	x.repart.bounded = s.repart.bounded
	// a row's place in its source is numbered as stage 1 numbers the
	// partitions of the sources it reads (ReadsFrom): Origin tells them apart
	x.repart.upstream, x.repart.nums = s.repart.upstream, s.repart.nums
	s.mu.Unlock()
	x.repart.eventTimes = true
	if x.repart.bounded {
		x.repart.sourceEnds, x.repart.liveEnds = (&exchangeEnds{in: s}).ends, true
	}
	return x
}

// exchangeEnds finds where each partition of a repartition topic ended in
// a bounded run, as its exchange topic's reader sees it: the offset the
// group committed it at, at a done marker that records the source read to
// the run's end. A done marker of an earlier run records less, so a later
// run's partition has not ended until stage 2 finished it again. The
// readers ask as they read: the group is asked in the background, so that
// no reader waits for it.
type exchangeEnds struct {
	in *Source // stage 2's source

	mu       sync.Mutex
	at       time.Time       // when the last lookup began
	asking   bool            // a lookup is under way
	found    map[int32]int64 // replaced whole, never changed: readers keep it
	complete bool            // found holds every partition's end
}

// exchangeEndsPoll is how often exchangeEnds asks the group again.
const exchangeEndsPoll = 100 * time.Millisecond

// ends returns the ends found so far, and asks the group again in the
// background, at most every exchangeEndsPoll, until every partition's is
// found.
func (e *exchangeEnds) ends() map[int32]int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.complete && !e.asking && time.Since(e.at) >= exchangeEndsPoll {
		e.asking, e.at = true, time.Now()
		go e.lookup()
	}
	return e.found
}

// lookup asks the group where stage 2 finished its partitions.
func (e *exchangeEnds) lookup() {
	found, n := e.finished()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.asking = false
	if found != nil {
		e.found, e.complete = found, n > 0 && len(found) >= n
	}
}

// finished returns the partitions the group committed at a done marker of
// this run, with their offsets (nil when it cannot tell yet), and the
// repartition topic's partition count.
func (e *exchangeEnds) finished() (map[int32]int64, int) {
	e.in.mu.Lock()
	cl, n := e.in.client, e.in.partitions
	e.in.mu.Unlock()
	want, ok := e.in.runEndSum()
	if !ok || cl == nil || n == 0 {
		return nil, n
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).FetchOffsets(ctx, e.in.cfg.group)
	if err == nil {
		err = resp.Error()
	}
	if err != nil {
		e.in.logger().Debug("kafka exchange topic: fetching where stage 2 finished its partitions", "error", err)
		return nil, n
	}
	found := map[int32]int64{}
	for p := range int32(n) {
		o, ok := resp.Lookup(e.in.cfg.topic, p)
		if !ok {
			continue
		}
		sum, isDone := strings.CutPrefix(o.Metadata, donePrefix)
		if v, err := strconv.ParseInt(sum, 10, 64); isDone && err == nil && v >= want {
			found[p] = o.At
		}
	}
	return found, n
}

// runEndSum returns the sum of the ends of the source partitions of a
// repartition topic's bounded run (false before they are known): what a
// done marker of the run records at least.
func (s *Source) runEndSum() (int64, bool) {
	if s.repart == nil || s.repart.sourceEnds == nil {
		return 0, false
	}
	ends := s.repart.sourceEnds()
	if len(ends) == 0 {
		return 0, false
	}
	var sum int64
	for _, e := range ends {
		sum += e
	}
	return sum, true
}

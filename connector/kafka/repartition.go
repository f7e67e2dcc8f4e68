package kafka

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connector"
)

// A repartition topic carries a statement's records from the process that
// reads them from the source (stage 1, a Shuffle sink) to the process that
// owns their key (stage 2, a Source made with RepartitionSource). Besides
// the records it carries progress reports, so that stage 2 knows the
// upstream watermarks, which records stage 1 will never send again, and
// when the source ended.
//
// A data record is keyed by its routing key (AppendRoutingKey), is in the
// partition Kafka's default partitioner gives that key, holds the decoded
// row in a binary encoding (repartrow.go), has the row's event time as its timestamp (CreateTime; the
// source record's timestamp when the row has no event time, or one before
// 1970) and has the header originHeader: its source partition, source
// offset, the watermark of its source partition before it (the one
// lateness is judged against) and, when the source record's timestamp
// differs from the event time, the difference, so that stage 2 gives the
// row its source timestamp (_TIMESTAMP) back.
//
// An exchange topic (NewExchange) carries the rows of a stream-stream
// join from the process that joins them (stage 2) to the one that owns
// their key in the query after the join (stage 3), as a repartition topic
// carries records: its "source partitions" are the repartition topic's
// partitions, a row's "source offset" is the offset of the record whose
// arrival made it, and the origin header adds the offset of the record it
// met, plus one (its sub-position: 0 for a repartition topic's records),
// so that two rows made by one record differ. A record's rows come in the
// order of the records they met, so a stage-2 partition's rows come in
// the order of (offset, sub-position).
//
// A control record has no key and the header controlHeader. A progress
// report lists, for each source partition the producing member owns, its
// watermark after the records sent before the report, its committed offset
// (every record before it was acknowledged by the repartition topic, and no
// member will send it again) and whether it is idle or ended. A done marker
// says that stage 2 finished the partition of a bounded run, with what it
// knew of every source partition then, in a progress report's form: a
// member the group gives the partition later in the same run ends at once,
// and a later run (whose source ends further on) reads on.
const (
	originHeader  = "sluice.origin"
	controlHeader = "sluice.control"
)

// Control record kinds (the first byte of controlHeader's value).
const (
	controlProgress = 'p'
	controlDone     = 'd'
)

// Progress flags.
const (
	progressIdle  byte = 1
	progressEnded byte = 2
)

// noWatermark is the watermark before any event time (the job's).
const noWatermark = math.MinInt64

// partProgress is one source partition's progress in a report.
type partProgress struct {
	partition int32
	watermark int64 // noWatermark before any record
	committed int64 // -1: none
	flags     byte
}

// appendOrigin appends the origin header's value; shift is the source
// record's timestamp less the repartition record's, written only when not 0
// or when sub (an exchange topic's row's sub-position) follows it.
func appendOrigin(b []byte, partition int32, offset, watermark, shift, sub int64) []byte {
	b = binary.AppendVarint(b, int64(partition))
	b = binary.AppendVarint(b, offset)
	b = binary.AppendVarint(b, watermark)
	if shift != 0 || sub != 0 {
		b = binary.AppendVarint(b, shift)
	}
	if sub != 0 {
		b = binary.AppendVarint(b, sub)
	}
	return b
}

var errCorrupt = errors.New("corrupt repartition header")

// origin is what a data record's origin header says.
type origin struct {
	partition         int32 // the source partition
	offset, watermark int64
	shift             int64 // the source timestamp less the record's
	sub               int64 // an exchange topic's row's sub-position (0: none)
	// eventShift is an exchange topic's row's event time less the
	// record's timestamp: written (after sub) only when the event time is
	// not a Kafka timestamp (before 1970, or more than an hour ahead), so
	// that the record carries the row's own timestamp instead
	eventShift int64
	// source says that sourcePartition and sourceOffset are set: an
	// exchange topic's row's place in its source, that of the record
	// whose arrival in stage 2 made it (as stage 1 numbers its
	// partitions), written after eventShift (then written, 0 or not)
	source          bool
	sourcePartition int32
	sourceOffset    int64
}

// appendSource appends to an exchange topic's origin header (appendOrigin
// with a sub-position) the row's event-time shift, 0 or not, and its place
// in its source (origin.source).
func appendSource(b []byte, eventShift int64, partition int32, offset int64) []byte {
	b = binary.AppendVarint(b, eventShift)
	b = binary.AppendVarint(b, int64(partition))
	return binary.AppendVarint(b, offset)
}

// parseOrigin reads the origin header's value.
func parseOrigin(b []byte) (origin, error) {
	var v [8]int64
	n := 0
	for n < len(v) {
		if n >= 3 && len(b) == 0 {
			break // no shift: the record has its source timestamp; no sub-position
		}
		k := 0
		v[n], k = binary.Varint(b)
		if k <= 0 {
			return origin{}, errCorrupt
		}
		b = b[k:]
		n++
	}
	// a sub-position is written only when not 0 (it is one past an
	// offset), an event time's shift only when not 0 unless a source
	// place follows it, and that place whole
	if v[0] < 0 || v[0] > math.MaxInt32 || len(b) > 0 || (n >= 5 && v[4] <= 0) || (n == 6 && v[5] == 0) || n == 7 ||
		(n == 8 && (v[6] < 0 || v[6] > math.MaxInt32 || v[7] < 0)) {
		return origin{}, errCorrupt
	}
	return origin{partition: int32(v[0]), offset: v[1], watermark: v[2], shift: v[3], sub: v[4], eventShift: v[5],
		source: n == 8, sourcePartition: int32(v[6]), sourceOffset: v[7]}, nil
}

// appendProgress appends a progress report's header value.
func appendProgress(b []byte, ps []partProgress) []byte {
	b = append(b, controlProgress)
	b = binary.AppendUvarint(b, uint64(len(ps)))
	for _, p := range ps {
		b = binary.AppendVarint(b, int64(p.partition))
		b = binary.AppendVarint(b, p.watermark)
		b = binary.AppendVarint(b, p.committed)
		b = append(b, p.flags)
	}
	return b
}

// appendDone appends a done marker's header value.
func appendDone(b []byte, ps []partProgress) []byte {
	b = appendProgress(b, ps)
	b[0] = controlDone
	return b
}

// parseControl reads a control header's value: a progress report's or a
// done marker's entries, and whether it is a done marker.
func parseControl(b []byte, ps []partProgress) (_ []partProgress, done bool, err error) {
	if len(b) == 0 {
		return ps, false, errCorrupt
	}
	switch b[0] {
	case controlDone:
		done = true
		if len(b) == 1 {
			return ps, true, nil // an earlier version's marker: it says nothing
		}
	case controlProgress:
	default:
		return ps, false, errCorrupt
	}
	b = b[1:]
	count, n := binary.Uvarint(b)
	if n <= 0 || count > uint64(len(b)) {
		return ps, false, errCorrupt
	}
	b = b[n:]
	for range count {
		var v [3]int64
		for i := range v {
			v[i], n = binary.Varint(b)
			if n <= 0 {
				return ps, false, errCorrupt
			}
			b = b[n:]
		}
		if len(b) == 0 || v[0] < 0 || v[0] > math.MaxInt32 {
			return ps, false, errCorrupt
		}
		ps = append(ps, partProgress{partition: int32(v[0]), watermark: v[1], committed: v[2], flags: b[0]})
		b = b[1:]
	}
	return ps, done, nil
}

// header returns the value of the header key of kr, or nil.
func header(kr *kgo.Record, key string) ([]byte, bool) {
	for _, h := range kr.Headers {
		if h.Key == key {
			return h.Value, true
		}
	}
	return nil, false
}

// runLen bounds the records one span of upstreamPart.spans stands for.
const runLen = 256

// span is a run of records of one source partition in a repartition
// partition: the offset of its first record there and the highest source
// offset in it.
type span struct {
	first, lastSource int64
	n                 int
}

// upstreamPart is what a stage-2 reader knows of one source partition.
type upstreamPart struct {
	known     bool  // a report about it was read
	watermark int64 // the highest reported
	committed int64 // the highest reported committed offset (-1: none)
	idle      bool
	// ended: its owner reported it ended (committed up to the end of its
	// run); see upstream.partEnded
	ended bool
	last  int64 // the highest source offset handed out (-1: none)
	// lastSub is the sub-position of the last record handed out (an
	// exchange topic's: see origin.sub)
	lastSub int64
	// spans are the runs of records handed out whose source offsets are
	// not yet reported committed: stage 1 may send them again, so they
	// must be read again after a restart
	spans []span
}

// upstream is a stage-2 reader's view of the repartition partition it
// reads: the upstream watermark, duplicates to drop, how far it may commit
// and whether the partition ended. It is used by the reader's goroutine;
// safe is read by commits.
type upstream struct {
	parts   []upstreamPart
	bounded bool // the source ends (stop.at=end): so does the partition
	// ends are where this process's run of the source ends, per source
	// partition, once sourceEnds (nil: wherever each owner says) returned
	// them
	ends       map[int32]int64
	sourceEnds func() map[int32]int64
	// live: sourceEnds is asked again until it gives every source
	// partition's end (an exchange topic's, known only as stage 2
	// finishes each partition), instead of once
	live  bool
	known int // parts reported
	// high is the highest watermark the partition had so far (watermark;
	// noWatermark before every source partition was reported): a record
	// is judged late by it, or by the one it carries if higher
	high int64
	// carried and shift are the last data record's watermark and
	// timestamp shift, origin its place in the source, for the decoder
	// to set
	carried, shift int64
	origin         origin
	scratch        []partProgress
	// fenceTo and fenceWM are the checkpoint the partition resumed from:
	// a record before fenceTo whose windows had all fired under fenceWM
	// had its effect already
	fenceTo, fenceWM int64
	// views are the reader's views after each report (or the one it
	// resumed from), oldest first, kept from the one before the last
	// commit on (viewAt); the reader appends, commits read
	viewMu sync.Mutex
	views  []*view
	// pending is the offset of the first record of the spans that stage 1
	// reported committed upstream since the last view was kept (noSpan:
	// none); the next view takes them (view.confirmsFrom), under viewMu
	pending int64
	// resume is the view the partition resumes from, set as the group
	// assigns it and taken in by the reader before its first record
	resume atomic.Pointer[view]
	// safe is the offset of the first record that stage 1 may still send
	// again (-1: none), published after each batch
	safe atomic.Int64
}

// noSpan is view.confirmsFrom and upstream.pending with no span.
const noSpan = math.MaxInt64

func newUpstream(sourcePartitions int, bounded bool) *upstream {
	u := &upstream{parts: make([]upstreamPart, sourcePartitions), bounded: bounded, fenceWM: noWatermark, high: noWatermark, pending: noSpan}
	for i := range u.parts {
		u.parts[i] = upstreamPart{watermark: noWatermark, committed: -1, last: -1}
	}
	u.safe.Store(-1)
	return u
}

// admit reads kr's repartition headers. It returns false for a record that
// is not data (a control record) or that was handed out already (sent
// again by stage 1 after a restart); for data it keeps the watermark the
// record carries for the decoder to set.
func (u *upstream) admit(kr *kgo.Record) (bool, error) {
	u.takeResume()
	if v, ok := header(kr, controlHeader); ok {
		ps, _, err := parseControl(v, u.scratch[:0])
		u.scratch = ps
		if err != nil {
			return false, err
		}
		for _, p := range ps {
			u.report(p)
		}
		if wm, ok := u.watermark(); ok {
			u.high = max(u.high, wm)
		}
		u.keepView(kr.Offset + 1)
		return false, nil
	}
	v, ok := header(kr, originHeader)
	if !ok {
		return false, fmt.Errorf("not a repartition record (no %s header)", originHeader)
	}
	o, err := parseOrigin(v)
	if err != nil {
		return false, err
	}
	p, off := o.partition, o.offset
	if int(p) >= len(u.parts) {
		return false, fmt.Errorf("repartition record from source partition %d, but the source has %d", p, len(u.parts))
	}
	up := &u.parts[p]
	// A record before the source offset reported committed is a copy even
	// when this reader never saw its original (it resumed past it, or
	// the copy is a straggler of a member that lost the source partition):
	// the original was acknowledged before that commit, so before the
	// report, in this partition.
	if off < up.last || (off == up.last && o.sub <= up.lastSub) || off < up.committed {
		return false, nil
	}
	up.last, up.lastSub = off, o.sub
	if k := len(up.spans) - 1; k >= 0 && up.spans[k].n < runLen {
		up.spans[k].lastSource, up.spans[k].n = off, up.spans[k].n+1
	} else if off >= up.committed {
		up.spans = append(up.spans, span{first: kr.Offset, lastSource: off, n: 1})
	}
	// late by the partition's watermark too: it depends only on what
	// the partition holds before the record, not on when the job's other
	// partitions were read, so a replay judges the record as the run
	// before did (a record of a source partition reported idle may be
	// behind the others' watermark)
	u.carried, u.shift, u.origin = max(o.watermark, u.high, up.watermark), o.shift, o
	return true, nil
}

// fence returns the fence to commit with a checkpoint that read up to
// read under watermark wm: the partition's own fence (the one it resumed
// from) joined with it, and false while the partition's replay is behind
// it (connector.Fence.Join).
func (u *upstream) fence(read, wm int64) (int64, int64, bool) {
	return connector.Fence{Read: u.fenceTo, Watermark: u.fenceWM}.Join(read, wm)
}

// report takes one source partition's progress.
func (u *upstream) report(p partProgress) {
	if int(p.partition) >= len(u.parts) || p.partition < 0 {
		return
	}
	up := &u.parts[p.partition]
	if !up.known {
		up.known = true
		u.known++
	}
	up.watermark = max(up.watermark, p.watermark)
	up.committed = max(up.committed, p.committed)
	up.idle = p.flags&progressIdle != 0
	up.ended = up.ended || p.flags&progressEnded != 0
	k := 0
	for k < len(up.spans) && up.spans[k].lastSource < up.committed {
		k++
	}
	if k > 0 {
		// the spans' first offsets rise: the first is the lowest
		u.viewMu.Lock()
		u.pending = min(u.pending, up.spans[0].first)
		u.viewMu.Unlock()
	}
	up.spans = up.spans[k:]
}

// commitOffset returns where a commit of a checkpoint that read up to off
// may be made: never past a record that stage 1 may still send again
// (safe), nor past one whose confirmation (the report that stage 1
// committed it upstream) the view recorded with the commit lacks. A replay
// from the commit starts with that view; stage 1's resend of such a
// record, which precedes its confirmation in the partition (stage 1 sends
// again only what it had not committed), would come before the
// confirmation and be taken for new: its effect counted twice. Committing
// before the original instead makes the replay read the original first,
// and drop the resend as a copy. The reader may have read a confirmation
// well after the checkpoint's offset, so its current knowledge (safe) is
// not enough.
//
// The view before a commit (the one viewAt records, or an earlier one)
// confirms the records whose confirmation came before it: those of the
// views up to it (view.confirmsFrom), not those of the views after it nor
// those pending. A view confirms a span exactly when it comes after the
// report that confirmed it: the reports before had the span's source
// partition committed no further than its records (a record before the
// committed offset is a copy, never a span's), and committed offsets only
// rise. So the work and the memory a commit takes are bounded by the
// views kept (maxViews), whatever the records read since the last commit.
func (u *upstream) commitOffset(off int64) int64 {
	if safe := u.safe.Load(); safe >= 0 {
		off = min(off, safe)
	}
	u.viewMu.Lock()
	defer u.viewMu.Unlock()
	for {
		next := min(off, u.pending)
		for i := len(u.views) - 1; i >= 0 && u.views[i].at > off; i-- {
			next = min(next, u.views[i].confirmsFrom)
		}
		if next == off {
			return off
		}
		off = next // an earlier view confirms less: check again
	}
}

// publish updates safe after a batch: the first record still to be
// confirmed by stage 1, or next (the offset after the last record read)
// when there is none.
func (u *upstream) publish(next int64) {
	u.takeResume()
	safe := next
	for i := range u.parts {
		if s := u.parts[i].spans; len(s) > 0 {
			safe = min(safe, s[0].first)
		}
	}
	u.safe.Store(safe)
}

// ended reports whether the partition holds nothing more of this run:
// every source partition of a bounded source ended.
func (u *upstream) ended() bool {
	if !u.bounded || u.known < len(u.parts) {
		return false
	}
	for i := range u.parts {
		if !u.partEnded(i) {
			return false
		}
	}
	return true
}

// partEnded reports whether source partition i ended in this run: its
// owner reported it ended, and it is committed up to where this process's
// run of the source ends. A report of an earlier run of the group (a done
// marker, the last reports of its stage 1) says ended at an earlier end.
func (u *upstream) partEnded(i int) bool {
	p := &u.parts[i]
	if !p.ended {
		return false
	}
	if u.sourceEnds == nil {
		return true
	}
	if len(u.ends) == 0 || (u.live && len(u.ends) < len(u.parts)) {
		u.ends = u.sourceEnds()
	}
	end, ok := u.ends[int32(i)]
	return ok && p.committed >= end
}

// progress returns what the reader knows of every source partition, as a
// done marker carries it.
func (u *upstream) progress() []partProgress {
	ps := make([]partProgress, 0, len(u.parts))
	for i := range u.parts {
		p := &u.parts[i]
		pp := partProgress{partition: int32(i), watermark: p.watermark, committed: p.committed}
		if p.ended {
			pp.flags |= progressEnded
		}
		ps = append(ps, pp)
	}
	return ps
}

// watermark is the partition's watermark, computed as the job computes
// its own over source partitions: the minimum over the source partitions
// that are neither ended nor idle, or the maximum when none is active. It
// is false until every source partition was reported, so that none is
// passed before its first report.
func (u *upstream) watermark() (int64, bool) {
	u.takeResume()
	if u.known < len(u.parts) {
		return 0, false
	}
	active, passive, any := int64(math.MaxInt64), int64(noWatermark), false
	for i := range u.parts {
		p := &u.parts[i]
		if p.idle || u.partEnded(i) {
			passive = max(passive, p.watermark)
			continue
		}
		any = true
		active = min(active, p.watermark)
	}
	if any {
		return active, true
	}
	return passive, true
}

// A view is what a stage-2 reader knew of every source partition once it
// had read up to at: each one reported, as the last report before at said
// it (its highest watermark and committed offset, idle, ended). A
// checkpoint records the view at its committed offset, so that a replay
// from there starts with the watermark the run before had at the same
// place, and, reading the same reports after it, follows that run's
// watermark record by record. Without it the replay knew no watermark
// until every source partition had reported again, and then only what the
// reports after its committed offset said: a source partition idle since
// a pause, or one whose owner reports rarely, weighed differently, windows
// fired at other records than in the run before, and a window it had
// written was written again with other rows.
type view struct {
	at    int64
	high  int64          // upstream.high
	parts []partProgress // the source partitions reported
	// until is the last offset the view holds for (the offset of the next
	// report): a replay from after it missed a report. -1: it holds up to
	// the next report, not read yet.
	until int64
	// confirmsFrom is, for a view the reader keeps, the offset of the first
	// record of the spans it is the first to confirm (stage 1 reported
	// them committed upstream in the report before it), noSpan for none:
	// a commit whose view comes before it must not pass that record
	// (commitOffset). Under upstream.viewMu.
	confirmsFrom int64
}

// maxViews bounds the views a reader keeps (a view changes with each
// report that moves a watermark or a committed offset, 10 times a second
// per stage-1 process): past it the second oldest goes, so the oldest (the
// one before the commit) stays, with a gap after it.
const maxViews = 128

// keepView records the reader's view after the report before at.
func (u *upstream) keepView(at int64) {
	v := &view{at: at, high: u.high, until: -1, confirmsFrom: noSpan}
	for i := range u.parts {
		p := &u.parts[i]
		if !p.known {
			continue
		}
		pp := partProgress{partition: int32(i), watermark: p.watermark, committed: p.committed}
		if p.idle {
			pp.flags |= progressIdle
		}
		if p.ended {
			pp.flags |= progressEnded
		}
		v.parts = append(v.parts, pp)
	}
	u.viewMu.Lock()
	defer u.viewMu.Unlock()
	k := len(u.views)
	if k > 0 && u.views[k-1].until < 0 {
		if last := u.views[k-1]; last.high == v.high && slices.Equal(last.parts, v.parts) {
			return // nothing changed (a pause): the last one holds on
		}
		u.views[k-1].until = at - 1
	}
	v.confirmsFrom, u.pending = u.pending, noSpan
	if len(u.views) >= maxViews {
		// the second oldest goes (maxViews > 2: one follows it): what it
		// was the first to confirm, the one after it is now
		u.views[2].confirmsFrom = min(u.views[2].confirmsFrom, u.views[1].confirmsFrom)
		u.views = slices.Delete(u.views, 1, 2)
	}
	u.views = append(u.views, v)
}

// viewAt returns the view to record with a commit at offset off: the last
// one before it, exactly as the reader knew its source partitions at off.
// One that misses a report before off (kept with a gap after it) is made
// safe: its idle source partitions count as active, so that a replay from
// it never has a higher watermark than the run before. The views before
// it go: commits only move forward. Nil when there is none.
func (u *upstream) viewAt(off int64) *view {
	u.viewMu.Lock()
	defer u.viewMu.Unlock()
	k := -1
	for i, v := range u.views {
		if v.at > off {
			break
		}
		k = i
	}
	if k < 0 {
		return nil
	}
	// the views before it go, and what it confirms every later commit's
	// view confirms too
	u.views = u.views[k:]
	v := u.views[0]
	v.confirmsFrom = noSpan
	if v.until < 0 || off <= v.until {
		return v
	}
	stale := &view{at: v.at, high: v.high, until: v.until, parts: slices.Clone(v.parts)}
	for i := range stale.parts {
		stale.parts[i].flags &^= progressIdle
	}
	return stale
}

// resumeFrom starts the reader with the view a checkpoint recorded at the
// offset it resumes from: commits record it until the reader reports
// otherwise, and the reader takes it in before its first record. Call it
// before the reader gets records.
func (u *upstream) resumeFrom(v *view) {
	v = &view{at: v.at, high: v.high, parts: v.parts, until: -1, confirmsFrom: noSpan}
	u.viewMu.Lock()
	u.views = []*view{v}
	u.viewMu.Unlock()
	u.resume.Store(v)
}

// takeResume takes in the view the partition resumes from, if any; in the
// reader's goroutine.
func (u *upstream) takeResume() {
	if u.resume.Load() == nil {
		return
	}
	v := u.resume.Swap(nil)
	for _, p := range v.parts {
		u.report(p)
	}
	u.high = max(u.high, v.high)
}

// maxViewBytes bounds a view's encoding in a commit's metadata (brokers
// keep 4096 bytes by default, offset.metadata.max.bytes): a larger one is
// left out, and a replay knows its watermark once every source partition
// reported again.
const maxViewBytes = 3000

// encodeView returns v's encoding for a commit's metadata, watermarks as
// differences from base, or "" when it would be too long.
func encodeView(v *view, base int64) string {
	if v == nil {
		return ""
	}
	if base == noWatermark {
		base = 0
	}
	b := binary.AppendVarint(nil, v.at)
	b = appendViewWatermark(b, v.high, base)
	b = binary.AppendUvarint(b, uint64(len(v.parts)))
	for _, p := range v.parts {
		b = binary.AppendUvarint(b, uint64(p.partition))
		b = append(b, p.flags)
		b = appendViewWatermark(b, p.watermark, base)
		b = binary.AppendUvarint(b, uint64(p.committed+1))
	}
	s := base64.RawURLEncoding.EncodeToString(b)
	if len(s) > maxViewBytes {
		return ""
	}
	return s
}

// appendViewWatermark appends wm as a difference from base, after a byte
// saying whether there is one.
func appendViewWatermark(b []byte, wm, base int64) []byte {
	if wm == noWatermark {
		return append(b, 0)
	}
	return binary.AppendVarint(append(b, 1), wm-base)
}

// viewWatermark reads appendViewWatermark's encoding.
func viewWatermark(b []byte, base int64) (int64, []byte, error) {
	if len(b) == 0 || b[0] > 1 {
		return 0, b, errCorrupt
	}
	if b[0] == 0 {
		return noWatermark, b[1:], nil
	}
	d, n := binary.Varint(b[1:])
	if n <= 0 {
		return 0, b, errCorrupt
	}
	return base + d, b[1+n:], nil
}

// decodeView reads encodeView's encoding.
func decodeView(s string, base int64) (*view, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, errCorrupt
	}
	if base == noWatermark {
		base = 0
	}
	at, n := binary.Varint(b)
	if n <= 0 {
		return nil, errCorrupt
	}
	b = b[n:]
	high, b, err := viewWatermark(b, base)
	if err != nil {
		return nil, err
	}
	count, n := binary.Uvarint(b)
	if n <= 0 || count > uint64(len(b)) {
		return nil, errCorrupt
	}
	b = b[n:]
	v := &view{at: at, high: high, until: -1, parts: make([]partProgress, 0, count)}
	for range count {
		part, n := binary.Uvarint(b)
		if n <= 0 || part > math.MaxInt32 || len(b) == n {
			return nil, errCorrupt
		}
		p := partProgress{partition: int32(part), flags: b[n]}
		if p.watermark, b, err = viewWatermark(b[n+1:], base); err != nil {
			return nil, err
		}
		c, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errCorrupt
		}
		p.committed, b = int64(c)-1, b[n:]
		v.parts = append(v.parts, p)
	}
	if len(b) > 0 {
		return nil, errCorrupt
	}
	return v, nil
}

package job

import (
	"errors"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/sluicesql/sluice/record"
)

// fakeProgram is a small hand-written query engine used to test the
// coordinator independently of exec. Input columns: k (string), v (int),
// ts (timestamp). Modes:
//
//	pass:   WHERE v % 3 <> 0, emits (k, v, offset, partition) per record
//	group:  GROUP BY k: (k, count, sum), emitted at Finish
//	window: GROUP BY k, tumbling window of `size` ms on ts: (k, count, sum, start)
//
// A record with k = "bad" fails evaluation and is dead-lettered.
type fakeProgram struct {
	mode    string
	size    int64
	ordered bool
	limit   int64
	// advances counts Advance calls per worker pipeline, by creation order
	mu       sync.Mutex
	advances []*atomic.Int64
}

var fakeIn = record.NewSchema("k", "v", "ts")

func (p *fakeProgram) InputSchema() *record.Schema { return fakeIn }
func (p *fakeProgram) OutputSchema() *record.Schema {
	switch p.mode {
	case "pass":
		return record.NewSchema("k", "v", "offset", "partition")
	case "group":
		return record.NewSchema("k", "count", "sum")
	}
	return record.NewSchema("k", "count", "sum", "start")
}
func (p *fakeProgram) KeySlots() []int { return []int{0} }
func (p *fakeProgram) EventTime(r *record.Record) (int64, bool) {
	if r.Values[2].IsNull() {
		return 0, false
	}
	return r.Values[2].Millis(), true
}
func (p *fakeProgram) Windowed() bool { return p.mode == "window" }
func (p *fakeProgram) Ordered() bool  { return p.ordered }
func (p *fakeProgram) Less(a, b *record.Record) bool {
	if a.Values[0].Str() != b.Values[0].Str() {
		return a.Values[0].Str() < b.Values[0].Str()
	}
	return a.Values[1].Int() < b.Values[1].Int()
}
func (p *fakeProgram) Limit() (int64, bool) { return p.limit, p.limit > 0 }
func (p *fakeProgram) NewPipeline() Pipeline {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := &atomic.Int64{}
	p.advances = append(p.advances, n)
	return &fakePipe{p: p, groups: map[int64]map[string]*agg{}, held: map[tp]map[int64]int64{}, wm: noWatermark, advances: n}
}

type agg struct{ count, sum int64 }

type tp struct {
	topic string
	part  int32
}

type fakePipe struct {
	p        *fakeProgram
	stats    Stats
	groups   map[int64]map[string]*agg // window start (0 for group) -> key -> agg
	held     map[tp]map[int64]int64    // source partition -> window start -> min offset
	wm       int64
	out      []record.Record
	advances *atomic.Int64
}

func (f *fakePipe) Process(recs []record.Record, out Output) {
	f.out = f.out[:0]
	for i := range recs {
		r := &recs[i]
		f.stats.In++
		k := r.Values[0].Str()
		if k == "bad" {
			f.stats.DeadLettered++
			out.DeadLetter(r, errors.New("fake: bad key"))
			continue
		}
		v := r.Values[1].Int()
		switch f.p.mode {
		case "pass":
			if v%3 == 0 {
				f.stats.Filtered++
				continue
			}
			f.stats.Accepted++
			f.out = append(f.out, record.Record{Values: []record.Value{r.Values[0], r.Values[1],
				record.IntValue(r.Offset), record.IntValue(int64(r.Partition))}})
		default:
			var start int64
			if f.p.mode == "window" {
				et := r.EventTime
				if !r.HasEventTime {
					// the job leaves a stamp equal to the timestamp out
					if et = r.Timestamp; et != r.Values[2].Millis() {
						panic("fake: record without its event time stamp")
					}
				}
				start = et - et%f.p.size
				if start+f.p.size <= max(f.wm, r.Watermark) {
					f.stats.LateDropped++
					continue
				}
			}
			f.stats.Accepted++
			g := f.groups[start]
			if g == nil {
				g = map[string]*agg{}
				f.groups[start] = g
			}
			a := g[k]
			if a == nil {
				a = &agg{}
				g[k] = a
			}
			a.count++
			a.sum += v
			key := tp{r.Topic, r.Partition}
			h := f.held[key]
			if h == nil {
				h = map[int64]int64{}
				f.held[key] = h
			}
			if o, ok := h[start]; !ok || r.Offset < o {
				h[start] = r.Offset
			}
		}
	}
	if len(f.out) > 0 {
		out.Emit(f.out)
	}
}

func (f *fakePipe) fire(upTo int64, all bool, out Output) {
	var starts []int64
	for s := range f.groups {
		if all || s+f.p.size <= upTo {
			starts = append(starts, s)
		}
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i] < starts[j] })
	f.out = f.out[:0]
	for _, s := range starts {
		for k, a := range f.groups[s] {
			row := []record.Value{record.StringValue(k), record.IntValue(a.count), record.IntValue(a.sum)}
			if f.p.mode == "window" {
				row = append(row, record.TimestampValue(s))
			}
			f.out = append(f.out, record.Record{Values: row})
		}
		delete(f.groups, s)
		for _, h := range f.held {
			delete(h, s)
		}
	}
	if len(f.out) > 0 {
		out.Emit(f.out)
	}
}

func (f *fakePipe) Advance(wm int64, out Output) {
	if wm <= f.wm {
		panic("fake: watermark went back")
	}
	f.wm = wm
	f.advances.Add(1)
	if f.p.mode == "window" {
		f.fire(wm, false, out)
	}
}

func (f *fakePipe) Finish(out Output) {
	if f.p.mode != "pass" {
		f.fire(0, true, out)
	}
}

func (f *fakePipe) Stats() Stats { return f.stats }

func (f *fakePipe) Held(fn func(string, int32, int64)) {
	for key, h := range f.held {
		first := true
		var m int64
		for _, o := range h {
			if first || o < m {
				m, first = o, false
			}
		}
		if !first {
			fn(key.topic, key.part, m)
		}
	}
}

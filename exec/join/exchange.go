package join

import (
	"math"
	"sync"

	"github.com/sluicesql/sluice/exec"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/partition"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// An exchange re-routes rows between the workers before a stream-stream
// join whose key is not the one the rows were routed by (a chain of joins
// on different keys, as Flink's exchanges between join operators): each
// worker sends a row to the worker that owns its key there, in the key
// groups the job's routing uses, so the join's other input (routed by the
// job on the same key) meets it there.
//
// Watermarks travel with the rows: after sending what it emitted, a worker
// sends every other worker a mark, the watermark of what it will still
// send, and a worker takes each sender's rows and marks in the order they
// were sent. A join after an exchange moves to the lowest mark of all
// senders, so it never drops a row that a row still on its way could
// match. At the end of a bounded input every worker sends a last mark and
// waits for everyone's before it ends the join.

// exchangeSet makes the exchanges of a Program: the workers of one run
// share one exchange.
type exchangeSet struct {
	n, m   int     // workers; the routing key's width (0: the whole join key)
	assign []int32 // key group -> worker
	stages int     // the stream-stream joins, then the query after them
	// final are the keys the rows of the last join are re-routed on
	// before the query after the joins; nil: they stay
	final []expr.Func

	mu  sync.Mutex
	cur *exchange // the exchange new workers join
}

// exchange is the exchange of one run's workers.
type exchange struct {
	xs     *exchangeSet
	joined int // workers so far

	mu   sync.Mutex
	cond *sync.Cond
	// boxes[k][to][from] are the items sent to worker `to` for join k, in
	// the order worker `from` sent them
	boxes   [][][][]item
	aborted bool
}

// item is a batch of rows or a mark.
type item struct {
	rows   []record.Record // their values are the item's own
	sides  []int8
	mark   int64
	isMark bool
}

// member is one worker's end of an exchange.
type member struct {
	x  *exchange
	id int
	// pending[k][to] are rows for worker `to` at join k not yet sent
	pending [][]item
	// marks[k][from] is the latest mark taken from worker `from` for join k
	marks [][]int64
	// sent are the smallest offsets of the rows sent since Held last
	// asked, by source partition: until the receiver holds them, the
	// sender reports them
	sent map[heldKey]int64
	vals []record.Value
	key  []record.Value
}

type heldKey struct {
	topic     string
	partition int32
}

// pendingBatch is the number of rows sent at once.
const pendingBatch = 256

// SetExchange makes the workers exchange rows before each stream-stream
// join k with keys[k] set (never the first): the rows of the joins before
// it are hashed on keys[k][0], its stream's on keys[k][1] (expressions as
// the planner wrote them; a join whose rows are already routed on its key
// has them too, so that its stream's records, which the job may route by
// source partition, reach the worker of their key), their values cut or padded with NULLs to m (the
// width of the streams' routing key, RoutingKey, so that the job routes
// the stream's records to the worker the exchange would), and a row goes
// to the worker that owns its key group among n. n == 1 keeps every row
// on worker 0. final, when set, re-routes the last join's rows on these
// keys (over the joined row) before the query after the joins, whose
// groups need them together. Call it before the first pipeline is made.
func (p *Program) SetExchange(keys [][2][]sql.Expr, final []sql.Expr, n, m int) error {
	p.x = nil
	scope := &expr.Scope{Schema: p.stream}
	finals, err := p.RowKey(final)
	if err != nil {
		return err
	}
	for k, iv := range p.ivs {
		iv.exchange, iv.xkeys = false, [2][]expr.Func{}
		if k == 0 || k >= len(keys) || keys[k][0] == nil {
			continue
		}
		for s := range 2 {
			for _, e := range keys[k][s] {
				f, err := p.c.compile(e, scope)
				if err != nil {
					return err
				}
				iv.xkeys[s] = append(iv.xkeys[s], f)
			}
		}
		iv.exchange = true
	}
	exchanged := finals != nil
	for _, iv := range p.ivs {
		exchanged = exchanged || iv.exchange
	}
	if exchanged {
		n = max(n, 1)
		p.x = &exchangeSet{n: n, m: m, assign: partition.Assignment(n), stages: len(p.ivs) + 1, final: finals}
	}
	return nil
}

// Abort wakes the workers waiting at the end of a run for rows that will
// not come: the run stopped.
func (p *Program) Abort() {
	if p.x == nil {
		return
	}
	p.x.mu.Lock()
	x := p.x.cur
	p.x.mu.Unlock()
	if x != nil {
		x.mu.Lock()
		x.aborted = true
		x.cond.Broadcast()
		x.mu.Unlock()
	}
}

// join makes a new pipeline a member of the current run's exchange: the
// job makes its n pipelines one after another, worker 0 first.
func (xs *exchangeSet) join() *member {
	xs.mu.Lock()
	defer xs.mu.Unlock()
	if xs.cur == nil || xs.cur.joined == xs.n {
		x := &exchange{xs: xs, boxes: make([][][][]item, xs.stages)}
		x.cond = sync.NewCond(&x.mu)
		for k := range x.boxes {
			x.boxes[k] = make([][][]item, xs.n)
			for to := range x.boxes[k] {
				x.boxes[k][to] = make([][]item, xs.n)
			}
		}
		xs.cur = x
	}
	x := xs.cur
	m := &member{x: x, id: x.joined, sent: map[heldKey]int64{}}
	x.joined++
	m.pending = make([][]item, xs.stages)
	m.marks = make([][]int64, xs.stages)
	for k := range m.pending {
		m.pending[k] = make([]item, xs.n)
		m.marks[k] = make([]int64, xs.n)
		for from := range m.marks[k] {
			m.marks[k][from] = math.MinInt64
		}
	}
	return m
}

// final returns the keys the last join's rows are re-routed on before the
// query after the joins (nil: they stay).
func (m *member) final() []expr.Func { return m.x.xs.final }

// dest returns the worker that owns a key: a join's (its values cut or
// padded to the routing key's width), or the final exchange's (pad false).
func (m *member) dest(vals []record.Value, pad bool) int {
	xs := m.x.xs
	if xs.n == 1 {
		return 0
	}
	if pad && xs.m > 0 {
		key := m.key[:0]
		for i := range xs.m {
			if i < len(vals) {
				key = append(key, vals[i])
			} else {
				key = append(key, record.NullValue())
			}
		}
		m.key, vals = key, key
	}
	return int(xs.assign[partition.KeyGroup(vals)])
}

// send queues r, a row for side s of join k, for the worker that owns its
// key there, and reports true; false when that is this worker, which joins
// it at once.
func (m *member) send(iv *interval, s int, r *record.Record) bool {
	return m.sendOn(iv.k, s, r, iv.xkeys[s], true)
}

// sendOn queues r for exchange k hashed on keys, or reports false when
// this worker owns it.
func (m *member) sendOn(k, s int, r *record.Record, keys []expr.Func, pad bool) bool {
	vals := m.vals[:0]
	for _, f := range keys {
		v, err := f(r)
		if err != nil {
			v = record.NullValue() // the query finds the error again
		}
		vals = append(vals, v)
	}
	m.vals = vals
	to := m.dest(vals, pad)
	if to == m.id {
		return false
	}
	b := &m.pending[k][to]
	rec := *r
	rec.Values = append([]record.Value(nil), r.Values...)
	rec.Headers = nil
	b.rows = append(b.rows, rec)
	b.sides = append(b.sides, int8(s))
	if r.Offset >= 0 {
		hk := heldKey{r.Topic, r.Partition}
		if o, ok := m.sent[hk]; !ok || r.Offset < o {
			m.sent[hk] = r.Offset
		}
	}
	if len(b.rows) >= pendingBatch {
		m.flushTo(k, to)
	}
	return true
}

// flush sends the rows queued for join k.
func (m *member) flush(k int) {
	for to := range m.pending[k] {
		if len(m.pending[k][to].rows) > 0 {
			m.flushTo(k, to)
		}
	}
}

func (m *member) flushTo(k, to int) {
	b := m.pending[k][to]
	m.pending[k][to] = item{}
	x := m.x
	x.mu.Lock()
	x.boxes[k][to][m.id] = append(x.boxes[k][to][m.id], b)
	x.cond.Broadcast()
	x.mu.Unlock()
}

// mark sends the rows queued for join k, then the mark w to every worker:
// this worker sends no row for join k older than w any more.
func (m *member) mark(k int, w int64) {
	m.flush(k)
	m.marks[k][m.id] = w
	x := m.x
	x.mu.Lock()
	for to := range x.boxes[k] {
		if to != m.id {
			x.boxes[k][to][m.id] = append(x.boxes[k][to][m.id], item{mark: w, isMark: true})
		}
	}
	x.cond.Broadcast()
	x.mu.Unlock()
}

// low returns the watermark of join k's rows: the lowest mark taken.
func (m *member) low(k int) int64 {
	w := int64(math.MaxInt64)
	for _, mk := range m.marks[k] {
		w = min(w, mk)
	}
	return w
}

// receive joins the rows sent to this worker for join k and takes the
// marks. Waiting, it returns only once every worker's last mark came (or
// the run stopped).
func (m *member) receive(pl *Pipeline, k int, out exec.Output, wait bool) {
	x := m.x
	var got [][]item
	for {
		x.mu.Lock()
		for wait && !x.aborted && !m.ended(k) && !m.waiting(k) {
			x.cond.Wait()
		}
		if x.aborted {
			x.mu.Unlock()
			return
		}
		got = append(got[:0], x.boxes[k][m.id]...)
		for from := range x.boxes[k][m.id] {
			x.boxes[k][m.id][from] = nil
		}
		x.mu.Unlock()
		for from, items := range got {
			for _, it := range items {
				if it.isMark {
					m.marks[k][from] = max(m.marks[k][from], it.mark)
					continue
				}
				for i := range it.rows {
					pl.arrive(k, int(it.sides[i]), &it.rows[i], out)
				}
			}
		}
		if !wait || m.ended(k) {
			return
		}
	}
}

// ended reports whether every worker sent its last mark for join k.
func (m *member) ended(k int) bool {
	return m.low(k) == math.MaxInt64
}

// waiting reports whether items for join k wait for this worker (x.mu held).
func (m *member) waiting(k int) bool {
	for _, items := range m.x.boxes[k][m.id] {
		if len(items) > 0 {
			return true
		}
	}
	return false
}

// held reports the offsets of the rows on their way: those sent to this
// worker not yet taken, and those it sent since it was last asked (their
// receiver may have taken them after it answered).
func (m *member) held(fn func(topic string, partition int32, minOffset int64)) {
	mins := m.sent
	m.sent = map[heldKey]int64{}
	x := m.x
	x.mu.Lock()
	for k := range x.boxes {
		for _, items := range x.boxes[k][m.id] {
			for _, it := range items {
				for i := range it.rows {
					r := &it.rows[i]
					if r.Offset < 0 {
						continue
					}
					hk := heldKey{r.Topic, r.Partition}
					if o, ok := mins[hk]; !ok || r.Offset < o {
						mins[hk] = r.Offset
					}
				}
			}
		}
	}
	x.mu.Unlock()
	for hk, o := range mins {
		fn(hk.topic, hk.partition, o)
	}
}

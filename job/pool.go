package job

import (
	"sync"

	"github.com/sluicesql/sluice/record"
)

// batchPool is a bounded free list of record batches. A batch travels from
// an ingest goroutine to a worker and back here, keeping its records and
// their Values storage, so steady state allocates no batches. It is a stack:
// the most recently returned batch, still warm in the caches, is reused first.
type batchPool struct {
	mu   sync.Mutex
	free []*record.Batch
	max  int
}

func newBatchPool(n int) *batchPool { return &batchPool{max: n} }

// get returns an empty batch, reused when one is free.
func (p *batchPool) get(capacity int) *record.Batch {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return b
	}
	p.mu.Unlock()
	return &record.Batch{Records: make([]record.Record, 0, capacity)}
}

// put returns b to the free list; its records keep their storage unless
// it was borrowed from a source.
func (p *batchPool) put(b *record.Batch) {
	b.Reset()
	p.mu.Lock()
	if len(p.free) < p.max {
		p.free = append(p.free, b)
	}
	p.mu.Unlock()
}

// rowBuf is a worker's buffer of output rows, owned by one goroutine at a
// time: filled by a worker, written by the emitter, then recycled.
type rowBuf struct{ rows []record.Record }

// add deep-copies rows (valid only during Emit) into the buffer, reusing
// the Values storage of earlier rows.
func (b *rowBuf) add(rows []record.Record) {
	for i := range rows {
		n := len(b.rows)
		b.rows = record.Extend(b.rows)
		d := &b.rows[n]
		vals := append(d.Values[:0], rows[i].Values...)
		*d = rows[i]
		d.Values = vals
		d.Raw, d.Key, d.Headers = nil, nil, nil
	}
}

// rowPool is a bounded free list of row buffers.
type rowPool struct{ free chan *rowBuf }

func newRowPool(n int) *rowPool { return &rowPool{free: make(chan *rowBuf, n)} }

func (p *rowPool) get() *rowBuf {
	select {
	case b := <-p.free:
		return b
	default:
		return &rowBuf{}
	}
}

func (p *rowPool) put(b *rowBuf) {
	b.rows = b.rows[:0]
	select {
	case p.free <- b:
	default:
	}
}

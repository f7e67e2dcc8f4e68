package analytic

import "github.com/sluicesql/sluice/record"

// ring holds the last size elements pushed. Its storage grows with the
// elements actually pushed, so a large frame costs memory only as rows
// arrive. Elements are in push order starting at head.
type ring[T any] struct {
	buf  []T
	head int
}

// push adds v. Once size elements are held it evicts and returns the
// oldest one, with full set.
func (q *ring[T]) push(v T, size int) (old T, full bool) {
	if len(q.buf) < size {
		q.buf = append(q.buf, v)
		return old, false
	}
	old = q.buf[q.head]
	q.buf[q.head] = v
	q.head++
	if q.head == len(q.buf) {
		q.head = 0
	}
	return old, true
}

// entry is a frame value with its row number in the partition.
type entry struct {
	seq int64
	v   record.Value
}

// deque is a double-ended queue of entries in a circular buffer, grown on
// demand up to the frame size.
type deque struct {
	buf     []entry
	head, n int
}

func (d *deque) front() *entry { return &d.buf[d.head] }

func (d *deque) back() *entry {
	i := d.head + d.n - 1
	if i >= len(d.buf) {
		i -= len(d.buf)
	}
	return &d.buf[i]
}

func (d *deque) popFront() {
	d.buf[d.head] = entry{}
	d.head++
	if d.head == len(d.buf) {
		d.head = 0
	}
	d.n--
}

func (d *deque) popBack() {
	*d.back() = entry{}
	d.n--
}

// pushBack appends e; the deque then holds at most limit entries (the
// caller never exceeds it), which bounds its storage.
func (d *deque) pushBack(e entry, limit int) {
	if d.n == len(d.buf) {
		buf := make([]entry, min(max(4, 2*len(d.buf)), limit))
		for i := range d.n {
			j := d.head + i
			if j >= len(d.buf) {
				j -= len(d.buf)
			}
			buf[i] = d.buf[j]
		}
		d.buf, d.head = buf, 0
	}
	i := d.head + d.n
	if i >= len(d.buf) {
		i -= len(d.buf)
	}
	d.buf[i] = e
	d.n++
}

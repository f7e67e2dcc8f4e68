package join

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/record"
)

// offsetLister is implemented by sources that list their partitions'
// offsets when they open (Kafka): a table is bootstrapped once every
// partition has been read up to the end offset it had then.
type offsetLister interface {
	Offsets() (starts, ends map[int32]int64)
}

// Loader reads a table source into its Table: first up to what the source
// held when it opened (the bootstrap), then, for a source that goes on
// (Kafka), every later update while the job runs. A message without a value
// (a tombstone) deletes its key.
type Loader struct {
	t      *Table
	src    connector.Source
	next   connector.DeadLetters
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	tombs     map[int32][]tombstone // per partition: tombstones not yet applied
	ends      map[int32]int64       // bootstrap end offsets (offsetLister)
	behind    map[int32]bool        // partitions still bootstrapping
	listed    bool                  // readers' channel closed: every partition is known
	open      int                   // readers still reading
	caughtUp  chan struct{}
	caughtErr error
	done      bool
	records   int64
	dead      int64
}

// tombstone is a message with no value that deletes its key's row: its
// offset and the encoded keys it names (Table.tombstoneKeys).
type tombstone struct {
	offset int64
	keys   [][]byte
}

// Load opens src with the table's schema and starts reading it in the
// background. Dead letters that are not tombstones go to dlq.
func Load(ctx context.Context, t *Table, src connector.Source, dlq connector.DeadLetters) (*Loader, error) {
	l := &Loader{t: t, src: src, next: dlq, tombs: map[int32][]tombstone{}, behind: map[int32]bool{},
		caughtUp: make(chan struct{})}
	if sq, ok := src.(connector.Sequenced); ok && sq.Sequenced() {
		t.KeepSourceOrder()
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	l.cancel = cancel
	readers, err := src.Open(rctx, t.schema, l)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("table %s: open: %w", t.name, err)
	}
	if ol, ok := src.(offsetLister); ok {
		starts, ends := ol.Offsets()
		l.ends = ends
		for p, end := range ends {
			if end > starts[p] {
				l.behind[p] = true
			}
		}
		l.listed = true
		l.checkLocked()
	}
	l.wg.Add(1)
	go l.accept(rctx, readers)
	return l, nil
}

// Estimate returns how many rows the table will hold at most after its
// bootstrap when the source could tell before reading (the messages its
// partitions held), else -1.
func (l *Loader) Estimate() int64 {
	ol, ok := l.src.(offsetLister)
	if !ok {
		return -1
	}
	starts, ends := ol.Offsets()
	var n int64
	for p, e := range ends {
		n += max(e-starts[p], 0)
	}
	return n
}

// accept starts a goroutine per partition reader.
func (l *Loader) accept(ctx context.Context, readers <-chan connector.PartitionReader) {
	defer l.wg.Done()
	for {
		select {
		case rd, ok := <-readers:
			if !ok {
				l.mu.Lock()
				if !l.listed {
					l.listed = true
					l.checkLocked()
				}
				l.mu.Unlock()
				return
			}
			l.mu.Lock()
			l.open++
			if l.ends == nil {
				l.behind[rd.Partition()] = true
			}
			l.mu.Unlock()
			l.wg.Add(1)
			go l.read(ctx, rd)
		case <-ctx.Done():
			return
		}
	}
}

// read applies one partition's records and tombstones in offset order.
func (l *Loader) read(ctx context.Context, rd connector.PartitionReader) {
	defer l.wg.Done()
	defer rd.Close()
	p := rd.Partition()
	b := &record.Batch{}
	for {
		err := rd.Next(ctx, b, 1024)
		l.apply(p, b.Records)
		if pos, ok := rd.(connector.Positioner); ok && l.ends != nil {
			if end, ok := l.ends[p]; ok && pos.Position() >= end {
				l.reached(p, nil)
			}
		}
		switch {
		case errors.Is(err, io.EOF):
			l.mu.Lock()
			l.open--
			l.mu.Unlock()
			l.reached(p, nil)
			return
		case err != nil:
			if ctx.Err() == nil {
				l.reached(p, fmt.Errorf("table %s partition %d: %w", l.t.name, p, err))
			}
			return
		}
	}
}

// apply stores recs and the partition's pending tombstones, by offset.
func (l *Loader) apply(p int32, recs []record.Record) {
	l.mu.Lock()
	tombs := l.tombs[p]
	delete(l.tombs, p)
	l.records += int64(len(recs))
	l.mu.Unlock()
	sort.SliceStable(tombs, func(i, j int) bool { return tombs[i].offset < tombs[j].offset })
	i := 0
	for k := range recs {
		for i < len(tombs) && tombs[i].offset < recs[k].Offset {
			l.t.deleteKeys(tombs[i].keys)
			i++
		}
		l.t.Apply(&recs[k])
	}
	for ; i < len(tombs); i++ {
		l.t.deleteKeys(tombs[i].keys)
	}
}

// reached marks partition p as bootstrapped (or failed).
func (l *Loader) reached(p int32, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil && l.caughtErr == nil {
		l.caughtErr = err
	}
	delete(l.behind, p)
	l.checkLocked()
}

func (l *Loader) checkLocked() {
	if l.done || !l.listed || (len(l.behind) > 0 && l.caughtErr == nil) {
		return
	}
	l.done = true
	close(l.caughtUp)
}

// Add takes the source's dead letters: a message with no value is a
// tombstone, applied in its partition's order; others go on to the DLQ,
// as does a tombstone the table cannot apply (no message key, a key of
// several columns, a message key that is no value of the key column's
// type), as an upsert whose key does not fit its column does.
func (l *Loader) Add(d connector.DeadLetter) {
	if raw := bytes.TrimSpace(d.Raw); (len(raw) == 0 || string(raw) == "null") && d.Key != nil {
		keys, err := l.t.tombstoneKeys(d.Key)
		if err == nil {
			l.mu.Lock()
			l.tombs[d.Partition] = append(l.tombs[d.Partition], tombstone{d.Offset, keys})
			l.mu.Unlock()
			return
		}
		d.Tombstone = false // a dead letter now
		d.Reason += ": " + err.Error()
	}
	l.mu.Lock()
	l.dead++
	l.mu.Unlock()
	if l.next != nil {
		if d.Tombstone {
			// one without a message key is a dead letter
			d.Tombstone = false
			d.Reason += fmt.Sprintf(": table %s deletes by a message key holding its one key column's text, and the message has no key", l.t.name)
		}
		l.next.Add(d)
	}
}

// Wait blocks until the bootstrap is complete: every partition read up to
// where it ended when the source opened (a bounded source: to its end).
func (l *Loader) Wait(ctx context.Context) error {
	select {
	case <-l.caughtUp:
	case <-ctx.Done():
		return ctx.Err()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.caughtErr
}

// Complete reports whether every reader has ended: the table can no
// longer change.
func (l *Loader) Complete() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.done && l.listed && l.open == 0 && l.caughtErr == nil
}

// Stats returns the table records read and the dead letters (tombstones
// excluded) so far.
func (l *Loader) Stats() (records, dead int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.records, l.dead
}

// Close stops following the source and closes it.
func (l *Loader) Close() error {
	l.cancel()
	err := l.src.Close()
	l.wg.Wait()
	return err
}

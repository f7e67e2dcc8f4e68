package pipe

import (
	"cmp"
	"context"
	"slices"

	"github.com/sluicesql/sluice/record"
)

// A keyed stream whose writer's input ends (a GROUP BY over a bounded
// input) is read as one sorted partition once its writer has finished, as
// a batch job's blocking exchange is: by event time, then key, then the
// writer's order for one key. Read as it comes, the stream's partitions
// follow the writer's workers, so rows of equal event time (a window's
// results) would reach a reader in an order that depends on the writer's
// partition count and thread timing, and so would what the reader
// computes from that order (FIRST_VALUE, STRING_AGG, LAG, the late rows).

// sortedReader reads a sorted stream as its one partition.
type sortedReader struct {
	*reader
	rows []*record.Record // every row, sorted; nil until the writer ended
	next int
	keys []int // the stream's key slots
}

// collected waits until every partition was taken whole and sorts the
// rows; it reports false when it should be called again (ctx is not done).
func (sr *sortedReader) collected(ctx context.Context) (bool, error) {
	s := sr.s
	for _, pt := range s.parts {
		sr.timer.Reset(poll)
		select {
		case <-pt.holding:
		case <-ctx.Done():
			return false, ctx.Err()
		case <-sr.timer.C:
			return false, nil
		}
	}
	rows := []*record.Record{}
	for _, pt := range s.parts {
		for _, b := range pt.held {
			for i := range b.recs {
				rows = append(rows, &b.recs[i])
			}
		}
	}
	slices.SortStableFunc(rows, func(a, b *record.Record) int {
		if c := cmp.Compare(timeOf(a), timeOf(b)); c != 0 {
			return c
		}
		for _, k := range sr.keys {
			if c, err := record.Compare(a.Values[k], b.Values[k]); err == nil && c != 0 {
				return c
			}
		}
		return 0
	})
	sr.rows = rows
	s.mu.Lock()
	s.sortedRows = int64(len(rows))
	s.endedParts = len(s.parts)
	close(s.ended)
	s.mu.Unlock()
	return true, nil
}

// timeOf is r's event time, else its timestamp.
func timeOf(r *record.Record) int64 {
	if r.HasEventTime {
		return r.EventTime
	}
	return r.Timestamp
}

// Next implements connector.PartitionReader: nothing until the writer
// has ended, then the rows in order, numbered from 0.
func (sr *sortedReader) Next(ctx context.Context, b *record.Batch, max int) error {
	b.Source, b.Partition = sr.s.name, 0
	b.Reset()
	if sr.rows == nil {
		if ok, err := sr.collected(ctx); !ok {
			return err
		}
	}
	if sr.next == len(sr.rows) {
		return sr.atEnd(ctx)
	}
	n := min(max, len(sr.rows)-sr.next)
	sr.cur = sr.cur[:0]
	for _, r := range sr.rows[sr.next : sr.next+n] {
		sr.cur = append(sr.cur, *r)
		sr.cur[len(sr.cur)-1].Partition, sr.cur[len(sr.cur)-1].Offset = 0, int64(sr.next+len(sr.cur)-1)
	}
	sr.next += n
	sr.copyTo(b, sr.cur)
	sr.cur = sr.cur[:0]
	return nil
}

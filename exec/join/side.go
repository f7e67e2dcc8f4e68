package join

import (
	"context"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/record"
)

// SideSource reads input s of a stream-stream join into the joined row:
// its source decodes the input's own columns, which land at the side's
// offset, and the side slot says which input each row came from. It passes
// on what src says through the optional source interfaces
// (connector.Bounded, KeyChecker, Failer, and Checkpointer when src is one),
// so that a bounded run ends, a contradicted partition key or a failing
// source stops the job, and commits go through src's transaction.
func SideSource(src connector.Source, side Side, s int) connector.Source {
	ss := &sideSource{Wrapped: connector.Wrapped{Source: src}, side: side, tag: record.IntValue(int64(s))}
	if cp, ok := src.(connector.Checkpointer); ok {
		return &checkpointSideSource{sideSource: ss, Checkpointer: cp}
	}
	return ss
}

// checkpointSideSource is the side source of a source that commits its
// offsets in a transaction with the job's output.
type checkpointSideSource struct {
	*sideSource
	connector.Checkpointer
}

type sideSource struct {
	connector.Wrapped
	side Side
	tag  record.Value
}

// Open opens the input's source with its own columns.
func (s *sideSource) Open(ctx context.Context, _ *record.Schema, dlq connector.DeadLetters) (<-chan connector.PartitionReader, error) {
	in, err := s.Source.Open(ctx, s.side.Schema, dlq)
	if err != nil {
		return nil, err
	}
	// The readers the source hands out at once are there at once, so that
	// the job registers them before any partition is read (they hold the
	// watermark back from the start).
	out := make(chan connector.PartitionReader, 256)
	for len(out) < cap(out) {
		select {
		case rd, ok := <-in:
			if !ok {
				close(out)
				return out, nil
			}
			out <- &sideReader{PartitionReader: rd, s: s}
			continue
		default:
		}
		break
	}
	go func() {
		defer close(out)
		for rd := range in {
			select {
			case out <- &sideReader{PartitionReader: rd, s: s}:
			case <-ctx.Done():
				rd.Close()
			}
		}
	}()
	return out, nil
}

// Unwrap returns the input's own source.
func (s *sideSource) Unwrap() connector.Source { return s.Source }

var (
	_ connector.Bounded      = (*sideSource)(nil)
	_ connector.KeyChecker   = (*sideSource)(nil)
	_ connector.Failer       = (*sideSource)(nil)
	_ connector.Checkpointer = (*checkpointSideSource)(nil)
)

type sideReader struct {
	connector.PartitionReader
	s *sideSource
	// owned keeps, per batch the job lends this reader, the records it
	// copied a borrowed batch into last time, to copy into again: a batch
	// is this reader's while Next fills it, so its old records are free
	owned map[*record.Batch][]record.Record
}

// Next reads the next records and widens them into joined rows, reusing
// the storage of the batch's earlier records.
func (r *sideReader) Next(ctx context.Context, b *record.Batch, max int) error {
	err := r.PartitionReader.Next(ctx, b, max)
	n := len(b.Records)
	if n == 0 {
		return err
	}
	side := r.s.side
	if b.Borrowed { // the source's own records: copy them before changing them
		if r.owned == nil {
			r.owned = map[*record.Batch][]record.Record{}
		}
		own := r.owned[b]
		if cap(own) < n {
			own = append(own[:cap(own)], make([]record.Record, n-cap(own))...)
		}
		own = own[:n]
		var flat []record.Value // one allocation for the rows that have no storage yet
		for i := range own {
			if cap(own[i].Values) < side.Width {
				if flat == nil {
					flat = make([]record.Value, (n-i)*side.Width)
				}
				own[i].Values, flat = flat[:0:side.Width], flat[side.Width:]
			}
		}
		for i := range b.Records {
			vals := own[i].Values
			own[i] = b.Records[i]
			own[i].Values = widen(vals[:0], b.Records[i].Values, side, r.s.tag)
		}
		r.owned[b] = own
		b.Records, b.Borrowed = own, false
		return err
	}
	var flat []record.Value
	for i := range b.Records {
		rec := &b.Records[i]
		if cap(rec.Values) < side.Width {
			if flat == nil {
				flat = make([]record.Value, (n-i)*side.Width)
			}
			row := flat[:side.Width:side.Width]
			flat = flat[side.Width:]
			copy(row[side.Offset:], rec.Values)
			row[side.Slot] = r.s.tag
			rec.Values = row
			continue
		}
		rec.Values = widen(rec.Values, rec.Values, side, r.s.tag)
	}
	return err
}

// widen returns the joined row of an input's values: dst's storage when it
// is large enough (vals may be its own prefix), else new storage.
func widen(dst, vals []record.Value, side Side, tag record.Value) []record.Value {
	n := len(vals)
	if cap(dst) < side.Width {
		row := make([]record.Value, side.Width)
		copy(row[side.Offset:], vals)
		row[side.Slot] = tag
		return row
	}
	row := dst[:side.Width]
	copy(row[side.Offset:side.Offset+n], vals) // copy handles the overlap
	clear(row[:side.Offset])
	clear(row[side.Offset+n:])
	row[side.Slot] = tag
	return row
}

// Position forwards the reader's position (connector.Positioner), -1 when
// it has none.
func (r *sideReader) Position() int64 {
	if p, ok := r.PartitionReader.(connector.Positioner); ok {
		return p.Position()
	}
	return -1
}

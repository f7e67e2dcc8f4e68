package join

import (
	"context"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// SideSource reads input s of a stream-stream join into the joined row:
// its source decodes the input's own columns, which land at the side's
// offset, and the side slot says which input each row came from. It passes
// on what src says through the optional source interfaces
// (connector.Bounded, KeyChecker, Failer, and Checkpointer when src is one),
// so that a bounded run ends, a contradicted partition key or a failing
// source stops the job, and commits go through src's transaction.
func SideSource(src connector.Source, side Side, s int) connector.Source {
	return wrapSide(&sideSource{Wrapped: connector.Wrapped{Source: src}, side: side, tag: record.IntValue(int64(s))})
}

// wrapSide returns ss, as a Checkpointer when its source is one.
func wrapSide(ss *sideSource) connector.Source {
	if cp, ok := ss.Source.(connector.Checkpointer); ok {
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
	// joiner, when set, makes each reader's function that joins a widened
	// row with the tables as it is read
	joiner func() func(*record.Record)
}

// JoinAtSource reads the stream of a stream-table join into joined rows,
// looking its rows up in the tables as they are read, before routing: the
// rows can then be routed by a table's column (a GROUP BY after the join),
// an exchange after the join. A row the join drops or fails on is handed
// over as read, and the worker joins it again (finding the same: the
// tables must no longer change). The pipelines take joined rows as they
// are.
func (p *Program) JoinAtSource(src connector.Source) connector.Source {
	side := Side{Schema: p.stream, Width: p.width, Slot: -1}
	n := p.stream.Len()
	return wrapSide(&sideSource{Wrapped: connector.Wrapped{Source: src}, side: side, joiner: func() func(*record.Record) {
		var pr prober
		return func(r *record.Record) {
			if ok, err := pr.join(r, p.tables); err != nil || !ok {
				clear(r.Values[n:])
				r.Values = r.Values[:n]
			}
		}
	}})
}

// JoinedRoutingKey compiles routing keys over the joined row of a stream
// read by JoinAtSource (keys as the planner wrote them); a row handed over
// unjoined has a NULL key.
func (p *Program) JoinedRoutingKey(keys []sql.Expr) ([]expr.Func, error) {
	scope := &expr.Scope{Schema: p.Program.InputSchema()}
	var out []expr.Func
	for _, k := range keys {
		f, err := p.c.compile(k, scope)
		if err != nil {
			return nil, err
		}
		w := p.width
		out = append(out, func(r *record.Record) (record.Value, error) {
			if len(r.Values) < w {
				return record.NullValue(), nil
			}
			return f(r)
		})
	}
	return out, nil
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
			out <- s.reader(rd)
			continue
		default:
		}
		break
	}
	go func() {
		defer close(out)
		for rd := range in {
			select {
			case out <- s.reader(rd):
			case <-ctx.Done():
				rd.Close()
			}
		}
	}()
	return out, nil
}

// reader wraps one of the source's partition readers.
func (s *sideSource) reader(rd connector.PartitionReader) *sideReader {
	r := &sideReader{PartitionReader: rd, s: s}
	if s.joiner != nil {
		r.join = s.joiner()
	}
	return r
}

// Unwrap returns the input's own source.
func (s *sideSource) Unwrap() connector.Source { return s.Source }

var (
	_ connector.Bounded      = (*sideSource)(nil)
	_ connector.KeyChecker   = (*sideSource)(nil)
	_ connector.Failer       = (*sideSource)(nil)
	_ connector.Checkpointer = (*checkpointSideSource)(nil)
	_ connector.Fenced       = (*sideReader)(nil)
)

type sideReader struct {
	connector.PartitionReader
	s    *sideSource
	join func(*record.Record) // JoinAtSource's lookups; nil for a side
}

// Next reads the next records and widens them into joined rows, reusing
// the storage of the batch's earlier records. A batch is this reader's
// while Next fills it, so the records it owns are free: a source that
// lends its own records instead (record.Batch.Borrowed) has them copied
// into that storage, which then travels with the batch.
func (r *sideReader) Next(ctx context.Context, b *record.Batch, max int) error {
	var own []record.Record
	if !b.Borrowed {
		own = b.Records[:0]
	}
	err := r.PartitionReader.Next(ctx, b, max)
	n := len(b.Records)
	if n == 0 {
		return err
	}
	side := r.s.side
	if b.Borrowed { // the source's own records: copy them before changing them
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
		b.Records, b.Borrowed = own, false
		r.joinAll(b.Records)
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
			if side.Slot >= 0 {
				row[side.Slot] = r.s.tag
			}
			rec.Values = row
			continue
		}
		rec.Values = widen(rec.Values, rec.Values, side, r.s.tag)
	}
	r.joinAll(b.Records)
	return err
}

// joinAll joins widened rows with the tables (JoinAtSource).
func (r *sideReader) joinAll(recs []record.Record) {
	if r.join == nil {
		return
	}
	for i := range recs {
		r.join(&recs[i])
	}
}

// widen returns the joined row of an input's values: dst's storage when it
// is large enough (vals may be its own prefix), else new storage.
func widen(dst, vals []record.Value, side Side, tag record.Value) []record.Value {
	n := len(vals)
	if cap(dst) < side.Width {
		row := make([]record.Value, side.Width)
		copy(row[side.Offset:], vals)
		if side.Slot >= 0 {
			row[side.Slot] = tag
		}
		return row
	}
	row := dst[:side.Width]
	copy(row[side.Offset:side.Offset+n], vals) // copy handles the overlap
	clear(row[:side.Offset])
	clear(row[side.Offset+n:])
	if side.Slot >= 0 {
		row[side.Slot] = tag
	}
	return row
}

// Fence forwards the checkpoint the reader's partition resumed from
// (connector.Fenced), none when it has none: a stream joined with tables
// as it is read is fenced as it would be alone.
func (r *sideReader) Fence() (connector.Fence, bool) {
	if f, ok := r.PartitionReader.(connector.Fenced); ok {
		return f.Fence()
	}
	return connector.Fence{}, false
}

// Position forwards the reader's position (connector.Positioner), -1 when
// it has none.
func (r *sideReader) Position() int64 {
	if p, ok := r.PartitionReader.(connector.Positioner); ok {
		return p.Position()
	}
	return -1
}

package join

import (
	"context"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/record"
)

// SideSource reads input s of a stream-stream join into the joined row:
// its source decodes the input's own columns, which land at the side's
// offset, and the side slot says which input each row came from.
func SideSource(src connector.Source, side Side, s int) connector.Source {
	return &sideSource{Source: src, side: side, tag: record.IntValue(int64(s))}
}

type sideSource struct {
	connector.Source
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

type sideReader struct {
	connector.PartitionReader
	s *sideSource
}

// Next reads the next records and widens them into joined rows, in storage
// of their own (one allocation per batch).
func (r *sideReader) Next(ctx context.Context, b *record.Batch, max int) error {
	err := r.PartitionReader.Next(ctx, b, max)
	if n := len(b.Records); n > 0 {
		side := r.s.side
		w := side.Width
		if b.Borrowed { // the source's own records: copy them before changing them
			b.Records = append([]record.Record(nil), b.Records...)
			b.Borrowed = false
		}
		flat := make([]record.Value, n*w)
		for i := range b.Records {
			rec := &b.Records[i]
			row := flat[i*w : (i+1)*w : (i+1)*w]
			copy(row[side.Offset:], rec.Values)
			row[side.Slot] = r.s.tag
			rec.Values = row
		}
	}
	return err
}

// Position forwards the reader's position (connector.Positioner), -1 when
// it has none.
func (r *sideReader) Position() int64 {
	if p, ok := r.PartitionReader.(connector.Positioner); ok {
		return p.Position()
	}
	return -1
}

package job

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/record"
)

// TestWaitingPartitionIsNotIdle: a partition whose reader hands out
// nothing for much longer than the idle timeout while it says records
// wait (connector.Backlog: a Kafka partition whose first fetch is slow)
// is not idle: the other partition's event times do not move the
// watermark past its records, and none comes late. Before, it turned idle
// once the idle timeout passed without records, and its records, read
// later, were all dropped as late.
func TestWaitingPartitionIsNotIdle(t *testing.T) {
	const t0 = 1_700_000_000_000
	msg := func(i int, ts int64) mem.Message {
		return mem.Message{Fields: map[string]record.Value{"k": record.StringValue(fmt.Sprintf("k%d", i%5)),
			"v": record.IntValue(int64(i)), "ts": record.TimestampValue(ts)}, Timestamp: ts}
	}
	var ahead, held []mem.Message
	for i := range 200 {
		ahead = append(ahead, msg(i, t0+int64(i)*10))
	}
	for i := range 50 {
		held = append(held, msg(i, t0+int64(i)*10))
	}
	src := &slowFirstRead{Source: mem.NewSource("in", [][]mem.Message{ahead, held}, mem.Live(time.Millisecond)), release: make(chan struct{}), read: &atomic.Int64{}}
	// the idle timeout is far above the ingester's linger: a partition
	// whose reader just handed its records out may take a few
	// milliseconds to publish them
	const idle = 250 * time.Millisecond
	sink, stop := runWindowsAside(t, src, 100, idle)
	time.Sleep(5 * idle)
	close(src.release)
	// both partitions read, both turn idle: the watermark reaches the
	// last record's event time less the allowed disorder (100ms), and the
	// windows that end by it fire, the last at t0+1700
	for deadline := time.Now().Add(10 * time.Second); (src.read.Load() < int64(len(held)) || !fired(sink, t0+1700)) && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	sum := stop()
	if sum.Total.In != int64(len(ahead)+len(held)) {
		t.Fatalf("%d records read, want %d", sum.Total.In, len(ahead)+len(held))
	}
	if sum.Total.LateDropped != 0 {
		t.Errorf("%d records dropped as late, read after their partition waited %s with records waiting", sum.Total.LateDropped, 5*idle)
	}
	var counted int64
	for _, r := range sink.Rows() {
		if r.Values[3].Millis() < t0+500 {
			counted += r.Values[1].Int()
		}
	}
	if want := int64(50 + 50); counted != want {
		t.Errorf("the windows before the held records' last counted %d records, want %d", counted, want)
	}
}

// fired reports whether sink has a row of the window starting at start.
func fired(sink *mem.Sink, start int64) bool {
	for _, r := range sink.Rows() {
		if r.Values[3].Millis() == start {
			return true
		}
	}
	return false
}

// slowFirstRead is a live source whose partition 1 hands out nothing
// until release is closed, its reader saying meanwhile that records wait;
// read counts the records it handed out.
type slowFirstRead struct {
	*mem.Source
	release chan struct{}
	read    *atomic.Int64
}

// Open opens the source, holding back partition 1's reader.
func (s *slowFirstRead) Open(ctx context.Context, schema *record.Schema, dlq connector.DeadLetters) (<-chan connector.PartitionReader, error) {
	in, err := s.Source.Open(ctx, schema, dlq)
	if err != nil {
		return nil, err
	}
	out := make(chan connector.PartitionReader, 2)
	go func() {
		defer close(out)
		for rd := range in {
			if rd.Partition() == 1 {
				rd = &heldReader{PartitionReader: rd, release: s.release, read: s.read}
			}
			out <- rd
		}
	}()
	return out, nil
}

// heldReader hands out nothing until release is closed, and counts what
// it hands out in read.
type heldReader struct {
	connector.PartitionReader
	release chan struct{}
	read    *atomic.Int64
}

// Next waits for the release, then reads.
func (r *heldReader) Next(ctx context.Context, b *record.Batch, max int) error {
	select {
	case <-r.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	err := r.PartitionReader.Next(ctx, b, max)
	r.read.Add(int64(len(b.Records)))
	return err
}

// RecordsWaiting implements connector.Backlog: records wait until the
// release.
func (r *heldReader) RecordsWaiting() bool {
	select {
	case <-r.release:
		return false
	default:
		return true
	}
}

package mem

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/record"
)

func readAll(t *testing.T, src *Source, schema *record.Schema, dlq connector.DeadLetters, max int) map[int32][]record.Record {
	t.Helper()
	readers, err := src.Open(context.Background(), schema, dlq)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32][]record.Record{}
	for rd := range readers {
		b := &record.Batch{}
		for {
			err := rd.Next(context.Background(), b, max)
			if len(b.Records) > max || b.Partition != rd.Partition() || b.Source != src.Name() {
				t.Fatalf("batch of %d records, partition %d, source %q", len(b.Records), b.Partition, b.Source)
			}
			for _, r := range b.Records {
				r.Values = append([]record.Value(nil), r.Values...)
				out[rd.Partition()] = append(out[rd.Partition()], r)
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return out
}

func TestSourceReadsDecodesAndDeadLetters(t *testing.T) {
	msgs := [][]Message{
		{{Fields: map[string]record.Value{"a": record.IntValue(1), "B": record.StringValue("x")}, Timestamp: 5},
			{Raw: []byte("broken")},
			{Fields: map[string]record.Value{"a": record.IntValue(3)}}},
		{{Fields: map[string]record.Value{"b": record.StringValue("y")}}},
	}
	tests := []struct {
		name  string
		opts  []Option
		want0 []int64 // offsets of partition 0
	}{
		{"all", nil, []int64{0, 2}},
		{"resumed", []Option{WithStart(map[int32]int64{0: 2})}, []int64{2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dlq := &DeadLetters{}
			schema := record.NewSchema("b", "a")
			got := readAll(t, NewSource("s", msgs, tt.opts...), schema, dlq, 1)
			var offs []int64
			for _, r := range got[0] {
				offs = append(offs, r.Offset)
			}
			if len(offs) != len(tt.want0) || offs[0] != tt.want0[0] {
				t.Fatalf("offsets %v, want %v", offs, tt.want0)
			}
			if tt.name == "all" {
				r := got[0][0]
				if r.Values[0].Str() != "x" || r.Values[1].Int() != 1 || r.Timestamp != 5 || r.Topic != "s" {
					t.Errorf("record %+v", r)
				}
				if len(dlq.All()) != 1 || string(dlq.All()[0].Raw) != "broken" || dlq.All()[0].Offset != 1 {
					t.Errorf("dead letters %+v", dlq.All())
				}
				if got[1][0].Values[0].Str() != "y" || !got[1][0].Values[1].IsNull() {
					t.Errorf("partition 1: %+v", got[1][0])
				}
			}
		})
	}
}

func TestFromRecordsRemapsSlots(t *testing.T) {
	in := record.NewSchema("x", "y")
	src := FromRecords("r", in, [][]record.Record{{{Values: []record.Value{record.IntValue(1), record.IntValue(2)}}}})
	got := readAll(t, src, record.NewSchema("y", "z", "x"), &DeadLetters{}, 10)
	r := got[0][0]
	if r.Values[0].Int() != 2 || !r.Values[1].IsNull() || r.Values[2].Int() != 1 || r.Offset != 0 {
		t.Fatalf("record %+v", r)
	}
}

func TestCommitAndLive(t *testing.T) {
	src := NewSource("s", [][]Message{nil}, Live(time.Millisecond))
	if err := src.Commit(context.Background(), map[int32]int64{0: 4}); err != nil {
		t.Fatal(err)
	}
	if err := src.Commit(context.Background(), map[int32]int64{0: 3}); err == nil {
		t.Error("commit going back accepted")
	}
	if src.Committed()[0] != 4 {
		t.Errorf("committed %v", src.Committed())
	}
	readers, _ := src.Open(context.Background(), record.NewSchema("a"), &DeadLetters{})
	rd := <-readers
	ctx, cancel := context.WithCancel(context.Background())
	b := &record.Batch{}
	if err := rd.Next(ctx, b, 10); err != nil || len(b.Records) != 0 {
		t.Fatalf("live empty read: %v, %d records", err, len(b.Records))
	}
	cancel()
	if err := rd.Next(ctx, b, 10); !errors.Is(err, context.Canceled) {
		t.Fatalf("after cancel: %v", err)
	}
}

func TestSinks(t *testing.T) {
	s := &Sink{}
	ctx := context.Background()
	rows := []record.Record{{Values: []record.Value{record.IntValue(1)}}}
	if err := s.Open(ctx, record.NewSchema("a"), nil); err != nil {
		t.Fatal(err)
	}
	_ = s.Write(ctx, rows)
	rows[0].Values[0] = record.IntValue(9)
	_ = s.Flush(ctx)
	_ = s.Write(ctx, rows)
	if got := s.Rows(); len(got) != 2 || got[0].Values[0].Int() != 1 || len(s.Flushed()) != 1 {
		t.Fatalf("rows %v, flushed %d", got, len(s.Flushed()))
	}
	_ = s.Close()
	if err := s.Write(ctx, rows); err == nil {
		t.Error("write after close accepted")
	}
	d := &Discard{}
	_ = d.Write(ctx, rows)
	if d.Count() != 1 {
		t.Errorf("discard count %d", d.Count())
	}
}

// TestBorrowedBatches pins the zero-copy hand-out: batches borrow the
// decoded records, a batch never spans a dead letter, Reset drops the
// borrowed storage (so a refill cannot overwrite the source), and a second
// Open while the first is still reading gets records of its own.
func TestBorrowedBatches(t *testing.T) {
	schema := record.NewSchema("a")
	msgs := [][]Message{{
		{Fields: map[string]record.Value{"a": record.IntValue(0)}},
		{Fields: map[string]record.Value{"a": record.IntValue(1)}},
		{Raw: []byte("bad")},
		{Fields: map[string]record.Value{"a": record.IntValue(3)}},
	}}
	src := NewSource("s", msgs)
	dlq := &DeadLetters{}
	first, err := src.Open(context.Background(), schema, dlq)
	if err != nil {
		t.Fatal(err)
	}
	rd := <-first
	b := &record.Batch{}
	if err := rd.Next(context.Background(), b, 10); err != nil {
		t.Fatal(err)
	}
	if !b.Borrowed || len(b.Records) != 2 || b.Records[1].Offset != 1 {
		t.Fatalf("first batch: borrowed %v, %d records", b.Borrowed, len(b.Records))
	}
	held := &b.Records[0]

	// a concurrent Open must not share the records the first one stamps
	second, err := src.Open(context.Background(), schema, dlq)
	if err != nil {
		t.Fatal(err)
	}
	rd2 := <-second
	b2 := &record.Batch{}
	if err := rd2.Next(context.Background(), b2, 10); err != nil {
		t.Fatal(err)
	}
	if &b2.Records[0] == held {
		t.Fatal("two open readers share one record")
	}
	rd2.Close()

	b.Reset()
	if b.Borrowed || b.Records != nil {
		t.Fatal("Reset kept borrowed storage")
	}
	b.Records = append(b.Records, record.Record{Values: []record.Value{record.IntValue(99)}})
	if v := held.Values[0]; v.Int() != 0 {
		t.Fatalf("refilling a reset batch changed the source: %v", v)
	}
	if err := rd.Next(context.Background(), b, 10); err != nil {
		t.Fatal(err)
	}
	if len(b.Records) != 1 || b.Records[0].Offset != 3 || len(dlq.All()) != 1 || dlq.All()[0].Offset != 2 {
		t.Fatalf("after the dead letter: %d records, %d dead letters", len(b.Records), len(dlq.All()))
	}
	if err := rd.Next(context.Background(), b, 10); !errors.Is(err, io.EOF) {
		t.Fatalf("end: %v", err)
	}
	rd.Close()
	rd.Close() // a second Close is harmless
}

// TestBorrowedRecordsComeOutUnstamped: an event-time stamp a job left on a
// lent record is gone when the next Open reads it.
func TestBorrowedRecordsComeOutUnstamped(t *testing.T) {
	src := NewSource("s", [][]Message{{{Fields: map[string]record.Value{"a": record.IntValue(1)}, Timestamp: 5}}})
	schema := record.NewSchema("a")
	for run := 0; run < 2; run++ {
		readers, err := src.Open(context.Background(), schema, &DeadLetters{})
		if err != nil {
			t.Fatal(err)
		}
		rd := <-readers
		b := &record.Batch{}
		if err := rd.Next(context.Background(), b, 10); err != nil {
			t.Fatal(err)
		}
		if r := &b.Records[0]; r.HasEventTime {
			t.Fatalf("run %d: record carries the stamp %d of an earlier run", run, r.EventTime)
		}
		b.Records[0].EventTime, b.Records[0].HasEventTime = 99, true // what a job does
		rd.Close()
	}
}

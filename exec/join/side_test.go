package join

import (
	"context"
	"errors"
	"testing"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/record"
)

// plainSource implements only connector.Source.
type plainSource struct{}

func (plainSource) Name() string           { return "plain" }
func (plainSource) Facts() connector.Facts { return connector.Facts{} }
func (plainSource) Open(context.Context, *record.Schema, connector.DeadLetters) (<-chan connector.PartitionReader, error) {
	return nil, nil
}
func (plainSource) Commit(context.Context, map[int32]int64) error { return nil }
func (plainSource) Close() error                                  { return nil }

// richSource implements every optional source interface.
type richSource struct {
	plainSource
	contradicted, failed chan struct{}
	committed            connector.Checkpoint
}

func (*richSource) Bounded() bool                   { return true }
func (s *richSource) Contradicted() <-chan struct{} { return s.contradicted }
func (*richSource) Contradiction() error            { return errors.New("key contradicted") }
func (s *richSource) Failed() <-chan struct{}       { return s.failed }
func (*richSource) Failure() error                  { return errors.New("brokers gone") }
func (s *richSource) Restored() (connector.Checkpoint, bool) {
	return connector.Checkpoint{Watermark: 7}, true
}
func (s *richSource) CommitCheckpoint(_ context.Context, _ map[int32]int64, cp connector.Checkpoint) error {
	s.committed = cp
	return nil
}

// TestSideSourcePassesInterfaces checks that an input of a stream-stream
// join says what its source says through the optional interfaces, and
// claims nothing its source does not.
func TestSideSourcePassesInterfaces(t *testing.T) {
	rich := &richSource{contradicted: make(chan struct{}), failed: make(chan struct{})}
	src := SideSource(rich, Side{}, 1)
	if b, ok := src.(connector.Bounded); !ok || !b.Bounded() {
		t.Error("a bounded input is not bounded")
	}
	kc, ok := src.(connector.KeyChecker)
	if !ok || kc.Contradicted() != rich.contradicted || kc.Contradiction() == nil {
		t.Error("the input's key check is hidden")
	}
	f, ok := src.(connector.Failer)
	if !ok || f.Failed() != rich.failed || f.Failure() == nil {
		t.Error("the input's failure is hidden")
	}
	cp, ok := src.(connector.Checkpointer)
	if !ok {
		t.Fatal("a transactional input is not a Checkpointer")
	}
	if got, ok := cp.Restored(); !ok || got.Watermark != 7 {
		t.Errorf("Restored: %v %v", got, ok)
	}
	if err := cp.CommitCheckpoint(context.Background(), nil, connector.Checkpoint{Watermark: 9}); err != nil || rich.committed.Watermark != 9 {
		t.Errorf("CommitCheckpoint did not reach the source: %v", err)
	}

	plain := SideSource(plainSource{}, Side{}, 0)
	if b, ok := plain.(connector.Bounded); ok && b.Bounded() {
		t.Error("an input whose source says nothing is bounded")
	}
	if kc, ok := plain.(connector.KeyChecker); ok && kc.Contradicted() != nil {
		t.Error("an input whose source checks no key can be contradicted")
	}
	if f, ok := plain.(connector.Failer); ok && f.Failed() != nil {
		t.Error("an input whose source cannot fail has a failure channel")
	}
	if _, ok := plain.(connector.Checkpointer); ok {
		t.Error("an input whose source is not transactional is a Checkpointer")
	}
}

// lender is a partition reader that lends its own records
// (record.Batch.Borrowed), as an in-memory source does.
type lender struct{ recs []record.Record }

func (*lender) Partition() int32 { return 0 }
func (*lender) Close() error     { return nil }
func (l *lender) Next(_ context.Context, b *record.Batch, _ int) error {
	b.Records, b.Borrowed = l.recs, true
	return nil
}

// TestSideReaderReusesTheBatchStorage checks that a side copies lent
// records into the storage of the batch it fills, leaving the source's
// records as they were, and that refilling a batch allocates nothing
// (whichever reader filled it before).
func TestSideReaderReusesTheBatchStorage(t *testing.T) {
	side := Side{Offset: 2, Width: 5, Slot: 4}
	src := &lender{}
	for i := range 8 {
		src.recs = append(src.recs, record.Record{Values: []record.Value{record.IntValue(int64(i)), record.StringValue("x")}, Offset: int64(i)})
	}
	readers := make([]*sideReader, 30) // a batch goes to any reader next
	for i := range readers {
		readers[i] = &sideReader{PartitionReader: src, s: &sideSource{side: side, tag: record.IntValue(1)}}
	}
	b := &record.Batch{}
	if err := readers[0].Next(context.Background(), b, 8); err != nil {
		t.Fatal(err)
	}
	if b.Borrowed || len(b.Records) != 8 {
		t.Fatalf("batch: borrowed %v, %d records", b.Borrowed, len(b.Records))
	}
	for i, r := range b.Records {
		want := []record.Value{{}, {}, record.IntValue(int64(i)), record.StringValue("x"), record.IntValue(1)}
		if len(r.Values) != len(want) || r.Offset != int64(i) {
			t.Fatalf("record %d: %v offset %d", i, r.Values, r.Offset)
		}
		for c := range want {
			if r.Values[c] != want[c] {
				t.Fatalf("record %d: %v, want %v", i, r.Values, want)
			}
		}
		if len(src.recs[i].Values) != 2 {
			t.Fatalf("the source's record %d changed: %v", i, src.recs[i].Values)
		}
	}
	turn := 0
	allocs := testing.AllocsPerRun(20, func() {
		b.Reset()
		turn++
		if err := readers[turn].Next(context.Background(), b, 8); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("refilling a batch allocates %.1f times", allocs)
	}
}

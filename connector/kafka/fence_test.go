package kafka

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/record"
)

// TestAlignedCheckpointFences: an aligned member's commits store the job's
// checkpoint with the offsets (Checkpointing), and the member the group
// gives a partition next reads it there: its reader resumes at the
// committed offset, marks the records before the partition's end Reread
// and reports the checkpoint as its fence. A member that resumed from a
// fence commits it joined with its own checkpoint, never below it: a run
// that has not yet read as far or seen as high a watermark as the one
// before must not let the next replay reopen what that one wrote, and
// one behind the fence's read offset whose watermark passed the fence's
// commits nothing (connector.Fence.Join).
func TestAlignedCheckpointFences(t *testing.T) {
	brokers := startCluster(t, "trades")
	produce(t, brokers, "trades", trades(400, 40))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// the first member commits offset 10 of every partition, having read
	// to 20 under watermark 5000
	commits := map[int32]int64{}
	reads := map[int32]int64{}
	starts := map[int32]connector.Start{}
	for p := range int32(testPartitions) {
		commits[p], reads[p], starts[p] = 10, 20, connector.Start{MaxEvent: 4200 + int64(p), Skip: 11}
	}
	alignedMember(t, ctx, brokers, func(cp connector.Checkpointer, _ map[int32]firstBatch) {
		if err := cp.CommitCheckpoint(ctx, commits, connector.Checkpoint{Watermark: 5000, Read: reads, Starts: starts}); err != nil {
			t.Fatal(err)
		}
	})
	// the next resumes there with that fence, and commits a checkpoint
	// behind it: offset 12, read to 15 under watermark 100
	for p := range int32(testPartitions) {
		commits[p], reads[p] = 12, 15
	}
	alignedMember(t, ctx, brokers, func(cp connector.Checkpointer, first map[int32]firstBatch) {
		for p, f := range first {
			if f.offset != 10 || !f.reread || f.fenceTo != 20 || f.fenceWM != 5000 || !f.fenced {
				t.Errorf("partition %d: first record at %d (reread %v), fence %d under %d (%v); want 10, reread, fence 20 under 5000", p, f.offset, f.reread, f.fenceTo, f.fenceWM, f.fenced)
			}
			if !f.started || f.start != starts[p] {
				t.Errorf("partition %d: start %+v (%v), want the one committed: %+v", p, f.start, f.started, starts[p])
			}
		}
		if err := cp.CommitCheckpoint(ctx, commits, connector.Checkpoint{Watermark: 100, Read: reads}); err != nil {
			t.Fatal(err)
		}
	})
	// the next commits a checkpoint behind the fence's read offset but
	// above its watermark: offset 14, read to 18 under watermark 6000
	for p := range int32(testPartitions) {
		commits[p], reads[p] = 14, 18
	}
	alignedMember(t, ctx, brokers, func(cp connector.Checkpointer, first map[int32]firstBatch) {
		for p, f := range first {
			if f.offset != 12 || f.fenceTo != 20 || f.fenceWM != 5000 {
				t.Errorf("partition %d: first record at %d, fence %d under %d; want 12, the fence resumed from: 20 under 5000", p, f.offset, f.fenceTo, f.fenceWM)
			}
			// the start is of the offset it came with: none was committed with 12
			if f.started {
				t.Errorf("partition %d: start %+v, but the commit of offset 12 had none", p, f.start)
			}
		}
		if err := cp.CommitCheckpoint(ctx, commits, connector.Checkpoint{Watermark: 6000, Read: reads}); err != nil {
			t.Fatal(err)
		}
	})
	// it committed nothing: the partitions stay where it resumed them
	alignedMember(t, ctx, brokers, func(_ connector.Checkpointer, first map[int32]firstBatch) {
		for p, f := range first {
			if f.offset != 12 || f.fenceTo != 20 || f.fenceWM != 5000 {
				t.Errorf("partition %d: first record at %d, fence %d under %d; want where the run behind its fence resumed: 12, 20 under 5000", p, f.offset, f.fenceTo, f.fenceWM)
			}
		}
	})
}

// firstBatch is what a reader's first batch says.
type firstBatch struct {
	offset           int64
	reread, fenced   bool
	fenceTo, fenceWM int64
	start            connector.Start
	started          bool
}

// TestCheckpointMetadata: a partition's checkpoint is stored in its offset
// metadata in the first version's format without a Start, and in the
// second's with one; both are read back, as is the first version written
// by an earlier release, and anything else is no checkpoint.
func TestCheckpointMetadata(t *testing.T) {
	for _, f := range []connector.Fence{
		{Read: 20, Watermark: 5000},
		{Read: 20, Watermark: -1 << 63},
		{Read: 20, Watermark: 5000, Start: connector.Start{MaxEvent: 4200, Skip: 11}, HasStart: true},
		{Read: 7, Watermark: -1 << 63, Start: connector.Start{MaxEvent: -1 << 63, Skip: 3}, HasStart: true},
	} {
		meta := checkpointMeta(f)
		if want := strings.HasPrefix(meta, "sluice2:"); want != f.HasStart {
			t.Errorf("%+v: metadata %q", f, meta)
		}
		if got, ok := parseCheckpoint(meta); !ok || got != f {
			t.Errorf("%+v: metadata %q reads back as %+v (%v)", f, meta, got, ok)
		}
	}
	if got, ok := parseCheckpoint("sluice1:5000:20"); !ok || got != (connector.Fence{Read: 20, Watermark: 5000}) {
		t.Errorf("an earlier release's checkpoint reads as %+v (%v)", got, ok)
	}
	for _, meta := range []string{"", "kgo-abc", "sluice1:5000", "sluice1:5000:20:11:4200", "sluice2:5000:20", "sluice2:5000:20:x:4200", "sluice3:1:2:3:4"} {
		if got, ok := parseCheckpoint(meta); ok {
			t.Errorf("metadata %q reads as a checkpoint: %+v", meta, got)
		}
	}
}

// alignedMember opens an aligned member of group g, reads the first batch of
// every partition and calls do before it leaves the group.
func alignedMember(t *testing.T, ctx context.Context, brokers []string, do func(connector.Checkpointer, map[int32]firstBatch)) {
	t.Helper()
	src, err := NewSource("trades", sourceProps(brokers, "group.id", "g"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	src.MarkRereads()
	cp, ok := src.Checkpointing().(connector.Checkpointer)
	if !ok {
		t.Fatal("Checkpointing is no connector.Checkpointer")
	}
	ch, err := src.Open(ctx, tradeSchema(), nil)
	if err != nil {
		t.Fatal(err)
	}
	first := map[int32]firstBatch{}
	for len(first) < testPartitions {
		var rd connector.PartitionReader
		select {
		case rd = <-ch:
		case <-ctx.Done():
			t.Fatalf("%d of %d partitions read before the deadline", len(first), testPartitions)
		}
		var b record.Batch
		for len(b.Records) == 0 {
			if err := rd.Next(ctx, &b, 4); err != nil {
				t.Fatal(err)
			}
		}
		f := firstBatch{offset: b.Records[0].Offset, reread: b.Records[0].Reread}
		fence, fenced := rd.(connector.Fenced).Fence()
		f.fenceTo, f.fenceWM, f.fenced = fence.Read, fence.Watermark, fenced
		f.start, f.started = fence.Start, fence.HasStart
		first[rd.Partition()] = f
	}
	do(cp, first)
}

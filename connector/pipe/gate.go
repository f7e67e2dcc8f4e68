package pipe

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"sync"

	"github.com/sluicesql/sluice/connector"
)

// Gate wraps a source of a job that writes in-process streams: a commit
// of the source reaches it only once the jobs reading those streams have
// committed every row written before the commit (their effects are in
// their flushed sinks), so a restart replays whatever the chain had not
// finished. Commits whose rows a reader never committed (it stopped) are
// dropped, which only means reading those records again.
type Gate struct {
	connector.Wrapped // passes on Bounded, KeyChecker and Failer
	streams           []*Stream

	mu      sync.Mutex
	pending []heldCommit
	err     error
	changed chan struct{} // closed and replaced whenever pending shrinks
}

// heldCommit is one commit of the source waiting for the streams.
type heldCommit struct {
	marks   [][]int64 // per stream: the writer's positions at the commit
	offsets map[int32]int64
	cp      *connector.Checkpoint // the job's checkpoint (CommitCheckpoint), or nil
}

// NewGate returns src with its commits held back until the readers of
// streams have committed. The gate passes on what src says through the
// optional source interfaces (connector.Bounded, KeyChecker, Failer), and
// is a connector.Checkpointer when src is one: a checkpoint commits with
// the offsets it came with.
func NewGate(src connector.Source, streams []*Stream) connector.Source {
	g := &Gate{Wrapped: connector.Wrapped{Source: src}, streams: streams, changed: make(chan struct{})}
	for _, s := range streams {
		s.onChange(g.release)
	}
	if _, ok := src.(connector.Checkpointer); ok {
		return checkpointGate{g}
	}
	return g
}

// Commit implements connector.Source: it holds offsets until every stream
// reader has committed what the writer had flushed by now.
func (g *Gate) Commit(ctx context.Context, offsets map[int32]int64) error {
	return g.hold(offsets, nil)
}

// hold holds offsets, committed with cp when it is not nil, until every
// stream reader has committed what the writer had flushed by now.
func (g *Gate) hold(offsets map[int32]int64, cp *connector.Checkpoint) error {
	c := heldCommit{offsets: maps.Clone(offsets), cp: cp}
	for _, s := range g.streams {
		c.marks = append(c.marks, s.marks())
	}
	g.mu.Lock()
	g.pending = append(g.pending, c)
	err := g.err
	g.mu.Unlock()
	g.release()
	return err
}

// release commits, merged into one, the held commits whose rows every
// reader has committed; once a reader is gone, the rest are dropped.
func (g *Gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	var ready map[int32]int64
	var cp *connector.Checkpoint
	n := 0
	for _, c := range g.pending {
		if !g.reached(c) {
			break
		}
		if ready == nil {
			ready = map[int32]int64{}
		}
		maps.Copy(ready, c.offsets)
		if c.cp != nil && cp == nil {
			cp = &connector.Checkpoint{Read: map[int32]int64{}, Starts: map[int32]connector.Start{}}
		}
		if cp != nil {
			// a partition's Start is of the offset it commits
			for p := range c.offsets {
				delete(cp.Starts, p)
			}
		}
		if c.cp != nil {
			// the latest watermark, with every partition's read offset
			cp.Watermark = c.cp.Watermark
			maps.Copy(cp.Read, c.cp.Read)
			maps.Copy(cp.Starts, c.cp.Starts)
		}
		n++
	}
	g.pending = g.pending[n:]
	if len(g.pending) > 0 && g.readerGone() {
		g.pending = nil
	}
	if ready != nil {
		var err error
		if cpr, ok := g.Source.(connector.Checkpointer); ok && cp != nil {
			err = cpr.CommitCheckpoint(context.Background(), ready, *cp)
		} else {
			err = g.Source.Commit(context.Background(), ready)
		}
		if err != nil && g.err == nil {
			g.err = fmt.Errorf("source %q: commit: %w", g.Source.Name(), err)
			slog.Warn("commit after the in-process readers flushed failed", "source", g.Source.Name(), "err", err)
		}
	}
	if n > 0 || len(g.pending) == 0 {
		close(g.changed)
		g.changed = make(chan struct{})
	}
}

// reached reports whether every stream's reader committed c's marks.
func (g *Gate) reached(c heldCommit) bool {
	for i, s := range g.streams {
		if !s.reached(c.marks[i]) {
			return false
		}
	}
	return true
}

// readerGone reports whether some stream's reader has closed.
func (g *Gate) readerGone() bool {
	for _, s := range g.streams {
		if s.readerDone() {
			return true
		}
	}
	return false
}

// Close implements connector.Source: it waits until every held commit was
// made or dropped (the readers finish after the writer), then closes the
// source. The wait ends with the reading jobs: each commits its stream or
// closes its source when it returns (job.Run closes its sources on every
// path), and an application closes the stream source of a job it never
// ran.
func (g *Gate) Close() error {
	for {
		g.mu.Lock()
		if len(g.pending) == 0 {
			err := g.err
			g.mu.Unlock()
			if cerr := g.Source.Close(); cerr != nil {
				return cerr
			}
			return err
		}
		ch := g.changed
		g.mu.Unlock()
		<-ch
	}
}

// checkpointGate is the Gate of a connector.Checkpointer source.
type checkpointGate struct{ *Gate }

// CommitCheckpoint implements connector.Checkpointer: it holds offsets and
// cp as Commit holds offsets.
func (g checkpointGate) CommitCheckpoint(_ context.Context, offsets map[int32]int64, cp connector.Checkpoint) error {
	cp.Read = maps.Clone(cp.Read)
	return g.hold(offsets, &cp)
}

// Restored implements connector.Checkpointer: the source's.
func (g checkpointGate) Restored() (connector.Checkpoint, bool) {
	return g.Source.(connector.Checkpointer).Restored()
}

var (
	_ connector.Checkpointer = checkpointGate{}
	_ connector.Bounded      = (*Gate)(nil)
	_ connector.KeyChecker   = (*Gate)(nil)
	_ connector.Failer       = (*Gate)(nil)
)

package app

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector/pipe"
	"github.com/sluicesql/sluice/runner"
	"github.com/sluicesql/sluice/sql"
)

// A writer stopped after it was prepared but before it ran (the failure of
// another job stopped the application just then) ends its in-process
// streams, interrupted: its reader, already running, is stopped too rather
// than waiting for rows forever.
func TestWriterStoppedBeforeItRanStopsItsReader(t *testing.T) {
	src := `CREATE STREAM trades AS SELECT * FROM g WITH ('g.type'='generator','g.generator'='trades','g.count'='unbounded');
SELECT * FROM trades;`
	stmts, err := sql.Parse("app.sql", src)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New("app.sql", src, stmts, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	opts := runner.Options{Stdout: io.Discard, Schemas: runner.NewSchemas()}
	if err := a.Check(ctx, opts); err != nil {
		t.Fatal(err)
	}
	// Start's steps, with the writer stopped before its job runs
	r := &Run{app: a, opts: opts, streams: map[string]*pipe.Stream{}, jobs: map[string]*jobRun{}}
	for _, n := range a.Nodes {
		for _, e := range n.Outputs {
			r.streams[edgeKey(e)] = pipe.New(e.Stream)
		}
	}
	for _, n := range a.Nodes {
		jr := &jobRun{node: n, state: Pending, prepared: make(chan struct{}), opened: make(chan struct{}), finished: make(chan struct{})}
		jr.ctx, jr.cancel = context.WithCancel(ctx)
		jr.opts = r.jobOptions(n)
		r.jobs[n.Name] = jr
		if err := r.prepare(ctx, jr); err != nil {
			t.Fatal(err)
		}
	}
	writer, reader := r.jobs[a.Nodes[0].Name], r.jobs[a.Nodes[1].Name]
	r.wg.Add(1)
	go r.runJob(ctx, reader)
	go r.stopWhenInputsStop(reader)
	r.Stop()
	r.wg.Add(1)
	go r.runJob(ctx, writer)
	select {
	case <-r.done():
	case <-time.After(time.Minute):
		t.Fatal("the reader of a writer stopped before it ran still runs")
	}
	results, err := r.Wait()
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range results {
		if res.Err != nil || res.Summary != nil && !res.Summary.Interrupted {
			t.Errorf("job %s: err %v, summary %+v", res.Name, res.Err, res.Summary)
		}
	}
}

package main

import (
	"fmt"
	"io"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/sluicesql/sluice/app"
	"github.com/sluicesql/sluice/job"
	"github.com/sluicesql/sluice/metrics"
	"github.com/sluicesql/sluice/runner"
)

// runApp runs the statements as one application: every statement a job,
// all at once, chained by name. It prints each job's summary when the job
// ends and, for more than one job, the application's at the end.
func (c *runCmd) runApp(e *env, s *script, m *metrics.Metrics) error {
	a, err := app.New(s.name, s.text, s.stmts, c.Set)
	if err != nil {
		return userError{err}
	}
	single := len(a.Nodes) == 1
	var mu sync.Mutex
	progs := map[string]*progress{}
	hooks := app.Hooks{
		Prepared: func(j *runner.Job) {
			watchJob(m, j)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case single:
				progs[j.Name] = newProgress(e.stderr, j, c.Progress, isTerminal(e.stderr), isTerminal(e.stdout))
			case c.Progress:
				// several jobs: one line per job and update, no redrawing
				progs[j.Name] = &progress{w: e.stderr, name: j.Name, compact: true}
			}
		},
		Progress: func(name string, s *job.Summary) {
			if m != nil {
				m.Observe(name, s)
			}
			mu.Lock()
			p := progs[name]
			mu.Unlock()
			p.update(s)
		},
		Finished: func(r app.Result) {
			mu.Lock()
			defer mu.Unlock()
			progs[r.Name].done()
			if r.Summary == nil {
				return
			}
			if m != nil {
				m.Observe(r.Name, r.Summary)
			}
			if !c.Quiet {
				writeSummary(e.stderr, infoOf(r.Job), r.Summary)
			}
		},
	}
	opts := c.options(e.stdout)
	opts.KafkaOpts = kafkaMetrics(m)
	run, err := a.Start(e.ctx, opts, hooks)
	if err != nil {
		return err
	}
	results, err := run.Wait()
	if !single && !c.Quiet {
		writeAppSummary(e.stderr, a, results, run.Elapsed())
	}
	return err
}

// writeAppSummary writes the end-of-run summary of an application: how
// each job ended and the rows that went in and out of the whole.
func writeAppSummary(w io.Writer, a *app.App, results []app.Result, elapsed time.Duration) {
	counts := map[string]int{}
	for _, r := range results {
		counts[resultState(r)]++
	}
	state := "done"
	switch {
	case counts[app.Failed] > 0:
		state = "failed"
	case counts[app.Interrupted] > 0:
		state = "interrupted"
	}
	fmt.Fprintf(w, "app %s %s: %d jobs (%d done, %d interrupted, %d failed), elapsed %s\n", a.Name, state, len(results),
		counts[app.Done], counts[app.Interrupted], counts[app.Failed], elapsed.Round(time.Millisecond))
	width := 0 // the names in one column, however long
	for _, r := range results {
		width = max(width, utf8.RuneCountInString(r.Name))
	}
	for _, r := range results {
		line := fmt.Sprintf("  %-*s %s", width, r.Name, resultState(r))
		if r.Summary != nil {
			line += fmt.Sprintf(": in %s, out %s, rows written %s", count(r.Summary.Total.In), count(r.Summary.Total.Out), count(r.Summary.RowsWritten))
		}
		if n := a.Node(r.Name); n != nil {
			for _, e := range n.Outputs {
				line += fmt.Sprintf("; %s -> %s (%s)", e.Stream, e.To, e.Via)
			}
		}
		if r.Err != nil {
			line += ": " + r.Err.Error()
		}
		fmt.Fprintln(w, line)
	}
}

// resultState names how a job ended.
func resultState(r app.Result) string {
	switch {
	case r.Err != nil:
		return app.Failed
	case r.Summary == nil || r.Summary.Interrupted:
		return app.Interrupted
	}
	return app.Done
}

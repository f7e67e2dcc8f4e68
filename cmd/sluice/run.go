package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/sluicesql/sluice/job"
	"github.com/sluicesql/sluice/runner"
	"github.com/sluicesql/sluice/sql"
)

type runCmd struct {
	File       string            `arg:"" optional:"" type:"existingfile" help:"SQL file with one or more statements."`
	Execute    string            `short:"e" help:"Run this SQL text instead of a file."`
	Partitions int               `help:"Number of partitions (default: @num_partitions, else the CPU count)."`
	Strategy   string            `help:"Partitioning strategy (always_hash, smart_repartition, sticky_partition, round_robin, fan_in); refused if it would change the result."`
	Set        map[string]string `help:"Override a WITH property, e.g. --set trades.path=x.jsonl (repeatable)." mapsep:"\x00"`
	UntilEnd   bool              `help:"Kafka sources stop at the end of what the topic holds at start."`
	Quiet      bool              `short:"q" help:"Do not print the summary."`
}

func (c *runCmd) Help() string {
	return "Examples:\n  sluice run examples/quickstart.sql\n  sluice run -e \"SELECT * FROM t WITH ('t.type'='file_source','t.path'='t.jsonl')\"\n  sluice run --partitions 4 --set trades.path=big.jsonl query.sql"
}

func (c *runCmd) Run(k *kong.Context) error {
	stmts, err := c.statements()
	if err != nil {
		return err
	}
	ctx, stop := interruptContext()
	defer stop()
	for _, s := range stmts {
		if err := c.runStatement(ctx, s, k.Stdout, k.Stderr); err != nil {
			return err
		}
	}
	return nil
}

func (c *runCmd) statements() ([]*sql.Statement, error) {
	switch {
	case c.Execute != "" && c.File != "":
		return nil, userError{errors.New("give either a FILE or -e SQL, not both")}
	case c.Execute != "":
		stmts, err := sql.Parse("-e", c.Execute)
		if err != nil {
			return nil, userError{err}
		}
		return stmts, nil
	case c.File != "":
		return parseFile(c.File)
	}
	return nil, userError{errors.New("nothing to run: give a FILE or -e SQL")}
}

func (c *runCmd) runStatement(ctx context.Context, s *sql.Statement, stdout, stderr io.Writer) error {
	j, err := runner.Prepare(ctx, s, runner.Options{
		Strategy:   c.Strategy,
		Partitions: c.Partitions,
		Set:        c.Set,
		UntilEnd:   c.UntilEnd,
		Stdout:     stdout,
	})
	if err != nil {
		return userError{fmt.Errorf("statement at line %d: %w", s.Line, err)}
	}
	sum, err := j.Run(ctx)
	if sum != nil && !c.Quiet {
		printSummary(stderr, j, sum)
	}
	if err != nil {
		return fmt.Errorf("job %s: %w", j.Name, err)
	}
	return nil
}

// interruptContext returns a context cancelled by the first SIGINT or
// SIGTERM, so the job drains, flushes and commits; a second signal exits at once.
func interruptContext() (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-sigs:
		case <-ctx.Done():
			return
		}
		fmt.Fprintln(os.Stderr, "sluice: stopping: draining, flushing and committing (again to exit at once)")
		cancel()
		<-sigs
		os.Exit(130)
	}()
	return ctx, func() { signal.Stop(sigs); cancel() }
}

// printSummary writes the end-of-run summary.
func printSummary(w io.Writer, j *runner.Job, s *job.Summary) {
	t := s.Total
	secs := s.Elapsed.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(t.In) / secs
	}
	fmt.Fprintf(w, "job %s: strategy %s (%s), %d partitions (%s)\n", j.Name, s.Strategy, j.Plan.ChoiceSource, len(s.Partitions), j.Plan.PartitionsOrigin)
	fmt.Fprintf(w, "  records in %d, out %d, filtered %d, dead-lettered %d, late dropped %d, rows written %d\n",
		t.In, t.Out, t.Filtered, s.DeadLetters, t.LateDropped, s.RowsWritten)
	if s.DLQPath != "" {
		fmt.Fprintf(w, "  dead letters in %s\n", s.DLQPath)
	}
	fmt.Fprintf(w, "  elapsed %s, %.0f records/s, skew %.2f\n", s.Elapsed.Round(1e6), rate, s.Skew)
	parts := make([]string, len(s.Partitions))
	for i, p := range s.Partitions {
		parts[i] = fmt.Sprintf("p%d=%d", i, p.In)
	}
	fmt.Fprintf(w, "  per partition: %s\n", strings.Join(parts, " "))
}

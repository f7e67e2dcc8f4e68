package main

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/sluicesql/sluice/runner"
)

type runCmd struct {
	File        string            `arg:"" optional:"" help:"SQL file with one or more statements (its path is shown in errors as given)."`
	Execute     string            `short:"e" placeholder:"SQL" help:"Run this SQL text instead of a file."`
	Partitions  *int              `placeholder:"N" help:"Number of partitions, at least 1 (default: @num_partitions, else the CPU count)."`
	Strategy    string            `help:"Partitioning strategy (always_hash, smart_repartition, sticky_partition, round_robin, fan_in); refused if it would change the result."`
	Set         map[string]string `placeholder:"KEY=VALUE" help:"Override a WITH property, e.g. --set trades.path=x.jsonl (repeatable)." mapsep:"\x00"`
	UntilEnd    bool              `help:"Kafka sources stop at the end of what the topic holds at start."`
	MetricsAddr string            `placeholder:"HOST:PORT" help:"Serve Prometheus metrics on http://HOST:PORT/metrics while running."`
	Quiet       bool              `short:"q" help:"Do not print the summary at the end."`
	Progress    bool              `help:"Show progress on stderr even when it is not a terminal."`
}

func (c *runCmd) Help() string {
	return `Examples:
  sluice run examples/quickstart.sql
  sluice run -e "SELECT * FROM t WHERE x > 1 WITH ('t.type'='file_source','t.path'='t.jsonl')"
  sluice run --partitions 4 --set trades.path=big.jsonl examples/tumbling_window.sql
  sluice run --until-end --metrics-addr localhost:9100 examples/kafka_pipeline.sql`
}

func (c *runCmd) Run(e *env) error {
	if err := checkPartitions(c.Partitions); err != nil {
		return err
	}
	s, err := readScript(c.File, c.Execute)
	if err != nil {
		return err
	}
	m, stopMetrics, err := serveMetrics(e, c.MetricsAddr)
	if err != nil {
		return err
	}
	defer stopMetrics()
	return s.locate(c.runApp(e, s, m))
}

// options returns the runner options of the flags.
func (c *runCmd) options(stdout io.Writer) runner.Options {
	return runner.Options{Strategy: c.Strategy, Partitions: partitions(c.Partitions), Set: c.Set, UntilEnd: c.UntilEnd, Stdout: stdout}
}

// checkPartitions refuses a --partitions flag below 1 (0 is not "the
// default": leaving the flag out is).
func checkPartitions(p *int) error {
	if p != nil && *p < 1 {
		return userError{fmt.Errorf("--partitions %d: must be at least 1", *p)}
	}
	return nil
}

// partitions returns the --partitions flag's value, 0 when it is not given.
func partitions(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

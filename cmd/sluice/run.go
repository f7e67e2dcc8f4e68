package main

import (
	"io"
	"os"

	"golang.org/x/term"

	"github.com/sluicesql/sluice/runner"
)

type runCmd struct {
	File        string            `arg:"" optional:"" help:"SQL file with one or more statements (its path is shown in errors as given)."`
	Execute     string            `short:"e" placeholder:"SQL" help:"Run this SQL text instead of a file."`
	Partitions  int               `help:"Number of partitions (default: @num_partitions, else the CPU count)."`
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
	return runner.Options{Strategy: c.Strategy, Partitions: c.Partitions, Set: c.Set, UntilEnd: c.UntilEnd, Stdout: stdout}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

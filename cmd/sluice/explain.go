package main

import (
	"runtime"

	"github.com/sluicesql/sluice/app"
	"github.com/sluicesql/sluice/plan"
	"github.com/sluicesql/sluice/runner"
)

type explainCmd struct {
	File       string            `arg:"" optional:"" help:"SQL file with one or more statements (its path is shown in errors as given)."`
	Execute    string            `short:"e" placeholder:"SQL" help:"Explain this SQL text instead of a file."`
	JSON       bool              `help:"Print the plans as JSON."`
	Strategy   string            `help:"Partitioning strategy to check instead of the automatic choice (always_hash, smart_repartition, sticky_partition, round_robin, fan_in)."`
	Partitions *int              `placeholder:"N" help:"Number of partitions, at least 1 (default: @num_partitions, else the CPU count)."`
	Set        map[string]string `placeholder:"KEY=VALUE" help:"Override a WITH property, as run --set does (repeatable)." mapsep:"\x00"`
	NoInfer    bool              `help:"Do not read a sample of undeclared sources to infer their schemas."`
	UntilEnd   bool              `help:"Check the statements as run --until-end runs them: Kafka sources end."`
}

func (c *explainCmd) Help() string {
	return `Explain makes every check that run makes before it reads data (names,
types, options, annotations, the plan) without connecting to anything, and
exits 1 on the same errors: it works as a linter in CI. It may read a sample
of a source whose schema is not declared (--no-infer skips that).

Examples:
  sluice explain examples/quickstart.sql
  sluice explain --json --partitions 4 query.sql
  sluice explain -e "SELECT k, COUNT(*) FROM t GROUP BY k WITH ('t.type'='file_source','t.path'='t.jsonl')"`
}

func (c *explainCmd) Run(e *env) error {
	if err := checkPartitions(c.Partitions); err != nil {
		return err
	}
	s, err := readScript(c.File, c.Execute)
	if err != nil {
		return err
	}
	a, err := app.New(s.name, s.text, s.stmts, c.Set)
	if err != nil {
		return userError{err}
	}
	opts := runner.Options{Strategy: c.Strategy, Partitions: partitions(c.Partitions), Set: c.Set, NoInfer: c.NoInfer, UntilEnd: c.UntilEnd}
	if err := a.Check(e.ctx, opts); err != nil {
		return s.locate(err)
	}
	plans, err := a.Plans(e.ctx, plan.Options{Strategy: c.Strategy, Partitions: partitions(c.Partitions), CPUs: runtime.NumCPU()}, opts)
	if err != nil {
		return userError{s.locate(err)}
	}
	if c.JSON {
		return a.ExplainJSON(e.stdout, plans)
	}
	return a.Explain(e.stdout, plans)
}

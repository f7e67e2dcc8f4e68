package main

import (
	"fmt"
	"os"
	"runtime"

	"github.com/sluicesql/sluice/app"
	"github.com/sluicesql/sluice/plan"
	"github.com/sluicesql/sluice/sql"
)

type explainCmd struct {
	File       string `arg:"" type:"existingfile" help:"SQL file with one or more statements."`
	JSON       bool   `help:"Print the plans as JSON."`
	Strategy   string `help:"Partitioning strategy to check instead of the automatic choice (always_hash, smart_repartition, sticky_partition, round_robin, fan_in)."`
	Partitions int    `help:"Number of partitions (default: @num_partitions, else the CPU count)."`
	NoInfer    bool   `help:"Do not read a sample of undeclared sources to infer their schemas."`
}

func (c *explainCmd) Help() string {
	return "Example:\n  sluice explain examples/quickstart.sql\n  sluice explain --json --partitions 4 query.sql"
}

func (c *explainCmd) Run(e *env) error {
	stmts, err := parseFile(c.File)
	if err != nil {
		return err
	}
	src, _ := os.ReadFile(c.File)
	a, err := app.New(c.File, string(src), stmts, nil)
	if err != nil {
		return userError{err}
	}
	plans, err := a.Plans(e.ctx, plan.Options{Strategy: c.Strategy, Partitions: c.Partitions, CPUs: runtime.NumCPU()}, nil, c.NoInfer)
	if err != nil {
		return userError{fmt.Errorf("%s: %w", c.File, err)}
	}
	if c.JSON {
		return a.ExplainJSON(e.stdout, plans)
	}
	return a.Explain(e.stdout, plans)
}

// parseFile reads and parses a SQL file; a parse error is the user's.
func parseFile(path string) ([]*sql.Statement, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, userError{err}
	}
	stmts, err := sql.Parse(path, string(src))
	if err != nil {
		return nil, userError{err}
	}
	if len(stmts) == 0 {
		return nil, userError{fmt.Errorf("%s: no statements", path)}
	}
	return stmts, nil
}

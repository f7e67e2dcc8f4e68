package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"syscall"

	"github.com/alecthomas/kong"

	"github.com/sluicesql/sluice/bench"
)

// benchCmd is `sluice bench`: the reference's scenarios end to end, beside
// the hand-written limit and, with --peer, the Go peer.
type benchCmd struct {
	Scenarios  []string `help:"Scenarios to run: 0, 1, 2, 2u, 2z, 3a, 3b, 1brc, 4a, 4b (default all)." sep:","`
	Modes      []string `help:"Modes: memory, jsonl, text, kafka (JSON and, beside it, Avro with a Schema Registry), kafka-avro (default all that fit each scenario)." sep:","`
	Partitions []int    `help:"Partition counts (default 1,2; 1 is always added for the ratios)." sep:","`
	Strategies string   `default:"auto" enum:"auto,all" help:"auto: the planner's choice; all: every strategy the planner accepts."`
	Records    int      `help:"Records per scenario (default 1M, 10M for 1brc)."`
	Seconds    float64  `help:"Repeat each measurement for at least this long and keep the best run (default: one run)."`
	JSON       bool     `name:"json" help:"Print the report as JSON."`
	Dir        string   `help:"Directory for the data files (default: sluice-bench in the temporary directory); files are reused."`
	Peer       bool     `help:"Also run the Go peer (github.com/rulego/streamsql) on the queries it supports, with 'go run .' in --peer-dir."`
	PeerDir    string   `default:"bench/peers" help:"Directory of the peer's Go module."`
	CPUProfile string   `name:"cpuprofile" help:"Write a CPU profile of the whole run to this file."`
	Quiet      bool     `short:"q" help:"Do not print progress to stderr."`
}

func (c *benchCmd) Help() string {
	return "Every answer is checked against the limit's (a hand-written Go loop over the same records);\n" +
		"a wrong answer fails the command (exit 2).\n\nExamples:\n" +
		"  sluice bench\n  sluice bench --scenarios 2,3b --modes memory --seconds 3\n" +
		"  sluice bench --scenarios 3a --peer --json"
}

func (c *benchCmd) Run(k *kong.Context) error {
	cfg := bench.Config{
		Scenarios: c.Scenarios, Modes: c.Modes, Partitions: c.Partitions,
		AllStrategies: c.Strategies == "all", Records: c.Records, Seconds: c.Seconds,
		Dir: c.Dir, PeerDir: c.PeerDir, Log: k.Stderr,
	}
	if c.Quiet {
		cfg.Log = nil
	}
	if cfg.Dir == "" {
		cfg.Dir = filepath.Join(os.TempDir(), "sluice-bench")
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return userError{fmt.Errorf("data directory: %w", err)}
	}
	if c.Peer {
		cfg.Peer = []string{"go", "run", "."}
	}
	if c.CPUProfile != "" {
		f, err := os.Create(c.CPUProfile)
		if err != nil {
			return userError{err}
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	// the first SIGINT or SIGTERM stops the run; main handles a second one
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := bench.Run(ctx, cfg)
	if cerr := (*bench.ConfigError)(nil); errors.As(err, &cerr) {
		return userError{err}
	}
	if rep != nil {
		var werr error
		if c.JSON {
			werr = rep.WriteJSON(k.Stdout)
		} else {
			werr = rep.WriteTable(k.Stdout)
		}
		err = errors.Join(err, werr)
	}
	return err
}

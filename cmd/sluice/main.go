// Command sluice runs streaming SQL statements over Kafka topics and files
// on a partitioned parallel executor.
//
// Usage:
//
//	sluice run FILE.sql            run every statement of a file as a job
//	sluice explain FILE.sql        show how each statement would be partitioned
//	sluice gen NAME --count N      write generated sample data
//	sluice version                 print the version
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/alecthomas/kong"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes: 0 success, 1 the user's error (SQL, options, configuration),
// 2 a runtime failure.
const (
	exitUser    = 1
	exitRuntime = 2
)

// userError marks an error that is the user's to fix (exit code 1).
type userError struct{ err error }

func (e userError) Error() string { return e.err.Error() }
func (e userError) Unwrap() error { return e.err }

// cli is the command tree.
type cli struct {
	Run     runCmd     `cmd:"" help:"Run every statement of a SQL file as a streaming job."`
	Explain explainCmd `cmd:"" help:"Show the plan of each statement: analysis, distribution, strategy and why."`
	Gen     genCmd     `cmd:"" help:"Write generated sample data (trades, market_data, orders, measurements) to a file or a Kafka topic."`
	Version versionCmd `cmd:"" help:"Print the version."`
	Bench   benchCmd   `cmd:"" help:"Benchmark the reference's scenarios beside a hand-written limit (and a Go peer), checking every answer."`
}

type versionCmd struct{}

func (versionCmd) Run(k *kong.Context) error {
	fmt.Fprintln(k.Stdout, "sluice", version)
	return nil
}

func main() {
	var c cli
	parser, err := kong.New(&c,
		kong.Name("sluice"),
		kong.Description("Sluice: streaming SQL over Kafka and files, on a partitioned parallel executor."),
		kong.UsageOnError(),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sluice:", err)
		os.Exit(exitRuntime)
	}
	k, err := parser.Parse(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "sluice:", err)
		os.Exit(exitUser)
	}
	if err := k.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "sluice:", err)
		var ue userError
		if errors.As(err, &ue) {
			os.Exit(exitUser)
		}
		os.Exit(exitRuntime)
	}
}

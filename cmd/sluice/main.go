// Command sluice runs streaming SQL statements over Kafka topics and files
// on a partitioned parallel executor.
//
// Usage:
//
//	sluice run FILE.sql            run every statement of a file as a job
//	sluice explain FILE.sql        show how each statement would be partitioned
//	sluice gen NAME --count N      write generated sample data
//	sluice demo                    a self-contained Kafka demo
//	sluice serve                   run a job server (API, metrics, web page)
//	sluice deploy FILE.sql --server URL, sluice jobs --server URL, sluice stop NAME --server URL
//	sluice version                 print the version (also sluice --version)
//	sluice help [COMMAND]          show help (also sluice [COMMAND] --help)
//
// Exit codes: 0 success, 1 the user's error (SQL, options, configuration),
// 2 a runtime failure (a sink that cannot be written, a broker that cannot
// be reached).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/alecthomas/kong"

	"github.com/sluicesql/sluice/runner"
	"github.com/sluicesql/sluice/secret"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes.
const (
	exitOK      = 0
	exitUser    = 1
	exitRuntime = 2
)

// userError marks an error that is the user's to fix (exit code 1).
type userError struct{ err error }

func (e userError) Error() string { return e.err.Error() }
func (e userError) Unwrap() error { return e.err }

// cli is the command tree.
type cli struct {
	LogFormat string           `name:"log-format" default:"text" enum:"text,json" help:"Log format on stderr: text or json."`
	Version   kong.VersionFlag `name:"version" help:"Print the version and exit."`

	Run        runCmd     `cmd:"" help:"Run every statement of a SQL file as a streaming job."`
	Explain    explainCmd `cmd:"" help:"Show the plan of each statement: analysis, distribution, strategy and why."`
	Gen        genCmd     `cmd:"" help:"Write generated sample data (trades, market_data, orders, measurements) to a file or a Kafka topic."`
	Demo       demoCmd    `cmd:"" help:"Start an in-process Kafka cluster, produce trades and run a windowed GROUP BY on them."`
	VersionCmd versionCmd `cmd:"" name:"version" help:"Print the version."`
	Help       helpCmd    `cmd:"" help:"Show help for sluice or one of its commands."`
	Bench      benchCmd   `cmd:"" help:"Benchmark the reference's scenarios beside a hand-written limit (and a Go peer), checking every answer."`
	Serve      serveCmd   `cmd:"" help:"Run a job server: a JSON API, metrics and a web page for deployed applications."`
	Deploy     deployCmd  `cmd:"" help:"Deploy a SQL file as an application on a job server."`
	Jobs       jobsCmd    `cmd:"" help:"List the jobs of a job server."`
	Stop       stopCmd    `cmd:"" help:"Drain and stop an application or a job on a job server."`
}

// env is what every command runs with: the streams and the context that
// the first SIGINT or SIGTERM cancels.
type env struct {
	ctx            context.Context
	stdout, stderr io.Writer
	log            *slog.Logger
}

type versionCmd struct{}

func (versionCmd) Help() string { return "Example:\n  sluice version" }

func (versionCmd) Run(e *env) error {
	fmt.Fprintln(e.stdout, "sluice", version)
	return nil
}

// helpCmd is `sluice help [COMMAND...]`, the same as `sluice [COMMAND...] --help`.
type helpCmd struct {
	Command []string `arg:"" optional:"" help:"The command to show help for."`
}

func (helpCmd) Help() string { return "Examples:\n  sluice help\n  sluice help run" }

func (h helpCmd) Run(k *kong.Context) error {
	_, err := k.Kong.Parse(append(h.Command, "--help"))
	return userError{errors.New(parseMessage(k.Kong, err))} // reached only for an unknown command: --help exits
}

func main() {
	ctx, stop := interruptContext(os.Stderr)
	code := execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// exitRequest carries kong's request to exit (after --help) out of Parse.
type exitRequest int

// execute runs the command line args and returns the process exit code.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	// Every message, log line and progress line goes through stderr: the
	// secrets of the statement's properties never reach it.
	stderr = secret.Writer(stderr)
	var c cli
	parser, err := kong.New(&c,
		kong.Name("sluice"),
		kong.Description("Sluice: streaming SQL over Kafka and files, on a partitioned parallel executor.\n\n"+
			"Exit codes: 0 success (also after a clean stop on Ctrl-C), 1 your error (SQL, options, flags), "+
			"2 a runtime failure (a sink or broker that fails), 130 a second Ctrl-C."),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { panic(exitRequest(code)) }),
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		kong.Vars{"version": "sluice " + version},
	)
	if err != nil {
		fmt.Fprintln(stderr, "sluice:", err)
		return exitRuntime
	}
	defer func() {
		if r := recover(); r != nil {
			req, ok := r.(exitRequest)
			if !ok {
				panic(r)
			}
			code = int(req)
		}
	}()
	k, err := parser.Parse(args)
	if err != nil {
		fmt.Fprintln(stderr, "sluice:", parseMessage(parser, err))
		return exitUser
	}
	logger := newLogger(stderr, c.LogFormat)
	if err := k.Run(&env{ctx: ctx, stdout: stdout, stderr: stderr, log: logger}); err != nil {
		fmt.Fprintln(stderr, "sluice:", err)
		return exitCode(err)
	}
	return exitOK
}

// parseMessage says what is wrong with the command line: an unknown or
// missing command lists the commands, and every message names the help of
// the command it is about.
func parseMessage(parser *kong.Kong, err error) string {
	var pe *kong.ParseError
	var node *kong.Node
	if errors.As(err, &pe) && pe.Context != nil {
		node = pe.Context.Selected()
	}
	if node != nil {
		return fmt.Sprintf("%v (see %s --help)", err, node.FullPath())
	}
	var names []string
	for _, c := range parser.Model.Children {
		if !c.Hidden {
			names = append(names, c.Name)
		}
	}
	commands := strings.Join(names, ", ")
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "unexpected argument "); ok {
		name, hint, _ := strings.Cut(rest, ", did you mean")
		if hint != "" {
			hint = "; did you mean" + hint
		}
		return fmt.Sprintf("unknown command %q%s (commands: %s; see sluice --help)", name, hint, commands)
	}
	if strings.HasPrefix(msg, "expected one of ") {
		return fmt.Sprintf("no command given (commands: %s; see sluice --help)", commands)
	}
	return msg + " (see sluice --help)"
}

// exitCode classifies err: the user's errors (runner.UsersToFix: SQL,
// options, credentials or a source topic a Kafka cluster refuses) give 1,
// all others (brokers that cannot be reached, a failing sink) 2.
func exitCode(err error) int {
	var ue userError
	if errors.As(err, &ue) || runner.UsersToFix(err) {
		return exitUser
	}
	return exitRuntime
}

// newLogger returns the slog logger writing text or JSON to w. It also
// becomes the default logger, which the connectors log through.
func newLogger(w io.Writer, format string) *slog.Logger {
	var h slog.Handler
	if format == "json" {
		h = slog.NewJSONHandler(w, nil)
	} else {
		h = slog.NewTextHandler(w, nil)
	}
	l := slog.New(h)
	slog.SetDefault(l)
	return l
}

package app

import (
	"context"
	"slices"
	"strings"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/runner"
)

// maxErrors bounds how many statements' errors Check reports.
const maxErrors = 10

// Check makes runner.Check's checks on every statement, as Start runs it:
// a statement reading another one's output (in process, or through a Kafka
// topic or a file, which need not exist yet) is checked against the
// writer's output columns. It connects to nothing; it may read a sample of
// an outside source to infer its schema (unless opts.NoInfer). It returns the errors of every failing
// statement (at most 10) as Errors, each a *runner.ConfigError; a statement
// reading the in-process output of a failing one is not checked. Start
// calls it before it prepares any job, so no statement runs before all are
// known to be right. A read of a name nothing declares or writes
// (Undefined) is its first error.
func (a *App) Check(ctx context.Context, opts runner.Options) error {
	if a.undefined != nil {
		return &runner.ConfigError{Err: a.undefined}
	}
	if opts.Schemas == nil {
		opts.Schemas = a.schemas // Plans reuses what Check inferred
	}
	names := a.Catalog.Names()
	for _, n := range a.Nodes {
		names = append(names, n.Reads...)
		if n.Writes != "" {
			names = append(names, n.Writes)
		}
	}
	if err := runner.CheckSet(jobSet(opts.Set), names); err != nil {
		return err
	}
	streams := map[string]runner.Stream{}
	failed := map[string]bool{}
	var errs Errors
	var at []int // the offset of each error's statement
	// A declaration no statement reads is checked on its own.
	read := map[string]bool{}
	for _, n := range a.Nodes {
		for _, r := range n.Reads {
			read[strings.ToLower(r)] = true
		}
	}
	for _, d := range a.Catalog.Declarations() {
		if read[strings.ToLower(d.Name)] {
			continue
		}
		if err := runner.CheckDeclaration(d, a.Catalog, opts.Set, opts.Env); err != nil {
			errs, at = append(errs, err), append(at, d.Offset)
		}
	}
next:
	for _, n := range a.Nodes {
		o := a.nodeOptions(n, opts)
		o.InProcess, o.Streams = nil, map[string]runner.Stream{}
		for _, e := range n.Inputs {
			if failed[e.From] {
				failed[n.Name] = true
				continue next
			}
			s := streams[strings.ToLower(e.Stream)]
			switch e.Via {
			case File:
				s.Bounded = true // read once its writer has finished
			case Kafka:
				s.Bounded = opts.UntilEnd
			}
			o.Streams[strings.ToLower(e.Stream)] = s
		}
		c, err := runner.Check(ctx, n.Stmt, o)
		if err != nil {
			failed[n.Name] = true
			if slices.ContainsFunc(errs, func(e error) bool { return e.Error() == err.Error() }) {
				continue // the same error (a --set key's) of another statement
			}
			at = append(at, n.Stmt.Offset)
			if errs = append(errs, err); len(errs) == maxErrors {
				break
			}
			continue
		}
		if n.Writes != "" {
			s := runner.Stream{Schema: n.output(c.Program), Bounded: c.Bounded}
			if c.ColumnsUnknown {
				s.Schema = connector.Schema{Origin: connector.SchemaNotInferred}
			}
			streams[strings.ToLower(n.Writes)] = s
		}
	}
	if len(errs) == 0 {
		return nil
	}
	// In the file's order.
	idx := make([]int, len(errs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(i, j int) int { return at[i] - at[j] })
	sorted := make(Errors, len(errs))
	for k, i := range idx {
		sorted[k] = errs[i]
	}
	return sorted
}

// Errors are the errors of several statements, in the file's order, shown one after another with a blank line between them.
type Errors []error

func (l Errors) Error() string {
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n\n")
}

// Unwrap returns the errors, so that errors.As finds a *runner.ConfigError.
func (l Errors) Unwrap() []error { return l }

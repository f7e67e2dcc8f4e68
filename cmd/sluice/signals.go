package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// interruptContext returns a context cancelled by the first SIGINT or
// SIGTERM, so a running job stops reading, drains, flushes and commits; a
// second signal exits at once with status 130. It ignores SIGPIPE.
func interruptContext(stderr io.Writer) (context.Context, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	// A reader of stdout that goes away (`sluice run q.sql | head`) must
	// not kill the process with SIGPIPE: the write fails with EPIPE
	// instead, and the job stops like one with a failed sink.
	signal.Ignore(syscall.SIGPIPE)
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-sigs:
		case <-ctx.Done():
			return
		}
		fmt.Fprintln(stderr, "sluice: stopping: draining, flushing and committing (again to exit at once)")
		cancel()
		<-sigs
		os.Exit(130)
	}()
	return ctx, func() { signal.Stop(sigs); cancel() }
}

package main

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestServes: the command prints the bootstrap servers of a cluster that
// holds the topics asked for, and stops as its context ends.
func TestServes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	serveCtx, stop := context.WithCancel(ctx)
	r, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(serveCtx, []string{"--brokers", "2", "--topic", "trades:4", "--topic", "quotes:2"}, w)
		w.Close()
	}()
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil {
		t.Fatalf("no bootstrap servers printed: %v", err)
	}
	brokers := strings.Split(strings.TrimSpace(line), ",")
	if len(brokers) != 2 {
		t.Fatalf("bootstrap servers %q, want 2", line)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	topics, err := kadm.NewClient(cl).ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for name, parts := range map[string]int{"trades": 4, "quotes": 2} {
		if got := len(topics[name].Partitions); got != parts {
			t.Errorf("topic %s has %d partitions, want %d", name, got, parts)
		}
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-ctx.Done():
		t.Fatal("still serving after its context ended")
	}
}

// TestBadFlags: a bad flag is an error naming it.
func TestBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--topic", "trades"}, `"trades": want NAME:PARTITIONS`},
		{[]string{"--topic", "trades:0"}, "at least 1 partition"},
		{[]string{"--brokers", "0"}, "--brokers must be at least 1"},
		{[]string{"--nope"}, "-nope"},
	} {
		if err := run(context.Background(), tc.args, io.Discard); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want one saying %q", tc.args, err, tc.want)
		}
	}
}

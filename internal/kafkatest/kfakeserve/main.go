// Command kfakeserve runs an in-process Kafka cluster (franz-go's kfake)
// for several sluice processes started by hand, as the e2e tests run
// theirs: its consumer groups keep and expire members as Kafka's
// coordinator does where kfake differs (kafkatest.Watch). On kfake alone a
// process killed at the wrong moment of a rebalance can stay in its group
// for ever, holding partitions nobody reads, and a bounded run never ends.
//
//	go run ./internal/kafkatest/kfakeserve --topic trades:8
//
// prints the cluster's bootstrap servers on stdout, then serves until
// interrupted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluicesql/sluice/internal/kafkatest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kfakeserve:", err)
		os.Exit(2)
	}
}

// run serves a cluster as args say until ctx ends, writing its bootstrap
// servers to out.
func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("kfakeserve", flag.ContinueOnError)
	brokers := fs.Int("brokers", 3, "number of brokers")
	port := fs.Int("port", 0, "port of the first broker, the others on the next ones (0: any free ports)")
	var topics topicFlag
	fs.Var(&topics, "topic", "create topic `NAME:PARTITIONS` (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *brokers < 1 {
		return errors.New("--brokers must be at least 1")
	}
	opts := []kfake.Opt{kfake.NumBrokers(*brokers)}
	if *port > 0 {
		ports := make([]int, *brokers)
		for i := range ports {
			ports[i] = *port + i
		}
		opts = append(opts, kfake.Ports(ports...))
	}
	for _, t := range topics {
		opts = append(opts, kfake.SeedTopics(t.partitions, t.name))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return err
	}
	defer c.Close()
	stopWatch, err := kafkatest.Watch(c)
	if err != nil {
		return err
	}
	defer stopWatch()
	fmt.Fprintln(out, strings.Join(c.ListenAddrs(), ","))
	<-ctx.Done()
	return nil
}

// topicFlag is the topics to create, from --topic NAME:PARTITIONS.
type topicFlag []struct {
	name       string
	partitions int32
}

func (f *topicFlag) String() string { return fmt.Sprint(*f) }

func (f *topicFlag) Set(v string) error {
	name, n, ok := strings.Cut(v, ":")
	p, err := strconv.ParseInt(n, 10, 32)
	if !ok || name == "" || err != nil || p < 1 {
		return fmt.Errorf("%q: want NAME:PARTITIONS, with at least 1 partition", v)
	}
	*f = append(*f, struct {
		name       string
		partitions int32
	}{name, int32(p)})
	return nil
}

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sluicesql/sluice/connector/gen"
	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/record"
)

type genCmd struct {
	Name        string  `arg:"" enum:"trades,market_data,orders,measurements" help:"Data set: trades, market_data, orders or measurements (1BRC)."`
	Count       int64   `default:"100000" help:"Number of records."`
	Out         string  `short:"o" help:"Output file ('-' for stdout); default stdout unless --topic is given."`
	Format      string  `default:"auto" enum:"auto,jsonl,json,csv,tsv" help:"File format: jsonl, csv or tsv (measurements csv is 1BRC's 'station;temperature'); auto takes it from the extension of --out as the file source does (.csv, .tsv; otherwise jsonl)."`
	Seed        uint64  `default:"1" help:"Random seed: the same seed gives the same data."`
	Keys        int     `help:"Key cardinality (0: the data set's default)."`
	Zipf        float64 `help:"Zipf skew exponent of the keys (0: uniform)."`
	Disorder    int64   `help:"Largest event-time disorder in milliseconds."`
	Topic       string  `help:"Produce to this Kafka topic instead of a file."`
	Brokers     string  `default:"localhost:9092" help:"Kafka bootstrap servers (comma-separated), with --topic."`
	Key         string  `help:"Column used as the Kafka message key, with --topic (default: none)."`
	Partitions  int32   `default:"8" help:"Partitions of the topic if it has to be created, with --topic."`
	Replication int16   `name:"replication-factor" help:"Replication factor of the topic if it has to be created, with --topic (0: the cluster's default)."`
	Rate        float64 `help:"Records per second (0: as fast as possible)."`
}

func (c *genCmd) Help() string {
	return "Examples:\n  sluice gen measurements --count 10000000 --format csv --out measurements.txt\n  sluice gen trades --count 100000 --topic trades --key trader_id --brokers localhost:9092"
}

func (c *genCmd) options() gen.Options {
	return gen.Options{Generator: c.Name, Count: c.Count, Seed: c.Seed, Keys: c.Keys, Zipf: c.Zipf, DisorderMs: c.Disorder, Rate: c.Rate}
}

// check refuses a flag out of its range, naming it, before anything is
// created.
func (c *genCmd) check() error {
	for _, f := range []struct {
		name string
		bad  bool
		want string
	}{
		{"--count", c.Count <= 0, "must be positive"},
		{"--keys", c.Keys < 0, "must be zero or more"},
		{"--zipf", c.Zipf < 0, "must be zero or more"},
		{"--disorder", c.Disorder < 0, "must be zero or more"},
		{"--rate", c.Rate < 0, "must be zero or more"},
		{"--partitions", c.Topic != "" && c.Partitions < 1, "must be at least 1"},
		{"--replication-factor", c.Topic != "" && c.Replication < 0, "must be zero or more"},
	} {
		if f.bad {
			return userError{fmt.Errorf("%s %s", f.name, f.want)}
		}
	}
	src, err := gen.New(c.Name, c.options())
	if err != nil {
		return userError{err}
	}
	if schema := src.Schema(); c.Key != "" {
		if _, ok := schema.Lookup(c.Key); !ok {
			return userError{fmt.Errorf("--key %q is not a column of %s; columns: %s", c.Key, c.Name, strings.Join(schema.Names(), ", "))}
		}
	}
	return nil
}

func (c *genCmd) Run(e *env) error {
	if err := c.check(); err != nil {
		return err
	}
	if c.Topic != "" {
		return c.produce(e.ctx, e.stderr)
	}
	var w io.Writer = e.stdout
	var f *os.File
	if c.Out != "" && c.Out != "-" {
		var err error
		if f, err = os.Create(c.Out); err != nil {
			return userError{err}
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	n, err := gen.WriteFile(bw, c.options(), c.format())
	if err == nil {
		err = bw.Flush()
	}
	if err == nil && f != nil {
		err = f.Close()
	}
	if err != nil {
		return fmt.Errorf("gen %s: %w", c.Name, err)
	}
	if f != nil {
		fmt.Fprintf(e.stderr, "wrote %s %s records (%s) to %s\n", count(n), c.Name, c.format(), c.Out)
	}
	return nil
}

// format is --format, with auto resolved from the extension of --out.
func (c *genCmd) format() string {
	if c.Format != "auto" {
		return c.Format
	}
	switch ext := strings.ToLower(filepath.Ext(c.Out)); ext {
	case ".csv", ".tsv":
		return ext[1:]
	}
	return "jsonl"
}

// produce writes the generated records to a Kafka topic, creating it if needed.
func (c *genCmd) produce(ctx context.Context, stderr io.Writer) error {
	brokers := strings.Split(c.Brokers, ",")
	if err := kafka.CreateTopic(ctx, brokers, c.Topic, c.Partitions, c.Replication); err != nil {
		return fmt.Errorf("create topic %s: %w", c.Topic, err)
	}
	src, err := gen.New(c.Name, c.options())
	if err != nil {
		return userError{err}
	}
	schema := src.Schema()
	var key []string
	if c.Key != "" {
		key = []string{c.Key} // a column: checked by check
	}
	readers, err := src.Open(ctx, schema, nil)
	if err != nil {
		return err
	}
	var total int64
	for r := range readers {
		b := &record.Batch{}
		for {
			err := r.Next(ctx, b, 4096)
			if len(b.Records) > 0 {
				if perr := kafka.ProduceRows(ctx, brokers, c.Topic, schema, key, b.Records); perr != nil {
					return fmt.Errorf("produce to %s: %w", c.Topic, perr)
				}
				total += int64(len(b.Records))
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
		}
		r.Close()
	}
	fmt.Fprintf(stderr, "produced %d %s records to topic %s\n", total, c.Name, c.Topic)
	return nil
}

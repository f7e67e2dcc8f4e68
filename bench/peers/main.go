// Command peers runs a Go peer of Sluice, github.com/rulego/streamsql
// v1.1.2, on the benchmark scenarios it supports, over the same data
// formulas as package bench, and prints one JSON result (bench.PeerResult).
//
// It lives in its own module so that Sluice does not depend on streamsql.
// `sluice bench --peer` runs it with `go run .` in this directory:
//
//	go run . -scenario 3a -records 1000000 -seconds 0
//
// The peer gets its records as maps (its input type), built before the
// clock starts, and uses its blocking overflow policy: its default drops
// records when its buffers are full.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	scenario := flag.String("scenario", "3a", "scenario: 3a (tumbling window GROUP BY)")
	records := flag.Int("records", 1_000_000, "number of records")
	seconds := flag.Float64("seconds", 0, "repeat for at least this long and keep the best run")
	flag.Parse()
	if *scenario != "3a" {
		fmt.Fprintf(os.Stderr, "peers: scenario %q is not supported (valid: 3a)\n", *scenario)
		os.Exit(1)
	}
	if *records <= 0 {
		fmt.Fprintln(os.Stderr, "peers: -records must be positive")
		os.Exit(1)
	}
	res, err := runScenario3a(*records, *seconds)
	if err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		os.Exit(2)
	}
	if err := writeResult(os.Stdout, res); err != nil {
		fmt.Fprintln(os.Stderr, "peers:", err)
		os.Exit(2)
	}
}

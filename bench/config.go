package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Modes: how records reach the job.
const (
	ModeMemory = "memory" // records decoded beforehand, read from memory
	ModeJSONL  = "jsonl"  // JSON-lines files
	ModeText   = "text"   // 1BRC "station;temperature" text files
	ModeKafka  = "kafka"  // a topic of JSON values on an in-process kfake cluster
	// ModeKafkaAvro is a topic of Avro values in the Schema Registry wire
	// format, with an in-process registry; --modes kafka runs it too.
	ModeKafkaAvro = "kafka-avro"
)

// Modes lists every mode.
var Modes = []string{ModeMemory, ModeJSONL, ModeText, ModeKafka, ModeKafkaAvro}

// Config bounds and selects a benchmark run.
type Config struct {
	// Scenarios are the scenario IDs to run (all when empty).
	Scenarios []string
	// Modes are the modes to run (all when empty); a scenario runs only the
	// modes that fit its data (text for 1BRC, jsonl for the others).
	Modes []string
	// Partitions are the partition counts (default 1 and 2).
	Partitions []int
	// AllStrategies runs every strategy the planner accepts, not only the
	// automatic choice.
	AllStrategies bool
	// Records overrides every scenario's record count (0: its default).
	Records int
	// Seconds is the least time each measurement repeats for; the best run
	// counts (0: one run).
	Seconds float64
	// Dir holds the data files (written once per dataset and count).
	Dir string
	// Peer is the command that runs the Go peer (nil: no peer), started in
	// PeerDir; it gets the flags -scenario, -records and -seconds and prints
	// one JSON PeerResult.
	Peer    []string
	PeerDir string
	// Log receives progress lines (nil: none).
	Log io.Writer
}

// fits reports whether mode applies to s.
func fits(s *Scenario, mode string) bool {
	if s.join != nil {
		return mode == ModeMemory // its inputs are generated in memory
	}
	switch mode {
	case ModeText:
		return s.Text
	case ModeJSONL, ModeKafka, ModeKafkaAvro:
		return !s.Text
	}
	return mode == ModeMemory
}

// ConfigError is a Config that Run refuses: an unknown scenario or mode, a
// partition count out of range.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *ConfigError) Unwrap() error { return e.Err }

// withDefaults checks c and fills in its defaults.
func (c Config) withDefaults() (Config, error) {
	if len(c.Modes) == 0 {
		c.Modes = Modes
	}
	for _, m := range c.Modes {
		if !slices.Contains(Modes, m) {
			return c, fmt.Errorf("--modes: unknown mode %q (valid: %s)", m, strings.Join(Modes, ", "))
		}
	}
	if slices.Contains(c.Modes, ModeKafka) && !slices.Contains(c.Modes, ModeKafkaAvro) {
		// Kafka is measured in both encodings, JSON beside Avro.
		c.Modes = slices.Insert(slices.Clone(c.Modes), slices.Index(c.Modes, ModeKafka)+1, ModeKafkaAvro)
	}
	if len(c.Partitions) == 0 {
		c.Partitions = []int{1, 2}
	}
	for _, n := range c.Partitions {
		if n < 1 || n > 256 {
			return c, fmt.Errorf("--partitions %d: out of range [1, 256]", n)
		}
	}
	if !slices.Contains(c.Partitions, 1) {
		// ratios to 1 partition need the 1-partition run
		c.Partitions = append([]int{1}, c.Partitions...)
	}
	if c.Records < 0 || c.Seconds < 0 {
		return c, fmt.Errorf("--records and --seconds must not be negative")
	}
	if c.Dir == "" {
		return c, fmt.Errorf("no data directory")
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
	return c, nil
}

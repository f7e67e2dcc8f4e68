package gen

import (
	"fmt"
	"strings"

	"github.com/sluicesql/sluice/connector/internal/props"
)

// Options configure a generator. The zero value of every field but
// Generator is a usable default.
type Options struct {
	// Generator names the data: trades, market_data, orders or measurements.
	Generator string
	// Count is the number of records; 0 is unbounded.
	Count int64
	// Rate is records per second over all partitions; 0 is as fast as possible.
	Rate float64
	// Keys is the key cardinality; 0 is the generator's default.
	Keys int
	// Zipf is the skew exponent of key choice; 0 is uniform.
	Zipf float64
	// DisorderMs is the most an event time lags behind its position, in ms.
	DisorderMs int64
	// Seed seeds the random choices.
	Seed uint64
	// Partitions is the number of source partitions; 0 means 1.
	Partitions int
}

// sourceOptions are the options a generator source accepts after its name.
var sourceOptions = []string{"type", "generator", "count", "rate", "keys", "zipf", "disorder", "seed", "partitions", "primary.key"}

// SourceOptions returns the options a generator source accepts as
// '<name>.<option>'.
func SourceOptions() []string { return append([]string(nil), sourceOptions...) }

// maxKeys bounds the key cardinality (the Zipf table holds one float per key).
const maxKeys = 1 << 24

// ParseOptions reads the '<name>.'-prefixed generator options of props.
func ParseOptions(name string, all map[string]string) (Options, error) {
	o, err := props.Extract("generator", name, all, sourceOptions...)
	if err != nil {
		return Options{}, err
	}
	var opts Options
	if opts.Generator, err = o.Enum("generator", "", Generators()...); err != nil {
		return Options{}, err
	}
	if opts.Generator == "" {
		return Options{}, o.Errorf("generator", "required (valid values: %s)", strings.Join(Generators(), ", "))
	}
	if c := strings.ToLower(strings.TrimSpace(o.String("count", ""))); c != "unbounded" {
		if opts.Count, err = o.Int("count", 0, 1); err != nil {
			return Options{}, err
		}
	}
	if opts.Rate, err = o.Float("rate", 0, 0); err != nil {
		return Options{}, err
	}
	keys, err := o.Int("keys", 0, 0)
	if err != nil {
		return Options{}, err
	}
	if keys > maxKeys {
		return Options{}, o.Errorf("keys", "at most %d", maxKeys)
	}
	opts.Keys = int(keys)
	if opts.Zipf, err = o.Float("zipf", 0, 0); err != nil {
		return Options{}, err
	}
	if opts.DisorderMs, err = o.Int("disorder", 0, 0); err != nil {
		return Options{}, err
	}
	seed, err := o.Int("seed", 1, 0)
	if err != nil {
		return Options{}, err
	}
	opts.Seed = uint64(seed)
	parts, err := o.Int("partitions", 1, 1)
	if err != nil {
		return Options{}, err
	}
	if parts > 1024 {
		return Options{}, o.Errorf("partitions", "at most 1024")
	}
	opts.Partitions = int(parts)
	return opts, nil
}

// check validates options given directly.
func (o *Options) check() error {
	switch {
	case o.Count < 0:
		return fmt.Errorf("generator: negative count %d", o.Count)
	case o.Rate < 0:
		return fmt.Errorf("generator: negative rate %g", o.Rate)
	case o.Keys < 0 || o.Keys > maxKeys:
		return fmt.Errorf("generator: keys %d out of range [0, %d]", o.Keys, maxKeys)
	case o.Zipf < 0:
		return fmt.Errorf("generator: negative zipf exponent %g", o.Zipf)
	case o.DisorderMs < 0:
		return fmt.Errorf("generator: negative disorder %d", o.DisorderMs)
	case o.Partitions < 0 || o.Partitions > 1024:
		return fmt.Errorf("generator: partitions %d out of range [1, 1024]", o.Partitions)
	}
	return nil
}

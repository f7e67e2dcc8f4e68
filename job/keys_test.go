package job

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/mem"
)

// contradicted is a source whose partition key claim has been contradicted.
type contradicted struct {
	*mem.Source
	ch chan struct{}
}

func (s contradicted) Contradicted() <-chan struct{} { return s.ch }

func (s contradicted) Contradiction() error {
	return errors.New(`source "t": declared partition key (k) contradicted by the data: partition 1 offset 3`)
}

// TestContradictedKeyStopsAlignedJobs: a job whose routing relies on the
// source's partition key stops with the contradiction; a job that hashes
// does not depend on the claim and finishes.
func TestContradictedKeyStopsAlignedJobs(t *testing.T) {
	input := keyedInput(5, 3, 200)
	q := "SELECT k, COUNT(*) AS c FROM t GROUP BY k EMIT FINAL"
	for _, tt := range []struct {
		strategy string
		stops    bool
	}{
		{"smart_repartition", true},
		{"sticky_partition", true},
		{"always_hash", false},
		{"fan_in", false},
	} {
		_, cfg, err := planned(t, q, tt.strategy, 2, len(input))
		if err != nil {
			t.Fatal(err)
		}
		ch := make(chan struct{})
		close(ch)
		sink := &mem.Sink{}
		cfg.Sources = []connector.Source{contradicted{mem.NewSource("t", input), ch}}
		cfg.Sinks = []connector.Sink{sink}
		_, err = Run(context.Background(), cfg)
		switch {
		case tt.stops && (err == nil || !strings.Contains(err.Error(), "contradicted") || !strings.Contains(err.Error(), "stopping")):
			t.Errorf("%s: error %v, want the contradiction and a stop", tt.strategy, err)
		case !tt.stops && err != nil:
			t.Errorf("%s: %v, want the job to finish", tt.strategy, err)
		}
	}
}

package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/record"
)

// TestRunAllScenarios runs every scenario in every mode with tiny record
// counts, 1 and 2 partitions and every accepted strategy, and requires
// every answer to equal the limit's.
func TestRunAllScenarios(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a kfake cluster")
	}
	var log bytes.Buffer
	rep, err := Run(context.Background(), Config{Records: 5000, Dir: t.TempDir(), AllStrategies: true, Log: &log})
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	seen := map[string]bool{}
	for _, s := range rep.Skipped {
		t.Logf("skipped %s", s)
		seen[strings.Fields(strings.TrimPrefix(s, "scenario "))[0]] = true
	}
	for _, r := range rep.Results {
		if r.Mismatch {
			t.Errorf("mismatch: %+v", r)
		}
		if r.Engine == EngineSluice {
			seen[r.Scenario+"/"+r.Mode] = true
			if r.Answer.Rows == 0 {
				t.Errorf("%s %s: empty answer", r.Scenario, r.Mode)
			}
		}
	}
	for _, s := range Scenarios() {
		for _, m := range Modes {
			if fits(s, m) && !seen[s.ID+"/"+m] && !seen[s.ID+":"] {
				t.Errorf("scenario %s mode %s did not run", s.ID, m)
			}
		}
	}
	var table, js bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "| 3b") {
		t.Errorf("table lacks scenario 3b:\n%s", table.String())
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Results) != len(rep.Results) {
		t.Fatalf("JSON round trip: %v, %d results", err, len(back.Results))
	}
}

// TestDigestOrderIndependent checks that the digest ignores row order and,
// for keyed results, earlier rows of a key, and normalises decimal scale.
func TestDigestOrderIndependent(t *testing.T) {
	row := func(k int64, v record.Value) record.Record {
		return record.Record{Values: []record.Value{record.IntValue(k), v}}
	}
	tests := []struct {
		name string
		keys []int
		a, b []record.Record
		same bool
	}{
		{"multiset order", nil,
			[]record.Record{row(1, record.IntValue(5)), row(2, record.IntValue(6))},
			[]record.Record{row(2, record.IntValue(6)), row(1, record.IntValue(5))}, true},
		{"multiset count", nil,
			[]record.Record{row(1, record.IntValue(5))},
			[]record.Record{row(1, record.IntValue(5)), row(1, record.IntValue(5))}, false},
		{"keyed last row wins", []int{0},
			[]record.Record{row(1, record.IntValue(4)), row(1, record.IntValue(5))},
			[]record.Record{row(1, record.IntValue(5))}, true},
		{"keyed value differs", []int{0},
			[]record.Record{row(1, record.IntValue(4))},
			[]record.Record{row(1, record.IntValue(5))}, false},
		{"decimal scale", nil,
			[]record.Record{row(1, record.DecimalValue(1001, 1))},
			[]record.Record{row(1, record.DecimalValue(10010, 2))}, true},
		{"decimal value", nil,
			[]record.Record{row(1, record.DecimalValue(1001, 1))},
			[]record.Record{row(1, record.DecimalValue(1001, 2))}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			da, db := newDigest(tt.keys), newDigest(tt.keys)
			if err := da.Write(context.Background(), tt.a); err != nil {
				t.Fatal(err)
			}
			if err := db.Write(context.Background(), tt.b); err != nil {
				t.Fatal(err)
			}
			if got := da.answer() == db.answer(); got != tt.same {
				t.Errorf("equal = %v, want %v (%s vs %s)", got, tt.same, da.answer(), db.answer())
			}
		})
	}
}

// TestKafkaModeMeasuresAvro: --modes kafka measures the Avro topic beside
// the JSON one; kafka-avro alone does not bring JSON back.
func TestKafkaModeMeasuresAvro(t *testing.T) {
	for _, c := range []struct{ modes, want []string }{
		{[]string{ModeMemory, ModeKafka}, []string{ModeMemory, ModeKafka, ModeKafkaAvro}},
		{[]string{ModeKafkaAvro}, []string{ModeKafkaAvro}},
		{[]string{ModeKafka, ModeKafkaAvro}, []string{ModeKafka, ModeKafkaAvro}},
	} {
		got, err := Config{Modes: c.modes, Dir: t.TempDir()}.withDefaults()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Modes, c.want) {
			t.Errorf("modes %v run %v, want %v", c.modes, got.Modes, c.want)
		}
	}
}

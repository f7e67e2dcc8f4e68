package join

import (
	"testing"

	"github.com/sluicesql/sluice/record"
)

// TestTableRetraction: a retracted row (a group its writer's HAVING no
// longer keeps) deletes its key from the table; the key's next row stores
// it again.
func TestTableRetraction(t *testing.T) {
	table, err := NewTable("big", record.NewSchema("k", "s"), []string{"k"})
	if err != nil {
		t.Fatal(err)
	}
	row := func(k string, s record.Value, retract bool) *record.Record {
		return &record.Record{Values: []record.Value{record.StringValue(k), s}, Retract: retract}
	}
	table.Apply(row("a", record.IntValue(50), false))
	table.Apply(row("b", record.IntValue(7), false))
	table.Apply(row("a", record.Value{}, true))
	if n := table.Rows(); n != 1 {
		t.Fatalf("%d rows after the retraction of a, want 1", n)
	}
	table.Apply(row("c", record.Value{}, true)) // a key never written
	table.Apply(row("a", record.IntValue(80), false))
	if n := table.Rows(); n != 2 {
		t.Fatalf("%d rows after a was written again, want 2", n)
	}
}

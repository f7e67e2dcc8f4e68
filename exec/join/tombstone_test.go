package join

import (
	"strings"
	"testing"

	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/record"
)

// TestTombstoneKeyOfTheColumnType: a tombstone's message key is read as a
// value of the table's key column type and deletes the row whose key equals
// it, as keys are equal everywhere (record.Value.AppendKey): 150.000 in a
// DECIMAL(6,3) key, 7.5 in a DOUBLE key, 150 in an INTEGER key sent as
// "0150", "150.0" or "1.5e2". A STRING key is its text only, and a key
// without a type names both the text and the number. A message key that is
// no value of the column's type deletes nothing and goes to the
// dead-letter queue with its bytes, place and reason.
func TestTombstoneKeyOfTheColumnType(t *testing.T) {
	cases := []struct {
		name   string
		typ    record.Type
		stored record.Value // the key of the one row, as its decoder gives it
		msgKey string
		kept   bool // the row is still there
		dead   string
	}{
		{"decimal as printed", record.DecimalType(6, 3), record.DecimalValue(150000, 3), "150.000", false, ""},
		{"decimal as an integer", record.DecimalType(6, 3), record.DecimalValue(150000, 3), "150", false, ""},
		{"double", record.DoubleType, record.FloatValue(7.5), "7.5", false, ""},
		{"double with zeros", record.DoubleType, record.FloatValue(7.5), "7.50", false, ""},
		{"integer with a leading zero", record.IntegerType, record.IntValue(150), "0150", false, ""},
		{"integer with a fraction of zero", record.IntegerType, record.IntValue(150), "150.0", false, ""},
		{"integer with an exponent", record.IntegerType, record.IntValue(150), "1.5e2", false, ""},
		{"another integer", record.IntegerType, record.IntValue(150), "151", true, ""},
		{"string is its text", record.StringType, record.StringValue("150"), "150.0", true, ""},
		{"string", record.StringType, record.StringValue("150.0"), "150.0", false, ""},
		{"untyped number", record.AnyType, record.DecimalValue(75, 1), "7.50", false, ""},
		{"untyped string", record.AnyType, record.StringValue("7.50"), "7.50", false, ""},
		{"integer with a fraction", record.IntegerType, record.IntValue(150), "150.5", true, "no key of column k"},
		{"no number", record.IntegerType, record.IntValue(150), "15x", true, "no key of column k"},
		{"too many digits", record.DecimalType(6, 3), record.DecimalValue(150000, 3), "1500.000", true, "does not fit type DECIMAL(6,3)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			schema := record.NewSchemaOf(record.Field{Name: "k", Type: c.typ}, record.Field{Name: "v", Type: record.BigintType})
			table, err := NewTable("t", schema, []string{"k"})
			if err != nil {
				t.Fatal(err)
			}
			src := mem.NewSource("t", [][]mem.Message{{
				{Key: []byte(c.stored.String()), Raw: []byte("{}"), Fields: map[string]record.Value{"k": c.stored, "v": record.IntValue(1)}},
				{Key: []byte(c.msgKey)}, // a tombstone
			}})
			dlq := &mem.DeadLetters{}
			loadWhole(t, table, src, dlq)
			if kept := table.Rows() == 1; kept != c.kept {
				t.Errorf("row of key %v after a tombstone keyed %q: kept %v, want %v", c.stored, c.msgKey, kept, c.kept)
			}
			dead := dlq.All()
			if c.dead == "" {
				if len(dead) != 0 {
					t.Errorf("dead letters %+v, want none", dead)
				}
				return
			}
			if len(dead) != 1 {
				t.Fatalf("dead letters %+v, want the tombstone's", dead)
			}
			d := dead[0]
			if string(d.Key) != c.msgKey || d.Partition != 0 || d.Offset != 1 || d.Source != "t" || d.Tombstone || !strings.Contains(d.Reason, c.dead) {
				t.Errorf("dead letter %+v (reason %q), want the tombstone at partition 0 offset 1 keyed %q, its reason saying %q", d, d.Reason, c.msgKey, c.dead)
			}
		})
	}
}

package join

import (
	"testing"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// TestOuterJoinNullable: a NOT NULL column of a side an outer join
// NULL-extends is nullable in the output; an inner join keeps it NOT NULL.
func TestOuterJoinNullable(t *testing.T) {
	schema := func() *record.Schema {
		return record.NewSchemaOf(record.Field{Name: "k", Type: record.BigintType, NotNull: true},
			record.Field{Name: "v", Type: record.BigintType, NotNull: true})
	}
	tests := []struct{ join, want string }{
		{"JOIN", "av BIGINT NOT NULL, bv BIGINT NOT NULL"},
		{"LEFT JOIN", "av BIGINT NOT NULL, bv BIGINT"},
		{"RIGHT JOIN", "av BIGINT, bv BIGINT NOT NULL"},
		{"FULL JOIN", "av BIGINT, bv BIGINT"},
	}
	for _, tt := range tests {
		stmts, err := sql.Parse("q", "SELECT a.v AS av, b.v AS bv FROM a "+tt.join+" b ON a.k = b.k WITHIN INTERVAL '1' SECOND")
		if err != nil {
			t.Fatal(err)
		}
		prog, err := Compile(stmts[0].Select(), Options{Inputs: []Input{{Name: "a", Schema: schema()}, {Name: "b", Schema: schema()}}})
		if err != nil {
			t.Fatalf("%s: %v", tt.join, err)
		}
		if got := prog.OutputSchema().String(); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.join, got, tt.want)
		}
	}
}

package join

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/file"
	"github.com/sluicesql/sluice/record"
)

// TestFileTableKeepsTheLastRow: a table read from a file cut into many
// splits, read at once, holds each key's last row in the file, not the row
// of whichever split was read last; a temporal table's versions of one
// time come in the file's order, so its last row of that time is the one
// valid from it.
func TestFileTableKeepsTheLastRow(t *testing.T) {
	var b strings.Builder
	for i := range 4000 {
		fmt.Fprintf(&b, `{"k":"k%d","v":%d,"pad":"%s"}`+"\n", i%3, i, strings.Repeat("x", 40))
	}
	path := filepath.Join(t.TempDir(), "t.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	schema := record.NewSchema("k", "v", "pad")
	for run := range 5 {
		src, err := file.NewSource("t", map[string]string{"t.type": "file_source", "t.path": path, "t.split.size": "4096"})
		if err != nil {
			t.Fatal(err)
		}
		table, err := NewTable("t", schema, []string{"k"})
		if err != nil {
			t.Fatal(err)
		}
		temporal := run%2 == 1
		if temporal { // every version of one time
			table.versionTime = func(*record.Record) (int64, bool) { return 1000, true }
		}
		loadWhole(t, table, src, nil)
		for k, want := range map[string]int64{"k0": 3999, "k1": 3997, "k2": 3998} {
			var got []record.Value
			for _, sh := range table.shards {
				if r, ok := sh.rows.get(record.StringValue(k).AppendKey(nil)); ok {
					got = r.vals
					if temporal {
						if got, err = r.at(1000); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			if len(got) < 2 || got[1].Int() != want {
				t.Fatalf("run %d (temporal %v): key %s holds %v, want the file's last row of it, v %d", run, temporal, k, got, want)
			}
		}
	}
}

// TestTableKeyPrintsAsAGroupKey: a table keyed by an inferred DECIMAL
// column keeps its key in the form of the column's type (as a GROUP BY key
// prints, record.Value.KeyForm), not in that of its latest row: 150.0 and
// then 150 are the row of key 150.000, whose other columns are the latest.
func TestTableKeyPrintsAsAGroupKey(t *testing.T) {
	schema := record.NewSchemaOf(
		record.Field{Name: "k", Type: record.DecimalType(6, 3), Inferred: true},
		record.Field{Name: "v", Type: record.BigintType},
	)
	for _, keys := range [][]record.Value{
		{record.DecimalValue(1500, 1), record.IntValue(150)},
		{record.IntValue(150), record.FloatValue(1.5e2)},
	} {
		table, err := NewTable("t", schema, []string{"k"})
		if err != nil {
			t.Fatal(err)
		}
		for i, k := range keys {
			table.Apply(&record.Record{Values: []record.Value{k, record.IntValue(int64(i))}})
		}
		r, ok := table.shards[0].rows.get(record.IntValue(150).AppendKey(nil))
		if got := fmt.Sprint(r.vals); !ok || got != "[150.000 1]" {
			t.Errorf("keys %v: row %s, want [150.000 1]", keys, got)
		}
	}
}

// loadWhole reads src into table up to its end, its dead letters to dlq.
func loadWhole(t *testing.T, table *Table, src connector.Source, dlq connector.DeadLetters) {
	t.Helper()
	l, err := Load(context.Background(), table, src, dlq)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Wait(context.Background()); err != nil {
		t.Fatal(err)
	}
}

package expr

import (
	"strings"
	"testing"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

func TestJSONPath(t *testing.T) {
	doc := ` {"user": {"id": 7, "Name": "a\"n", "tags": ["x", {"k": [1, 2]}, null]}, "n": -1.50, "ok": true} `
	for _, tt := range []struct {
		path []string
		idx  int64
		want string
	}{
		{[]string{"user", "id"}, 0, "INTEGER 7"},
		{[]string{"user", "name"}, 0, `STRING a"n`},
		{[]string{"n"}, 0, "DECIMAL -1.50"},
		{[]string{"ok"}, 0, "BOOLEAN true"},
		{[]string{"user", "tags"}, 1, "STRING x"},
		{[]string{"user", "tags"}, 2, `STRING {"k": [1, 2]}`},
		{[]string{"user", "tags"}, 3, "NULL"},
		{[]string{"user", "tags"}, 4, "NULL"},
		{[]string{"user", "missing"}, 0, "NULL"},
		{[]string{"n", "deeper"}, 0, "NULL"},
	} {
		text, ok := doc, true
		for _, f := range tt.path {
			if text, ok = jsonField(text, f); !ok {
				break
			}
		}
		if ok && tt.idx != 0 {
			text, ok = jsonElem(text, tt.idx)
		}
		got := "NULL"
		if ok {
			v, err := jsonValue(text, record.AnyType)
			if err != nil {
				t.Fatalf("%v[%d]: %v", tt.path, tt.idx, err)
			}
			got = show(v, nil)
		}
		if got != tt.want {
			t.Errorf("%v[%d] = %s, want %s", tt.path, tt.idx, got, tt.want)
		}
	}
	if _, ok := jsonElem(`[1]`, 0); ok {
		t.Error("element 0 exists: SQL arrays count from 1")
	}
	if v, err := jsonValue(`"2024-01-15T10:00:05Z"`, record.TimestampType); err != nil || v.Kind() != record.Timestamp {
		t.Errorf("typed field: %v, %v", v, err)
	}
}

// TestQualifierOrColumn: in p.x.y over a source p with a ROW column p, p is
// the source when it has a column x, else (as in DuckDB) the column p when
// its type has a field x; an unknown name stays an unknown column.
func TestQualifierOrColumn(t *testing.T) {
	user := record.RowType(record.Field{Name: "id", Type: record.IntegerType})
	schema := record.NewSchemaOf(record.Field{Name: "p", Type: record.RowType(record.Field{Name: "user", Type: user})},
		record.Field{Name: "c", Type: record.StringType})
	row := &record.Record{Values: []record.Value{record.StringValue(`{"user":{"id":7}}`), record.StringValue("x")}}
	for src, want := range map[string]string{"p.user.id": "7", "p.p.user.id": "7", "p.c": "x", "p.usr.id": `unknown column "usr"`} {
		stmts, err := sql.Parse("q.sql", "SELECT "+src+" FROM p")
		if err != nil {
			t.Fatal(err)
		}
		f, err := Compile(stmts[0].Select().Items[0].Expr, &Scope{Schema: schema, Qualifiers: []string{"p"}})
		got := ""
		if err != nil {
			got = err.Error()
		} else if v, err := f(row); err != nil {
			got = err.Error()
		} else {
			got = v.String()
		}
		if !strings.Contains(got, want) {
			t.Errorf("%s: %s, want %s", src, got, want)
		}
	}
}

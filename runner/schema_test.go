package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/plan"
	"github.com/sluicesql/sluice/sql"
)

// parseApp parses src as the file test.sql and returns its statements and
// the catalog of its DDL.
func parseApp(t *testing.T, src string) ([]*sql.Statement, *Catalog) {
	t.Helper()
	stmts, err := sql.Parse("test.sql", src)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := NewCatalog(stmts)
	if err != nil {
		t.Fatal(err)
	}
	return stmts, cat
}

// runSQL runs every query statement of src (DDL declares sources for the
// others) and returns the rows each writes to stdout, sorted, and the jobs.
func runSQL(t *testing.T, src string, set map[string]string) ([]string, []*Job) {
	t.Helper()
	stmts, cat := parseApp(t, src)
	var rows []string
	var jobs []*Job
	for _, s := range stmts {
		if s.IsDDL() {
			continue
		}
		var out bytes.Buffer
		j, err := Prepare(context.Background(), s, Options{Partitions: 2, Stdout: &out, Catalog: cat, Set: set})
		if err != nil {
			t.Fatalf("Prepare: %v", err)
		}
		if _, err := j.Run(context.Background()); err != nil {
			t.Fatalf("Run: %v", err)
		}
		rows = append(rows, strings.Split(strings.TrimSpace(out.String()), "\n")...)
		jobs = append(jobs, j)
	}
	sort.Strings(rows)
	return rows, jobs
}

func writeData(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDDLDeclaresSources(t *testing.T) {
	trades := writeData(t, "trades.csv", "1;AAPL;185.2;007;2024-01-15T10:00:05Z\n2;MSFT;402.10;50;2024-01-15T10:00:12Z\n")
	src := `CREATE STREAM trades (trader_id BIGINT, symbol STRING, price DECIMAL(10,2), code STRING, trade_time TIMESTAMP)
		WITH ('type'='file_source', 'path'='` + trades + `', 'format'='csv', 'delimiter'=';', 'has_header'='false');
		SELECT * FROM trades;
		SELECT t.* EXCEPT (code, trade_time) FROM trades t WHERE price > 200;`
	rows, jobs := runSQL(t, src, nil)
	want := []string{
		`{"trader_id":1,"symbol":"AAPL","price":185.20,"code":"007","trade_time":"2024-01-15T10:00:05.000Z"}`,
		`{"trader_id":2,"symbol":"MSFT","price":402.10,"code":"50","trade_time":"2024-01-15T10:00:12.000Z"}`,
		`{"trader_id":2,"symbol":"MSFT","price":402.10}`,
	}
	sort.Strings(want)
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	if s := jobs[0].Schema; s.Origin != connector.SchemaDDL || s.Table() || s.Columns.Len() != 5 {
		t.Errorf("schema %+v", s)
	}
}

func TestTableAndOverride(t *testing.T) {
	a := writeData(t, "a.jsonl", `{"id":1,"name":"ann"}`+"\n")
	b := writeData(t, "b.jsonl", `{"id":2,"name":"bob"}`+"\n")
	src := `CREATE TABLE people (id BIGINT, name STRING, PRIMARY KEY (id)) WITH ('type'='file_source', 'path'='` + a + `');
		SELECT name FROM people;`
	rows, jobs := runSQL(t, src, map[string]string{"people.path": b})
	if len(rows) != 1 || rows[0] != `{"name":"bob"}` {
		t.Errorf("--set people.path: rows %q", rows)
	}
	if s := jobs[0].Schema; !s.Table() || s.PrimaryKey[0] != "id" {
		t.Errorf("not a table: %+v", s)
	}
	src = `SELECT name FROM p WITH ('p.type'='file_source', 'p.path'='` + a + `', 'p.primary.key'='id', 'p.columns'='id BIGINT, name STRING')`
	if _, jobs = runSQL(t, src, nil); !jobs[0].Schema.Table() || jobs[0].Schema.Origin != connector.SchemaDeclared {
		t.Errorf("'p.primary.key': %+v", jobs[0].Schema)
	}
}

func TestInferredSchemaAndMisfits(t *testing.T) {
	data := writeData(t, "t.jsonl", `{"n":1,"s":"x","ts":"2024-01-15T10:00:05Z"}`+"\n"+
		`{"n":2.5,"s":3,"ts":"2024-01-15T10:00:06Z"}`+"\n"+
		`{"n":3,"s":"z","ts":"not a time"}`+"\n")
	dlq := filepath.Join(t.TempDir(), "dlq.jsonl")
	src := `SELECT * FROM t WITH ('t.type'='file_source', 't.path'='` + data + `', 't.infer.records'='2', 'dlq.path'='` + dlq + `')`
	rows, jobs := runSQL(t, src, nil)
	want := []string{
		`{"n":1,"s":"x","ts":"2024-01-15T10:00:05.000Z"}`,
		`{"n":2.5,"s":"3","ts":"2024-01-15T10:00:06.000Z"}`,
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	s := jobs[0].Schema
	if s.Origin != connector.SchemaInferred || s.Records != 2 || s.Columns.String() != "n DECIMAL(2,1), s STRING, ts TIMESTAMP" {
		t.Errorf("schema %s (%s)", s.Columns, s.Describe())
	}
	dead, err := os.ReadFile(dlq)
	if err != nil || !strings.Contains(string(dead), `column ts: STRING \"not a time\" does not fit type TIMESTAMP`) {
		t.Errorf("dead letters %s, %v", dead, err)
	}
}

func TestNestedData(t *testing.T) {
	data := writeData(t, "n.jsonl", `{"id":1,"payload":{"user":{"id":7,"name":"ann"}},"tags":["a","b"]}`+"\n"+
		`{"id":2,"payload":{"user":{"id":8,"name":"bob"}},"tags":[]}`+"\n")
	src := `CREATE STREAM e WITH ('type'='file_source', 'path'='` + data + `');
		SELECT id, payload.user, e.payload.user.name, tags[1] AS first, tags FROM e WHERE payload.user.id > 7;
		SELECT payload.user.name AS who, COUNT(*) AS n FROM e GROUP BY who;`
	rows, _ := runSQL(t, src, nil)
	want := []string{
		`{"id":2,"user":{"id":8,"name":"bob"},"name":"bob","first":null,"tags":[]}`,
		`{"who":"ann","n":1}`,
		`{"who":"bob","n":1}`,
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
}

// TestExplainSchemas checks each source's schema line in EXPLAIN and its
// entry in explain --json: the origin (DDL, declared, inferred from N
// records), a table's primary key, and every column with its type, ANY
// included.
func TestExplainSchemas(t *testing.T) {
	events := writeData(t, "e.jsonl", `{"id":1,"n":null,"p":{"a":[1,2]}}`+"\n"+`{"id":2,"n":null}`+"\n")
	people := writeData(t, "p.jsonl", `{"id":1,"name":"ann"}`+"\n")
	src := `CREATE TABLE people (id BIGINT, name STRING NOT NULL, PRIMARY KEY (id)) WITH ('type'='file_source', 'path'='` + people + `');
		SELECT e.id, name FROM e JOIN people ON e.id = people.id WITH ('e.type'='file_source', 'e.path'='` + events + `');
		SELECT * FROM d WITH ('d.type'='file_source', 'd.path'='` + people + `', 'd.columns'='id, name STRING');`
	stmts, cat := parseApp(t, src)
	var plans []*plan.Plan
	for _, s := range stmts[1:] {
		p, err := Plan(context.Background(), s, Options{Partitions: 2, Catalog: cat})
		if err != nil {
			t.Fatal(err)
		}
		plans = append(plans, p)
	}
	var text bytes.Buffer
	if err := plan.Explain(&text, plans); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"schema:       e (inferred from 2 records): id INTEGER, n ANY, p ROW<a ARRAY<INTEGER>>\n",
		"schema:       people (DDL; table, primary key id): id BIGINT, name STRING NOT NULL\n",
		"schema:       d (declared): id ANY, name STRING\n",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("EXPLAIN lacks %q:\n%s", want, text.String())
		}
	}
	var js bytes.Buffer
	if err := plan.ExplainJSON(&js, plans); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Statements []struct {
			Schemas []struct {
				Source, Origin, Describe string
				Records                  int
				Table                    bool
				PrimaryKey               []string `json:"primary_key"`
				Columns                  []struct {
					Name, Type string
					Nullable   bool
					Fields     []struct {
						Name    string
						Element struct{ Type string }
					}
				}
			}
		}
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, st := range doc.Statements {
		for _, s := range st.Schemas {
			line := fmt.Sprintf("%s %s %d %q %v %v:", s.Source, s.Origin, s.Records, s.Describe, s.Table, s.PrimaryKey)
			for _, c := range s.Columns {
				line += fmt.Sprintf(" %s %s %v", c.Name, c.Type, c.Nullable)
				for _, f := range c.Fields {
					line += fmt.Sprintf(" (field %s of %s)", f.Name, f.Element.Type)
				}
			}
			got = append(got, line)
		}
	}
	want := []string{
		`e inferred 2 "inferred from 2 records" false []: id INTEGER true n ANY true p ROW<a ARRAY<INTEGER>> true (field a of INTEGER)`,
		`people DDL 0 "DDL" true [id]: id BIGINT true name STRING false`,
		`d declared 0 "declared" false []: id ANY true name STRING true`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("explain --json schemas:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestDDLColumnsDeclaredTwice checks that a DDL column list and a
// '<n>.columns' (in the DDL's WITH, the reading statement's or --set) are
// refused: neither may silently win.
func TestDDLColumnsDeclaredTwice(t *testing.T) {
	data := writeData(t, "t.jsonl", `{"a":1}`+"\n")
	ddl := `CREATE STREAM t (a BIGINT) WITH ('type'='file_source', 'path'='` + data + `'%s);
		SELECT * FROM t%s;`
	for _, tt := range []struct {
		ddlWith, with string
		set           map[string]string
		want          string
	}{
		{", 'columns'='b STRING'", "", nil, "'columns'"},
		{"", " WITH ('t.columns'='b STRING')", nil, "'t.columns'"},
		{"", "", map[string]string{"t.columns": "b"}, "--set t.columns: "},
	} {
		text := fmt.Sprintf(ddl, tt.ddlWith, tt.with)
		stmts, cat := parseApp(t, text)
		if tt.set == nil {
			// The caret goes under the key: line:column of it.
			for i, line := range strings.Split(text, "\n") {
				if col := strings.Index(line, tt.want); col >= 0 {
					tt.want = fmt.Sprintf("%d:%d: ", i+1, col+1)
					break
				}
			}
		}
		_, err := Plan(context.Background(), stmts[1], Options{Catalog: cat, Set: tt.set})
		if err == nil || !strings.Contains(err.Error(), tt.want) ||
			!strings.Contains(err.Error(), "t already declares its columns, in the column list of its CREATE statement at line 1") {
			t.Errorf("%s%s %v: %v", tt.ddlWith, tt.with, tt.set, err)
		}
	}
}

// TestArrayOfObjects reads the fields of an array's elements
// (items[1].sku): typed from the inferred ARRAY<ROW<...>>, NULL when the
// element or the field is missing, and an unknown field is an error with a
// hint.
func TestArrayOfObjects(t *testing.T) {
	data := writeData(t, "o.jsonl", `{"id":1,"items":[{"sku":"x","qty":2,"tags":["a","b"]},{"sku":"y","qty":1}]}`+"\n"+
		`{"id":2,"items":[{"sku":"z","qty":5}]}`+"\n"+`{"id":3,"items":[]}`+"\n")
	src := `CREATE STREAM o WITH ('type'='file_source', 'path'='` + data + `');
		SELECT id, items[1].sku, items[1].qty + 1 AS q, items[2].sku AS second, items[1].tags[2] AS tag FROM o;
		SELECT items[1].sku AS sku, SUM(items[1].qty) AS n FROM o WHERE items[1].qty > 1 GROUP BY items[1].sku;`
	rows, _ := runSQL(t, src, nil)
	want := []string{
		`{"id":1,"sku":"x","q":3,"second":"y","tag":"b"}`,
		`{"id":2,"sku":"z","q":6,"second":null,"tag":null}`,
		`{"id":3,"sku":null,"q":null,"second":null,"tag":null}`,
		`{"sku":"x","n":2}`,
		`{"sku":"z","n":5}`,
	}
	sort.Strings(want)
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
	stmts, err := sql.Parse("test.sql", `SELECT items[1].skux FROM o WITH ('o.type'='file_source', 'o.path'='`+data+`')`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Plan(context.Background(), stmts[0], Options{}); err == nil ||
		!strings.Contains(err.Error(), `items[1] has no field "skux" (its fields: sku, qty, tags); did you mean "sku"?`) {
		t.Errorf("unknown field: %v", err)
	}
}

// TestNestedDataInAJoin reads nested fields in a join: in ON (a path was
// dropped there, so the whole object was compared and no row matched),
// qualified or not (user.name, a column's field, not an input's column),
// and named by their last name.
func TestNestedDataInAJoin(t *testing.T) {
	events := writeData(t, "e.jsonl", `{"id":1,"user":{"id":7,"name":"ann"}}`+"\n"+`{"id":2,"user":{"id":8}}`+"\n")
	users := writeData(t, "u.jsonl", `{"uid":7,"region":"eu"}`+"\n"+`{"uid":8,"region":"us"}`+"\n")
	src := `CREATE TABLE users (uid BIGINT, region STRING, PRIMARY KEY (uid)) WITH ('type'='file_source', 'path'='` + users + `');
		CREATE STREAM payload WITH ('type'='file_source', 'path'='` + events + `');
		SELECT e.id, user.name, e.user.id AS uid, region FROM payload e JOIN users u ON e.user.id = u.uid;
		SELECT payload.user.name AS who, region FROM payload JOIN users ON user.id = users.uid WHERE user.id > 7;`
	rows, _ := runSQL(t, src, nil)
	want := []string{
		`{"id":1,"name":"ann","uid":7,"region":"eu"}`,
		`{"id":2,"name":null,"uid":8,"region":"us"}`,
		`{"who":null,"region":"us"}`,
	}
	sort.Strings(want)
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}
}

// TestHeaderlessTypedCSV reads a header-less CSV file with typed columns
// and no 'has_header', declared by a DDL or by '<n>.columns': every line
// is a record (the first was taken for a header); a file with a header
// line of the declared names reads the same.
func TestHeaderlessTypedCSV(t *testing.T) {
	lines := "T1,AAPL,185.20,100,2024-01-15T10:00:05Z\nT2,MSFT,402.10,50,2024-01-15T10:00:12Z\n"
	bare := writeData(t, "bare.csv", lines)
	headed := writeData(t, "headed.csv", "trader_id,symbol,price,quantity,trade_time\n"+lines)
	cols := "trader_id STRING, symbol STRING, price DECIMAL(10,2), quantity INT, trade_time TIMESTAMP"
	want := []string{
		`{"trader_id":"T1","symbol":"AAPL","price":185.20,"quantity":100,"trade_time":"2024-01-15T10:00:05.000Z"}`,
		`{"trader_id":"T2","symbol":"MSFT","price":402.10,"quantity":50,"trade_time":"2024-01-15T10:00:12.000Z"}`,
	}
	for _, path := range []string{bare, headed} {
		for _, src := range []string{
			`CREATE STREAM trades (` + cols + `) WITH ('type'='file_source', 'path'='` + path + `'); SELECT * FROM trades;`,
			`SELECT * FROM c WITH ('c.type'='file_source', 'c.path'='` + path + `', 'c.columns'='` + cols + `');`,
		} {
			if rows, _ := runSQL(t, src, nil); strings.Join(rows, "\n") != strings.Join(want, "\n") {
				t.Errorf("%s:\n%s\nwant\n%s", src, strings.Join(rows, "\n"), strings.Join(want, "\n"))
			}
		}
	}
}

// TestNestedEventTime checks that a nested field named as the event time
// ('event.time.field'='meta.ts') is refused with how to make it a column,
// not called an unknown column.
func TestNestedEventTime(t *testing.T) {
	data := writeData(t, "n.jsonl", `{"meta":{"ts":"2024-01-15T10:00:05Z"},"s":"A"}`+"\n")
	stmts, _ := parseApp(t, `SELECT s FROM w WITH ('w.type'='file_source', 'w.path'='`+data+`', 'event.time.field'='meta.ts')`)
	_, err := Plan(context.Background(), stmts[0], Options{})
	if err == nil || !strings.Contains(err.Error(), `event time column "meta.ts" is a nested field of meta, not a column: make it a column first`) {
		t.Errorf("got %v", err)
	}
}

package runner

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/sql"
)

// runSQL runs every query statement of src (DDL declares sources for the
// others) and returns the rows each writes to stdout, sorted, and the jobs.
func runSQL(t *testing.T, src string, set map[string]string) ([]string, []*Job) {
	t.Helper()
	stmts, err := sql.Parse("test.sql", src)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := NewCatalog(stmts)
	if err != nil {
		t.Fatal(err)
	}
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

package runner

import (
	"bytes"
	"context"
	stdsql "database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/mem"
	"github.com/sluicesql/sluice/partition"
	"github.com/sluicesql/sluice/plan"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"

	_ "modernc.org/sqlite"
)

// joinData is random input for the join differential test: a stream of
// trades and three tables, each table message an upsert or a tombstone.
type joinData struct {
	trades  [][]mem.Message // by partition
	traders [][]mem.Message
	limits  [][]mem.Message
	regions [][]mem.Message
	keyed   bool                       // trades are partitioned by k like traders
	streams map[string][][]mem.Message // other inputs by name
	parts   int
	db      *stdsql.DB
}

func keyPart(k string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(k))
	return int(h.Sum32() % uint32(n))
}

// newJoinData generates the inputs and loads SQLite with the stream and
// the tables' final states.
func newJoinData(t *testing.T, seed uint64, keyed bool) *joinData {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 99))
	d := &joinData{keyed: keyed, parts: 4}
	db, err := stdsql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	d.db = db
	exec := func(q string, args ...any) {
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("sqlite: %s: %v", q, err)
		}
	}
	exec(`CREATE TABLE trades (id INTEGER, k TEXT, k2 INTEGER, qty INTEGER)`)
	exec(`CREATE TABLE traders (k TEXT PRIMARY KEY, name TEXT, region TEXT, lim INTEGER)`)
	exec(`CREATE TABLE limits (k TEXT, k2 INTEGER, cap INTEGER, PRIMARY KEY (k, k2))`)
	exec(`CREATE TABLE regions (region TEXT PRIMARY KEY, boss TEXT)`)
	d.trades = make([][]mem.Message, d.parts)
	for i := range 1500 {
		k := fmt.Sprintf("k%d", rng.IntN(15))
		f := map[string]record.Value{"id": record.IntValue(int64(i)), "k2": record.IntValue(int64(rng.IntN(3))),
			"qty": record.IntValue(int64(rng.IntN(20)))}
		var kv any
		if rng.IntN(20) > 0 {
			f["k"] = record.StringValue(k)
			kv = k
		}
		p := rng.IntN(d.parts)
		if keyed {
			p = keyPart(fmt.Sprint(kv), d.parts)
		}
		d.trades[p] = append(d.trades[p], mem.Message{Fields: f, Timestamp: int64(i)})
		exec(`INSERT INTO trades VALUES (?, ?, ?, ?)`, i, kv, f["k2"].Int(), f["qty"].Int())
	}
	// traders: keys k0..k11, updated and deleted at random; the last word wins
	d.traders = make([][]mem.Message, d.parts)
	final := map[string][]any{}
	for range 400 {
		k := fmt.Sprintf("k%d", rng.IntN(12))
		p := keyPart(k, d.parts)
		if rng.IntN(5) == 0 {
			d.traders[p] = append(d.traders[p], mem.Message{Key: []byte(k)}) // tombstone
			delete(final, k)
			continue
		}
		name, region, lim := fmt.Sprintf("n%d", rng.IntN(100)), fmt.Sprintf("r%d", rng.IntN(4)), rng.IntN(20)
		d.traders[p] = append(d.traders[p], mem.Message{Key: []byte(k), Raw: []byte("{}"), Fields: map[string]record.Value{
			"k": record.StringValue(k), "name": record.StringValue(name), "region": record.StringValue(region),
			"lim": record.IntValue(int64(lim))}})
		final[k] = []any{k, name, region, lim}
	}
	for _, row := range final {
		exec(`INSERT INTO traders VALUES (?, ?, ?, ?)`, row...)
	}
	// limits: a two-column key, repeated keys (no tombstones: a message key names one column)
	d.limits = make([][]mem.Message, 2)
	lim := map[[2]any][]any{}
	for range 200 {
		k, k2, c := fmt.Sprintf("k%d", rng.IntN(15)), rng.IntN(3), rng.IntN(50)
		p := keyPart(k, 2)
		d.limits[p] = append(d.limits[p], mem.Message{Raw: []byte("{}"), Fields: map[string]record.Value{
			"k": record.StringValue(k), "k2": record.IntValue(int64(k2)), "cap": record.IntValue(int64(c))}})
		lim[[2]any{k, k2}] = []any{k, k2, c}
	}
	for _, row := range lim {
		exec(`INSERT INTO limits VALUES (?, ?, ?)`, row...)
	}
	d.regions = [][]mem.Message{nil}
	for _, r := range []string{"r0", "r1", "r2"} {
		d.regions[0] = append(d.regions[0], mem.Message{Raw: []byte("{}"), Fields: map[string]record.Value{
			"region": record.StringValue(r), "boss": record.StringValue("boss of " + r)}})
		exec(`INSERT INTO regions VALUES (?, ?)`, r, "boss of "+r)
	}
	return d
}

// sources returns fresh mem sources for a statement's inputs.
func (d *joinData) sources(names []string) []connector.Source {
	var out []connector.Source
	for _, n := range names {
		switch n {
		case "trades":
			var opts []mem.Option
			if d.keyed {
				opts = append(opts, mem.WithFacts(connector.Facts{Key: []string{"k"}, Partitions: d.parts, Origin: "declared"}))
			}
			out = append(out, mem.NewSource(n, d.trades, opts...))
		case "traders":
			out = append(out, mem.NewSource(n, d.traders, mem.WithFacts(connector.Facts{Key: []string{"k"}, Partitions: d.parts, Origin: "declared"})))
		case "limits":
			out = append(out, mem.NewSource(n, d.limits))
		case "regions":
			out = append(out, mem.NewSource(n, d.regions))
		default:
			out = append(out, mem.NewSource(n, d.streams[n], mem.WithFacts(connector.Facts{Key: []string{"k"}, Partitions: d.parts, Origin: "declared"})))
		}
	}
	return out
}

// run runs a join statement over mem sources and returns its rows.
func (d *joinData) run(t *testing.T, text string, opts Options) ([]string, error) {
	t.Helper()
	rows, _, err := d.runPlan(t, text, opts)
	return rows, err
}

// runPlan is run that also returns the statement's plan.
func (d *joinData) runPlan(t *testing.T, text string, opts Options) ([]string, *plan.Plan, error) {
	t.Helper()
	stmts, err := sql.Parse("join.sql", text)
	if err != nil {
		t.Fatal(err)
	}
	stmt := stmts[0]
	sel := stmt.Select()
	props, err := Properties(sel, nil, opts.Set, nil)
	if err != nil {
		t.Fatal(err)
	}
	props["dlq.path"] = t.TempDir() + "/dlq.jsonl"
	names := []string{sel.From.Name}
	for _, j := range sel.Joins {
		names = append(names, j.Source.Name)
	}
	var out bytes.Buffer
	opts.Stdout = &out
	q := &joinQuery{checked: &checked{name: "join", props: props}, srcs: d.sources(names), bootstrap: slices.Repeat([]bool{true}, len(names))}
	for i, n := range names {
		s, err := sourceSchema(context.Background(), sel, n, nil, props, q.srcs[i], true)
		if err != nil {
			t.Fatal(err)
		}
		q.schemas = append(q.schemas, s)
	}
	if err := q.compile(sel); err != nil {
		return nil, nil, err
	}
	j, err := joinJob(context.Background(), stmt, opts, q)
	if err != nil {
		return nil, nil, err
	}
	sum, err := j.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if sum.DeadLetters != 0 {
		dl, _ := os.ReadFile(props["dlq.path"])
		t.Fatalf("%d records dead-lettered: %.600s", sum.DeadLetters, dl)
	}
	var rows []string
	dec := json.NewDecoder(&out)
	dec.UseNumber()
	for dec.More() {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, canonRow(m))
	}
	slices.Sort(rows)
	return rows, j.Plan, nil
}

// canonRow prints a row with its columns sorted and numbers as floats.
func canonRow(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, strings.ToLower(k))
	}
	slices.Sort(keys)
	low := map[string]any{}
	for k, v := range m {
		low[strings.ToLower(k)] = v
	}
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s;", k, canonValue(low[k]))
	}
	return b.String()
}

func canonValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case json.Number:
		f, _ := x.Float64()
		return strconv.FormatFloat(f, 'g', -1, 64)
	case int64:
		return strconv.FormatFloat(float64(x), 'g', -1, 64)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case []byte:
		return strconv.Quote(string(x))
	case string:
		return strconv.Quote(x)
	}
	return fmt.Sprint(v)
}

// sqlite runs the query in SQLite and returns its rows.
func (d *joinData) sqlite(t *testing.T, q string) []string {
	t.Helper()
	rows, err := d.db.Query(q)
	if err != nil {
		t.Fatalf("sqlite: %s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		m := map[string]any{}
		for i, c := range cols {
			m[c] = vals[i]
		}
		out = append(out, canonRow(m))
	}
	slices.Sort(out)
	return out
}

// TestJoinDifferentialSQLite runs stream-table joins over random data
// (tables with repeated keys and tombstones, bootstrapped) through the job
// at 1, 2, 4 and 8 partitions with every strategy the planner accepts and
// every table routing, and compares the rows with SQLite's.
func TestJoinDifferentialSQLite(t *testing.T) {
	const with = ` WITH ('traders.primary.key'='k', 'limits.primary.key'='k,k2', 'regions.primary.key'='region'`
	queries := []struct{ name, q string }{
		{"inner", `SELECT t.id, t.qty, r.name, r.region FROM trades t JOIN traders r ON t.k = r.k`},
		{"left", `SELECT t.id, t.k, r.name, r.lim FROM trades t LEFT JOIN traders r ON t.k = r.k`},
		{"left with a condition in ON", `SELECT t.id, r.name FROM trades t LEFT JOIN traders r ON t.k = r.k AND r.lim > t.qty`},
		{"where after the join", `SELECT t.id, r.region FROM trades t JOIN traders r ON r.k = t.k WHERE r.region <> 'r1' AND t.qty > 3`},
		{"group by a table column", `SELECT r.region, COUNT(*) AS n, SUM(t.qty) AS q FROM trades t JOIN traders r ON t.k = r.k GROUP BY r.region`},
		{"group by the join key", `SELECT t.k, COUNT(*) AS n, MAX(r.lim) AS m FROM trades t LEFT JOIN traders r ON t.k = r.k GROUP BY t.k`},
		{"multi-column key", `SELECT t.id, l.cap FROM trades t LEFT JOIN limits l ON t.k = l.k AND t.k2 = l.k2`},
		{"three-way", `SELECT t.id, r.name, g.boss FROM trades t JOIN traders r ON t.k = r.k LEFT JOIN regions g ON r.region = g.region`},
		{"four-way on three keys", `SELECT t.id, l.cap, r.name, g.boss FROM trades t LEFT JOIN limits l ON t.k = l.k AND t.k2 = l.k2 JOIN traders r ON t.k = r.k LEFT JOIN regions g ON r.region = g.region WHERE l.cap IS NULL OR l.cap > 10`},
		{"group by another key than the join's", `SELECT t.k2, COUNT(*) AS n, SUM(r.lim) AS s FROM trades t JOIN traders r ON t.k = r.k GROUP BY t.k2`},
		{"group by a later table's column", `SELECT g.boss, COUNT(*) AS n FROM trades t JOIN traders r ON t.k = r.k JOIN regions g ON r.region = g.region GROUP BY g.boss`},
	}
	for _, keyed := range []bool{false, true} {
		d := newJoinData(t, 5, keyed)
		for _, q := range queries {
			want := d.sqlite(t, q.q)
			if len(want) == 0 {
				t.Fatalf("%s: SQLite gives no rows; the data exercises nothing", q.name)
			}
			t.Run(fmt.Sprintf("%s/keyed=%v", q.name, keyed), func(t *testing.T) {
				t.Parallel()
				d.each(t, q.q, with, want)
			})
		}
	}
}

// TestJoinGroupByTableColumn checks that a GROUP BY on a table's column
// runs in parallel: the tables are joined as the stream is read and the
// joined rows hashed on the column, with the same rows as SQLite.
func TestJoinGroupByTableColumn(t *testing.T) {
	d := newJoinData(t, 11, false)
	q := `SELECT g.boss, r.region, COUNT(*) AS n, SUM(t.qty) AS q FROM trades t JOIN traders r ON t.k = r.k LEFT JOIN regions g ON r.region = g.region GROUP BY g.boss, r.region`
	want := d.sqlite(t, q)
	got, p, err := d.runPlan(t, q+` EMIT FINAL WITH ('traders.primary.key'='k', 'regions.primary.key'='region', 'traders.broadcast'='false')`, Options{Partitions: 4})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("rows\n%v\nwant\n%v", got, want)
	}
	if p.Strategy.Name() != partition.AlwaysHash || strings.Join(p.RoutingKeys, ", ") != "g.boss, r.region" || !p.Inputs[1].JoinedAtSource || !p.Inputs[2].JoinedAtSource {
		t.Errorf("routed %s on %v, inputs %+v", p.Strategy.Name(), p.RoutingKeys, p.Inputs[1:])
	}
}

// each runs a query at every partition count, strategy and table routing.
func (d *joinData) each(t *testing.T, q, with string, want []string) {
	accepted := 0
	for _, n := range []int{1, 2, 4, 8} {
		for _, s := range append([]string{""}, partition.Names...) {
			for _, bc := range []string{"true", "false"} { // auto broadcasts these small tables
				text := q
				if strings.Contains(text, "GROUP BY") {
					text += " EMIT FINAL"
				}
				text += with + fmt.Sprintf(", 'traders.broadcast'='%s', 'limits.broadcast'='%s', 'regions.broadcast'='%s')", bc, bc, bc)
				got, err := d.run(t, text, Options{Partitions: n, Strategy: s})
				var ce *ConfigError
				if errors.As(err, &ce) && s != "" && strings.Contains(err.Error(), "would split") {
					continue // rejected by the planner
				}
				if err != nil {
					t.Fatalf("N=%d, strategy %q, broadcast %q: %v", n, s, bc, err)
				}
				accepted++
				if !slices.Equal(got, want) {
					t.Fatalf("N=%d, strategy %q, broadcast %q: %d rows, SQLite %d\n got %.400v\nwant %.400v",
						n, s, bc, len(got), len(want), got, want)
				}
			}
		}
	}
	if accepted < 8 {
		t.Errorf("only %d configurations accepted", accepted)
	}
}

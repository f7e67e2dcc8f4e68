package runner

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/sql"
)

var update = flag.Bool("update", false, "rewrite testdata/schema_errors.golden")

// TestSchemaErrors pins, for each class of error found when a statement is
// resolved against its source's schema (an unknown column, qualifier,
// function, field or window time column; a type mismatch in an operator,
// a comparison, WHERE or an aggregate; a bad GROUP BY position), the
// message, its position and caret, and the "did you mean" hint, in
// testdata/schema_errors.golden. Every case must fail before a record is read.
func TestSchemaErrors(t *testing.T) {
	const ddl = "CREATE STREAM trades WITH ('type'='file_source', 'path'='testdata/trades.jsonl');\n"
	cases := []struct{ name, query string }{
		{"unknown column", "SELECT symbl FROM trades"},
		{"unknown column in WHERE", "SELECT symbol FROM trades\nWHERE quantty > 5"},
		{"the first of two unknown columns", "SELECT symbl, COUNT(*) FROM trades WHERE quantty > 5 GROUP BY symbl"},
		{"column the subquery in FROM does not output", "SELECT sym FROM (SELECT symbol AS s, price FROM trades)"},
		{"unknown column, nothing close", "SELECT volume FROM trades"},
		{"unknown qualifier", "SELECT trade.symbol FROM trades t"},
		{"unknown function", "SELECT UPPR(symbol) FROM trades"},
		{"unknown window time column", "SELECT symbol, COUNT(*) FROM trades GROUP BY symbol WINDOW TUMBLING(trade_tme, 1m)"},
		{"unknown event.time.field", "SELECT symbol FROM trades WITH ('event.time.field'='trade_tme')"},
		{"window time column of text", "SELECT COUNT(*) FROM trades WINDOW TUMBLING(symbol, 1m)"},
		{"event.time.field of a ROW", "SELECT symbol FROM trades WITH ('event.time.field'='payload')"},
		{"unknown column in EXCEPT", "SELECT * EXCEPT (prize) FROM trades"},
		{"unknown nested field", "SELECT payload.usr.id FROM trades"},
		{"field of a scalar", "SELECT symbol.x FROM trades"},
		{"subscript of a scalar", "SELECT symbol[1] FROM trades"},
		{"SUM of a string", "SELECT SUM(symbol) FROM trades"},
		{"AVG OVER of a string", "SELECT AVG(symbol) OVER (PARTITION BY trader_id) AS a FROM trades"},
		{"ABS of a string", "SELECT ABS(symbol) FROM trades"},
		{"string plus number", "SELECT symbol + 1 FROM trades"},
		{"string plus string", "SELECT symbol + '.x' AS s FROM trades"},
		{"number compared with text", "SELECT * FROM trades WHERE price = 'abc'"},
		{"HAVING aggregate compared with text", "SELECT symbol, COUNT(*) AS n FROM trades GROUP BY symbol HAVING COUNT(*) > 'many'"},
		{"grouped key of the wrong type", "SELECT symbol + 1 AS s, COUNT(*) AS n FROM trades GROUP BY symbol"},
		{"LIKE of a number", "SELECT * FROM trades WHERE symbol LIKE 5"},
		{"bad timestamp literal", "SELECT * FROM trades WHERE trade_time > 'yesterday'"},
		{"WHERE not boolean", "SELECT * FROM trades WHERE symbol"},
		{"NOT of a number", "SELECT * FROM trades WHERE NOT quantity"},
		{"ORDER BY an input column not selected", "SELECT symbol FROM trades ORDER BY trade_time"},
		{"GROUP BY position out of range", "SELECT symbol, COUNT(*) FROM trades GROUP BY 3"},
		{"GROUP BY an aggregate", "SELECT symbol, COUNT(*) AS n FROM trades GROUP BY n"},
		{"string in double quotes", `SELECT * FROM trades WHERE symbol = "AAPL"`},
		{"select-list alias in WHERE", "SELECT price * quantity AS notional FROM trades WHERE notional > 100"},
		{"UPPER of a number", "SELECT UPPER(price) FROM trades"},
		{"SUBSTRING start of text", "SELECT SUBSTRING(symbol, 'x') FROM trades"},
		{"CASE of no common type", "SELECT CASE WHEN quantity > 1 THEN 1 ELSE 'a' END AS c FROM trades"},
		{"CASE WHEN not boolean", "SELECT CASE WHEN symbol THEN 1 END AS c FROM trades"},
		{"simple CASE of another type", "SELECT CASE symbol WHEN 1 THEN 'x' END AS c FROM trades"},
		{"LIKE of an integer", "SELECT * FROM trades WHERE quantity LIKE 'a%'"},
		{"JOIN key of another type", "SELECT t.symbol FROM trades t JOIN trades u ON t.symbol = u.quantity AND u.trade_time BETWEEN t.trade_time AND t.trade_time + INTERVAL '1' MINUTE"},
		{"unknown column of a joined source", "SELECT t.symbol, u.prize FROM trades t JOIN trades u ON t.symbol = u.symbol WITHIN INTERVAL '1' MINUTE"},
		{"unknown qualifier in a join", "SELECT t.symbol, v.price FROM trades t JOIN trades u ON t.symbol = u.symbol WITHIN INTERVAL '1' MINUTE"},
		{"QUALIFY rank compared with text", "SELECT symbol, ROW_NUMBER() OVER (PARTITION BY symbol ORDER BY price DESC) AS rn FROM trades QUALIFY rn <= 'a'"},
		{"window function plus text", "SELECT SUM(price) OVER (PARTITION BY symbol ORDER BY trade_time) + 'x' AS s FROM trades"},
		{"CAST to an unknown type", "SELECT CAST(quantity AS BIGNT) FROM trades"},
		{"unknown source", "SELECT symbol FROM trade"},
		{"unknown primary key column", "SELECT * FROM trades WITH ('trades.primary.key'='symbl')"},
		{"unknown type in declared columns", "SELECT * FROM trades WITH ('trades.columns'='symbol STRING, price DECMAL(10,2)')"},
	}
	var b strings.Builder
	for _, c := range cases {
		src := ddl + c.query + ";\n"
		stmts, err := sql.Parse("q.sql", src)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		cat, err := NewCatalog(stmts)
		if err != nil {
			t.Fatal(err)
		}
		_, err = Plan(context.Background(), stmts[1], Options{Catalog: cat})
		if err == nil {
			t.Errorf("%s: no error", c.name)
			continue
		}
		var ce *ConfigError
		if !errors.As(err, &ce) {
			t.Errorf("%s: %v is not a ConfigError", c.name, err)
		}
		b.WriteString("== " + c.name + "\n" + sql.Locate(err, "q.sql", src).Error() + "\n\n")
	}
	golden := filepath.Join("testdata", "schema_errors.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./runner -run TestSchemaErrors -update)", err)
	}
	if b.String() != string(want) {
		t.Errorf("errors differ from %s (run with -update and review):\n%s", golden, b.String())
	}
}

package exec

import (
	"testing"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// FuzzCompile checks that planning any statement that parses (name
// resolution, type checking, subqueries in FROM, windows, Top-N) against a
// typed schema never panics: a mistake is an error before the first record.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		"SELECT symbol, COUNT(*) AS n FROM t GROUP BY symbol",
		"SELECT * EXCEPT (price) FROM t WHERE price * quantity > 100",
		"SELECT symbol, _WINDOW_START AS w, SUM(quantity) FROM t GROUP BY symbol WINDOW TUMBLING(trade_time, 1m) EMIT FINAL",
		"SELECT * FROM (SELECT symbol, ROW_NUMBER() OVER (PARTITION BY symbol ORDER BY price DESC) AS rn FROM t) WHERE rn <= 2",
		"SELECT symbol FROM (SELECT symbl, price FROM t)",
		"SELECT CASE WHEN quantity > 1 THEN 1 ELSE 'a' END, UPPER(price), SUBSTRING(symbol, 'x') FROM t",
		"SELECT COALESCE(symbol, NULL), NULLIF(price, 1), EXTRACT(YEAR FROM trade_time), payload.user.id, tags[1] FROM t",
		"SELECT symbol, LAG(price) OVER (PARTITION BY symbol ORDER BY trade_time) FROM t QUALIFY price > 1",
		"SELECT symbol, COUNT(*) FROM t GROUP BY 1 HAVING COUNT(*) > 1 ORDER BY 2 DESC LIMIT 3",
	} {
		f.Add(s)
	}
	schema := record.NewSchemaOf(
		record.Field{Name: "symbol", Type: record.StringType},
		record.Field{Name: "price", Type: record.DecimalType(10, 2)},
		record.Field{Name: "quantity", Type: record.IntegerType},
		record.Field{Name: "trade_time", Type: record.TimestampType},
		record.Field{Name: "payload", Type: record.RowType(record.Field{Name: "user", Type: record.RowType(record.Field{Name: "id", Type: record.BigintType})})},
		record.Field{Name: "tags", Type: record.ArrayType(record.StringType)},
		record.Field{Name: "v"},
	)
	f.Fuzz(func(t *testing.T, src string) {
		stmts, err := sql.Parse("fuzz.sql", src)
		if err != nil {
			return
		}
		for _, s := range stmts {
			if s.IsDDL() || len(s.Select().Joins) > 0 {
				continue
			}
			Compile(s.Select(), Options{Schema: schema})
			Compile(s.Select(), Options{}) // no schema: names are discovered
		}
	})
}

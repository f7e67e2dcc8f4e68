package exec

import (
	"strings"
	"testing"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// TestOutputNotNull pins which output columns are NOT NULL: only those
// that provably never hold NULL (a NOT NULL input column, COUNT, a group
// key or aggregate of NOT NULL columns in a group, window bounds, operators
// over such values); everything else stays nullable.
func TestOutputNotNull(t *testing.T) {
	in := record.NewSchemaOf(
		record.Field{Name: "id", Type: record.BigintType, NotNull: true},
		record.Field{Name: "symbol", Type: record.StringType, NotNull: true},
		record.Field{Name: "price", Type: record.DecimalType(10, 2)},
		record.Field{Name: "qty", Type: record.IntegerType, NotNull: true},
		record.Field{Name: "ts", Type: record.TimestampType, NotNull: true},
		record.Field{Name: "payload", Type: record.RowType(record.Field{Name: "user", Type: record.StringType, NotNull: true}), NotNull: true},
	)
	tests := []struct {
		query string
		want  string // the output columns, a NOT NULL one marked !
	}{
		{"SELECT id, price, qty * 2 AS q2, qty / 0 AS bad, -qty AS neg, symbol || 'x' AS s, price * qty AS notional, 1 AS one, NULL AS nothing FROM t",
			"id! price q2! bad! neg! s! notional one! nothing"},
		{"SELECT CAST(id AS STRING) AS c, price IS NULL AS p, qty > 5 AS big, qty BETWEEN 1 AND 2 AS bt, qty IN (1, 2) AS i, qty IN (1, NULL) AS i2, symbol LIKE 'A%' AS l FROM t",
			"c! p! big! bt! i! i2 l!"},
		{"SELECT CASE WHEN qty > 1 THEN 'a' ELSE 'b' END AS c1, CASE WHEN qty > 1 THEN 'a' END AS c2, CASE WHEN qty > 1 THEN price ELSE 0 END AS c3 FROM t",
			"c1! c2 c3"},
		{"SELECT COALESCE(price, 0) AS c, COALESCE(price, price) AS d, UPPER(symbol) AS u, payload, payload.user AS usr, t.id FROM t",
			"c! d u payload! usr id!"},
		{"SELECT symbol, COUNT(*) AS n, COUNT(price) AS np, SUM(qty) AS sq, SUM(price) AS sp, MIN(ts) AS first, MAX(price) AS hi, AVG(qty) AS aq, STDDEV(qty) AS sd, COUNT(*) + 1 AS n1 FROM t GROUP BY symbol",
			"symbol! n! np! sq! sp first! hi aq! sd n1!"},
		{"SELECT price, COUNT(*) AS n FROM t GROUP BY price", "price n!"},
		{"SELECT COUNT(*) AS n, SUM(qty) AS sq, MIN(id) AS lo FROM t", "n! sq lo"},
		{"SELECT symbol, _WINDOW_START AS ws, _WINDOW_END AS we, COUNT(*) AS n FROM t GROUP BY symbol WINDOW TUMBLING(ts, 1m)",
			"symbol! ws! we! n!"},
		{"SELECT id, _OFFSET AS o, _PARTITION AS p FROM t", "id! o p"},
		{"SELECT id, ROW_NUMBER() OVER (PARTITION BY symbol ORDER BY ts) AS rn, SUM(qty) OVER (PARTITION BY symbol ORDER BY ts) AS run FROM t",
			"id! rn run"},
	}
	for _, tt := range tests {
		stmts, err := sql.Parse("q.sql", tt.query)
		if err != nil {
			t.Fatalf("%s: %v", tt.query, err)
		}
		p, err := Compile(stmts[0].Select(), Options{Schema: in})
		if err != nil {
			t.Fatalf("%s: %v", tt.query, err)
		}
		var got []string
		for _, f := range p.OutputSchema().Fields() {
			if f.NotNull {
				f.Name += "!"
			}
			got = append(got, f.Name)
		}
		if strings.Contains(tt.query, "_WINDOW_START AS ws") {
			if ws := p.OutputSchema().Field(1); ws.Type.Kind != record.TypeTimestamp {
				t.Errorf("%s: ws is %s, want TIMESTAMP", tt.query, ws.Type)
			}
		}
		if strings.Join(got, " ") != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.query, strings.Join(got, " "), tt.want)
		}
	}
}

package runner

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/sql"
)

// TestRowsAtTheEndOfAnEndlessInput: a query whose rows wait for the end of
// its input (EMIT FINAL without a WINDOW, ORDER BY over rows not grouped, a
// Top-N under EMIT FINAL without a WINDOW) over an input that never ends
// would run and write nothing: it is refused before running, and accepted
// when the input ends.
func TestRowsAtTheEndOfAnEndlessInput(t *testing.T) {
	const kafka = "'k.type'='kafka_source', 'k.bootstrap.servers'='127.0.0.1:1', 'k.columns'='symbol STRING, price DECIMAL(10,2), ts TIMESTAMP'"
	const gen = "'g.type'='generator', 'g.generator'='trades'"
	const table = "'r.type'='file_source', 'r.path'='../examples/data/traders.jsonl', 'r.primary.key'='trader_id'"
	refused := []struct{ sql, want string }{
		{"SELECT symbol, COUNT(*) AS n FROM k GROUP BY symbol EMIT FINAL WITH (" + kafka + ")",
			"q.sql:1:1: EMIT FINAL without a WINDOW emits each group's row once, at the end of the input, and k does not end, so the statement would never write a row: " +
				"add a WINDOW, or EMIT CHANGES; or read k to its end ('k.stop.at'='end', --until-end, or -- @job_mode: batch)"},
		{"SELECT COUNT(*) AS n FROM k EMIT FINAL WITH (" + kafka + ")", "q.sql:1:1: EMIT FINAL without a WINDOW"},
		{"SELECT symbol, price FROM k ORDER BY price DESC LIMIT 3 WITH (" + kafka + ")",
			"q.sql:1:38: ORDER BY over rows that are not grouped sorts the whole input and writes it at its end, and k does not end"},
		{"SELECT symbol, price, RANK() OVER (PARTITION BY symbol ORDER BY price DESC) AS r FROM k QUALIFY r <= 2 WITH (" + kafka + ")",
			"q.sql:1:1: a Top-N under EMIT FINAL without a WINDOW emits each key's top rows at the end of the input, and k does not end"},
		{"SELECT symbol, COUNT(*) AS n FROM g GROUP BY symbol EMIT FINAL WITH (" + gen + ")",
			"so the statement would never write a row: add a WINDOW, or EMIT CHANGES; or give g an end ('g.count')"},
		{"SELECT r.desk, COUNT(*) AS n FROM g JOIN r ON g.symbol = r.trader_id GROUP BY r.desk EMIT FINAL WITH (" + gen + ", " + table + ")",
			"q.sql:1:1: EMIT FINAL without a WINDOW emits each group's row once, at the end of the input, and g does not end"},
	}
	ctx := context.Background()
	check := func(src string, opts Options) error {
		stmts, err := sql.Parse("q.sql", src)
		if err != nil {
			t.Fatal(err)
		}
		opts.Stdout, opts.NoInfer = io.Discard, true
		_, err = Check(ctx, stmts[0], opts)
		return sql.Locate(err, "q.sql", src)
	}
	for _, c := range refused {
		if err := check(c.sql, Options{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s:\ngot  %v\nwant %s", c.sql, err, c.want)
		}
	}
	for _, src := range []string{
		"SELECT symbol, COUNT(*) AS n FROM k GROUP BY symbol EMIT FINAL WITH (" + kafka + ", 'k.stop.at'='end')",
		"-- @job_mode: batch\nSELECT symbol, price FROM k ORDER BY price WITH (" + kafka + ")",
		"SELECT symbol, COUNT(*) AS n FROM k GROUP BY symbol EMIT CHANGES WITH (" + kafka + ")",
		"SELECT symbol, COUNT(*) AS n FROM k GROUP BY symbol WINDOW TUMBLING(ts, 1m) ORDER BY n DESC WITH (" + kafka + ")",
		"SELECT symbol, price, ROW_NUMBER() OVER (PARTITION BY symbol ORDER BY price DESC) AS rn FROM k QUALIFY rn <= 2 WITH (" + kafka + ")",
		"SELECT symbol, COUNT(*) AS n FROM g GROUP BY symbol EMIT FINAL WITH (" + gen + ", 'g.count'='10')",
	} {
		if err := check(src, Options{}); err != nil {
			t.Errorf("%s: %v", src, err)
		}
	}
	for _, c := range refused[:4] {
		if err := check(c.sql, Options{UntilEnd: true}); err != nil {
			t.Errorf("%s with --until-end: %v", c.sql, err)
		}
	}
}

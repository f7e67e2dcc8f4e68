package exec

import (
	"strings"
	"testing"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// TestParsedQueries runs reference-dialect SQL text end to end through the
// parser and the pipeline.
func TestParsedQueries(t *testing.T) {
	data := recs(
		[]any{"AAPL", dec("10.50"), 1, 0},
		[]any{"MSFT", dec("20.00"), 2, 30_000},
		[]any{"AAPL", dec("11.50"), 3, 59_999},
		[]any{"AAPL", dec("12.00"), 4, 60_000},
	)
	for i := range data {
		data[i].Timestamp = data[i].Values[3].Int()
	}
	tests := []struct {
		name, src string
		cols      string
		keys      []int
		want      string
	}{
		{
			"tumbling with primary key",
			`CREATE TABLE out AS SELECT symbol PRIMARY KEY, COUNT(*) AS trade_count, AVG(price) AS avg_price,
			   _window_start AS window_start FROM market_data GROUP BY symbol WINDOW TUMBLING(1m) EMIT FINAL`,
			"symbol,trade_count,avg_price,window_start", []int{0},
			"AAPL|2|11.000000|1970-01-01T00:00:00.000Z;MSFT|1|20.000000|1970-01-01T00:00:00.000Z;AAPL|1|12.000000|1970-01-01T00:01:00.000Z",
		},
		{
			"group by with having and order",
			`SELECT symbol, SUM(price * qty) AS value FROM market_data WHERE qty > 1
			 GROUP BY symbol HAVING COUNT(*) >= 1 ORDER BY value DESC EMIT FINAL`,
			"symbol,value", []int{0},
			"AAPL|82.50;MSFT|40.00",
		},
		{
			"time column and interval",
			`SELECT COUNT(*) AS n, MAX(price) FROM market_data WINDOW TUMBLING(ts, INTERVAL '30' SECOND)`,
			"n,MAX(price)", nil,
			"1|10.50;2|20.00;1|12.00",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stmts, err := sql.Parse("q.sql", tt.src)
			if err != nil {
				t.Fatal(err)
			}
			p, err := Compile(stmts[0].Select(), Options{Schema: record.NewSchema("symbol", "price", "qty", "ts")})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(p.OutputSchema().Names(), ","); got != tt.cols {
				t.Errorf("columns %s, want %s", got, tt.cols)
			}
			if got := p.KeySlots(); len(got) != len(tt.keys) || len(got) > 0 && got[0] != tt.keys[0] {
				t.Errorf("key slots %v, want %v", got, tt.keys)
			}
			pl := p.NewPipeline()
			var out collector
			pl.Process(data, &out)
			pl.Finish(&out)
			if got := strings.Join(out.texts(), ";"); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestUnknownPropertyValue: an unknown value of an enumerated job property
// names the valid values, with a did-you-mean when one is close.
func TestUnknownPropertyValue(t *testing.T) {
	for _, c := range []struct{ key, value, want string }{
		{"late.data.strategy", "drp", `WITH 'late.data.strategy': unknown strategy "drp"; did you mean "drop"? (valid: dead_letter, drop, update)`},
		{"late.data.strategy", "sometimes", `WITH 'late.data.strategy': unknown strategy "sometimes" (valid: dead_letter, drop, update)`},
		{"event.time.format", "epoch_milis", `WITH 'event.time.format': unknown format "epoch_milis"; did you mean "epoch_millis"?`},
	} {
		_, err := compileSQLErr("SELECT v FROM t", Options{Properties: map[string]string{c.key: c.value}}, "v")
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s=%s: %v, want %s", c.key, c.value, err, c.want)
		}
	}
}

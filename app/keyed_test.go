package app_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/runner"
)

// A keyed stream (a GROUP BY's output, partitioned by its key over the
// writer's workers) read by a job with fewer or more workers gives the
// same result on every run and at every partition count, even where the
// reader's result depends on the order of its rows (STRING_AGG, FIRST_VALUE
// and LAST_VALUE over rows with equal event times).
func TestKeyedStreamIsDeterministic(t *testing.T) {
	src := `CREATE STREAM per_trader AS
SELECT trader_id, symbol, _WINDOW_START AS ws, COUNT(*) AS n, SUM(quantity) AS volume FROM g
GROUP BY trader_id, symbol WINDOW TUMBLING(trade_time, INTERVAL '1' SECOND) EMIT FINAL
WITH ('g.type'='generator','g.generator'='trades','g.count'='20000','g.partitions'='3','g.disorder'='300',
      'watermark.max_out_of_orderness'='100ms','late.data.strategy'='drop');
CREATE STREAM per_symbol AS
SELECT symbol, _WINDOW_START AS ws, COUNT(*) AS traders, SUM(n) AS n, STRING_AGG(CAST(trader_id AS STRING), ',') AS ids,
       FIRST_VALUE(trader_id) AS first_id, LAST_VALUE(volume) AS last_volume
FROM per_trader GROUP BY symbol WINDOW TUMBLING(INTERVAL '5' SECOND) EMIT FINAL
WITH ('per_symbol.type'='file_sink','per_symbol.path'='%s');`
	var want string
	for _, parts := range []int{1, 2, 3, 4, 2, 3} {
		dir := t.TempDir()
		out := filepath.Join(dir, "out.jsonl")
		runApp(t, fmt.Sprintf(src, out), runner.Options{Partitions: parts})
		if _, err := os.Stat(out); err != nil {
			t.Fatal(err)
		}
		got := strings.Join(lines(t, out), "\n")
		if want == "" {
			want = got
			if len(want) == 0 {
				t.Fatal("no rows")
			}
			continue
		}
		if got != want {
			t.Fatalf("%d partitions: the result differs from 1 partition's:\n%.3000s\n---\n%.3000s", parts, got, want)
		}
	}
}

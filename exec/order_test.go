package exec

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// TestStatelessOrderByLimitIsGlobal: a query without aggregation sorts its
// whole bounded input, across every Process call, and LIMIT keeps the top
// rows of that order, not the first rows to arrive.
func TestStatelessOrderByLimitIsGlobal(t *testing.T) {
	for _, tt := range []struct {
		query string
		n     int
		desc  bool
	}{
		{"SELECT id, v FROM t WHERE v >= 0 ORDER BY v DESC, id LIMIT 5", 5, true},
		{"SELECT id, v FROM t ORDER BY v, id LIMIT 3", 3, false},
		{"SELECT id, v FROM t ORDER BY v, id", 5000, false},
	} {
		stmts, err := sql.Parse("q.sql", tt.query)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Compile(stmts[0].Select(), Options{Schema: record.NewSchema("id", "v")})
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		var all [][2]int64
		pl, out := p.NewPipeline(), &collector{}
		for batch := 0; batch < 50; batch++ {
			var rs [][]any
			for i := 0; i < 100; i++ {
				id, v := int64(batch*100+i), rng.Int64N(1000)
				all = append(all, [2]int64{id, v})
				rs = append(rs, []any{id, v})
			}
			pl.Process(recs(rs...), out)
		}
		if len(out.rows) != 0 {
			t.Fatalf("%s: %d rows emitted before the end of input", tt.query, len(out.rows))
		}
		pl.Finish(out)
		slices.SortFunc(all, func(a, b [2]int64) int {
			if a[1] != b[1] {
				if tt.desc {
					return int(b[1] - a[1])
				}
				return int(a[1] - b[1])
			}
			return int(a[0] - b[0])
		})
		var want []string
		for _, r := range all[:tt.n] {
			want = append(want, strconv.FormatInt(r[0], 10)+"|"+strconv.FormatInt(r[1], 10))
		}
		if got := out.texts(); !slices.Equal(got, want) {
			t.Errorf("%s:\n got %s\nwant %s", tt.query, strings.Join(got[:min(len(got), 8)], " "), strings.Join(want[:min(len(want), 8)], " "))
		}
		if s := pl.Stats(); s.In != 5000 || s.In != s.Accepted+s.Filtered+s.DeadLettered+s.LateDropped {
			t.Errorf("%s: stats %+v do not balance", tt.query, s)
		}
	}
}

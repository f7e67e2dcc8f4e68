package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicesql/sluice/connector/kafka"
)

// tradersTemporal is tradersWindows over a temporal join AS OF the trade
// time, the trades keyed by key: each trader's row has a new version every
// 200 ms of trade time, named after it, and the watermark drops the
// versions it passed. Such a statement runs in one process per group
// (plan.Plan.ScaleOut): a partition a process gained from another would be
// read again from that one's last commit, older than the versions kept,
// and lost rows (412 of 2941 in 1 run of 9 of three processes, one killed
// and restarted while a fourth joined, when stage 2 of a repartitioned run
// joined). A record read again must meet the version it met, not a later
// one (MAX(r.name) differs) nor none (its window's count differs).
func tradersTemporal(key func(trade) string) func(t *testing.T) joinScenario {
	return func(t *testing.T) joinScenario {
		sc := tradersWindows(t)
		trades := genTrades(t, 8000, 40)
		low, high := int64(1<<62), int64(0)
		for _, tr := range trades {
			var f struct {
				Time time.Time `json:"trade_time"`
			}
			if err := json.Unmarshal(tr.line, &f); err != nil {
				t.Fatal(err)
			}
			low, high = min(low, f.Time.UnixMilli()), max(high, f.Time.UnixMilli())
		}
		var traders []kafka.Message
		for at := low - 1000; at <= high; at += 200 {
			for i := range 40 {
				traders = append(traders, kafka.Message{Key: fmt.Appendf(nil, "%d", i), Value: fmt.Appendf(nil, `{"trader_id":%d,"name":"v%06d %d","since":%d}`, i, (at-low+1000)/200, i, at)})
			}
		}
		sc.data["traders"] = traders
		sc.data["trades"] = keyBy(trades, key)
		sc.stmt = strings.NewReplacer("JOIN traders r", "JOIN traders FOR SYSTEM_TIME AS OF t.trade_time AS r",
			"'commit.interval'", "'event.time.field'='trade_time', 'traders.event.time.field'='since', 'commit.interval'").Replace(sc.stmt)
		return sc
	}
}

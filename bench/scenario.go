package bench

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"

	"github.com/sluicesql/sluice/record"
)

// Scenario is one benchmark query with its data.
type Scenario struct {
	// ID is the scenario's short name: 0, 1, 2, 2z, 3a, 3b or 1brc.
	ID string
	// Title describes the scenario in one line.
	Title string
	// Query is the SQL statement (FROM Source, no WITH clause).
	Query string
	// Source is the FROM name; Columns are its columns in file order.
	Source  string
	Columns []string
	// Dataset names the data; scenarios with the same Dataset share files.
	Dataset string
	// Text marks data written as 1BRC "station;temperature" lines (else JSON lines).
	Text bool
	// DefaultRecords is the record count when Config.Records is 0.
	DefaultRecords int
	// PeerQuery names the scenario the Go peer runs for comparison ("" if none).
	PeerQuery string

	// row writes record i's values in Columns order (nil for 1BRC, which
	// comes from the measurements generator).
	row func(i int, out []record.Value)
	// part gives record i's source partition (file) of sourceParts.
	part func(i int, row []record.Value) int
	// limit computes the answer by hand (see limit.go).
	limit limitFunc
	// kafkaKey is the column that keys the Kafka messages ("" for none).
	kafkaKey string
	// join holds a join scenario's inputs and limit (nil for the others);
	// it runs in memory only.
	join *joinBench
}

// sourceParts is the number of source partitions (files, Kafka partitions,
// in-memory partitions) every dataset is cut into.
const sourceParts = 4

// baseTime is the event time of record 0 (2024-01-15T00:00:00Z, in ms); it
// advances 1 ms per record.
const baseTime = 1705276800000

const scenario2Select = "SELECT trader_id, symbol, COUNT(*) AS trade_count, AVG(price) AS avg_price, " +
	"SUM(quantity) AS total_quantity, SUM(price * quantity) AS total_value FROM market_data GROUP BY trader_id, symbol"

var marketColumns = []string{"trader_id", "symbol", "price", "quantity", "trade_time"}

// symbols holds "SYM0".."SYM49", shared by all records.
var symbols = func() []record.Value {
	s := make([]record.Value, 50)
	for i := range s {
		s[i] = record.StringValue("SYM" + strconv.Itoa(i))
	}
	return s
}()

// interleaved puts record i in source partition i % sourceParts, so every
// partition's event times advance together.
func interleaved(i int, _ []record.Value) int { return i % sourceParts }

// marketRow is the reference's scenario 2/3 record: trader_id=i%100,
// symbol=SYM{i%50}, price=100+(i*0.1)%50 (exact, 1 dp), quantity=i%1000,
// trade_time ascending (epoch ms).
func marketRow(i int, out []record.Value) {
	out[0] = record.IntValue(int64(i % 100))
	out[1] = symbols[i%50]
	out[2] = record.DecimalValue(1000+int64(i%500), 1)
	out[3] = record.IntValue(int64(i % 1000))
	out[4] = record.IntValue(baseTime + int64(i))
}

// zipfGroups is the number of (trader_id, symbol) groups of scenario 2z.
const zipfGroups = 10_000

// zipfExponent is the skew of scenario 2z's group choice.
const zipfExponent = 1.2

// zipfTable holds scenario 2z's group of every record index modulo its
// length, drawn once from a fixed seed.
var zipfTable []uint16

// zipfGroup returns record i's group in [0, zipfGroups), drawn from a Zipf
// distribution with exponent 1.2 (group k has weight 1/(k+1)^1.2).
func zipfGroup(i int) int {
	if zipfTable == nil {
		cdf := make([]float64, zipfGroups)
		sum := 0.0
		for k := range cdf {
			sum += math.Pow(float64(k+1), -zipfExponent)
			cdf[k] = sum
		}
		rng := rand.New(rand.NewPCG(1, 2))
		t := make([]uint16, 1<<20)
		for j := range t {
			t[j] = uint16(min(sort.SearchFloat64s(cdf, rng.Float64()*sum), zipfGroups-1))
		}
		zipfTable = t
	}
	return int(zipfTable[i%len(zipfTable)])
}

// uniformTable holds scenario 2u's group of every record index modulo its
// length: uniform over the same groups as 2z, so that 2z against 2u
// measures the skew alone, at the same number of groups.
var uniformTable []uint16

// uniformGroup returns record i's group in [0, zipfGroups), every group
// equally likely.
func uniformGroup(i int) int {
	if uniformTable == nil {
		rng := rand.New(rand.NewPCG(3, 4))
		t := make([]uint16, 1<<20)
		for j := range t {
			t[j] = uint16(rng.IntN(zipfGroups))
		}
		uniformTable = t
	}
	return int(uniformTable[i%len(uniformTable)])
}

// groupRow returns scenario 2's record with its (trader_id, symbol) group
// taken from group: trader_id = g/50, symbol = SYM{g%50}.
func groupRow(group func(int) int) func(i int, out []record.Value) {
	return func(i int, out []record.Value) {
		marketRow(i, out)
		g := group(i)
		out[0] = record.IntValue(int64(g / 50))
		out[1] = symbols[g%50]
	}
}

// Scenarios returns the benchmark scenarios in table order.
func Scenarios() []*Scenario {
	return append([]*Scenario{
		{
			ID: "0", Title: "pass-through filter",
			Query:   "SELECT order_id, customer_id, order_date, total_amount FROM orders WHERE total_amount > 100",
			Source:  "orders",
			Columns: []string{"order_id", "customer_id", "order_date", "total_amount"},
			Dataset: "orders", DefaultRecords: 1_000_000,
			row: func(i int, out []record.Value) {
				out[0] = record.IntValue(int64(i))
				out[1] = record.IntValue(int64(i % 1000))
				out[2] = orderDate
				out[3] = record.IntValue(150 + int64(i%100))
			},
			part:  interleaved,
			limit: limitScenario0,
		},
		{
			ID: "1", Title: "ROWS window moving average",
			Query: "SELECT symbol, price, AVG(price) OVER (ROWS WINDOW BUFFER 100 ROWS PARTITION BY symbol " +
				"ORDER BY timestamp) AS moving_avg FROM market_data",
			Source:  "market_data",
			Columns: []string{"symbol", "price", "timestamp"},
			Dataset: "rows", DefaultRecords: 1_000_000,
			row: func(i int, out []record.Value) {
				out[0] = symbols[i%10]
				out[1] = record.DecimalValue(1000+int64(i*5%500), 1)
				out[2] = record.IntValue(baseTime + int64(i))
			},
			// a symbol's rows stay in one source partition, in order, so
			// the moving average does not depend on how partitions interleave
			part:     func(i int, _ []record.Value) int { return i % 10 % sourceParts },
			limit:    limitScenario1,
			kafkaKey: "symbol",
		},
		{
			ID: "2", Title: "GROUP BY (EMIT CHANGES)", Query: scenario2Select,
			Source: "market_data", Columns: marketColumns, Dataset: "market", DefaultRecords: 1_000_000,
			row: marketRow, part: interleaved, limit: limitGroupBy(0, true),
		},
		{
			ID: "2u", Title: "GROUP BY, uniform keys over 10K groups", Query: scenario2Select,
			Source: "market_data", Columns: marketColumns, Dataset: "uniform", DefaultRecords: 1_000_000,
			row: groupRow(uniformGroup), part: interleaved, limit: limitGroupBy(0, true),
		},
		{
			ID: "2z", Title: "GROUP BY, Zipf 1.2 keys over 10K groups", Query: scenario2Select,
			Source: "market_data", Columns: marketColumns, Dataset: "zipf", DefaultRecords: 1_000_000,
			row: groupRow(zipfGroup), part: interleaved, limit: limitGroupBy(0, true),
		},
		{
			ID: "3a", Title: "tumbling 1 min (EMIT FINAL)",
			Query:  scenario2Select + " WINDOW TUMBLING(trade_time, INTERVAL '1' MINUTE)",
			Source: "market_data", Columns: marketColumns, Dataset: "market", DefaultRecords: 1_000_000,
			PeerQuery: "3a",
			row:       marketRow, part: interleaved, limit: limitGroupBy(60_000, false),
		},
		{
			ID: "3b", Title: "tumbling 1 min EMIT CHANGES",
			Query:  scenario2Select + " WINDOW TUMBLING(trade_time, INTERVAL '1' MINUTE) EMIT CHANGES",
			Source: "market_data", Columns: marketColumns, Dataset: "market", DefaultRecords: 1_000_000,
			row: marketRow, part: interleaved, limit: limitGroupBy(60_000, true),
		},
		{
			ID: "1brc", Title: "1BRC: MIN/AVG/MAX per station",
			Query:  "SELECT station, MIN(temperature), AVG(temperature), MAX(temperature) FROM measurements GROUP BY station",
			Source: "measurements", Columns: []string{"station", "temperature"},
			Dataset: "brc", Text: true, DefaultRecords: 10_000_000,
			limit: limitBRC,
		},
	}, joinScenarios()...)
}

var orderDate = record.StringValue("2024-01-15")

// SelectScenarios returns the scenarios named in ids (all when empty).
func SelectScenarios(ids []string) ([]*Scenario, error) {
	all := Scenarios()
	if len(ids) == 0 {
		return all, nil
	}
	var out []*Scenario
	for _, id := range ids {
		found := false
		for _, s := range all {
			if strings.EqualFold(s.ID, strings.TrimSpace(id)) {
				out = append(out, s)
				found = true
			}
		}
		if !found {
			names := make([]string, len(all))
			for i, s := range all {
				names[i] = s.ID
			}
			return nil, fmt.Errorf("--scenarios: unknown scenario %q (valid: %s)", id, strings.Join(names, ", "))
		}
	}
	return out, nil
}

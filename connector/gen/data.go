package gen

import (
	"fmt"
	"math"
	"math/bits"
	"sort"
	"strconv"
	"strings"

	"github.com/sluicesql/sluice/record"
)

// baseTime is the event time of record 0: 2024-01-15T00:00:00Z.
const baseTime = 1705276800000

// kind is one generator: its columns and how record i is made.
type kind struct {
	columns []string
	// types are the columns' types, matching the values row writes.
	types       []record.Type
	defaultKeys int
	// row writes record i's values in column order.
	row func(g *state, i uint64, out []record.Value)
}

var kinds = map[string]*kind{
	"orders": {
		columns:     []string{"order_id", "customer_id", "order_date", "total_amount"},
		types:       []record.Type{record.BigintType, record.BigintType, record.StringType, record.DecimalType(12, 2)},
		defaultKeys: 1000,
		row: func(g *state, i uint64, out []record.Value) {
			out[0] = record.IntValue(int64(i))
			out[1] = record.IntValue(int64(g.roundRobinKey(i)))
			out[2] = record.StringValue("2024-01-15")
			out[3] = record.DecimalValue(int64(150+i%100)*100, 2)
		},
	},
	"market_data": {
		columns: []string{"trader_id", "symbol", "price", "quantity", "trade_time", "timestamp"},
		types: []record.Type{record.BigintType, record.StringType, record.DecimalType(12, 2), record.BigintType,
			record.TimestampType, record.TimestampType},
		defaultKeys: 100,
		row: func(g *state, i uint64, out []record.Value) {
			et := record.TimestampValue(g.eventTime(i))
			out[0] = record.IntValue(int64(g.roundRobinKey(i)))
			out[1] = record.StringValue(g.symbols[i%uint64(len(g.symbols))])
			out[2] = record.DecimalValue(10000+int64(i%500)*10, 2)
			out[3] = record.IntValue(int64(i % 1000))
			out[4] = et
			out[5] = et
		},
	},
	"trades": {
		columns:     []string{"trader_id", "symbol", "price", "quantity", "trade_time"},
		types:       []record.Type{record.BigintType, record.StringType, record.DecimalType(12, 2), record.BigintType, record.TimestampType},
		defaultKeys: 100,
		row: func(g *state, i uint64, out []record.Value) {
			r := g.rand(i, streamValue)
			sym := (r & 0xFFFF) % uint64(len(g.symbols))
			base := g.symbolPrice[sym]
			noise := int64((r>>16)&0xFFFF%4001) - 2000 // ±2%
			out[0] = record.IntValue(int64(g.randomKey(i)))
			out[1] = record.StringValue(g.symbols[sym])
			out[2] = record.DecimalValue(base+base*noise/100000, 2)
			out[3] = record.IntValue(int64(1 + (r>>32)%1000))
			out[4] = record.TimestampValue(g.eventTime(i))
		},
	},
	"measurements": {
		columns:     []string{"station", "temperature"},
		types:       []record.Type{record.StringType, record.DecimalType(4, 1)},
		defaultKeys: 413,
		row: func(g *state, i uint64, out []record.Value) {
			k := g.randomKey(i)
			out[0] = record.StringValue(g.stations[k])
			out[1] = record.DecimalValue(g.temperature(k, i), 1)
		},
	},
}

// Generators returns the generator names.
func Generators() []string {
	names := make([]string, 0, len(kinds))
	for n := range kinds {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Columns returns the columns of the named generator, in order.
func Columns(generator string) ([]string, error) {
	k, ok := kinds[strings.ToLower(generator)]
	if !ok {
		return nil, fmt.Errorf("unknown generator %q (valid: %s)", generator, strings.Join(Generators(), ", "))
	}
	return append([]string(nil), k.columns...), nil
}

// Random streams: independent random numbers drawn for one record.
const (
	streamKey uint64 = iota
	streamValue
	streamDisorder
)

// state is a generator's precomputed tables; it is read-only once built and
// shared by the partitions.
type state struct {
	kind        *kind
	opts        Options
	keys        int
	zipfCDF     []float64 // cumulative key probabilities when opts.Zipf > 0
	symbols     []string
	symbolPrice []int64 // unscaled, 2 dp
	stations    []string
	meanTemp    []int64 // tenths of a degree
}

func newState(opts Options) (*state, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	k, ok := kinds[strings.ToLower(opts.Generator)]
	if !ok {
		return nil, fmt.Errorf("unknown generator %q (valid: %s)", opts.Generator, strings.Join(Generators(), ", "))
	}
	g := &state{kind: k, opts: opts, keys: opts.Keys}
	if g.keys == 0 {
		g.keys = k.defaultKeys
	}
	if opts.Zipf > 0 {
		g.zipfCDF = zipfCDF(g.keys, opts.Zipf)
	}
	g.symbols = make([]string, 50)
	g.symbolPrice = make([]int64, len(g.symbols))
	for s := range g.symbols {
		g.symbols[s] = "SYM" + strconv.Itoa(s)
		g.symbolPrice[s] = 1000 + int64(mix(uint64(s)+opts.Seed)%49000) // 10.00 to 500.00
	}
	if k == kinds["measurements"] {
		g.stations = stationNames(g.keys)
		g.meanTemp = make([]int64, g.keys)
		for s := range g.meanTemp {
			g.meanTemp[s] = int64(mix(uint64(s)^0xA5A5)%500) - 150 // -15.0 to 34.9
		}
	}
	return g, nil
}

// mix is the SplitMix64 finaliser: a bijective scramble of x.
func mix(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ x>>30) * 0xBF58476D1CE4E5B9
	x = (x ^ x>>27) * 0x94D049BB133111EB
	return x ^ x>>31
}

// rand returns the random number of record i in the given stream.
func (g *state) rand(i, stream uint64) uint64 {
	return mix(g.opts.Seed ^ mix(i<<2|stream))
}

// roundRobinKey is the reference's key formula i % keys, or a Zipf draw.
func (g *state) roundRobinKey(i uint64) uint64 {
	if g.zipfCDF != nil {
		return g.randomKey(i)
	}
	return i % uint64(g.keys)
}

// randomKey draws record i's key: uniform, or Zipf-distributed.
func (g *state) randomKey(i uint64) uint64 {
	r := g.rand(i, streamKey)
	if g.zipfCDF == nil {
		hi, _ := bits.Mul64(r, uint64(g.keys)) // uniform in [0, keys)
		return hi
	}
	u := float64(r>>11) / (1 << 53)
	k := sort.SearchFloat64s(g.zipfCDF, u)
	return uint64(min(k, g.keys-1))
}

// zipfCDF returns the cumulative probabilities of keys 0..n-1 with weights
// 1/(k+1)^s.
func zipfCDF(n int, s float64) []float64 {
	cdf := make([]float64, n)
	sum := 0.0
	for k := range cdf {
		sum += math.Pow(float64(k+1), -s)
		cdf[k] = sum
	}
	for k := range cdf {
		cdf[k] /= sum
	}
	return cdf
}

// eventTime returns record i's event time: 1 ms per record from baseTime,
// minus up to opts.DisorderMs.
func (g *state) eventTime(i uint64) int64 {
	t := baseTime + int64(i)
	if d := g.opts.DisorderMs; d > 0 {
		t -= int64(g.rand(i, streamDisorder) % uint64(d+1))
	}
	return t
}

// temperature returns record i's temperature at station k in tenths of a
// degree: the station's mean plus a roughly normal deviation of 10 degrees
// (the sum of four uniform numbers), within [-99.9, 99.9].
func (g *state) temperature(k, i uint64) int64 {
	r := g.rand(i, streamValue)
	sum := int64(r&0xFFFF + r>>16&0xFFFF + r>>32&0xFFFF + r>>48)
	// The sum has mean 131070 and standard deviation 65536/sqrt(3) = 37837.
	t := g.meanTemp[k] + (sum-131070)*100/37837
	return max(-999, min(999, t))
}

package bench

import (
	"fmt"

	"github.com/sluicesql/sluice/record"
)

// limitFunc computes a scenario's answer with a hand-written Go loop over
// the decoded records (values by slot of schema), batch by batch as the
// engine does, into the same digest the engine's sink uses.
type limitFunc func(parts [][]record.Record, schema *record.Schema) (Answer, error)

// limitBatch is the limit loops' batch: changes are emitted per batch, as
// the engine emits them per hand-over batch.
const limitBatch = 1024

// walk calls fn for every record in source order interleaved across the
// partitions (record k of every partition, then k+1), and flush after every
// limitBatch records and at the end. Interleaving restores the generation
// order of interleaved data, so event time ascends.
func walk(parts [][]record.Record, fn func(r *record.Record), flush func()) {
	longest := 0
	for _, p := range parts {
		longest = max(longest, len(p))
	}
	n := 0
	for k := 0; k < longest; k++ {
		for _, p := range parts {
			if k < len(p) {
				fn(&p[k])
				if n++; n == limitBatch {
					flush()
					n = 0
				}
			}
		}
	}
	flush()
}

// slotsOf returns the slots of the named columns of schema.
func slotsOf(schema *record.Schema, names ...string) ([]int, error) {
	out := make([]int, len(names))
	for i, n := range names {
		s, ok := schema.Lookup(n)
		if !ok {
			return nil, fmt.Errorf("limit: column %q is not in the input schema %v", n, schema.Names())
		}
		out[i] = s
	}
	return out, nil
}

// scaleCheck remembers the scale of a decimal column and reports a value
// of another kind or scale, which the limit loops do not handle.
type scaleCheck struct {
	col   string
	scale int
	err   error
}

// unscaled returns v's unscaled integer at the column's scale.
func (c *scaleCheck) unscaled(v record.Value) int64 {
	u, sc := v.Decimal()
	switch {
	case v.Kind() != record.Decimal:
		if c.err == nil {
			c.err = fmt.Errorf("limit: %s is %s, want DECIMAL", c.col, v.Kind())
		}
	case c.scale < 0:
		c.scale = int(sc)
	case int(sc) != c.scale:
		if c.err == nil {
			c.err = fmt.Errorf("limit: %s has scales %d and %d", c.col, c.scale, sc)
		}
	}
	return u
}

// avg returns sum/count at scale as the engine's AVG of decimals does.
func avg(sum int64, scale int, count int64) (record.Value, error) {
	q, sc, err := record.DecimalDiv(sum, uint8(scale), count, 0)
	if err != nil {
		return record.Value{}, err
	}
	return record.DecimalValue(q, sc), nil
}

// limitScenario0 is WHERE total_amount > 100 with a projection.
func limitScenario0(parts [][]record.Record, schema *record.Schema) (Answer, error) {
	s, err := slotsOf(schema, "order_id", "customer_id", "order_date", "total_amount")
	if err != nil {
		return Answer{}, err
	}
	d := newDigest(nil)
	out := record.Record{Values: make([]record.Value, 4)}
	walk(parts, func(r *record.Record) {
		v := r.Values
		if v[s[3]].Kind() == record.Int && v[s[3]].Int() > 100 {
			out.Values[0], out.Values[1], out.Values[2], out.Values[3] = v[s[0]], v[s[1]], v[s[2]], v[s[3]]
			d.add(&out)
		}
	}, func() {})
	return d.answer(), nil
}

// ring is the last 100 prices of one symbol.
type ring struct {
	prices    [100]int64
	next, n   int
	sum       int64
	symbolVal record.Value
}

// limitScenario1 is the moving average over the last 100 rows per symbol.
func limitScenario1(parts [][]record.Record, schema *record.Schema) (Answer, error) {
	s, err := slotsOf(schema, "symbol", "price")
	if err != nil {
		return Answer{}, err
	}
	d := newDigest(nil)
	rings := map[string]*ring{}
	price := scaleCheck{col: "price", scale: -1}
	out := record.Record{Values: make([]record.Value, 3)}
	var aerr error
	walk(parts, func(r *record.Record) {
		sym := r.Values[s[0]]
		g := rings[sym.Str()]
		if g == nil {
			g = &ring{symbolVal: sym}
			rings[sym.Str()] = g
		}
		p := price.unscaled(r.Values[s[1]])
		if g.n == len(g.prices) {
			g.sum -= g.prices[g.next]
		} else {
			g.n++
		}
		g.prices[g.next] = p
		g.sum += p
		g.next = (g.next + 1) % len(g.prices)
		a, err := avg(g.sum, price.scale, int64(g.n))
		if err != nil && aerr == nil {
			aerr = err
		}
		out.Values[0], out.Values[1], out.Values[2] = sym, r.Values[s[1]], a
		d.add(&out)
	}, func() {})
	if price.err != nil {
		return Answer{}, price.err
	}
	return d.answer(), aerr
}

// groupKey is a scenario 2/3 group: its window start (0 without a window),
// trader and symbol.
type groupKey struct {
	win    int64
	trader int64
	symbol string
}

// groupState is one group's running aggregates (decimals unscaled at the
// price's scale).
type groupState struct {
	key                         groupKey
	traderVal, symbolVal        record.Value
	count, priceSum, qty, value int64
	changed                     bool
}

// limitGroupBy is scenario 2 (window 0) and the tumbling windows of 3a/3b
// (window in ms). With changes, every batch emits its changed groups; a
// window's groups are emitted (FINAL) or dropped (CHANGES) once event time
// passes its end.
func limitGroupBy(window int64, changes bool) limitFunc {
	return func(parts [][]record.Record, schema *record.Schema) (Answer, error) {
		s, err := slotsOf(schema, "trader_id", "symbol", "price", "quantity", "trade_time")
		if err != nil {
			return Answer{}, err
		}
		d := newDigest([]int{0, 1})
		price := scaleCheck{col: "price", scale: -1}
		groups := map[groupKey]*groupState{}
		var changed []*groupState
		open := map[int64][]*groupState{} // window start -> its groups
		var starts []int64                // open window starts, ascending
		out := record.Record{Values: make([]record.Value, 6)}
		var aerr error
		emit := func(g *groupState) {
			a, err := avg(g.priceSum, price.scale, g.count)
			if err != nil && aerr == nil {
				aerr = err
			}
			out.Values[0], out.Values[1] = g.traderVal, g.symbolVal
			out.Values[2], out.Values[3] = record.IntValue(g.count), a
			out.Values[4], out.Values[5] = record.IntValue(g.qty), record.DecimalValue(g.value, uint8(price.scale)) // DECIMAL × INTEGER keeps the scale
			out.HasEventTime = window > 0
			out.EventTime = g.key.win + window - 1
			d.add(&out)
		}
		fire := func(upTo int64) {
			for len(starts) > 0 && starts[0]+window <= upTo {
				for _, g := range open[starts[0]] {
					if !changes {
						emit(g)
					}
					delete(groups, g.key)
				}
				delete(open, starts[0])
				starts = starts[1:]
			}
		}
		flush := func() {
			for _, g := range changed {
				if changes {
					emit(g)
				}
				g.changed = false
			}
			changed = changed[:0]
		}
		walk(parts, func(r *record.Record) {
			v := r.Values
			k := groupKey{trader: v[s[0]].Int(), symbol: v[s[1]].Str()}
			if window > 0 {
				t := v[s[4]].Int()
				if len(starts) > 0 && starts[0]+window <= t {
					flush()
					fire(t)
				}
				k.win = t - t%window
			}
			g := groups[k]
			if g == nil {
				g = &groupState{key: k, traderVal: v[s[0]], symbolVal: v[s[1]]}
				groups[k] = g
				if window > 0 {
					if _, ok := open[k.win]; !ok {
						starts = append(starts, k.win)
					}
					open[k.win] = append(open[k.win], g)
				}
			}
			p := price.unscaled(v[s[2]])
			q := v[s[3]].Int()
			g.count++
			g.priceSum += p
			g.qty += q
			g.value += p * q
			if !g.changed {
				g.changed = true
				changed = append(changed, g)
			}
		}, flush)
		if window > 0 {
			fire(1<<62 - 1)
		} else if !changes {
			for _, g := range groups {
				emit(g)
			}
		}
		if price.err != nil {
			return Answer{}, price.err
		}
		return d.answer(), aerr
	}
}

// stationState is one 1BRC station's running aggregates.
type stationState struct {
	station, min, max record.Value
	minU, maxU        int64
	sum, count        int64
	changed           bool
}

// limitBRC is MIN/AVG/MAX per station (EMIT CHANGES per batch, the default
// of an unwindowed GROUP BY).
func limitBRC(parts [][]record.Record, schema *record.Schema) (Answer, error) {
	s, err := slotsOf(schema, "station", "temperature")
	if err != nil {
		return Answer{}, err
	}
	d := newDigest([]int{0})
	temp := scaleCheck{col: "temperature", scale: -1}
	stations := map[string]*stationState{}
	var changed []*stationState
	out := record.Record{Values: make([]record.Value, 4)}
	var aerr error
	walk(parts, func(r *record.Record) {
		name := r.Values[s[0]]
		st := stations[name.Str()]
		t := r.Values[s[1]]
		u := temp.unscaled(t)
		if st == nil {
			st = &stationState{station: name, min: t, max: t, minU: u, maxU: u}
			stations[name.Str()] = st
		}
		if u < st.minU {
			st.min, st.minU = t, u
		}
		if u > st.maxU {
			st.max, st.maxU = t, u
		}
		st.sum += u
		st.count++
		if !st.changed {
			st.changed = true
			changed = append(changed, st)
		}
	}, func() {
		for _, st := range changed {
			a, err := avg(st.sum, temp.scale, st.count)
			if err != nil && aerr == nil {
				aerr = err
			}
			out.Values[0], out.Values[1], out.Values[2], out.Values[3] = st.station, st.min, a, st.max
			d.add(&out)
			st.changed = false
		}
		changed = changed[:0]
	})
	if temp.err != nil {
		return Answer{}, temp.err
	}
	return d.answer(), aerr
}

package job

import (
	"github.com/sluicesql/sluice/record"
)

// scenarioProgram is a hand-written Go implementation of the reference's
// scenario 2 (GROUP BY trader_id, symbol: COUNT(*), AVG(price),
// SUM(quantity), SUM(price*quantity)) and, with window > 0, scenario 3a
// (the same per tumbling window on trade_time). It is the "limit" the
// engine is compared against and lets the coordinator be measured on its own.
type scenarioProgram struct{ window int64 }

var scenarioOut = record.NewSchema("trader_id", "symbol", "trade_count", "avg_price", "total_quantity", "total_value", "window_start")

func scenarioKey(r *record.Record, buf []record.Value) []record.Value {
	return append(buf[:0], r.Values[0], r.Values[1])
}

func (p *scenarioProgram) InputSchema() *record.Schema  { return scenarioSchema }
func (p *scenarioProgram) OutputSchema() *record.Schema { return scenarioOut }
func (p *scenarioProgram) KeySlots() []int              { return []int{0, 1} }
func (p *scenarioProgram) EventTime(r *record.Record) (int64, bool) {
	return r.Values[4].Millis(), !r.Values[4].IsNull()
}
func (p *scenarioProgram) Windowed() bool                { return p.window > 0 }
func (p *scenarioProgram) Ordered() bool                 { return false }
func (p *scenarioProgram) Less(a, b *record.Record) bool { return false }
func (p *scenarioProgram) Limit() (int64, bool)          { return 0, false }
func (p *scenarioProgram) NewPipeline() Pipeline {
	return &scenarioPipe{p: p, windows: map[int64]map[scenarioKeyT]*scenarioAgg{}}
}

type scenarioKeyT struct {
	trader int64
	symbol string
}

type scenarioAgg struct{ count, price, qty, value int64 } // price and value at scale 1

type scenarioPipe struct {
	p       *scenarioProgram
	stats   Stats
	windows map[int64]map[scenarioKeyT]*scenarioAgg
	cur     int64
	curMap  map[scenarioKeyT]*scenarioAgg
	out     []record.Record
}

func (s *scenarioPipe) Process(recs []record.Record, _ Output) {
	for i := range recs {
		r := &recs[i]
		var start int64
		if s.p.window > 0 {
			start = r.EventTime - r.EventTime%s.p.window
		}
		m := s.curMap
		if m == nil || start != s.cur {
			m = s.windows[start]
			if m == nil {
				m = map[scenarioKeyT]*scenarioAgg{}
				s.windows[start] = m
			}
			s.cur, s.curMap = start, m
		}
		k := scenarioKeyT{r.Values[0].Int(), r.Values[1].Str()}
		a := m[k]
		if a == nil {
			a = &scenarioAgg{}
			m[k] = a
		}
		price, _ := r.Values[2].Decimal()
		q := r.Values[3].Int()
		a.count++
		a.price += price
		a.qty += q
		a.value += price * q
	}
	s.stats.In += int64(len(recs))
	s.stats.Accepted += int64(len(recs))
}

func (s *scenarioPipe) fire(upTo int64, all bool, out Output) {
	s.out = s.out[:0]
	for start, m := range s.windows {
		if !all && start+s.p.window > upTo {
			continue
		}
		for k, a := range m {
			s.out = append(s.out, record.Record{Values: []record.Value{record.IntValue(k.trader), record.StringValue(k.symbol),
				record.IntValue(a.count), record.DecimalValue(a.price/a.count, 1), record.IntValue(a.qty),
				record.DecimalValue(a.value, 1), record.TimestampValue(start)}})
		}
		delete(s.windows, start)
		if start == s.cur {
			s.curMap = nil
		}
	}
	if len(s.out) > 0 {
		out.Emit(s.out)
	}
}

func (s *scenarioPipe) Advance(wm int64, out Output) {
	if s.p.window > 0 {
		s.fire(wm, false, out)
	}
}
func (s *scenarioPipe) Finish(out Output)               { s.fire(0, true, out) }
func (s *scenarioPipe) Stats() Stats                    { return s.stats }
func (s *scenarioPipe) Held(func(string, int32, int64)) {}

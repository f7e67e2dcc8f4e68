package expr

import (
	"fmt"
	"math"
	"strconv"

	"github.com/sluicesql/sluice/record"
)

func notNumber(fn string, v record.Value) error {
	return fmt.Errorf("%s expects a number, got %s", fn, v.Kind())
}

// absValue is ABS: the type of its argument; ABS of the smallest INTEGER
// overflows.
func absValue(v record.Value) (record.Value, error) {
	switch v.Kind() {
	case record.Int:
		if v.Int() < 0 {
			return record.Neg(v)
		}
		return v, nil
	case record.Decimal:
		if n, _ := v.Decimal(); n < 0 {
			return record.Neg(v)
		}
		return v, nil
	case record.Float:
		return record.FloatValue(math.Abs(v.Float())), nil
	}
	return null, notNumber("ABS", v)
}

// floorValue is FLOOR: INTEGER stays, DECIMAL becomes scale 0, FLOAT stays FLOAT.
func floorValue(v record.Value) (record.Value, error) {
	switch v.Kind() {
	case record.Int:
		return v, nil
	case record.Decimal:
		n, err := record.DecimalFloor(v.Decimal())
		return record.DecimalValue(n, 0), err
	case record.Float:
		return record.FloatValue(math.Floor(v.Float())), nil
	}
	return null, notNumber("FLOOR", v)
}

// ceilValue is CEIL: INTEGER stays, DECIMAL becomes scale 0, FLOAT stays FLOAT.
func ceilValue(v record.Value) (record.Value, error) {
	switch v.Kind() {
	case record.Int:
		return v, nil
	case record.Decimal:
		n, err := record.DecimalCeil(v.Decimal())
		return record.DecimalValue(n, 0), err
	case record.Float:
		return record.FloatValue(math.Ceil(v.Float())), nil
	}
	return null, notNumber("CEIL", v)
}

// roundFunc is ROUND(x [, places]); places defaults to 0.
func roundFunc(args []Func) Func {
	x := args[0]
	var places Func
	if len(args) == 2 {
		places = args[1]
	}
	return func(r *record.Record) (record.Value, error) {
		v, err := x(r)
		if err != nil || v.IsNull() {
			return null, err
		}
		n := int64(0)
		if places != nil {
			p, err := places(r)
			if err != nil || p.IsNull() {
				return null, err
			}
			if p.Kind() != record.Int {
				return null, fmt.Errorf("ROUND places must be INTEGER, not %s", p.Kind())
			}
			n = p.Int()
		}
		return roundValue(v, n)
	}
}

// roundValue rounds v to places digits after the point (before it when
// negative). DECIMALs round half away from zero and take scale places (0
// when negative); INTEGERs stay INTEGER; FLOATs round half to even on
// their exact binary value.
func roundValue(v record.Value, places int64) (record.Value, error) {
	if places > record.MaxScale || places < -record.MaxScale {
		if v.Kind() != record.Float {
			return null, fmt.Errorf("ROUND places %d out of range -%d..%d", places, record.MaxScale, record.MaxScale)
		}
	}
	switch v.Kind() {
	case record.Int:
		if places >= 0 {
			return v, nil
		}
		return roundWhole(v.Int(), 0, uint8(-places), record.IntValue)
	case record.Decimal:
		n, s := v.Decimal()
		if places >= 0 {
			m, err := record.RescaleDecimal(n, s, uint8(places))
			if err != nil {
				return null, fmt.Errorf("ROUND(%s, %d): %w", v, places, err)
			}
			return record.DecimalValue(m, uint8(places)), nil
		}
		return roundWhole(n, s, uint8(-places), func(m int64) record.Value { return record.DecimalValue(m, 0) })
	case record.Float:
		f := v.Float()
		switch {
		case places == 0:
			return record.FloatValue(math.RoundToEven(f)), nil
		case places > 0 && places <= 300:
			g, err := strconv.ParseFloat(strconv.FormatFloat(f, 'f', int(places), 64), 64)
			if err != nil {
				return v, nil // out of float range only for infinities, which round to themselves
			}
			return record.FloatValue(g), nil
		case places > 0:
			return v, nil
		}
		p := math.Pow10(int(-places))
		return record.FloatValue(math.RoundToEven(f/p) * p), nil
	}
	return null, notNumber("ROUND", v)
}

// roundWhole rounds unscaled × 10^-scale to a multiple of 10^k.
func roundWhole(n int64, scale, k uint8, wrap func(int64) record.Value) (record.Value, error) {
	q, err := record.RescaleDecimal(n, scale+k, 0)
	if err != nil {
		return null, err
	}
	m, err := record.RescaleDecimal(q, 0, k)
	if err != nil {
		return null, fmt.Errorf("ROUND: %w", err)
	}
	return wrap(m), nil
}

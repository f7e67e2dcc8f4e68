package record

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The cast helpers convert a value to one kind. NULL casts to NULL. A value
// that cannot be converted is an error naming the value and the target.

func castError(v Value, target string, cause error) error {
	if cause != nil {
		return fmt.Errorf("cannot cast %s to %s: %w", v.quoted(), target, cause)
	}
	return fmt.Errorf("cannot cast %s to %s", v.quoted(), target)
}

// ToInt converts v to INTEGER: DECIMALs round half away from zero, FLOATs
// round half to even (as PostgreSQL does), BOOLEAN is 1 or 0, a TIMESTAMP
// gives its Unix milliseconds and a STRING must hold a whole number.
func ToInt(v Value) (Value, error) {
	switch v.kind {
	case Null, Int:
		return v, nil
	case Bool, Timestamp:
		return IntValue(v.num), nil
	case Decimal:
		n, err := RescaleDecimal(v.num, v.scale, 0)
		if err != nil {
			return Value{}, castError(v, "INTEGER", err)
		}
		return IntValue(n), nil
	case Float:
		n, ok := floatToInt(math.RoundToEven(v.Float()))
		if !ok {
			return Value{}, castError(v, "INTEGER", ErrIntegerOverflow)
		}
		return IntValue(n), nil
	case String:
		n, err := strconv.ParseInt(strings.TrimSpace(v.str), 10, 64)
		if err != nil {
			return Value{}, castError(v, "INTEGER", nil)
		}
		return IntValue(n), nil
	}
	return Value{}, castError(v, "INTEGER", nil)
}

// floatToInt converts a whole float to int64 when it is in range.
func floatToInt(f float64) (int64, bool) {
	if f != f || f < -(1<<63) || f >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}

// ToFloat converts v to FLOAT. STRINGs are parsed (NaN and Infinity
// included); BOOLEAN and TIMESTAMP are errors.
func ToFloat(v Value) (Value, error) {
	switch v.kind {
	case Null, Float:
		return v, nil
	case Int, Decimal:
		return FloatValue(v.toFloat()), nil
	case String:
		f, err := strconv.ParseFloat(strings.TrimSpace(v.str), 64)
		if err != nil {
			return Value{}, castError(v, "FLOAT", nil)
		}
		return FloatValue(f), nil
	}
	return Value{}, castError(v, "FLOAT", nil)
}

// ToDecimal converts v to DECIMAL with the given scale (0..MaxScale),
// rounding half away from zero when digits are dropped; a negative scale
// keeps the value's own scale (an INTEGER has scale 0, a FLOAT the scale of
// its shortest exact text). A STRING is parsed by ParseNumber first. A value
// that does not fit is an error.
func ToDecimal(v Value, scale int) (Value, error) {
	if scale > MaxScale {
		return Value{}, castError(v, "DECIMAL", fmt.Errorf("scale %d above the maximum %d", scale, MaxScale))
	}
	switch v.kind {
	case Null:
		return v, nil
	case Int, Decimal:
		s := v.scaleOf()
		if scale < 0 {
			return DecimalValue(v.num, s), nil
		}
		n, err := RescaleDecimal(v.num, s, uint8(scale))
		if err != nil {
			return Value{}, castError(v, "DECIMAL", err)
		}
		return DecimalValue(n, uint8(scale)), nil
	case Float:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return Value{}, castError(v, "DECIMAL", nil)
		}
		text := strconv.FormatFloat(f, 'f', scale, 64)
		d, err := ParseNumber(text)
		if err != nil {
			return Value{}, castError(v, "DECIMAL", ErrDecimalOverflow)
		}
		return ToDecimal(d, scale)
	case String:
		d, err := ParseNumber(strings.TrimSpace(v.str))
		if err != nil {
			return Value{}, castError(v, "DECIMAL", nil)
		}
		out, err := ToDecimal(d, scale)
		if err != nil {
			return Value{}, castError(v, "DECIMAL", ErrDecimalOverflow)
		}
		return out, nil
	}
	return Value{}, castError(v, "DECIMAL", nil)
}

// ToString converts v to STRING: its display text (see Value.String).
func ToString(v Value) (Value, error) {
	switch v.kind {
	case Null, String:
		return v, nil
	}
	return StringValue(v.String()), nil
}

// timestampLayouts are the ISO-8601 forms ToTimestamp accepts. A fractional
// second is accepted after the seconds of every form; a text without a zone
// is UTC.
var timestampLayouts = []string{
	time.RFC3339,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006-01-02",
}

// ToTimestamp converts v to TIMESTAMP: numbers are Unix epoch milliseconds
// (fractions rounded to the nearest millisecond), and STRINGs are either
// epoch milliseconds or ISO-8601 text such as 2024-01-15T10:30:00.250Z,
// 2024-01-15 10:30:00 (UTC) or 2024-01-15.
func ToTimestamp(v Value) (Value, error) {
	switch v.kind {
	case Null, Timestamp:
		return v, nil
	case Int:
		return TimestampValue(v.num), nil
	case Decimal:
		n, err := RescaleDecimal(v.num, v.scale, 0)
		if err != nil {
			return Value{}, castError(v, "TIMESTAMP", err)
		}
		return TimestampValue(n), nil
	case Float:
		n, ok := floatToInt(math.Round(v.Float()))
		if !ok {
			return Value{}, castError(v, "TIMESTAMP", nil)
		}
		return TimestampValue(n), nil
	case String:
		s := strings.TrimSpace(v.str)
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return TimestampValue(n), nil
		}
		for _, layout := range timestampLayouts {
			if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
				return TimestampValue(t.UnixMilli()), nil
			}
		}
	}
	return Value{}, castError(v, "TIMESTAMP", nil)
}

// ToBool converts v to BOOLEAN: numbers are true when non-zero, and STRINGs
// accept PostgreSQL's spellings (true/false, t/f, yes/no, y/n, on/off, 1/0,
// any case).
func ToBool(v Value) (Value, error) {
	switch v.kind {
	case Null, Bool:
		return v, nil
	case Int, Decimal:
		return BoolValue(v.num != 0), nil
	case Float:
		return BoolValue(v.Float() != 0), nil
	case String:
		switch strings.ToLower(strings.TrimSpace(v.str)) {
		case "true", "t", "yes", "y", "on", "1":
			return BoolValue(true), nil
		case "false", "f", "no", "n", "off", "0":
			return BoolValue(false), nil
		}
	}
	return Value{}, castError(v, "BOOLEAN", nil)
}

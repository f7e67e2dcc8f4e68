// Package record holds Sluice's data model: typed values, records addressed
// by slot, batches and schemas.
package record

import "math"

// Kind is the SQL type of a Value.
type Kind uint8

// The value kinds. The zero Value is NULL.
const (
	Null Kind = iota
	Bool
	Int
	Float
	Decimal
	String
	Timestamp
)

var kindNames = [...]string{"NULL", "BOOLEAN", "INTEGER", "FLOAT", "DECIMAL", "STRING", "TIMESTAMP"}

// String returns the SQL name of the kind.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "UNKNOWN"
}

// Value is one typed SQL value. It is a small struct, never an interface, so
// that records carry values without boxing or per-value allocation.
//
// BOOLEAN, INTEGER, DECIMAL (the unscaled integer), TIMESTAMP (Unix
// milliseconds, UTC) and FLOAT (its IEEE bits) live in num; STRING in str.
type Value struct {
	str   string
	num   int64
	kind  Kind
	scale uint8
}

// NullValue returns SQL NULL.
func NullValue() Value { return Value{} }

// BoolValue returns a BOOLEAN.
func BoolValue(b bool) Value {
	v := Value{kind: Bool}
	if b {
		v.num = 1
	}
	return v
}

// IntValue returns an INTEGER.
func IntValue(i int64) Value { return Value{kind: Int, num: i} }

// FloatValue returns a FLOAT.
func FloatValue(f float64) Value { return Value{kind: Float, num: int64(math.Float64bits(f))} }

// DecimalValue returns the exact DECIMAL unscaled × 10^-scale.
func DecimalValue(unscaled int64, scale uint8) Value {
	return Value{kind: Decimal, num: unscaled, scale: scale}
}

// StringValue returns a STRING.
func StringValue(s string) Value { return Value{kind: String, str: s} }

// TimestampValue returns a TIMESTAMP at ms milliseconds after the Unix epoch.
func TimestampValue(ms int64) Value { return Value{kind: Timestamp, num: ms} }

// Kind returns the value's type.
func (v Value) Kind() Kind { return v.kind }

// IsNull reports whether v is SQL NULL.
func (v Value) IsNull() bool { return v.kind == Null }

// Bool returns a BOOLEAN's value.
func (v Value) Bool() bool { return v.num != 0 }

// Int returns an INTEGER's value.
func (v Value) Int() int64 { return v.num }

// Float returns a FLOAT's value.
func (v Value) Float() float64 { return math.Float64frombits(uint64(v.num)) }

// Decimal returns a DECIMAL's unscaled integer and scale.
func (v Value) Decimal() (unscaled int64, scale uint8) { return v.num, v.scale }

// Str returns a STRING's value.
func (v Value) Str() string { return v.str }

// Millis returns a TIMESTAMP's Unix milliseconds.
func (v Value) Millis() int64 { return v.num }

package record

import (
	"math"
	"strings"
	"testing"
)

func TestCasts(t *testing.T) {
	type castFn func(Value) (Value, error)
	dec := func(scale int) castFn { return func(v Value) (Value, error) { return ToDecimal(v, scale) } }
	tests := []struct {
		name string
		fn   castFn
		in   Value
		kind Kind
		text string // expected display text, or a substring of the error when kind is Null and text starts with "!"
	}{
		{"int", ToInt, num(t, "2.5"), Int, "3"},
		{"int", ToInt, num(t, "-2.5"), Int, "-3"},
		{"int", ToInt, FloatValue(2.5), Int, "2"},
		{"int", ToInt, FloatValue(3.5), Int, "4"},
		{"int", ToInt, StringValue(" 42 "), Int, "42"},
		{"int", ToInt, BoolValue(true), Int, "1"},
		{"int", ToInt, TimestampValue(1500), Int, "1500"},
		{"int", ToInt, NullValue(), Null, "NULL"},
		{"int", ToInt, StringValue("abc"), Null, `!cannot cast STRING "abc" to INTEGER`},
		{"int", ToInt, StringValue("1.5"), Null, "!to INTEGER"},
		{"int", ToInt, FloatValue(1e19), Null, "!out of range"},
		{"int", ToInt, FloatValue(math.NaN()), Null, "!to INTEGER"},
		{"float", ToFloat, num(t, "0.1"), Float, "0.1"},
		{"float", ToFloat, IntValue(3), Float, "3"},
		{"float", ToFloat, StringValue("1e3"), Float, "1000"},
		{"float", ToFloat, BoolValue(true), Null, "!cannot cast BOOLEAN true to FLOAT"},
		{"decimal", dec(2), IntValue(3), Decimal, "3.00"},
		{"decimal", dec(2), num(t, "1.005"), Decimal, "1.01"},
		{"decimal", dec(2), num(t, "-1.005"), Decimal, "-1.01"},
		{"decimal", dec(-1), num(t, "1.005"), Decimal, "1.005"},
		{"decimal", dec(-1), FloatValue(0.1), Decimal, "0.1"},
		{"decimal", dec(3), FloatValue(2.5), Decimal, "2.500"},
		{"decimal", dec(-1), StringValue("12.50"), Decimal, "12.50"},
		{"decimal", dec(1), StringValue("1e2"), Decimal, "100.0"},
		{"decimal", dec(2), IntValue(math.MaxInt64), Null, "!out of range"},
		{"decimal", dec(-1), FloatValue(1e30), Null, "!to DECIMAL"},
		{"decimal", dec(-1), FloatValue(math.Inf(1)), Null, "!to DECIMAL"},
		{"decimal", dec(-1), StringValue("x"), Null, `!cannot cast STRING "x" to DECIMAL`},
		{"decimal", dec(19), IntValue(1), Null, "!scale 19"},
		{"string", ToString, num(t, "1.50"), String, "1.50"},
		{"string", ToString, BoolValue(false), String, "false"},
		{"string", ToString, TimestampValue(0), String, "1970-01-01T00:00:00.000Z"},
		{"timestamp", ToTimestamp, IntValue(1705314600000), Timestamp, "2024-01-15T10:30:00.000Z"},
		{"timestamp", ToTimestamp, StringValue("2024-01-15T10:30:00.25Z"), Timestamp, "2024-01-15T10:30:00.250Z"},
		{"timestamp", ToTimestamp, StringValue("2024-01-15T12:30:00+02:00"), Timestamp, "2024-01-15T10:30:00.000Z"},
		{"timestamp", ToTimestamp, StringValue("2024-01-15 10:30:00"), Timestamp, "2024-01-15T10:30:00.000Z"},
		{"timestamp", ToTimestamp, StringValue("2024-01-15"), Timestamp, "2024-01-15T00:00:00.000Z"},
		{"timestamp", ToTimestamp, StringValue("1705314600000"), Timestamp, "2024-01-15T10:30:00.000Z"},
		{"timestamp", ToTimestamp, num(t, "1.6"), Timestamp, "1970-01-01T00:00:00.002Z"},
		{"timestamp", ToTimestamp, StringValue("yesterday"), Null, `!cannot cast STRING "yesterday" to TIMESTAMP`},
		{"timestamp", ToTimestamp, BoolValue(true), Null, "!to TIMESTAMP"},
		{"bool", ToBool, StringValue("YES"), Bool, "true"},
		{"bool", ToBool, StringValue("f"), Bool, "false"},
		{"bool", ToBool, IntValue(2), Bool, "true"},
		{"bool", ToBool, num(t, "0.0"), Bool, "false"},
		{"bool", ToBool, StringValue("maybe"), Null, "!to BOOLEAN"},
	}
	for _, tt := range tests {
		got, err := tt.fn(tt.in)
		if strings.HasPrefix(tt.text, "!") {
			if err == nil || !strings.Contains(err.Error(), tt.text[1:]) {
				t.Errorf("%s(%v) = %v, %v; want error containing %q", tt.name, tt.in, got, err, tt.text[1:])
			}
			continue
		}
		if err != nil || got.Kind() != tt.kind || got.String() != tt.text {
			t.Errorf("%s(%v %v) = %v %v, %v; want %v %s", tt.name, tt.in.Kind(), tt.in, got.Kind(), got, err, tt.kind, tt.text)
		}
	}
}

package record

import (
	"strings"
	"testing"
)

func TestConform(t *testing.T) {
	dec := func(u int64, s uint8) Value { return DecimalValue(u, s) }
	for _, tt := range []struct {
		name string
		in   Value
		f    Field
		want Value
		err  string
	}{
		{"int stays", IntValue(7), Field{Type: BigintType}, IntValue(7), ""},
		{"whole decimal to int", dec(700, 2), Field{Type: IntegerType}, IntValue(7), ""},
		{"fraction is no int", dec(750, 2), Field{Type: IntegerType}, Value{}, "DECIMAL 7.50 does not fit type INTEGER"},
		{"integer range", IntValue(99999999999), Field{Type: IntegerType}, Value{}, "INTEGER 99999999999 does not fit type INTEGER (out of range; use BIGINT)"},
		{"bigint range", IntValue(99999999999), Field{Type: BigintType}, IntValue(99999999999), ""},
		{"integer text range", StringValue("3000000000"), Field{Type: IntegerType}, Value{}, "does not fit type INTEGER"},
		{"int text to int", StringValue("12"), Field{Type: IntegerType}, IntValue(12), ""},
		{"decimal rescales", dec(1852, 1), Field{Type: DecimalType(10, 2)}, dec(18520, 2), ""},
		{"decimal keeps digits", dec(1855, 3), Field{Type: DecimalType(10, 2)}, Value{}, "does not fit type DECIMAL(10,2)"},
		{"decimal precision", IntValue(123456), Field{Type: DecimalType(5, 2)}, Value{}, "does not fit type DECIMAL(5,2)"},
		{"double", IntValue(2), Field{Type: DoubleType}, FloatValue(2), ""},
		{"number to string", dec(4050, 2), Field{Type: StringType}, StringValue("40.50"), ""},
		{"bool text", StringValue("true"), Field{Type: BooleanType}, BoolValue(true), ""},
		{"bad bool", IntValue(3), Field{Type: BooleanType}, Value{}, "does not fit type BOOLEAN"},
		{"iso time", StringValue("2024-01-15T10:00:05Z"), Field{Type: TimestampType}, TimestampValue(1705312805000), ""},
		{"epoch millis", IntValue(1705312805000), Field{Type: TimestampType}, TimestampValue(1705312805000), ""},
		{"row", StringValue(`{"a":1}`), Field{Type: RowType(Field{Name: "a", Type: IntegerType})}, StringValue(`{"a":1}`), ""},
		{"not a row", StringValue("x"), Field{Type: RowType()}, Value{}, "does not fit type ROW<>"},
		{"array", StringValue(`[1]`), Field{Type: ArrayType(IntegerType)}, StringValue(`[1]`), ""},
		{"inferred numbers stay", dec(25, 1), Field{Type: IntegerType, Inferred: true}, dec(25, 1), ""},
		{"null", Value{}, Field{Type: IntegerType}, Value{}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Conform(tt.in, tt.f)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %v (%v), %v; want %v (%v)", got, got.Kind(), err, tt.want, tt.want.Kind())
			}
		})
	}
}

func TestConformer(t *testing.T) {
	s := NewSchemaOf(Field{Name: "a"}, Field{Name: "b", Type: IntegerType, NotNull: true}, Field{Name: "c", Type: StringType})
	c := NewConformer(s)
	vals := []Value{StringValue("x"), dec2(300), IntValue(5)}
	if err := c.Apply(vals); err != nil || vals[1] != IntValue(3) || vals[2] != StringValue("5") {
		t.Fatalf("Apply: %v %v", vals, err)
	}
	vals = []Value{{}, {}, {}}
	if err := c.Apply(vals); err == nil || !strings.Contains(err.Error(), "column b is NOT NULL") {
		t.Fatalf("NOT NULL: %v", err)
	}
	vals = []Value{{}, IntValue(1 << 40), {}}
	if err := c.Apply(vals); err == nil || !strings.Contains(err.Error(), "column b: INTEGER 1099511627776 does not fit type INTEGER (out of range") {
		t.Fatalf("INTEGER range: %v", err)
	}
	if NewConformer(NewSchema("x", "y")) != nil {
		t.Error("an untyped schema has a conformer")
	}
}

func dec2(u int64) Value { return DecimalValue(u, 2) }

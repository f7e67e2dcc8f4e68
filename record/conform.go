package record

import (
	"fmt"
	"math"
	"strings"
)

// Conformer makes decoded values fit their columns' types: it converts a
// value of another kind where the conversion is exact (a whole number into
// an INTEGER column, an ISO-8601 string into a TIMESTAMP, a number into a
// STRING) and reports the first value that does not fit, so that its record
// goes to the dead-letter queue with the reason. Columns of type ANY are
// left as decoded.
type Conformer struct {
	cols []conformCol
}

type conformCol struct {
	slot  int
	name  string
	typ   Type
	want  Kind
	field Field
}

// NewConformer returns the conformer of schema's typed columns, or nil when
// no column has a type or a NOT NULL constraint (then nothing is to be done).
func NewConformer(schema *Schema) *Conformer {
	c := &Conformer{}
	for i := 0; i < schema.Len(); i++ {
		f := schema.Field(i)
		if f.Type.Kind == TypeAny && !f.NotNull {
			continue
		}
		c.cols = append(c.cols, conformCol{slot: i, name: f.Name, typ: f.Type, want: f.Type.ValueKind(), field: f})
	}
	if len(c.cols) == 0 {
		return nil
	}
	return c
}

// Apply conforms vals (indexed by the schema's slots) in place.
func (c *Conformer) Apply(vals []Value) error {
	for i := range c.cols {
		col := &c.cols[i]
		if col.slot >= len(vals) {
			continue
		}
		v := vals[col.slot]
		if v.kind == col.want && col.typ.Kind != TypeDecimal && !col.typ.Nested() && (col.typ.Kind != TypeInteger || fitsInt32(v.num)) {
			continue
		}
		if v.kind == Null {
			if col.field.NotNull {
				return fmt.Errorf("column %s is NOT NULL and has no value", col.name)
			}
			continue
		}
		if col.typ.Kind == TypeAny {
			continue
		}
		x, err := conform(v, col.field)
		if err != nil {
			return fmt.Errorf("column %s: %w", col.name, err)
		}
		vals[col.slot] = x
	}
	return nil
}

// Conform converts v to the type of field f (see Conformer).
func Conform(v Value, f Field) (Value, error) {
	if v.kind == Null || f.Type.Kind == TypeAny {
		return v, nil
	}
	return conform(v, f)
}

func conform(v Value, f Field) (Value, error) {
	t := f.Type
	if f.Inferred && t.Numeric() && v.isNumeric() {
		return v, nil
	}
	misfit := func() (Value, error) {
		return Value{}, fmt.Errorf("%s does not fit type %s", v.quoted(), t)
	}
	switch t.Kind {
	case TypeInteger, TypeBigint:
		n := v
		if v.kind != Int {
			if v.kind != Decimal && v.kind != Float && v.kind != String {
				return misfit()
			}
			var err error
			if n, err = ToInt(v); err != nil {
				return misfit()
			}
			if eq, err := Equal(n, v); v.kind != String && (err != nil || !eq) {
				return misfit()
			}
		}
		if t.Kind == TypeInteger && !fitsInt32(n.num) {
			return Value{}, fmt.Errorf("%s does not fit type INTEGER (out of range; use BIGINT)", v.quoted())
		}
		return n, nil
	case TypeDecimal:
		if v.kind == Bool || v.kind == Timestamp {
			return misfit()
		}
		d, err := ToDecimal(v, t.Scale)
		if err != nil {
			return misfit()
		}
		if v.kind != String {
			if eq, err := Equal(d, v); err != nil || !eq {
				return misfit()
			}
		}
		if u, _ := d.Decimal(); Digits(u) > t.Precision {
			return misfit()
		}
		return d, nil
	case TypeDouble:
		if v.kind == Bool || v.kind == Timestamp {
			return misfit()
		}
		x, err := ToFloat(v)
		if err != nil {
			return misfit()
		}
		return x, nil
	case TypeString:
		return ToString(v)
	case TypeBoolean:
		if v.kind != String && !(v.kind == Int && (v.num == 0 || v.num == 1)) {
			return misfit()
		}
		x, err := ToBool(v)
		if err != nil {
			return misfit()
		}
		return x, nil
	case TypeTimestamp:
		x, err := ToTimestamp(v)
		if err != nil {
			return misfit()
		}
		return x, nil
	case TypeRow, TypeArray:
		open := "{"
		if t.Kind == TypeArray {
			open = "["
		}
		if v.kind == String && strings.HasPrefix(strings.TrimSpace(v.str), open) {
			return v, nil
		}
		return misfit()
	}
	return misfit()
}

// fitsInt32 reports whether n is in the range of an INTEGER column (32 bits,
// as in PostgreSQL; BIGINT holds 64).
func fitsInt32(n int64) bool { return n >= math.MinInt32 && n <= math.MaxInt32 }

// Digits returns the number of decimal digits of |u| (1 for 0).
func Digits(u int64) int {
	if u < 0 {
		u = -u
	}
	n := 1
	for u >= 10 {
		u /= 10
		n++
	}
	return n
}

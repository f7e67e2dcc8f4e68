package record

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// TypeKind is the SQL type of a column as a schema declares or infers it.
// Several type kinds share one value Kind: INTEGER and BIGINT values are
// both INTEGER values, nested ROW and ARRAY values are their JSON text.
type TypeKind uint8

// The column type kinds. TypeAny is a column whose type is not known (a
// column declared by name only): it takes every value as decoded.
const (
	TypeAny TypeKind = iota
	TypeBoolean
	TypeInteger
	TypeBigint
	TypeDecimal
	TypeDouble
	TypeString
	TypeTimestamp
	TypeRow
	TypeArray
)

var typeKindNames = [...]string{"ANY", "BOOLEAN", "INTEGER", "BIGINT", "DECIMAL", "DOUBLE", "STRING", "TIMESTAMP", "ROW", "ARRAY"}

// Type is a column's SQL type. Precision and Scale apply to DECIMAL, Fields
// to ROW and Elem to ARRAY.
type Type struct {
	Kind             TypeKind
	Precision, Scale int
	Fields           []Field
	Elem             *Type
}

// Field is one named, typed field of a ROW, or one column of a schema.
type Field struct {
	Name string
	Type Type
	// NotNull is set for a column declared NOT NULL.
	NotNull bool
	// Inferred is set for a column whose type was inferred from a sample:
	// a numeric column then keeps every number as decoded instead of
	// converting it, since the sample may not have shown the widest one.
	Inferred bool
	// Internal is set for a column the engine keeps for itself (the slot
	// of a stream-stream join's row that says which input it came from):
	// no output shows it, not even a dead letter's row.
	Internal bool
}

// MaxPrecision is the most digits a DECIMAL holds exactly (an int64).
const MaxPrecision = 18

// The scalar types, for convenience.
var (
	AnyType       = Type{Kind: TypeAny}
	BooleanType   = Type{Kind: TypeBoolean}
	IntegerType   = Type{Kind: TypeInteger}
	BigintType    = Type{Kind: TypeBigint}
	DoubleType    = Type{Kind: TypeDouble}
	StringType    = Type{Kind: TypeString}
	TimestampType = Type{Kind: TypeTimestamp}
)

// DecimalType returns DECIMAL(precision, scale).
func DecimalType(precision, scale int) Type {
	return Type{Kind: TypeDecimal, Precision: precision, Scale: scale}
}

// ArrayType returns ARRAY<elem>.
func ArrayType(elem Type) Type { return Type{Kind: TypeArray, Elem: &elem} }

// RowType returns ROW<fields>.
func RowType(fields ...Field) Type { return Type{Kind: TypeRow, Fields: fields} }

// String returns the type's SQL spelling: BIGINT, DECIMAL(10,2),
// ROW<id BIGINT, name STRING>, ARRAY<STRING>.
func (t Type) String() string {
	var b strings.Builder
	t.write(&b)
	return b.String()
}

func (t Type) write(b *strings.Builder) {
	switch t.Kind {
	case TypeDecimal:
		fmt.Fprintf(b, "DECIMAL(%d,%d)", t.Precision, t.Scale)
	case TypeRow:
		b.WriteString("ROW<")
		for i, f := range t.Fields {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(f.Name + " ")
			f.Type.write(b)
		}
		b.WriteString(">")
	case TypeArray:
		b.WriteString("ARRAY<")
		if t.Elem != nil {
			t.Elem.write(b)
		} else {
			b.WriteString("ANY")
		}
		b.WriteString(">")
	default:
		if int(t.Kind) < len(typeKindNames) {
			b.WriteString(typeKindNames[t.Kind])
		} else {
			b.WriteString("UNKNOWN")
		}
	}
}

// Numeric reports whether the type is INTEGER, BIGINT, DECIMAL or DOUBLE.
func (t Type) Numeric() bool {
	switch t.Kind {
	case TypeInteger, TypeBigint, TypeDecimal, TypeDouble:
		return true
	}
	return false
}

// Nested reports whether the type is a ROW or an ARRAY, whose values are
// JSON text.
func (t Type) Nested() bool { return t.Kind == TypeRow || t.Kind == TypeArray }

// Field returns the ROW field called name (case-insensitively).
func (t Type) Field(name string) (Field, bool) {
	for _, f := range t.Fields {
		if strings.EqualFold(f.Name, name) {
			return f, true
		}
	}
	return Field{}, false
}

// ValueKind returns the kind of the values the type holds: Null for ANY.
func (t Type) ValueKind() Kind {
	switch t.Kind {
	case TypeBoolean:
		return Bool
	case TypeInteger, TypeBigint:
		return Int
	case TypeDecimal:
		return Decimal
	case TypeDouble:
		return Float
	case TypeString, TypeRow, TypeArray:
		return String
	case TypeTimestamp:
		return Timestamp
	}
	return Null
}

// TypeOfKind returns the column type of values of kind k (ANY for NULL).
func TypeOfKind(k Kind) Type {
	switch k {
	case Bool:
		return BooleanType
	case Int:
		return BigintType
	case Decimal:
		return DecimalType(MaxPrecision, 0)
	case Float:
		return DoubleType
	case String:
		return StringType
	case Timestamp:
		return TimestampType
	}
	return AnyType
}

// Equal reports whether t and u are the same type.
func (t Type) Equal(u Type) bool { return t.String() == u.String() }

// LookupType returns the type kind a type name stands for: the SQL names and
// their usual synonyms (INT, VARCHAR, FLOAT, STRUCT, ...).
func LookupType(name string) (TypeKind, bool) {
	k, ok := typeSpellings[strings.ToUpper(name)]
	return k, ok
}

// typeSpellings maps each type name LookupType knows to its kind.
var typeSpellings = map[string]TypeKind{
	"BOOLEAN": TypeBoolean, "BOOL": TypeBoolean,
	"INTEGER": TypeInteger, "INT": TypeInteger, "INT4": TypeInteger, "SMALLINT": TypeInteger, "TINYINT": TypeInteger,
	"BIGINT": TypeBigint, "INT8": TypeBigint, "LONG": TypeBigint,
	"DECIMAL": TypeDecimal, "NUMERIC": TypeDecimal, "DEC": TypeDecimal,
	"DOUBLE": TypeDouble, "FLOAT": TypeDouble, "REAL": TypeDouble, "FLOAT8": TypeDouble, "DOUBLE PRECISION": TypeDouble,
	"STRING": TypeString, "VARCHAR": TypeString, "TEXT": TypeString, "CHAR": TypeString,
	"TIMESTAMP": TypeTimestamp, "TIMESTAMP_LTZ": TypeTimestamp, "TIMESTAMPTZ": TypeTimestamp, "DATETIME": TypeTimestamp,
	"ROW": TypeRow, "STRUCT": TypeRow,
	"ARRAY": TypeArray,
}

// TypeSpellings returns every type name LookupType knows, sorted: the
// candidates of a "did you mean" for an unknown type.
func TypeSpellings() []string { return slices.Sorted(maps.Keys(typeSpellings)) }

// TypeNames lists the type names LookupType knows, for messages.
const TypeNames = "BOOLEAN, INTEGER (INT), BIGINT, DECIMAL(p,s), DOUBLE (FLOAT), STRING (VARCHAR), TIMESTAMP, ROW<...> (STRUCT), ARRAY<...>"

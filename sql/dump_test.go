package sql

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

var (
	posType      = reflect.TypeOf(Pos{})
	durationType = reflect.TypeOf(time.Duration(0))
	stringerType = reflect.TypeOf((*fmt.Stringer)(nil)).Elem()
)

// dump renders an AST compactly, leaving out positions and zero fields
// (but not enums, which print their names), so
// that two ASTs are equal (ignoring positions) exactly when their dumps are.
func dump(v any) string {
	var b strings.Builder
	dumpValue(&b, reflect.ValueOf(v))
	return b.String()
}

func dumpValue(b *strings.Builder, v reflect.Value) {
	switch v.Kind() {
	case reflect.Invalid:
		b.WriteString("nil")
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		dumpValue(b, v.Elem())
	case reflect.Struct:
		b.WriteString(v.Type().Name() + "{")
		sep := ""
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if f.Type == posType || (v.Field(i).IsZero() && !f.Type.Implements(stringerType)) ||
				f.Name == "Derived" || f.Name == "DerivedErr" || f.Name == "Quoted" { // not printed
				continue
			}
			b.WriteString(sep + f.Name + ":")
			dumpValue(b, v.Field(i))
			sep = " "
		}
		b.WriteString("}")
	case reflect.Slice:
		b.WriteString("[")
		for i := 0; i < v.Len(); i++ {
			if i > 0 {
				b.WriteString(" ")
			}
			dumpValue(b, v.Index(i))
		}
		b.WriteString("]")
	case reflect.String:
		b.WriteString(strconv.Quote(v.String()))
	default:
		if v.Type() == durationType {
			b.WriteString(time.Duration(v.Int()).String())
			return
		}
		fmt.Fprint(b, v.Interface())
	}
}

// equalAST reports whether two ASTs are equal ignoring positions.
func equalAST(a, b any) bool { return dump(a) == dump(b) }

package expr

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// castFunc converts one non-failing value to the target type.
type castFunc func(v record.Value) (record.Value, error)

// castTarget resolves a CAST type name such as INTEGER, DECIMAL(10,2) or
// VARCHAR(20) to its conversion.
func castTarget(typ string) (castFunc, error) {
	name, args, err := splitType(typ)
	if err != nil {
		return nil, err
	}
	switch name {
	case "INTEGER", "INT", "BIGINT", "SMALLINT", "INT8", "INT4", "LONG":
		return noArgs(name, args, record.ToInt)
	case "FLOAT", "DOUBLE", "DOUBLE PRECISION", "REAL", "FLOAT8", "FLOAT4":
		return noArgs(name, args, record.ToFloat)
	case "BOOLEAN", "BOOL":
		return noArgs(name, args, record.ToBool)
	case "TIMESTAMP":
		return noArgs(name, args, record.ToTimestamp)
	case "STRING", "TEXT":
		return noArgs(name, args, record.ToString)
	case "VARCHAR", "CHAR", "CHARACTER VARYING":
		return varchar(name, args)
	case "DECIMAL", "NUMERIC":
		return decimalCast(name, args)
	}
	msg := "unknown type " + name
	if hint := sql.DidYouMean(name, castTypes, func(s string) string { return s }); hint != "" {
		msg += "; " + hint
	}
	return nil, fmt.Errorf("%s (valid types: %s)", msg, castTypeNames)
}

// castTypes are the type names CAST converts to, the candidates of a
// "did you mean"; castTypeNames lists them for messages.
var castTypes = []string{"INTEGER", "INT", "BIGINT", "SMALLINT", "INT8", "INT4", "LONG", "FLOAT", "DOUBLE", "REAL", "FLOAT8", "FLOAT4",
	"BOOLEAN", "BOOL", "TIMESTAMP", "STRING", "TEXT", "VARCHAR", "CHAR", "DECIMAL", "NUMERIC"}

const castTypeNames = "BOOLEAN, INTEGER (INT), BIGINT, DECIMAL(p,s), DOUBLE (FLOAT), STRING (VARCHAR), TIMESTAMP"

// splitType splits "DECIMAL(10, 2)" into "DECIMAL" and [10 2].
func splitType(typ string) (string, []int, error) {
	typ = strings.ToUpper(strings.TrimSpace(typ))
	open := strings.IndexByte(typ, '(')
	if open < 0 {
		return strings.Join(strings.Fields(typ), " "), nil, nil
	}
	if !strings.HasSuffix(typ, ")") {
		return "", nil, fmt.Errorf("invalid type %s", typ)
	}
	var args []int
	for _, a := range strings.Split(typ[open+1:len(typ)-1], ",") {
		n, err := strconv.Atoi(strings.TrimSpace(a))
		if err != nil || n < 0 {
			return "", nil, fmt.Errorf("invalid type modifier in %s", typ)
		}
		args = append(args, n)
	}
	return strings.Join(strings.Fields(typ[:open]), " "), args, nil
}

func noArgs(name string, args []int, f castFunc) (castFunc, error) {
	if len(args) > 0 {
		return nil, fmt.Errorf("type %s takes no modifiers", name)
	}
	return f, nil
}

// varchar converts to STRING; VARCHAR(n) keeps the first n characters.
func varchar(name string, args []int) (castFunc, error) {
	switch len(args) {
	case 0:
		return record.ToString, nil
	case 1:
	default:
		return nil, fmt.Errorf("type %s takes one length", name)
	}
	n := args[0]
	return func(v record.Value) (record.Value, error) {
		s, err := record.ToString(v)
		if err != nil || s.IsNull() || utf8.RuneCountInString(s.Str()) <= n {
			return s, err
		}
		str, i := s.Str(), 0
		for k := 0; k < n; k++ {
			_, w := utf8.DecodeRuneInString(str[i:])
			i += w
		}
		return record.StringValue(str[:i]), nil
	}, nil
}

// decimalCast converts to DECIMAL: plain DECIMAL keeps the value's scale,
// DECIMAL(p) means scale 0 and DECIMAL(p,s) rounds to scale s half away
// from zero; a value with more than p digits is an error.
func decimalCast(name string, args []int) (castFunc, error) {
	if len(args) == 0 {
		return func(v record.Value) (record.Value, error) { return record.ToDecimal(v, -1) }, nil
	}
	if len(args) > 2 {
		return nil, fmt.Errorf("type %s takes precision and scale", name)
	}
	p, s := args[0], 0
	if len(args) == 2 {
		s = args[1]
	}
	if p < 1 || p > record.MaxScale || s > p {
		return nil, fmt.Errorf("%s(%d,%d): precision must be 1..%d and scale at most the precision", name, p, s, record.MaxScale)
	}
	limit := int64(1)
	for range p {
		limit *= 10
	}
	return func(v record.Value) (record.Value, error) {
		d, err := record.ToDecimal(v, s)
		if err != nil || d.IsNull() {
			return d, err
		}
		if n, _ := d.Decimal(); n >= limit || n <= -limit {
			return record.Value{}, fmt.Errorf("cannot cast %s %s to %s(%d,%d): too many digits", v.Kind(), v, name, p, s)
		}
		return d, nil
	}, nil
}

func (c *compiler) cast(x *sql.Cast) (node, error) {
	conv, err := castTarget(x.Type)
	if err != nil {
		at := sql.Node(x)
		if x.TypePos.Line > 0 {
			at = x.TypePos
		}
		return node{}, errorf(at, "CAST: %v", err)
	}
	in, err := c.compile(x.X)
	if err != nil {
		return node{}, err
	}
	f := in.fn
	return node{constant: in.constant, fn: func(r *record.Record) (record.Value, error) {
		v, err := f(r)
		if err != nil {
			return v, err
		}
		return conv(v)
	}}, nil
}

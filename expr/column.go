package expr

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// ident compiles a column reference. A qualified `t.col` resolves by the
// column name alone; system columns read the record's metadata.
func (c *compiler) ident(x *sql.Ident) (node, error) {
	if sys, ok := record.IsSystemColumn(x.Name); ok {
		fn, err := systemColumn(x, sys)
		return node{fn: fn}, err
	}
	name, path := c.columnPath(x)
	if name == "" {
		return node{}, errorf(x, "unknown qualifier %q in %s%s", x.Qualifier, sql.FormatExpr(x), Hint(x.Qualifier, c.qualifierCandidates(x)))
	}
	s := c.scope.Schema
	if s == nil {
		return node{}, errorf(x, "unknown column %q", name)
	}
	slot, ok := s.Lookup(name)
	if !ok {
		if !c.scope.AutoAdd {
			err := UnknownColumn(x, name, s.Names())
			if x.Quoted {
				err = errorf(x, "%v; a string is written in single quotes: '%s' (double quotes name a column)", err.(*Error).Msg, strings.ReplaceAll(name, "'", "''"))
			}
			return node{}, err
		}
		slot = s.Add(name)
	}
	if len(path) == 0 {
		return node{fn: slotReader(slot)}, nil
	}
	t, err := fieldType(x, name, s.Type(slot), path)
	if err != nil {
		return node{}, err
	}
	return node{fn: fieldReader(slotReader(slot), path, t)}, nil
}

// qualifierCandidates are the names an unknown qualifier in x may have
// meant: the statement's qualifiers and the columns that have the field x
// names (`usr.uid` meant the column user, a ROW with the field uid).
func (c *compiler) qualifierCandidates(x *sql.Ident) []string {
	names := c.scope.Qualifiers
	if s := c.scope.Schema; s != nil {
		names = slices.Clone(names)
		for i, n := range s.Names() {
			if _, err := fieldType(x, n, s.Type(i), []string{x.Name}); err == nil {
				names = append(names, n)
			}
		}
	}
	return names
}

// columnPath splits a column reference into the column's name and the
// nested field path after it: `t.col.f` (t a qualifier) and `col.f` (col
// no qualifier) both give col and [f]. A qualifier that is also a column
// is the qualifier unless the source has no column of the next name and
// the column has a field of that name: then, as in DuckDB, it is the
// column (`p.user.id` over a source p with a ROW column p). The name is ""
// for an unknown qualifier that is no column either.
func (c *compiler) columnPath(x *sql.Ident) (string, []string) {
	q, s := c.scope.Qualifiers, c.scope.Schema
	if x.Qualifier == "" || q == nil {
		return x.Name, x.Path
	}
	if containsFold(q, x.Qualifier) {
		if s != nil && !c.scope.AutoAdd {
			if _, ok := s.Lookup(x.Name); !ok {
				if slot, ok := s.Lookup(x.Qualifier); ok {
					if _, err := fieldType(x, x.Qualifier, s.Type(slot), []string{x.Name}); err == nil {
						return x.Qualifier, append([]string{x.Name}, x.Path...)
					}
				}
			}
		}
		return x.Name, x.Path
	}
	if s != nil {
		if _, ok := s.Lookup(x.Qualifier); ok || c.scope.AutoAdd {
			return x.Qualifier, append([]string{x.Name}, x.Path...)
		}
	}
	return "", nil
}

// fieldType returns the type of the nested field path of column name, of
// type t: ANY when t does not say (a column of type ANY), else the declared or inferred field's type. A field the ROW type
// does not have is an error with a hint.
func fieldType(x sql.Node, name string, t record.Type, path []string) (record.Type, error) {
	at := name
	for _, f := range path {
		switch t.Kind {
		case record.TypeAny:
			return record.AnyType, nil
		case record.TypeRow:
			field, ok := t.Field(f)
			if !ok {
				names := make([]string, len(t.Fields))
				for i, g := range t.Fields {
					names[i] = g.Name
				}
				return record.AnyType, errorf(x, "%s has no field %q (its fields: %s)%s", at, f, strings.Join(names, ", "), Hint(f, names))
			}
			t = field.Type
		default:
			return record.AnyType, errorf(x, "%s is %s, which has no field %q", at, t, f)
		}
		at += "." + f
	}
	return t, nil
}

// UnknownColumn returns the positioned error for a column name that is not
// one of columns, with a "did you mean" hint when one is close.
func UnknownColumn(at sql.Node, name string, columns []string) error {
	if len(columns) == 0 {
		return errorf(at, "unknown column %q: the input has no columns", name)
	}
	return errorf(at, "unknown column %q%s", name, Hint(name, columns))
}

// Hint returns `; did you mean "x"?` for the candidate closest to name, or
// "" when none is close: the tail of an "unknown ..." message.
func Hint(name string, candidates []string) string {
	if h := sql.DidYouMean(name, candidates, strconv.Quote); h != "" {
		return "; " + h
	}
	return ""
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func systemColumn(x *sql.Ident, sys string) (Func, error) {
	switch sys {
	case record.SysTimestamp:
		return func(r *record.Record) (record.Value, error) {
			return record.TimestampValue(r.Timestamp), nil
		}, nil
	case record.SysOffset:
		// the place in the record's source, also for a record read
		// through a repartition topic
		return func(r *record.Record) (record.Value, error) {
			_, off := r.SourcePosition()
			return record.IntValue(off), nil
		}, nil
	case record.SysPartition:
		return func(r *record.Record) (record.Value, error) {
			p, _ := r.SourcePosition()
			return record.IntValue(int64(p)), nil
		}, nil
	case record.SysEventTime:
		return func(r *record.Record) (record.Value, error) {
			if r.HasEventTime {
				return record.TimestampValue(r.EventTime), nil
			}
			return record.TimestampValue(r.Timestamp), nil
		}, nil
	}
	return nil, errorf(x, "%s is only available in the select list of a windowed query", sys)
}

// literal returns a literal's value: INTEGER, exact DECIMAL, FLOAT, STRING,
// BOOLEAN, NULL, INTERVAL as INTEGER milliseconds, or TIMESTAMP.
func literal(x *sql.Literal) (record.Value, error) {
	switch x.Kind {
	case sql.NullLit:
		return record.Value{}, nil
	case sql.BoolLit:
		switch strings.ToUpper(x.Text) {
		case "TRUE":
			return record.BoolValue(true), nil
		case "FALSE":
			return record.BoolValue(false), nil
		}
		return record.Value{}, errorf(x, "invalid boolean literal %q", x.Text)
	case sql.IntLit:
		n, err := strconv.ParseInt(x.Text, 10, 64)
		if err != nil {
			return record.Value{}, errorf(x, "integer literal %s out of range", x.Text)
		}
		return record.IntValue(n), nil
	case sql.DecimalLit:
		v, err := record.ParseNumber(x.Text)
		if err != nil || v.Kind() == record.Float {
			return record.Value{}, errorf(x, "invalid decimal literal %s", x.Text)
		}
		return record.ToDecimal(v, -1)
	case sql.FloatLit:
		f, err := strconv.ParseFloat(x.Text, 64)
		if err != nil {
			return record.Value{}, errorf(x, "invalid float literal %s", x.Text)
		}
		return record.FloatValue(f), nil
	case sql.StringLit:
		return record.StringValue(x.Text), nil
	case sql.IntervalLit:
		ms, err := intervalMillis(x.Text, x.Unit)
		if err != nil {
			return record.Value{}, errorf(x, "%v", err)
		}
		return record.IntValue(ms), nil
	case sql.TimestampLit:
		v, err := record.ToTimestamp(record.StringValue(x.Text))
		if err != nil {
			return record.Value{}, errorf(x, "invalid timestamp literal '%s'", x.Text)
		}
		return v, nil
	}
	return record.Value{}, errorf(x, "unsupported literal kind %d", x.Kind)
}

// unitMillis maps interval units (singular, plural and short forms) to
// milliseconds.
var unitMillis = map[string]int64{
	"MILLISECOND": 1, "MILLISECONDS": 1, "MS": 1,
	"SECOND": 1000, "SECONDS": 1000, "S": 1000,
	"MINUTE": 60_000, "MINUTES": 60_000, "M": 60_000,
	"HOUR": 3_600_000, "HOURS": 3_600_000, "H": 3_600_000,
	"DAY": 86_400_000, "DAYS": 86_400_000, "D": 86_400_000,
	"WEEK": 604_800_000, "WEEKS": 604_800_000, "W": 604_800_000,
}

// intervalMillis converts INTERVAL 'text' UNIT to whole milliseconds. The
// unit may also be written inside the text ('5 minutes'); the amount may
// have a fraction as long as the result is whole milliseconds.
func intervalMillis(text, unit string) (int64, error) {
	amount := strings.TrimSpace(text)
	if unit == "" {
		if f := strings.Fields(amount); len(f) == 2 {
			amount, unit = f[0], f[1]
		}
	}
	per, ok := unitMillis[strings.ToUpper(unit)]
	if !ok {
		return 0, fmt.Errorf("invalid interval unit %q", unit)
	}
	n, err := record.ParseNumber(amount)
	if err != nil || n.Kind() == record.Float {
		return 0, fmt.Errorf("invalid interval amount %q", text)
	}
	ms, err := record.Mul(n, record.IntValue(per))
	if err != nil {
		return 0, fmt.Errorf("interval %q out of range", text)
	}
	whole, err := record.ToInt(ms)
	if eq, cerr := record.Equal(whole, ms); err != nil || cerr != nil || !eq {
		return 0, fmt.Errorf("interval '%s' %s is not a whole number of milliseconds", text, unit)
	}
	return whole.Int(), nil
}

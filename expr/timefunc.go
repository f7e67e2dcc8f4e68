package expr

import (
	"fmt"
	"strings"
	"time"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// Time functions read their argument as a TIMESTAMP (numbers are Unix
// milliseconds, strings ISO-8601, see record.ToTimestamp) and work in UTC.

// field extracts one part of a UTC time.
type field func(ms int64, t time.Time) record.Value

func intField(f func(t time.Time) int) field {
	return func(_ int64, t time.Time) record.Value { return record.IntValue(int64(f(t))) }
}

var (
	fieldYear        = intField(time.Time.Year)
	fieldQuarter     = intField(func(t time.Time) int { return (int(t.Month()) + 2) / 3 })
	fieldMonth       = intField(func(t time.Time) int { return int(t.Month()) })
	fieldDay         = intField(time.Time.Day)
	fieldHour        = intField(time.Time.Hour)
	fieldMinute      = intField(time.Time.Minute)
	fieldWholeSecond = intField(time.Time.Second)
	fieldMillisecond = intField(func(t time.Time) int { return t.Nanosecond() / 1e6 })
	fieldDOW         = intField(func(t time.Time) int { return int(t.Weekday()) })
	fieldISODOW      = intField(func(t time.Time) int { return (int(t.Weekday())+6)%7 + 1 })
	fieldDOY         = intField(time.Time.YearDay)
	fieldWeek        = intField(func(t time.Time) int { _, w := t.ISOWeek(); return w })
	// fieldSecond is EXTRACT(SECOND): seconds with milliseconds, DECIMAL scale 3.
	fieldSecond = func(_ int64, t time.Time) record.Value {
		return record.DecimalValue(int64(t.Second())*1000+int64(t.Nanosecond()/1e6), 3)
	}
	// fieldEpoch is EXTRACT(EPOCH): Unix seconds, DECIMAL scale 3.
	fieldEpoch = func(ms int64, _ time.Time) record.Value { return record.DecimalValue(ms, 3) }
)

// extractFields are the fields EXTRACT accepts.
var extractFields = map[string]field{
	"YEAR": fieldYear, "QUARTER": fieldQuarter, "MONTH": fieldMonth, "WEEK": fieldWeek,
	"DAY": fieldDay, "DOW": fieldDOW, "ISODOW": fieldISODOW, "DOY": fieldDOY,
	"HOUR": fieldHour, "MINUTE": fieldMinute, "SECOND": fieldSecond,
	"MILLISECOND": fieldMillisecond, "EPOCH": fieldEpoch,
}

// timePart builds a one-argument function extracting f.
func timePart(f field) func([]Func) Func {
	return func(args []Func) Func { return timeField(args[0], f) }
}

func timeField(a Func, f field) Func {
	return func(r *record.Record) (record.Value, error) {
		v, err := a(r)
		if err != nil || v.IsNull() {
			return null, err
		}
		ts, err := record.ToTimestamp(v)
		if err != nil {
			return null, err
		}
		ms := ts.Millis()
		return f(ms, time.UnixMilli(ms).UTC()), nil
	}
}

// constName reads a field or unit name given as an identifier or a string
// literal.
func constName(e sql.Expr) (string, bool) {
	switch x := e.(type) {
	case *sql.Ident:
		if x.Qualifier == "" {
			return strings.ToUpper(x.Name), true
		}
	case *sql.Literal:
		if x.Kind == sql.StringLit {
			return strings.ToUpper(x.Text), true
		}
	}
	return "", false
}

// extract compiles EXTRACT(field, ts) (the parser's form of EXTRACT(field
// FROM ts)) and DATE_PART('field', ts).
func (c *compiler) extract(x *sql.Call) (node, error) {
	if len(x.Args) != 2 {
		return node{}, errorf(x, "%s takes a field and a timestamp", x.Name)
	}
	name, ok := constName(x.Args[0])
	if !ok {
		return node{}, errorf(x.Args[0], "%s field must be a name such as YEAR or 'hour'", x.Name)
	}
	f, ok := extractFields[name]
	if !ok {
		return node{}, errorf(x.Args[0], "unknown %s field %s", x.Name, name)
	}
	ts, err := c.compile(x.Args[1])
	if err != nil {
		return node{}, err
	}
	return node{constant: ts.constant, fn: timeField(ts.fn, f)}, nil
}

// truncUnits are the units of DATE_TRUNC.
var truncUnits = map[string]func(time.Time) time.Time{
	"MILLISECOND": func(t time.Time) time.Time { return t.Truncate(time.Millisecond) },
	"SECOND":      func(t time.Time) time.Time { return t.Truncate(time.Second) },
	"MINUTE":      func(t time.Time) time.Time { return t.Truncate(time.Minute) },
	"HOUR":        func(t time.Time) time.Time { return t.Truncate(time.Hour) },
	"DAY":         func(t time.Time) time.Time { return midnight(t.Year(), t.Month(), t.Day()) },
	"WEEK": func(t time.Time) time.Time { // ISO weeks start on Monday
		d := midnight(t.Year(), t.Month(), t.Day())
		return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
	},
	"MONTH":   func(t time.Time) time.Time { return midnight(t.Year(), t.Month(), 1) },
	"QUARTER": func(t time.Time) time.Time { return midnight(t.Year(), (t.Month()-1)/3*3+1, 1) },
	"YEAR":    func(t time.Time) time.Time { return midnight(t.Year(), 1, 1) },
}

func midnight(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// dateTrunc compiles DATE_TRUNC('unit', ts): ts truncated to the unit, as
// a TIMESTAMP.
func (c *compiler) dateTrunc(x *sql.Call) (node, error) {
	if len(x.Args) != 2 {
		return node{}, errorf(x, "DATE_TRUNC takes a unit and a timestamp")
	}
	name, ok := constName(x.Args[0])
	if !ok {
		return node{}, errorf(x.Args[0], "DATE_TRUNC unit must be a string such as 'hour'")
	}
	trunc, ok := truncUnits[strings.TrimSuffix(name, "S")]
	if !ok {
		return node{}, errorf(x.Args[0], "unknown DATE_TRUNC unit %s", name)
	}
	ts, err := c.compile(x.Args[1])
	if err != nil {
		return node{}, err
	}
	f := timeField(ts.fn, func(_ int64, t time.Time) record.Value {
		return record.TimestampValue(trunc(t).UnixMilli())
	})
	return node{constant: ts.constant, fn: f}, nil
}

// now is NOW() and CURRENT_TIMESTAMP: processing time, the wall clock (in
// milliseconds) when the record is evaluated, as in Flink's streaming mode.
func now(*record.Record) (record.Value, error) {
	return record.TimestampValue(time.Now().UnixMilli()), nil
}

// tumble builds TUMBLE_START(ts, size) or TUMBLE_END(ts, size): the bounds
// of the tumbling window [start, start+size) holding ts, for a size in
// milliseconds (an INTERVAL literal is INTEGER milliseconds).
func tumble(end bool) func([]Func) Func {
	return func(args []Func) Func {
		return func(r *record.Record) (record.Value, error) {
			var vals [2]record.Value
			if isNull, err := evalStrict(r, args, vals[:]); err != nil || isNull {
				return null, err
			}
			ts, err := record.ToTimestamp(vals[0])
			if err != nil {
				return null, err
			}
			if vals[1].Kind() != record.Int || vals[1].Int() <= 0 {
				return null, fmt.Errorf("window size must be a positive INTEGER of milliseconds or an INTERVAL, not %s %s", vals[1].Kind(), vals[1])
			}
			size, ms := vals[1].Int(), ts.Millis()
			start := ms - ms%size
			if ms%size < 0 {
				start -= size
			}
			if end {
				return record.TimestampValue(start + size), nil
			}
			return record.TimestampValue(start), nil
		}
	}
}

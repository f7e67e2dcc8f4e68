package codec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/sluicesql/sluice/record"
)

// Inferrer infers a schema from sampled records, as DuckDB's read_json and
// read_csv auto-detection do: each value gives a type (INTEGER, BIGINT,
// DECIMAL(p,s), DOUBLE, BOOLEAN, TIMESTAMP for ISO-8601 text, STRING, ROW
// for a nested object, ARRAY), NULL gives none, and the types of one column
// widen on conflict: INTEGER < BIGINT < DECIMAL < DOUBLE, DECIMALs to the
// precision and scale that hold both, and any other mix to STRING. Columns
// come in the order they are first seen; a column seen only as NULL has the
// type ANY.
//
// Unlike DuckDB, which reads a file once, a stream (see ForStream) keeps
// its type when a few values are text that does not fit it: when at most 1%
// of a column's values are STRING and the others share a type, that type is
// kept and the records with the odd values go to the dead-letter queue when
// read (one malformed message in the sample does not turn a number column
// into text).
type Inferrer struct {
	root    *record.Type // a ROW of the columns
	records int
	time    map[string]bool
	stats   map[string]*columnStats // by lower-case column name
	stream  bool                    // odd text keeps a column's type
}

// columnStats counts a column's values apart from its text values.
type columnStats struct {
	values, texts int
	other         *record.Type // the type of the values that are not STRING
}

// maxOddTextPercent is the most text values (in percent of a column's
// values) that do not turn the column into a STRING.
const maxOddTextPercent = 1

// NewInferrer returns an inferrer. Integer columns named in timeColumns
// (the query's event-time columns) are epoch milliseconds: TIMESTAMP.
func NewInferrer(timeColumns ...string) *Inferrer {
	in := &Inferrer{root: &record.Type{Kind: record.TypeRow}, time: map[string]bool{}, stats: map[string]*columnStats{}}
	for _, c := range timeColumns {
		in.time[strings.ToLower(c)] = true
	}
	return in
}

// ForStream makes in infer a stream's schema: a column keeps its type when
// at most 1% of its values are odd text.
func (in *Inferrer) ForStream() *Inferrer {
	in.stream = true
	return in
}

// Records returns how many records were added.
func (in *Inferrer) Records() int { return in.records }

// AddJSON adds one JSON object.
func (in *Inferrer) AddJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	t, err := jsonType(dec)
	if err != nil {
		return err
	}
	if t == nil || t.Kind != record.TypeRow {
		return errors.New("expected a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected text after the object")
	}
	in.timeText(t, data)
	in.add(t)
	return nil
}

// timeText types as TIMESTAMP the text values of row's event-time columns
// that read as times (epoch numbers as text, "1705312805000"), which the
// event time takes as it takes ISO-8601 text; data is row's JSON.
func (in *Inferrer) timeText(row *record.Type, data []byte) {
	var texts map[string]json.RawMessage
	for i, f := range row.Fields {
		if f.Type.Kind != record.TypeString || !in.time[strings.ToLower(f.Name)] {
			continue
		}
		if texts == nil && json.Unmarshal(data, &texts) != nil {
			return
		}
		var s string
		if json.Unmarshal(texts[f.Name], &s) == nil && isTimeText(s) {
			row.Fields[i].Type = record.TimestampType
		}
	}
}

// isTimeText reports whether an event-time column reads s as a time: ISO-8601
// text, or an epoch number as text.
func isTimeText(s string) bool {
	if _, err := record.ToTimestamp(record.StringValue(s)); err == nil {
		return true
	}
	_, err := record.ParseNumber(strings.TrimSpace(s))
	return err == nil
}

// add adds one record's row type. In an event-time column an integer is
// epoch milliseconds: a TIMESTAMP.
func (in *Inferrer) add(row *record.Type) {
	in.records++
	for i, f := range row.Fields {
		if (f.Type.Kind == record.TypeInteger || f.Type.Kind == record.TypeBigint) && in.time[strings.ToLower(f.Name)] {
			row.Fields[i].Type = record.TimestampType
		}
	}
	widenRow(in.root, row)
	for _, f := range row.Fields {
		if f.Type.Kind == unseen {
			continue
		}
		k := strings.ToLower(f.Name)
		st := in.stats[k]
		if st == nil {
			st = &columnStats{}
			in.stats[k] = st
		}
		st.values++
		if f.Type.Kind == record.TypeString || in.time[k] && f.Type.Kind != record.TypeTimestamp {
			st.texts++
		} else {
			t := f.Type
			st.other = widen(st.other, &t)
		}
	}
}

// AddValues adds one decoded record whose values are named by columns (a
// CSV line decoded with an untyped schema).
func (in *Inferrer) AddValues(columns []string, vals []record.Value) {
	row := &record.Type{Kind: record.TypeRow}
	for i, c := range columns {
		var t *record.Type
		if i < len(vals) {
			t = valueType(vals[i])
		}
		row.Fields = append(row.Fields, fieldOf(c, t))
	}
	in.add(row)
}

// Schema returns the inferred columns, marked Inferred.
func (in *Inferrer) Schema() *record.Schema {
	fields := make([]record.Field, len(in.root.Fields))
	for i, f := range in.root.Fields {
		f.Inferred = true
		// An event-time column with times in it is a TIMESTAMP: its other
		// text can never be a record's time.
		time := in.time[strings.ToLower(f.Name)]
		if st := in.stats[strings.ToLower(f.Name)]; f.Type.Kind == record.TypeString && st != nil && st.other != nil &&
			st.other.Kind != record.TypeString && (in.stream && st.texts*100 <= st.values*maxOddTextPercent || time && st.other.Kind == record.TypeTimestamp) {
			f.Type = *st.other
		}
		fields[i] = f
		fields[i].Type = final(f.Type)
	}
	return record.NewSchemaOf(fields...)
}

// final clears the digit counts integer types carry while inferring.
func final(t record.Type) record.Type {
	switch t.Kind {
	case record.TypeInteger, record.TypeBigint:
		t.Precision = 0
	case record.TypeRow:
		fields := make([]record.Field, len(t.Fields))
		for i, f := range t.Fields {
			f.Type = final(f.Type)
			fields[i] = f
		}
		t.Fields = fields
	case record.TypeArray:
		e := final(*t.Elem)
		t.Elem = &e
	}
	return t
}

// unseen marks a field that has only been NULL so far.
const unseen = record.TypeAny

func fieldOf(name string, t *record.Type) record.Field {
	if t == nil {
		return record.Field{Name: name, Type: record.Type{Kind: unseen}}
	}
	return record.Field{Name: name, Type: *t}
}

// jsonType returns the type of the next JSON value of dec; nil for null.
func jsonType(dec *json.Decoder) (*record.Type, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch x := tok.(type) {
	case nil:
		return nil, nil
	case bool:
		t := record.BooleanType
		return &t, nil
	case string:
		// A JSON string is text, or a TIMESTAMP when it is an ISO-8601
		// time; "true" stays text (JSON has its own booleans), as in
		// DuckDB's read_json.
		t := record.StringType
		if st := stringType(x); st.Kind == record.TypeTimestamp {
			t = st
		}
		return &t, nil
	case json.Number:
		v, err := record.ParseNumber(string(x))
		if err != nil {
			return nil, fmt.Errorf("invalid number %s", x)
		}
		return valueType(v), nil
	case json.Delim:
		switch x {
		case '{':
			row := &record.Type{Kind: record.TypeRow}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				name, _ := k.(string)
				ft, err := jsonType(dec)
				if err != nil {
					return nil, err
				}
				widenRow(row, &record.Type{Kind: record.TypeRow, Fields: []record.Field{fieldOf(name, ft)}})
			}
			_, err := dec.Token()
			return row, err
		case '[':
			var elem *record.Type
			for dec.More() {
				et, err := jsonType(dec)
				if err != nil {
					return nil, err
				}
				elem = widen(elem, et)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			if elem == nil {
				elem = &record.Type{Kind: unseen}
			}
			t := record.ArrayType(*elem)
			return &t, nil
		}
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}

// valueType returns the type of a decoded value; nil for NULL.
func valueType(v record.Value) *record.Type {
	var t record.Type
	switch v.Kind() {
	case record.Null:
		return nil
	case record.Bool:
		t = record.BooleanType
	case record.Int:
		t = record.BigintType
		if n := v.Int(); n >= math.MinInt32 && n <= math.MaxInt32 {
			t = record.IntegerType
		}
		// While inferring, an integer type's precision is the most digits
		// seen, for widening to DECIMAL.
		t.Precision = record.Digits(v.Int())
	case record.Decimal:
		u, scale := v.Decimal()
		t = record.DecimalType(max(record.Digits(u), int(scale)+1), int(scale))
	case record.Float:
		t = record.DoubleType
	case record.Timestamp:
		t = record.TimestampType
	case record.String:
		t = stringType(v.Str())
	}
	return &t
}

// stringType types text (a CSV field): TIMESTAMP for an ISO-8601 date and
// time, BOOLEAN for true or false, else STRING.
func stringType(s string) record.Type {
	if isISODate(s) {
		if _, err := record.ToTimestamp(record.StringValue(s)); err == nil {
			return record.TimestampType
		}
	}
	if strings.EqualFold(s, "true") || strings.EqualFold(s, "false") {
		return record.BooleanType
	}
	return record.StringType
}

// isISODate reports whether s starts like 2024-01-15.
func isISODate(s string) bool {
	if len(s) < 10 {
		return false
	}
	for i := 0; i < 10; i++ {
		c := s[i]
		if i == 4 || i == 7 {
			if c != '-' {
				return false
			}
		} else if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// widen returns the type that holds values of both a and b (nil: no
// value seen).
func widen(a, b *record.Type) *record.Type {
	switch {
	case a == nil || a.Kind == unseen:
		if b == nil {
			return a
		}
		return b
	case b == nil || b.Kind == unseen:
		return a
	}
	x, y := *a, *b
	if x.Kind == y.Kind {
		switch x.Kind {
		case record.TypeDecimal:
			return decimalOf(max(x.Precision-x.Scale, y.Precision-y.Scale), max(x.Scale, y.Scale))
		case record.TypeRow:
			r := record.Type{Kind: record.TypeRow, Fields: append([]record.Field(nil), x.Fields...)}
			widenRow(&r, &y)
			return &r
		case record.TypeArray:
			t := record.ArrayType(*widen(x.Elem, y.Elem))
			return &t
		}
		x.Precision = max(x.Precision, y.Precision)
		return &x
	}
	if x.Numeric() && y.Numeric() {
		rank := func(t record.Type) int {
			return map[record.TypeKind]int{record.TypeInteger: 0, record.TypeBigint: 1, record.TypeDecimal: 2, record.TypeDouble: 3}[t.Kind]
		}
		if rank(x) < rank(y) {
			x, y = y, x
		}
		switch x.Kind {
		case record.TypeDecimal:
			return decimalOf(max(x.Precision-x.Scale, y.Precision), x.Scale)
		default:
			x.Precision = max(x.Precision, y.Precision)
			return &x
		}
	}
	t := record.StringType
	return &t
}

// decimalOf returns DECIMAL(intDigits+scale, scale), or DOUBLE when that is
// more digits than a DECIMAL holds.
func decimalOf(intDigits, scale int) *record.Type {
	t := record.DecimalType(intDigits+scale, scale)
	if t.Precision > record.MaxPrecision {
		t = record.DoubleType
	}
	return &t
}

// widenRow widens row's fields with those of other, adding new ones at the
// end.
func widenRow(row, other *record.Type) {
	for _, f := range other.Fields {
		i := fieldIndex(row, f.Name)
		if i < 0 {
			row.Fields = append(row.Fields, f)
			continue
		}
		cur := row.Fields[i].Type
		if w := widen(&cur, &f.Type); w != nil {
			row.Fields[i].Type = *w
		}
	}
}

func fieldIndex(row *record.Type, name string) int {
	for i, f := range row.Fields {
		if strings.EqualFold(f.Name, name) {
			return i
		}
	}
	return -1
}

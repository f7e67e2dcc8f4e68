package expr

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/sluicesql/sluice/record"
)

// String functions take STRING arguments; other non-NULL values are read
// by their display text. Lengths and positions count characters.

func upper(v record.Value) (record.Value, error) {
	return record.StringValue(strings.ToUpper(text(v))), nil
}

func lower(v record.Value) (record.Value, error) {
	return record.StringValue(strings.ToLower(text(v))), nil
}

func length(v record.Value) (record.Value, error) {
	return record.IntValue(int64(utf8.RuneCountInString(text(v)))), nil
}

// substring is SUBSTRING(s, start [, count]) with PostgreSQL's rules:
// positions start at 1, a start before 1 shortens the result by as many
// characters, and a negative count is an error.
func substring(args []Func) Func {
	return func(r *record.Record) (record.Value, error) {
		var vals [3]record.Value
		if isNull, err := evalStrict(r, args, vals[:]); err != nil || isNull {
			return null, err
		}
		s := text(vals[0])
		if vals[1].Kind() != record.Int {
			return null, fmt.Errorf("SUBSTRING start must be INTEGER, not %s", vals[1].Kind())
		}
		start := vals[1].Int()
		end := int64(math.MaxInt64) // exclusive character position; MaxInt64 is the end of s
		if len(args) == 3 {
			if vals[2].Kind() != record.Int {
				return null, fmt.Errorf("SUBSTRING length must be INTEGER, not %s", vals[2].Kind())
			}
			n := vals[2].Int()
			if n < 0 {
				return null, fmt.Errorf("SUBSTRING: negative substring length %d", n)
			}
			end = start + n
			if end < start { // overflow: to the end of s
				end = math.MaxInt64
			}
		}
		return record.StringValue(charRange(s, max(start, 1), end)), nil
	}
}

// charRange returns the characters of s at 1-based positions [from, to);
// a to past the last character means through the end.
func charRange(s string, from, to int64) string {
	if to <= from {
		return ""
	}
	pos, i, begin := int64(1), 0, -1
	for i < len(s) {
		if pos == from {
			begin = i
		}
		if pos == to {
			break
		}
		_, w := utf8.DecodeRuneInString(s[i:])
		i += w
		pos++
	}
	if begin < 0 {
		return ""
	}
	return s[begin:i]
}

type trimMode uint8

const (
	trimBoth trimMode = iota
	trimLeft
	trimRight
)

// trimFunc is TRIM/LTRIM/RTRIM(s [, characters]); characters defaults to
// the space character, as in PostgreSQL.
func trimFunc(mode trimMode) func([]Func) Func {
	return func(args []Func) Func {
		return func(r *record.Record) (record.Value, error) {
			var vals [2]record.Value
			vals[1] = record.StringValue(" ")
			if isNull, err := evalStrict(r, args, vals[:]); err != nil || isNull {
				return null, err
			}
			s, cut := text(vals[0]), text(vals[1])
			switch mode {
			case trimLeft:
				s = strings.TrimLeft(s, cut)
			case trimRight:
				s = strings.TrimRight(s, cut)
			default:
				s = strings.Trim(s, cut)
			}
			return record.StringValue(s), nil
		}
	}
}

// replace is REPLACE(s, from, to): every occurrence of from replaced.
func replace(args []Func) Func {
	return func(r *record.Record) (record.Value, error) {
		var vals [3]record.Value
		if isNull, err := evalStrict(r, args, vals[:]); err != nil || isNull {
			return null, err
		}
		s, from := text(vals[0]), text(vals[1])
		if from == "" {
			return record.StringValue(s), nil
		}
		return record.StringValue(strings.ReplaceAll(s, from, text(vals[2]))), nil
	}
}

// concat is CONCAT(...): the display texts of the non-NULL arguments.
func concat(args []Func) Func {
	return func(r *record.Record) (record.Value, error) {
		var b strings.Builder
		for _, a := range args {
			v, err := a(r)
			if err != nil {
				return null, err
			}
			if v.Kind() == record.String {
				b.WriteString(v.Str())
			} else if !v.IsNull() {
				b.WriteString(v.String())
			}
		}
		return record.StringValue(b.String()), nil
	}
}

// Package props reads a connector's options from a statement's WITH
// properties: the keys '<name>.<option>' of one source or sink. Its errors
// are *sql.PropertyError, so that the runner can point at the WITH entry at
// fault.
package props

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sluicesql/sluice/sql"
)

// SchemaOptions are the options every source accepts about its schema
// (read by the runner): the declared columns, a table's primary key and
// the size of the sample a schema is inferred from.
var SchemaOptions = []string{"columns", "primary.key", "infer.records"}

// Options are the options of one connector, keyed by lower-case option name.
type Options struct {
	kind, name string
	vals       map[string]string
}

// Extract collects the properties '<name>.<option>' (the prefix matches
// case-insensitively, as SQL names do) and checks that every option is one of
// valid. kind describes the connector in errors ("file source").
func Extract(kind, name string, props map[string]string, valid ...string) (*Options, error) {
	o := &Options{kind: kind, name: name, vals: make(map[string]string)}
	prefix := strings.ToLower(name) + "."
	var unknown []string
	for k, v := range props {
		lk := strings.ToLower(k)
		if !strings.HasPrefix(lk, prefix) {
			continue
		}
		opt := lk[len(prefix):]
		if !contains(valid, opt) {
			unknown = append(unknown, k)
			continue
		}
		o.vals[opt] = v
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, UnknownOption(kind, name, unknown[0], valid)
	}
	return o, nil
}

// UnknownOption returns the error for key, a '<name>.'-prefixed key that is
// not one of the valid options of the connector, naming them and the closest
// one.
func UnknownOption(kind, name, key string, valid []string) error {
	names := make([]string, len(valid))
	for i, v := range valid {
		names[i] = name + "." + v
	}
	msg := fmt.Sprintf("%s %q: unknown option '%s'", kind, name, sql.Clip(key))
	if hint := sql.DidYouMean(key, names, sql.QuoteProperty); hint != "" {
		msg += "; " + hint
	}
	for i, n := range names {
		names[i] = sql.QuoteProperty(n)
	}
	msg += " (valid options: " + strings.Join(names, ", ") + ")"
	return &sql.PropertyError{Key: key, Msg: msg}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Errorf returns an error about option opt: about its value when it is
// set, else about its absence.
func (o *Options) Errorf(opt, format string, args ...any) *sql.PropertyError {
	return &sql.PropertyError{Key: o.Key(opt), InValue: o.Has(opt),
		Msg: fmt.Sprintf("%s %q: option '%s.%s': %s", o.kind, o.name, o.name, opt, fmt.Sprintf(format, args...))}
}

// Key returns the property key of opt: '<name>.<opt>'.
func (o *Options) Key(opt string) string { return o.name + "." + opt }

// Has reports whether opt is set.
func (o *Options) Has(opt string) bool {
	_, ok := o.vals[opt]
	return ok
}

// String returns opt's value with surrounding spaces trimmed, or def when it
// is not set or empty.
func (o *Options) String(opt, def string) string {
	if v := strings.TrimSpace(o.vals[opt]); v != "" {
		return v
	}
	return def
}

// Enum returns opt's value (lower-cased), which must be one of valid, or def
// when it is not set.
func (o *Options) Enum(opt, def string, valid ...string) (string, error) {
	v, ok := o.vals[opt]
	if !ok {
		return def, nil
	}
	lv := strings.ToLower(strings.TrimSpace(v))
	if !contains(valid, lv) {
		return "", o.Errorf(opt, "invalid value %q%s (valid values: %s)", sql.Clip(v), hint(lv, valid), strings.Join(valid, ", "))
	}
	return lv, nil
}

// Int returns opt's value as an integer of at least min, or def when unset.
func (o *Options) Int(opt string, def, min int64) (int64, error) {
	v, ok := o.vals[opt]
	if !ok {
		return def, nil
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(strings.TrimSpace(v), "_", ""), 10, 64)
	if err != nil {
		return 0, o.Errorf(opt, "invalid value %q: want an integer", sql.Clip(v))
	}
	if n < min {
		return 0, o.Errorf(opt, "invalid value %q: want at least %d", sql.Clip(v), min)
	}
	return n, nil
}

// Float returns opt's value as a number of at least min, or def when unset.
func (o *Options) Float(opt string, def, min float64) (float64, error) {
	v, ok := o.vals[opt]
	if !ok {
		return def, nil
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil {
		return 0, o.Errorf(opt, "invalid value %q: want a number", sql.Clip(v))
	}
	if f < min {
		return 0, o.Errorf(opt, "invalid value %q: want at least %g", sql.Clip(v), min)
	}
	return f, nil
}

// Bool returns opt's value as a boolean (true/false, yes/no, 1/0), or def
// when unset.
func (o *Options) Bool(opt string, def bool) (bool, error) {
	v, ok := o.vals[opt]
	if !ok {
		return def, nil
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "yes", "1":
		return true, nil
	case "false", "no", "0":
		return false, nil
	}
	return false, o.Errorf(opt, "invalid value %q (valid values: true, false)", sql.Clip(v))
}

// Duration returns opt's value as a positive duration ("10s", "500ms",
// "2m", "1h", or a bare number of seconds), or def when unset.
func (o *Options) Duration(opt string, def time.Duration) (time.Duration, error) {
	v, ok := o.vals[opt]
	if !ok {
		return def, nil
	}
	s := strings.TrimSpace(v)
	d, err := time.ParseDuration(s)
	if err != nil {
		secs, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil {
			return 0, o.Errorf(opt, "invalid duration %q: want one such as 30s, 500ms, 2m or a number of seconds", sql.Clip(v))
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d <= 0 {
		return 0, o.Errorf(opt, "invalid duration %q: want a positive one", sql.Clip(v))
	}
	return d, nil
}

// sizeUnits are the suffixes Size accepts, longest first.
var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1},
}

// Size returns opt's value as a positive byte count ("4096", "64MiB", "1MB",
// "16k"), or def when unset.
func (o *Options) Size(opt string, def int64) (int64, error) {
	v, ok := o.vals[opt]
	if !ok {
		return def, nil
	}
	s := strings.ToLower(strings.TrimSpace(v))
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, o.Errorf(opt, "invalid size %q: want a positive number of bytes such as 4096 or 64MiB", sql.Clip(v))
	}
	return n * mult, nil
}

// hint is "; did you mean X?" for the valid value closest to v, or "".
func hint(v string, valid []string) string {
	if h := sql.DidYouMean(v, valid, strconv.Quote); h != "" {
		return "; " + h
	}
	return ""
}

package sql

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// shortUnits maps the suffixes of short durations (10m) to their length.
var shortUnits = map[string]time.Duration{
	"ns": time.Nanosecond,
	"us": time.Microsecond,
	"ms": time.Millisecond,
	"s":  time.Second,
	"m":  time.Minute,
	"h":  time.Hour,
	"d":  24 * time.Hour,
	"w":  7 * 24 * time.Hour,
}

// intervalUnits maps INTERVAL units (singular; plurals are accepted too) to
// their length.
var intervalUnits = map[string]time.Duration{
	"NANOSECOND":  time.Nanosecond,
	"MICROSECOND": time.Microsecond,
	"MILLISECOND": time.Millisecond,
	"SECOND":      time.Second,
	"MINUTE":      time.Minute,
	"HOUR":        time.Hour,
	"DAY":         24 * time.Hour,
	"WEEK":        7 * 24 * time.Hour,
}

// intervalUnit returns the length of an upper-case INTERVAL unit such as
// MINUTE or MINUTES.
func intervalUnit(u string) (time.Duration, bool) {
	if d, ok := intervalUnits[u]; ok {
		return d, true
	}
	d, ok := intervalUnits[strings.TrimSuffix(u, "S")]
	return d, ok && strings.HasSuffix(u, "S")
}

// Duration returns the length of an INTERVAL literal, e.g. 90s for
// INTERVAL '1.5' MINUTE. It fails for other literal kinds, unknown units and
// values that are not numbers or not a whole number of nanoseconds.
func (l *Literal) Duration() (time.Duration, error) {
	if l.Kind != IntervalLit {
		return 0, fmt.Errorf("not an INTERVAL literal")
	}
	unit, ok := intervalUnit(l.Unit)
	if !ok {
		return 0, fmt.Errorf("unknown INTERVAL unit %s: expected NANOSECOND, MICROSECOND, MILLISECOND, SECOND, MINUTE, HOUR, DAY or WEEK", clip(l.Unit))
	}
	return scaleDuration(strings.TrimSpace(l.Text), unit)
}

// parseShortDuration parses a window duration as written: a number with
// one of the suffixes ns, us, ms, s, m, h, d, w, or a bare number of seconds.
func parseShortDuration(text string) (time.Duration, error) {
	i := 0
	for i < len(text) && (isDigit(text[i]) || text[i] == '.') {
		i++
	}
	num, suffix := text[:i], text[i:]
	unit := time.Second
	if suffix != "" {
		u, ok := shortUnits[strings.ToLower(suffix)]
		if !ok {
			return 0, fmt.Errorf("unknown unit %q: expected ns, us, ms, s, m, h, d or w", clip(suffix))
		}
		unit = u
	}
	return scaleDuration(num, unit)
}

// scaleDuration returns num (an optionally signed integer or decimal) times
// unit, exactly.
func scaleDuration(num string, unit time.Duration) (time.Duration, error) {
	if !isPlainNumber(num) {
		return 0, fmt.Errorf("%q is not a number", clip(num))
	}
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, fmt.Errorf("%q is not a number", clip(num))
	}
	r.Mul(r, new(big.Rat).SetInt64(int64(unit)))
	if !r.IsInt() {
		return 0, fmt.Errorf("%s is not a whole number of nanoseconds", clip(num))
	}
	n := r.Num()
	if !n.IsInt64() {
		return 0, fmt.Errorf("%s is out of range", clip(num))
	}
	return time.Duration(n.Int64()), nil
}

// formatShortDuration renders d as the shortest exact short duration: the
// largest unit that divides it, e.g. 1m, 90s, 1500ms.
func formatShortDuration(d time.Duration) string {
	for _, u := range []struct {
		suffix string
		d      time.Duration
	}{{"w", 7 * 24 * time.Hour}, {"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute},
		{"s", time.Second}, {"ms", time.Millisecond}, {"us", time.Microsecond}} {
		if d%u.d == 0 {
			return fmt.Sprintf("%d%s", d/u.d, u.suffix)
		}
	}
	return fmt.Sprintf("%dns", d)
}

// formatInterval renders d as an INTERVAL literal with the largest unit that
// divides it, e.g. INTERVAL '5' MINUTE.
func formatInterval(d time.Duration) string {
	for _, u := range []string{"WEEK", "DAY", "HOUR", "MINUTE", "SECOND", "MILLISECOND", "MICROSECOND"} {
		if ud := intervalUnits[u]; d%ud == 0 {
			return fmt.Sprintf("INTERVAL '%d' %s", d/ud, u)
		}
	}
	return fmt.Sprintf("INTERVAL '%d' NANOSECOND", d)
}

// isPlainNumber reports whether s is an optionally signed integer or
// decimal: [+-]digits[.digits] or [+-].digits.
func isPlainNumber(s string) bool {
	if s != "" && (s[0] == '-' || s[0] == '+') {
		s = s[1:]
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if hasDot && frac == "" {
		return false
	}
	return (intPart != "" || frac != "") && allDigits(intPart) && allDigits(frac)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// PositiveDurationProperty reads the value v of WITH property key, a
// positive duration as PropertyDuration reads it; a value that is not one
// is a PropertyError on the value.
func PositiveDurationProperty(key, v string) (time.Duration, error) {
	d, err := PropertyDuration(v)
	if err != nil || d <= 0 {
		return 0, &PropertyError{Key: key, InValue: true,
			Msg: fmt.Sprintf("WITH '%s': invalid value %q: want a positive duration (5s, 10m, 1h)", key, clip(v))}
	}
	return d, nil
}

// PropertyDuration reads a non-negative duration as the WITH properties
// write them: Go syntax (5s, 500ms, 1m30s), the suffixes d (days) and w
// (weeks), or a bare number of seconds. The engine keeps time in whole
// milliseconds, so the result is truncated to one: '500us' is zero, as
// '0', '0s' and '0ms' are.
func PropertyDuration(text string) (time.Duration, error) {
	t := strings.ToLower(strings.ReplaceAll(text, " ", ""))
	num, unit := t, time.Second
	if _, err := strconv.ParseFloat(t, 64); err != nil {
		for _, suffix := range []string{"d", "w"} {
			if n, ok := strings.CutSuffix(t, suffix); ok {
				num, unit = n, shortUnits[suffix]
			}
		}
	}
	if n, err := strconv.ParseFloat(num, 64); err == nil {
		ms := n * float64(unit/time.Millisecond)
		switch {
		case n < 0:
			return 0, fmt.Errorf("negative duration %q", clip(text))
		case math.IsNaN(ms) || ms >= float64(math.MaxInt64/int64(time.Millisecond)):
			return 0, fmt.Errorf("invalid duration %q (want e.g. 5s, 500ms, 2m)", clip(text))
		}
		return time.Duration(ms) * time.Millisecond, nil
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (want e.g. 5s, 500ms, 2m)", clip(text))
	}
	if d < 0 {
		return 0, fmt.Errorf("negative duration %q", clip(text))
	}
	return d.Truncate(time.Millisecond), nil
}

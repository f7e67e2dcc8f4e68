package exec

import (
	"fmt"
	"strings"

	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// Options configure Compile.
type Options struct {
	// Properties are the statement's WITH properties. The executor reads
	// event.time.field, event.time.format, watermark.max_out_of_orderness,
	// window.allowed_lateness, late.data.strategy and late.data.retention.
	Properties map[string]string
	// Schema lists the known input columns (needed for SELECT *); it may be
	// nil. When it is nil, columns the query names are discovered and added
	// to the program's input schema; when it is set, a column missing from
	// it is a compile error. Compile never modifies it.
	Schema *record.Schema
	// ExternalWatermark is set under the job: the pipeline then never moves
	// its watermark from the records it sees, only through Advance, so the
	// result does not depend on how records were routed.
	ExternalWatermark bool
}

// The WITH property keys the executor reads.
const (
	PropEventTimeField   = "event.time.field"
	PropEventTimeFormat  = "event.time.format"
	PropOutOfOrderness   = "watermark.max_out_of_orderness"
	PropAllowedLateness  = "window.allowed_lateness"
	PropLateDataStrategy = "late.data.strategy"
	PropLateRetention    = "late.data.retention"
)

// PropertyKeys lists the WITH property keys the executor reads.
var PropertyKeys = []string{PropEventTimeField, PropEventTimeFormat, PropOutOfOrderness,
	PropAllowedLateness, PropLateDataStrategy, PropLateRetention}

// propertyError returns an error about the value of the WITH property key.
func propertyError(key, format string, args ...any) error {
	return &sql.PropertyError{Key: key, InValue: true, Msg: "WITH " + sql.QuoteProperty(key) + ": " + fmt.Sprintf(format, args...)}
}

// unknownValue is the error for the value v of key, none of valid: it
// names them, with the closest as a did-you-mean.
func unknownValue(key, what, v string, valid ...string) error {
	hint := ""
	if c, ok := sql.Closest(v, valid); ok {
		hint = fmt.Sprintf("; did you mean %q?", c)
	}
	return propertyError(key, "unknown %s %q%s (valid: %s)", what, sql.Clip(v), hint, strings.Join(valid, ", "))
}

// LateStrategy says what happens to a record whose window has already fired.
type LateStrategy uint8

// The late-data strategies.
const (
	// LateDeadLetter sends late records to the dead-letter output (the default).
	LateDeadLetter LateStrategy = iota
	// LateDrop drops late records, counting them in Stats.LateDropped.
	LateDrop
	// LateUpdate folds late records into the fired window's retained state
	// and emits the corrected row again.
	LateUpdate
)

// timeFormat is how an event-time column's values are read.
type timeFormat uint8

const (
	formatAuto timeFormat = iota // numbers as epoch_millis, strings as ISO-8601
	formatMillis
	formatSeconds
	formatISO
)

// settings are the executor's parsed WITH properties.
type settings struct {
	timeField  string
	timeFormat timeFormat
	outOfOrder int64 // milliseconds
	lateness   int64 // milliseconds
	late       LateStrategy
	retention  int64 // milliseconds; -1 means one window length (size or gap)
}

func parseSettings(props map[string]string) (settings, error) {
	s := settings{retention: -1}
	get := func(k string) (string, bool) {
		v, ok := props[k]
		return strings.TrimSpace(v), ok && strings.TrimSpace(v) != ""
	}
	if v, ok := get(PropEventTimeField); ok {
		s.timeField = v
	}
	if v, ok := get(PropEventTimeFormat); ok {
		switch strings.ToLower(v) {
		case "epoch_millis", "epoch_ms", "millis":
			s.timeFormat = formatMillis
		case "epoch_seconds", "epoch_s", "seconds", "epoch":
			s.timeFormat = formatSeconds
		case "iso8601", "iso-8601", "rfc3339":
			s.timeFormat = formatISO
		default:
			return s, unknownValue(PropEventTimeFormat, "format", v, "epoch_millis", "epoch_seconds", "iso8601")
		}
	}
	durations := []struct {
		key string
		dst *int64
	}{{PropOutOfOrderness, &s.outOfOrder}, {PropAllowedLateness, &s.lateness}, {PropLateRetention, &s.retention}}
	for _, d := range durations {
		if v, ok := get(d.key); ok {
			dur, err := sql.PropertyDuration(v)
			if err != nil {
				return s, propertyError(d.key, "%v", err)
			}
			*d.dst = dur.Milliseconds()
		}
	}
	if v, ok := get(PropLateDataStrategy); ok {
		switch strings.ToLower(v) {
		case "dead_letter", "deadletter", "dlq":
			s.late = LateDeadLetter
		case "drop":
			s.late = LateDrop
		case "update":
			s.late = LateUpdate
		default:
			return s, unknownValue(PropLateDataStrategy, "strategy", v, "dead_letter", "drop", "update")
		}
	}
	return s, nil
}

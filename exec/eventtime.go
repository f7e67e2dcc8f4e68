package exec

import (
	"fmt"
	"math"

	"github.com/sluicesql/sluice/record"
)

// eventTimeSpec says where a record's event time comes from: a column
// (slot >= 0) read with format, else the record's metadata.
type eventTimeSpec struct {
	slot   int
	name   string
	format timeFormat
}

// of returns r's event time in Unix milliseconds.
func (s *eventTimeSpec) of(r *record.Record) (int64, error) {
	if s.slot < 0 {
		if r.HasEventTime {
			return r.EventTime, nil
		}
		return r.Timestamp, nil
	}
	var v record.Value
	if s.slot < len(r.Values) {
		v = r.Values[s.slot]
	}
	ms, err := timeValue(v, s.format)
	if err != nil {
		return 0, fmt.Errorf("event time column %q: %w", s.name, err)
	}
	return ms, nil
}

// eventTime returns r's event time: the one the job stamped on it, else
// the query's (eventTimeSpec.of). A record whose time it cannot read is
// dead-lettered (false).
func (pl *Pipeline) eventTime(r *record.Record) (int64, bool) {
	if r.HasEventTime {
		return r.EventTime, true // inlined: most records carry it
	}
	return pl.readEventTime(r)
}

// readEventTime is eventTime for a record the job did not stamp.
func (pl *Pipeline) readEventTime(r *record.Record) (int64, bool) {
	t, err := pl.p.time.of(r)
	if err != nil {
		pl.deadLetter(r, err)
		return 0, false
	}
	return t, true
}

// timeValue converts a column value to Unix milliseconds per format.
func timeValue(v record.Value, f timeFormat) (int64, error) {
	switch v.Kind() {
	case record.Null:
		return 0, fmt.Errorf("value is NULL")
	case record.Timestamp:
		return v.Millis(), nil
	case record.Int, record.Decimal, record.Float:
		if f == formatISO {
			return 0, fmt.Errorf("%s %s is not an ISO-8601 time", v.Kind(), v)
		}
		if f == formatSeconds {
			x, err := record.ToFloat(v)
			if err != nil {
				return 0, err
			}
			ms := math.Round(x.Float() * 1000)
			if math.IsNaN(ms) || math.Abs(ms) > 1<<62 {
				return 0, fmt.Errorf("epoch seconds %s out of range", v)
			}
			return int64(ms), nil
		}
		t, err := record.ToTimestamp(v)
		if err != nil {
			return 0, err
		}
		return t.Millis(), nil
	case record.String:
		if f == formatSeconds || f == formatMillis {
			n, err := record.ParseNumber(v.Str())
			if err != nil {
				unit := "milliseconds"
				if f == formatSeconds {
					unit = "seconds"
				}
				return 0, fmt.Errorf("%q is not epoch %s", v.Str(), unit)
			}
			return timeValue(n, f)
		}
		t, err := record.ToTimestamp(v)
		if err != nil {
			return 0, err
		}
		return t.Millis(), nil
	}
	return 0, fmt.Errorf("%s is not a time", v.Kind())
}

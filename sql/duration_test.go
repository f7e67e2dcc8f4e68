package sql

import (
	"errors"
	"testing"
	"time"
)

func TestShortDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"250ns", 250, false},
		{"3us", 3 * time.Microsecond, false},
		{"100ms", 100 * time.Millisecond, false},
		{"30s", 30 * time.Second, false},
		{"30", 30 * time.Second, false},
		{"1m", time.Minute, false},
		{"1.5m", 90 * time.Second, false},
		{"2h", 2 * time.Hour, false},
		{"1d", 24 * time.Hour, false},
		{"1w", 7 * 24 * time.Hour, false},
		{"1M", time.Minute, false},
		{"1x", 0, true},
		{"1.5ns", 0, true},
		{"99999999999w", 0, true},
	}
	for _, tt := range tests {
		got, err := parseShortDuration(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("parseShortDuration(%q) = %v, %v; want %v, err=%v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestLiteralDuration(t *testing.T) {
	tests := []struct {
		text, unit string
		want       time.Duration
		err        bool
	}{
		{"1", "MINUTE", time.Minute, false},
		{"5", "MINUTES", 5 * time.Minute, false},
		{"1.5", "HOURS", 90 * time.Minute, false},
		{" 2 ", "SECOND", 2 * time.Second, false},
		{"-3", "DAY", -72 * time.Hour, false},
		{"10", "MILLISECONDS", 10 * time.Millisecond, false},
		{"1", "WEEK", 7 * 24 * time.Hour, false},
		{"1", "MONTH", 0, true},
		{"1", "MINUTESS", 0, true},
		{"1/2", "SECOND", 0, true},
		{"1e3", "SECOND", 0, true},
		{"1e999999999", "SECOND", 0, true},
		{"", "SECOND", 0, true},
	}
	for _, tt := range tests {
		l := &Literal{Kind: IntervalLit, Text: tt.text, Unit: tt.unit}
		got, err := l.Duration()
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("INTERVAL %q %s: got %v, %v; want %v, err=%v", tt.text, tt.unit, got, err, tt.want, tt.err)
		}
	}
	if _, err := (&Literal{Kind: IntLit, Text: "1"}).Duration(); err == nil {
		t.Error("Duration of an integer literal succeeded")
	}
}

func TestFormatDurations(t *testing.T) {
	tests := []struct {
		d            time.Duration
		short, inter string
	}{
		{time.Minute, "1m", "INTERVAL '1' MINUTE"},
		{90 * time.Second, "90s", "INTERVAL '90' SECOND"},
		{1500 * time.Millisecond, "1500ms", "INTERVAL '1500' MILLISECOND"},
		{14 * 24 * time.Hour, "2w", "INTERVAL '2' WEEK"},
		{25 * time.Hour, "25h", "INTERVAL '25' HOUR"},
		{7 * time.Microsecond, "7us", "INTERVAL '7' MICROSECOND"},
		{3, "3ns", "INTERVAL '3' NANOSECOND"},
	}
	for _, tt := range tests {
		if got := formatShortDuration(tt.d); got != tt.short {
			t.Errorf("formatShortDuration(%v) = %s, want %s", tt.d, got, tt.short)
		}
		if got := formatInterval(tt.d); got != tt.inter {
			t.Errorf("formatInterval(%v) = %s, want %s", tt.d, got, tt.inter)
		}
	}
}

func TestPropertyDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"0", 0, false},
		{"0s", 0, false},
		{"0ms", 0, false},
		{"0 ms", 0, false},
		{"500us", 0, false}, // whole milliseconds
		{"1.5ms", time.Millisecond, false},
		{"1m30s", 90 * time.Second, false},
		{"2.5", 2500 * time.Millisecond, false},
		{"1d", 24 * time.Hour, false},
		{"0.5w", 84 * time.Hour, false},
		{"-1s", 0, true},
		{"-2", 0, true},
		{"NaN", 0, true},
		{"inf", 0, true},
		{"1e300", 0, true},
		{"soon", 0, true},
	}
	for _, tt := range tests {
		got, err := PropertyDuration(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("PropertyDuration(%q) = %v, %v; want %v, err=%v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

// TestPositiveDurationProperty: a property that must be a positive
// duration reads as PropertyDuration does, and a zero, negative or
// malformed value is an error on the value, naming the key.
func TestPositiveDurationProperty(t *testing.T) {
	if d, err := PositiveDurationProperty("join.state.ttl", "90s"); err != nil || d != 90*time.Second {
		t.Errorf("90s: %v, %v", d, err)
	}
	for _, v := range []string{"0", "0s", "500us", "-1s", "soon", ""} {
		_, err := PositiveDurationProperty("join.state.ttl", v)
		var pe *PropertyError
		want := "WITH 'join.state.ttl': invalid value \"" + v + "\": want a positive duration (5s, 10m, 1h)"
		if !errors.As(err, &pe) || pe.Key != "join.state.ttl" || !pe.InValue || pe.Msg != want {
			t.Errorf("%q: %#v, want a PropertyError on the value: %s", v, err, want)
		}
	}
}

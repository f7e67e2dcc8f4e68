package exec

import "time"

// ParseDuration reads a non-negative duration as the WITH properties write
// them: Go syntax (5s, 500ms, 1m30s), the suffixes d and w, or a bare number
// of seconds.
func ParseDuration(text string) (time.Duration, error) {
	ms, err := parseMillis(text)
	return time.Duration(ms) * time.Millisecond, err
}

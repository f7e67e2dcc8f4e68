package record

import "strings"

// Schema maps column names to slots. Names match case-insensitively, as SQL
// identifiers do.
type Schema struct {
	names []string
	index map[string]int
}

// NewSchema returns a schema with the given columns in slot order.
func NewSchema(names ...string) *Schema {
	s := &Schema{index: make(map[string]int, len(names))}
	for _, n := range names {
		s.Add(n)
	}
	return s
}

// Add returns the slot of name, appending it when it is new.
func (s *Schema) Add(name string) int {
	k := strings.ToLower(name)
	if i, ok := s.index[k]; ok {
		return i
	}
	s.names = append(s.names, name)
	s.index[k] = len(s.names) - 1
	return len(s.names) - 1
}

// Lookup returns the slot of name.
func (s *Schema) Lookup(name string) (int, bool) {
	i, ok := s.index[strings.ToLower(name)]
	return i, ok
}

// Len returns the number of columns.
func (s *Schema) Len() int { return len(s.names) }

// Name returns the name of the column in slot i.
func (s *Schema) Name(i int) string { return s.names[i] }

// Names returns the column names in slot order.
func (s *Schema) Names() []string { return append([]string(nil), s.names...) }

// System columns read a record's metadata rather than its values.
const (
	SysTimestamp   = "_TIMESTAMP"
	SysOffset      = "_OFFSET"
	SysPartition   = "_PARTITION"
	SysEventTime   = "_EVENT_TIME"
	SysWindowStart = "_WINDOW_START"
	SysWindowEnd   = "_WINDOW_END"
)

// IsSystemColumn reports whether name is a system column (any case) and
// returns its canonical upper-case spelling.
func IsSystemColumn(name string) (string, bool) {
	u := strings.ToUpper(name)
	switch u {
	case SysTimestamp, SysOffset, SysPartition, SysEventTime, SysWindowStart, SysWindowEnd:
		return u, true
	}
	return "", false
}

package record

import "strings"

// Schema maps column names to slots and types. Names match
// case-insensitively, as SQL identifiers do. A column added by name only has
// the type ANY.
type Schema struct {
	names  []string
	fields []Field
	index  map[string]int
}

// NewSchema returns a schema with the given untyped columns in slot order.
func NewSchema(names ...string) *Schema {
	s := &Schema{index: make(map[string]int, len(names))}
	for _, n := range names {
		s.Add(n)
	}
	return s
}

// NewSchemaOf returns a schema with the given columns in slot order; a
// repeated name keeps its first field.
func NewSchemaOf(fields ...Field) *Schema {
	s := &Schema{index: make(map[string]int, len(fields))}
	for _, f := range fields {
		s.AddField(f)
	}
	return s
}

// Add returns the slot of name, appending it (type ANY) when it is new.
func (s *Schema) Add(name string) int {
	return s.AddField(Field{Name: name})
}

// AddField returns the slot of f's name, appending f when it is new.
func (s *Schema) AddField(f Field) int {
	k := strings.ToLower(f.Name)
	if i, ok := s.index[k]; ok {
		return i
	}
	s.names = append(s.names, f.Name)
	s.fields = append(s.fields, f)
	s.index[k] = len(s.names) - 1
	return len(s.names) - 1
}

// Field returns the column in slot i.
func (s *Schema) Field(i int) Field { return s.fields[i] }

// Fields returns the columns in slot order.
func (s *Schema) Fields() []Field { return append([]Field(nil), s.fields...) }

// Type returns the type of the column in slot i.
func (s *Schema) Type(i int) Type { return s.fields[i].Type }

// Typed reports whether any column has a type other than ANY.
func (s *Schema) Typed() bool {
	for _, f := range s.fields {
		if f.Type.Kind != TypeAny {
			return true
		}
	}
	return false
}

// String returns the columns as `name TYPE, ...` (names only for ANY).
func (s *Schema) String() string {
	var b strings.Builder
	for i, f := range s.fields {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(f.Name)
		if f.Type.Kind != TypeAny {
			b.WriteString(" " + f.Type.String())
		}
		if f.NotNull {
			b.WriteString(" NOT NULL")
		}
	}
	return b.String()
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

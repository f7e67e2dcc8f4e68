package runner

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/expr"
	"github.com/sluicesql/sluice/record"
	"github.com/sluicesql/sluice/sql"
)

// inferWait bounds how long inference reads a source's sample.
const inferWait = 10 * time.Second

// sourceSchema returns the schema of the source name, from the first of:
// its DDL column list, WITH '<name>.columns', the source itself (a
// generator's columns, a registry, or inference from a sample unless
// noInfer). The primary key comes from the DDL or '<name>.primary.key'.
func sourceSchema(ctx context.Context, sel *sql.Select, name string, decl *sql.Statement, props map[string]string, src connector.Source, noInfer bool) (connector.Schema, error) {
	var s connector.Schema
	switch cols := props[name+".columns"]; {
	case decl != nil && len(decl.Columns) > 0:
		s = connector.Schema{Columns: schemaOf(decl.Columns), Origin: connector.SchemaDDL}
	case strings.TrimSpace(cols) != "":
		defs, err := sql.ParseColumns(name+".columns", cols)
		if err != nil {
			msg, at := sql.ValueError(err, cols)
			return s, &sql.PropertyError{Key: name + ".columns", InValue: true, Offset: at, Msg: fmt.Sprintf("WITH '%s.columns': %s", name, msg)}
		}
		s = connector.Schema{Columns: schemaOf(defs), Origin: connector.SchemaDeclared}
	default:
		ss, ok := src.(connector.SchemaSource)
		if !ok {
			break
		}
		limits := connector.InferLimits{Records: connector.DefaultInferRecords, Wait: inferWait, NoSample: noInfer}
		limits.TimeColumns = epochColumns(sel, props)
		if v, ok := props[name+".infer.records"]; ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil || n < 1 {
				return s, &sql.PropertyError{Key: name + ".infer.records", InValue: true,
					Msg: fmt.Sprintf("WITH '%s.infer.records': want a positive number of records, found %q", name, sql.Clip(v))}
			}
			limits.Records = n
		}
		var err error
		if s, err = ss.SourceSchema(ctx, limits); err != nil {
			return s, fmt.Errorf("source %q: %w", name, err)
		}
	}
	if kf := strings.TrimSpace(props[name+".key.field"]); kf != "" && s.Columns != nil {
		if _, ok := s.Columns.Lookup(kf); !ok {
			// A Kafka source's '<n>.key.field' column holds the message key.
			s.Columns = record.NewSchemaOf(append(s.Columns.Fields(), record.Field{Name: kf, Type: record.StringType})...)
		}
	}
	switch {
	case decl != nil && len(decl.PrimaryKey) > 0:
		if v := props[name+".primary.key"]; strings.TrimSpace(v) != "" && !sameColumns(v, decl.PrimaryKey) {
			return s, &sql.PropertyError{Key: name + ".primary.key", InValue: true,
				Msg: fmt.Sprintf("WITH '%s.primary.key': %s already declares its primary key, PRIMARY KEY (%s) in its CREATE statement at line %d; declare it once (drop '%[1]s.primary.key', or name the same columns)",
					name, decl.Name, strings.Join(decl.PrimaryKey, ", "), decl.Line)}
		}
		s.PrimaryKey = decl.PrimaryKey
	case strings.TrimSpace(props[name+".primary.key"]) != "":
		for _, k := range strings.Split(props[name+".primary.key"], ",") {
			if k = strings.TrimSpace(k); k == "" {
				return s, &sql.PropertyError{Key: name + ".primary.key", InValue: true,
					Msg: fmt.Sprintf("WITH '%s.primary.key': empty column name in %q", name, sql.Clip(props[name+".primary.key"]))}
			}
			s.PrimaryKey = append(s.PrimaryKey, k)
		}
	}
	if s.Columns != nil {
		for _, k := range s.PrimaryKey {
			if _, ok := s.Columns.Lookup(k); !ok {
				return s, &sql.PropertyError{Key: name + ".primary.key", InValue: true,
					Msg: fmt.Sprintf("source %q: primary key column %q is not a column%s (columns: %s)", name, k, expr.Hint(k, s.Columns.Names()), strings.Join(s.Columns.Names(), ", "))}
			}
		}
	}
	return s, nil
}

// sameColumns reports whether list, a comma-separated '<n>.primary.key'
// value, names cols in order (compared case-insensitively).
func sameColumns(list string, cols []string) bool {
	parts := strings.Split(list, ",")
	if len(parts) != len(cols) {
		return false
	}
	for i, p := range parts {
		if !strings.EqualFold(strings.TrimSpace(p), cols[i]) {
			return false
		}
	}
	return true
}

// withUpstream returns the schema of a source that another statement of
// the application writes: the writer's output columns, with their types,
// unless the reader declares them ('<n>.columns'), and the writer's key as
// the primary key (a CREATE TABLE ... GROUP BY k is a table keyed by k)
// unless the reader names one ('<n>.primary.key').
func withUpstream(s, up connector.Schema) connector.Schema {
	if s.Columns == nil && up.Columns != nil {
		s.Columns, s.Origin = up.Columns, connector.SchemaStatement
	}
	if s.PrimaryKey == nil {
		s.PrimaryKey = up.PrimaryKey
	}
	s.Windowed = up.Windowed
	return s
}

// epochColumns returns the query's event-time columns whose integers are
// epoch milliseconds: the window's time column and 'event.time.field',
// unless 'event.time.format' says the numbers are something else.
func epochColumns(sel *sql.Select, props map[string]string) []string {
	switch strings.ToLower(strings.TrimSpace(props["event.time.format"])) {
	case "", "epoch_millis", "epoch_ms", "millis":
	default:
		return nil
	}
	var cols []string
	if sel.Window != nil && sel.Window.TimeColumn != "" {
		cols = append(cols, sel.Window.TimeColumn)
	}
	if f := strings.TrimSpace(props["event.time.field"]); f != "" {
		cols = append(cols, f)
	}
	return cols
}

// schemaOf returns the schema of a column list.
func schemaOf(cols []sql.ColumnDef) *record.Schema {
	fields := make([]record.Field, len(cols))
	for i, c := range cols {
		fields[i] = c.Field()
	}
	return record.NewSchemaOf(fields...)
}

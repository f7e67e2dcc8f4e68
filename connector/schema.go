package connector

import (
	"context"
	"fmt"
	"time"

	"github.com/sluicesql/sluice/record"
)

// Where a source's schema comes from (Schema.Origin).
const (
	SchemaDDL       = "DDL"       // the column list of CREATE STREAM/TABLE name (...)
	SchemaDeclared  = "declared"  // WITH '<n>.columns'
	SchemaInferred  = "inferred"  // sampled from the data
	SchemaRegistry  = "registry"  // a schema registry (Avro, Protobuf)
	SchemaGenerator = "generator" // the generator's fixed columns
	SchemaStatement = "statement" // the output of the statement that writes it (in one application)
	// SchemaNotInferred marks an undeclared source whose schema was not
	// inferred (sluice explain --no-infer): Columns is nil.
	SchemaNotInferred = "not inferred"
)

// Schema is what is known of a source's columns before any record is read.
type Schema struct {
	// Columns are the source's columns in order, with their types; nil when
	// nothing is known (inference found no record or was turned off): the
	// query's column names are then taken as they come.
	Columns *record.Schema
	// Origin says where Columns come from (SchemaDDL, ...); "" when unknown.
	Origin string
	// Records is how many records an inferred schema was read from.
	Records int
	// PrimaryKey lists the columns of a table's primary key (DDL PRIMARY KEY
	// or '<n>.primary.key'); nil for a stream.
	PrimaryKey []string
	// Windowed says that each record is the result of one window of a
	// windowed aggregate (record.Record.WindowStart gives it): a table of
	// them, keyed by the GROUP BY columns, holds each key's latest window.
	Windowed bool
	// Err says why an inferred schema is unknown (the sample could not be
	// read), or nil.
	Err error
	// Registry names a registry schema: "subject trades-value version 3 id 7".
	Registry string
}

// Table reports whether the source is a table: it has a primary key, each
// record being the latest state of its key.
func (s Schema) Table() bool { return len(s.PrimaryKey) > 0 }

// Describe says where the schema comes from, for EXPLAIN: "DDL",
// "declared", "inferred from 120 records", "registry", or "unknown".
func (s Schema) Describe() string {
	switch {
	case s.Columns == nil && s.Err != nil:
		return "unknown: could not read a sample to infer it: " + s.Err.Error()
	case s.Columns == nil && s.Origin == SchemaInferred:
		return "unknown: no record to infer it from; the query's columns are taken as they come"
	case s.Columns == nil:
		return "unknown: not inferred (--no-infer)"
	case s.Origin == SchemaInferred:
		return fmt.Sprintf("inferred from %d records", s.Records)
	case s.Origin == SchemaRegistry && s.Registry != "":
		return "registry, " + s.Registry
	}
	return s.Origin
}

// InferLimits bound the sample a schema is inferred from.
type InferLimits struct {
	// Records is the most records read (over all files or partitions).
	Records int
	// Wait is the longest time spent reading them.
	Wait time.Duration
	// TimeColumns are the query's event-time columns: integers in them
	// are epoch milliseconds, so their type is TIMESTAMP.
	TimeColumns []string
	// NoSample forbids reading data or connecting (sluice explain
	// --no-infer): a source that would have to returns Origin
	// SchemaNotInferred and no columns; one that knows its columns
	// (a generator) still gives them.
	NoSample bool
}

// DefaultInferRecords is how many records inference reads by default
// ('<n>.infer.records').
const DefaultInferRecords = 1000

// SchemaSource is implemented by sources that can tell their columns
// before the job runs: a generator knows its columns, a file or Kafka
// source infers them from a sample of its data, and a format with a schema
// registry (Avro, Protobuf) reads the subject's schema. The runner calls it
// at plan time, only when the statement declares no columns.
type SchemaSource interface {
	// SourceSchema returns the source's schema; a Columns of nil means it
	// cannot tell (an empty topic).
	SourceSchema(ctx context.Context, limits InferLimits) (Schema, error)
}

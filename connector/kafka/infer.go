package kafka

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/codec"
	"github.com/sluicesql/sluice/record"
)

// SourceSchema infers the source's schema from the first messages of each
// partition: up to limits.Records in all, read within limits.Wait (a slow
// topic gives the schema of what arrived in time). A value that is not a
// JSON object is skipped. The 'string' format has the one column "value";
// '<n>.key.field' adds a STRING column holding the message key. An empty
// topic has no known schema (Columns nil, Origin inferred).
func (s *Source) SourceSchema(ctx context.Context, limits connector.InferLimits) (connector.Schema, error) {
	if limits.NoSample {
		return connector.Schema{Origin: connector.SchemaNotInferred}, nil
	}
	if s.cfg.format == "avro" {
		return s.registrySchema(ctx)
	}
	if s.cfg.format == "string" {
		cols := []record.Field{{Name: StringColumn, Type: record.StringType}}
		return connector.Schema{Columns: s.withKeyField(cols), Origin: connector.SchemaInferred}, nil
	}
	// A topic that cannot be read now is no error here: the job fails when
	// it connects, and EXPLAIN shows why the schema is unknown (Note).
	starts, ends, err := listOffsets(ctx, s.cfg.conn, s.cfg.topic)
	if err != nil {
		return connector.Schema{Origin: connector.SchemaInferred, Note: fmt.Sprintf("kafka source %q: %v", s.cfg.name, err)}, nil
	}
	in := codec.NewInferrer(limits.TimeColumns...)
	err = s.fetchSample(ctx, starts, ends, limits.Records, limits.Wait, func(kr *kgo.Record) {
		_ = in.AddJSON(kr.Value) // a bad message goes to the DLQ when the job reads it
	})
	if err != nil && !(errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil) {
		return connector.Schema{Origin: connector.SchemaInferred, Note: err.Error()}, nil
	}
	if in.Records() == 0 {
		return connector.Schema{Origin: connector.SchemaInferred}, nil
	}
	inferred := in.Schema()
	return connector.Schema{Columns: s.withKeyField(inferred.Fields()), Origin: connector.SchemaInferred, Records: in.Records()}, nil
}

// registrySchema returns the columns of the latest schema of the topic's
// value subject (TopicNameStrategy: '<topic>-value') in the Schema Registry.
func (s *Source) registrySchema(ctx context.Context) (connector.Schema, error) {
	schema, ss, err := s.cfg.registry.latest(ctx, valueSubject(s.cfg.topic))
	if err != nil {
		return connector.Schema{}, fmt.Errorf("kafka source %q: %w", s.cfg.name, err)
	}
	cols, err := avroColumns(schema)
	if err != nil {
		return connector.Schema{}, fmt.Errorf("kafka source %q: subject %q version %d (id %d): %w", s.cfg.name, ss.Subject, ss.Version, ss.ID, err)
	}
	if s.cfg.keyAvro {
		// The key's fields are columns too, after the value's.
		key, _, err := s.cfg.registry.latest(ctx, keySubject(s.cfg.topic))
		if err != nil {
			return connector.Schema{}, fmt.Errorf("kafka source %q: %w", s.cfg.name, err)
		}
		keyCols, err := avroColumns(key)
		if err != nil {
			return connector.Schema{}, fmt.Errorf("kafka source %q: subject %q: %w", s.cfg.name, keySubject(s.cfg.topic), err)
		}
		for _, c := range keyCols {
			if !slices.ContainsFunc(cols, func(f record.Field) bool { return f.Name == c.Name }) {
				cols = append(cols, c)
			}
		}
	}
	return connector.Schema{Columns: s.withKeyField(cols), Origin: connector.SchemaRegistry,
		Registry: fmt.Sprintf("subject %s version %d id %d", valueSubject(s.cfg.topic), ss.Version, ss.ID)}, nil
}

// withKeyField returns the schema of cols with the '<n>.key.field' column
// (a STRING, the message key) when one is configured and not among them.
func (s *Source) withKeyField(cols []record.Field) *record.Schema {
	schema := record.NewSchemaOf(cols...)
	if s.cfg.keyField != "" {
		if _, ok := schema.Lookup(s.cfg.keyField); !ok {
			schema.AddField(record.Field{Name: s.cfg.keyField, Type: record.StringType, Inferred: true})
		}
	}
	return schema
}

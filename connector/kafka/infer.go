package kafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/connector/codec"
	"github.com/sluicesql/sluice/record"
)

// SourceSchema infers the source's schema from the first messages of each
// partition: up to limits.Records in all, a share of them per partition,
// read within limits.Wait (a slow topic gives the schema of what arrived in
// time), and taken in partition order. A value that is not a
// JSON object is skipped. The 'string' format has the one column "value".
// With '<n>.key.format'='json' the fields of the keys that are JSON objects
// are columns too, after the value's; '<n>.key.field' adds a STRING column
// holding the message key. An empty topic has no known schema (Columns
// nil, Origin inferred).
func (s *Source) SourceSchema(ctx context.Context, limits connector.InferLimits) (connector.Schema, error) {
	if limits.NoSample {
		return connector.Schema{Origin: connector.SchemaNotInferred}, nil
	}
	if s.cfg.values != nil {
		return s.registrySchema(ctx)
	}
	stringCols := []record.Field{{Name: StringColumn, Type: record.StringType}}
	if s.cfg.format == "string" && !s.cfg.jsonKey {
		return connector.Schema{Columns: s.withKeyField(stringCols), Origin: connector.SchemaInferred}, nil
	}
	// A topic that cannot be read now is no error here: the job fails when
	// it connects, and EXPLAIN shows why the schema is unknown (Err).
	starts, ends, err := listOffsets(ctx, s.cfg.conn, s.cfg.topic)
	if err != nil {
		return connector.Schema{Origin: connector.SchemaInferred, Err: fmt.Errorf("kafka source %q: %w", s.cfg.name, err)}, nil
	}
	s.mu.Lock()
	if s.partitions == 0 {
		// the partition count, for Facts before CheckFacts (EXPLAIN)
		s.partitions = len(ends)
	}
	s.mu.Unlock()
	// The sample is taken in partition order, whatever order the fetches
	// come in, so that the columns (in the order first seen) are the same
	// on every run.
	values, keys := map[int32][][]byte{}, map[int32][][]byte{}
	err = s.fetchSample(ctx, starts, ends, limits.Records, limits.Wait, func(kr *kgo.Record) {
		values[kr.Partition] = append(values[kr.Partition], kr.Value)
		if s.cfg.jsonKey && kr.Key != nil {
			keys[kr.Partition] = append(keys[kr.Partition], kr.Key)
		}
	})
	if err != nil && !(errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil) {
		return connector.Schema{Origin: connector.SchemaInferred, Err: err}, nil
	}
	cols, n := stringCols, 0
	for _, vs := range values {
		n += len(vs)
	}
	if s.cfg.format != "string" {
		in := inferJSON(values, limits.TimeColumns)
		if in.Records() == 0 {
			return connector.Schema{Origin: connector.SchemaInferred}, nil
		}
		cols, n = in.Schema().Fields(), in.Records()
	}
	if s.cfg.jsonKey {
		have := record.NewSchemaOf(cols...)
		for _, f := range inferJSON(keys, limits.TimeColumns).Schema().Fields() {
			if _, ok := have.Lookup(f.Name); !ok {
				cols = append(cols, f)
			}
		}
	}
	return connector.Schema{Columns: s.withKeyField(cols), Origin: connector.SchemaInferred, Records: n}, nil
}

// inferJSON infers the columns of the JSON objects among docs, taken in
// partition order; a document that is not one is skipped (a bad message
// goes to the DLQ when the job reads it).
func inferJSON(docs map[int32][][]byte, timeColumns []string) *codec.Inferrer {
	in := codec.NewInferrer(timeColumns...).ForStream()
	for _, p := range slices.Sorted(maps.Keys(docs)) {
		for _, d := range docs[p] {
			_ = in.AddJSON(d)
		}
	}
	return in
}

// registrySchema returns the columns of the latest schema of the topic's
// value subject (TopicNameStrategy: '<topic>-value') in the Schema Registry
// and, with a registry key format, those of its key subject after them.
func (s *Source) registrySchema(ctx context.Context) (connector.Schema, error) {
	cols, ss, err := s.subjectColumns(ctx, s.cfg.values, valueSubject(s.cfg.topic))
	if err != nil {
		return connector.Schema{}, err
	}
	where := fmt.Sprintf("subject %s version %d id %d", ss.Subject, ss.Version, ss.ID)
	if s.cfg.keys != nil {
		keyCols, kss, err := s.subjectColumns(ctx, s.cfg.keys, keySubject(s.cfg.topic))
		if err != nil {
			return connector.Schema{}, err
		}
		for _, c := range keyCols {
			if !slices.ContainsFunc(cols, func(f record.Field) bool { return f.Name == c.Name }) {
				cols = append(cols, c)
			}
		}
		where += fmt.Sprintf(", key subject %s version %d id %d", kss.Subject, kss.Version, kss.ID)
	}
	return connector.Schema{Columns: s.withKeyField(cols), Origin: connector.SchemaRegistry, Registry: where}, nil
}

// subjectColumns returns the columns of the latest schema of subject in
// format f.
func (s *Source) subjectColumns(ctx context.Context, f registryFormat, subject string) ([]record.Field, sr.SubjectSchema, error) {
	ss, err := s.cfg.registry.latest(ctx, subject)
	if err != nil {
		return nil, ss, fmt.Errorf("kafka source %q: %w", s.cfg.name, err)
	}
	if ss.Subject == "" {
		ss.Subject = subject
	}
	cols, err := f.columns(ctx, s.cfg.registry, ss.Schema)
	if err != nil {
		return nil, ss, fmt.Errorf("kafka source %q: subject %q version %d (id %d): %w", s.cfg.name, ss.Subject, ss.Version, ss.ID, err)
	}
	return cols, ss, nil
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

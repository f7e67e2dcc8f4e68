package pipe

import (
	"context"
	"errors"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/record"
)

// Tee returns a sink writing every row to each of sinks: a stream read by
// several statements has one in-process stream per reader, and its writer
// writes them all.
func Tee(sinks ...connector.Sink) connector.Sink {
	if len(sinks) == 1 {
		return sinks[0]
	}
	return tee(sinks)
}

type tee []connector.Sink

func (t tee) Open(ctx context.Context, schema *record.Schema, keySlots []int) error {
	for _, s := range t {
		if err := s.Open(ctx, schema, keySlots); err != nil {
			return err
		}
	}
	return nil
}

func (t tee) Write(ctx context.Context, rows []record.Record) error {
	for _, s := range t {
		if err := s.Write(ctx, rows); err != nil {
			return err
		}
	}
	return nil
}

func (t tee) Flush(ctx context.Context) error {
	for _, s := range t {
		if err := s.Flush(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (t tee) Close() error {
	var errs []error
	for _, s := range t {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

func (t tee) Abort() {
	for _, s := range t {
		s.Abort()
	}
}

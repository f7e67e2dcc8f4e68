package kafka

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/record"
)

// sampleCheck is how long a sample's fetch waits for records before it
// lists the topic's start offsets again: a partition truncated since the
// sample began (DeleteRecords, retention) holds none of the records it
// waits for, and none will come.
const sampleCheck = time.Second

// ObserveFacts is NewSource followed by CheckFacts: the partitioning facts
// of the source name configured by props, checked on a sample of its topic.
func ObserveFacts(ctx context.Context, name string, props map[string]string, columns []string) (connector.Facts, error) {
	s, err := NewSource(name, props)
	if err != nil {
		return connector.Facts{}, err
	}
	return s.CheckFacts(ctx, columns)
}

// CheckFacts reads a sample of the topic (about VerifyRecords records spread
// over its partitions, from the start of each) and returns the facts it
// supports. A declared '<n>.partition.key' is checked: a sampled record whose
// message key is not the key columns' text (AppendMessageKey) or whose
// partition is not Kafka's default partition of that key contradicts it, and
// the key is dropped from Facts with Note saying why. Without a declared key,
// the first of columns that every sampled message key equals and murmur2
// confirms becomes the observed key (Origin "observed"). The planner calls it
// before planning, with the query's grouping columns; Open keeps what it
// found and keeps checking the records it reads. It takes as long as the
// brokers need to answer: at most '<n>.unavailable.timeout' when it is set,
// else as long as ctx allows (each listing stops after the client's
// request retries, as the source's own does).
func (s *Source) CheckFacts(ctx context.Context, columns []string) (connector.Facts, error) {
	ctx, cancel := s.unavailableBound(ctx)
	defer cancel()
	starts, ends, err := listOffsets(ctx, s.cfg.conn, s.cfg.topic)
	if err != nil {
		return connector.Facts{}, s.unavailableErr(ctx, fmt.Errorf("kafka source %q: %w", s.cfg.name, err))
	}
	cols := s.cfg.partitionKey
	if len(cols) == 0 {
		cols = columns
	}
	var recs []record.Record
	if len(cols) > 0 {
		recs, err = s.sample(ctx, starts, ends, record.NewSchema(cols...))
		if err != nil {
			return connector.Facts{}, s.unavailableErr(ctx, err)
		}
	}
	n := len(ends)
	s.mu.Lock()
	s.partitions = n
	var vals []record.Value
	var buf []byte
	if len(s.cfg.partitionKey) > 0 {
		if s.check == nil {
			s.check = newVerifier(s.cfg.name, "declared", cols, nil, n)
		}
		slots := make([]int, len(cols))
		for i := range slots {
			slots[i] = i
		}
		for i := range recs {
			if err := keyCheck(&recs[i], cols, slots, n, vals, buf); err != nil {
				s.check.fail(err)
				break
			}
		}
	} else if len(recs) > 0 {
		s.observed = nil
		for i, c := range cols {
			if allMatch(recs, c, i, n) {
				s.observed = []string{c}
				break
			}
		}
	}
	s.mu.Unlock()
	return s.Facts(), nil
}

// allMatch reports whether every record's message key is the text of the
// column at slot and in its default partition.
func allMatch(recs []record.Record, col string, slot, n int) bool {
	var vals []record.Value
	var buf []byte
	for i := range recs {
		if keyCheck(&recs[i], []string{col}, []int{slot}, n, vals, buf) != nil {
			return false
		}
	}
	return true
}

// unavailableBound returns ctx bounded by '<n>.unavailable.timeout', when
// it is set.
func (s *Source) unavailableBound(ctx context.Context) (context.Context, context.CancelFunc) {
	if s.cfg.unavailableTimeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeoutCause(ctx, s.cfg.unavailableTimeout, errUnavailableTimeout)
}

// errUnavailableTimeout is the cause of a context unavailableBound ended.
var errUnavailableTimeout = errors.New("unavailable.timeout passed")

// unavailableErr returns err, saying so when it came from the end of an
// unavailableBound context.
func (s *Source) unavailableErr(ctx context.Context, err error) error {
	if !errors.Is(context.Cause(ctx), errUnavailableTimeout) {
		return err
	}
	return fmt.Errorf("%w: the brokers did not answer within '%s.unavailable.timeout' (%s)", err, s.cfg.name, s.cfg.unavailableTimeout)
}

// sample reads up to about VerifyRecords records spread over the partitions,
// from each partition's start, decoded into schema. Records that fail to
// decode are skipped.
func (s *Source) sample(ctx context.Context, starts, ends map[int32]int64, schema *record.Schema) ([]record.Record, error) {
	dec := newDecoder(&s.cfg, schema)
	var out []record.Record
	err := s.fetchSample(ctx, starts, ends, VerifyRecords, 0, func(kr *kgo.Record) {
		var rec record.Record
		if dec.decode(&rec, kr) == nil {
			out = append(out, rec)
		}
	})
	return out, err
}

// fetchSample calls each with up to n records spread over the partitions
// that hold any, an equal share from the start of each (one from each of
// the first n when n is less than their number), within wait (0: as long
// as ctx allows). A partition truncated past the end it was listed at
// since gives what it gave until then.
func (s *Source) fetchSample(ctx context.Context, starts, ends map[int32]int64, n int, wait time.Duration, each func(*kgo.Record)) error {
	var full []int32 // the partitions that hold messages, in order
	for _, p := range slices.Sorted(maps.Keys(ends)) {
		if ends[p] > starts[p] {
			full = append(full, p)
		}
	}
	// Fewer records than partitions: one from each of the first n.
	full = full[:min(len(full), max(n, 1))]
	per := int64(max(n/max(len(full), 1), 1))
	want := make(map[int32]int64)
	parts := make(map[int32]kgo.Offset)
	for _, p := range full {
		want[p] = min(ends[p]-starts[p], per)
		parts[p] = kgo.NewOffset().At(starts[p])
	}
	if len(want) == 0 {
		return nil
	}
	// Transaction markers count toward a partition's offsets, so they are
	// kept (and not decoded) for the sample to reach its end.
	cl, err := newClient(s.cfg.conn, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{s.cfg.topic: parts}),
		kgo.KeepControlRecords())
	if err != nil {
		return fmt.Errorf("kafka source %q: %w", s.cfg.name, err)
	}
	defer cl.Close()
	if wait > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, wait)
		defer cancel()
	}
	adm := kadm.NewClient(cl)
	for len(want) > 0 {
		poll, cancel := context.WithTimeout(ctx, sampleCheck)
		fs := cl.PollFetches(poll)
		cancel()
		if ctx.Err() != nil {
			return fmt.Errorf("kafka source %q: sampling topic %q: %w", s.cfg.name, s.cfg.topic, ctx.Err())
		}
		if fs.Empty() {
			// nothing came: a partition whose log now starts at or past
			// the end it was listed at has nothing more to give
			listed, err := adm.ListStartOffsets(ctx, s.cfg.topic)
			if err == nil {
				err = listed.Error()
			}
			if err != nil {
				return fmt.Errorf("kafka source %q: sampling topic %q: %w", s.cfg.name, s.cfg.topic, s.cfg.conn.connError(err))
			}
			listed.Each(func(o kadm.ListedOffset) {
				if _, ok := want[o.Partition]; ok && o.Offset >= ends[o.Partition] {
					delete(want, o.Partition)
				}
			})
			continue
		}
		fs.EachRecord(func(kr *kgo.Record) {
			left, ok := want[kr.Partition]
			if !ok {
				return
			}
			if !kr.Attrs.IsControl() {
				each(kr)
			}
			// A compacted partition holds fewer records than its offsets
			// span: its last offset ends it too.
			if left--; left <= 0 || kr.Offset >= ends[kr.Partition]-1 {
				delete(want, kr.Partition)
			} else {
				want[kr.Partition] = left
			}
		})
	}
	return nil
}

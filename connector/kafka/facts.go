package kafka

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sluicesql/sluice/record"
)

// VerifyRecords is how many records a running source must have checked
// against its partition key (declared or observed) before Verified reports
// it confirmed; checking goes on for every record after that.
const VerifyRecords = 1000

// AppendMessageKey appends the Kafka message key Sluice writes for the key
// column values vals: the single value's text (Value.AppendText: a string as
// is, a number in digits) when there is one column, else the JSON array of
// the values (e.g. ["T1",42]). It appends nothing when vals is empty.
func AppendMessageKey(b []byte, vals []record.Value) []byte {
	switch len(vals) {
	case 0:
		return b
	case 1:
		return vals[0].AppendText(b)
	}
	b = append(b, '[')
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONValue(b, v)
	}
	return append(b, ']')
}

// AppendRoutingKey appends the message key of a repartition topic's record
// whose routing key has the values vals: AppendMessageKey of each value's
// KeyForm as an untyped key, so that values one group (or a join's
// equality) takes for one key, such as 150, 150.0 and 150.00, have one
// message key, hence one partition, and so meet in one process.
func AppendRoutingKey(b []byte, vals []record.Value) []byte {
	var one [4]record.Value
	group := one[:0]
	for _, v := range vals {
		group = append(group, v.KeyForm(record.AnyType))
	}
	return AppendMessageKey(b, group)
}

// appendJSONValue appends v as JSON, strings escaped as the JSON encoder does.
func appendJSONValue(b []byte, v record.Value) []byte {
	if v.Kind() == record.String {
		return record.AppendJSONString(b, v.Str())
	}
	return v.AppendJSON(b)
}

// keyMatches reports whether the message key is what a producer keyed by
// the columns with values vals would have written: AppendMessageKey's form,
// the form of a repartition topic (AppendRoutingKey), or for one column
// also its JSON form (a quoted string).
func keyMatches(key []byte, vals []record.Value, buf []byte) bool {
	if bytes.Equal(key, AppendMessageKey(buf[:0], vals)) || bytes.Equal(key, AppendRoutingKey(buf[:0], vals)) {
		return true
	}
	if len(vals) == 1 {
		return bytes.Equal(key, appendJSONValue(buf[:0], vals[0]))
	}
	return false
}

// keyCheck checks one record against the claim "the topic is keyed by the
// columns at slots and partitioned by Kafka's default partitioner over n
// partitions". Slots of columns absent from the record's schema are -1: then
// only the partitioner is checked. It returns why the record contradicts
// the claim, or nil.
func keyCheck(rec *record.Record, cols []string, slots []int, n int, vals []record.Value, buf []byte) error {
	if rec.Key == nil {
		return fmt.Errorf("partition %d offset %d has no message key", rec.Partition, rec.Offset)
	}
	if p := Partition(rec.Key, n); p != rec.Partition {
		return fmt.Errorf("partition %d offset %d: message key %q is in partition %d, but Kafka's default partitioner (murmur2 mod %d) puts it in partition %d",
			rec.Partition, rec.Offset, rec.Key, rec.Partition, n, p)
	}
	vals = vals[:0]
	for _, s := range slots {
		if s < 0 || s >= len(rec.Values) {
			return nil
		}
		vals = append(vals, rec.Values[s])
	}
	if !keyMatches(rec.Key, vals, buf) {
		return fmt.Errorf("partition %d offset %d: message key %q is not the %s value %s",
			rec.Partition, rec.Offset, rec.Key, strings.Join(cols, ", "), AppendMessageKey(nil, vals))
	}
	return nil
}

// verifier checks the first records a running source reads against its
// partition key and reports the first contradiction once.
type verifier struct {
	source       string
	origin       string
	key          []string
	slots        []int
	partitions   int
	limit        int64
	checked      atomic.Int64
	done         atomic.Bool
	mu           sync.Mutex
	err          error
	contradicted chan struct{}
}

func newVerifier(source, origin string, key []string, schema *record.Schema, partitions int) *verifier {
	v := &verifier{
		source:       source,
		origin:       origin,
		key:          key,
		partitions:   partitions,
		limit:        VerifyRecords,
		contradicted: make(chan struct{}),
	}
	for _, c := range key {
		slot := -1
		if schema != nil {
			if s, ok := schema.Lookup(c); ok {
				slot = s
			}
		}
		v.slots = append(v.slots, slot)
	}
	return v
}

// check verifies rec; every record is checked until the first
// contradiction, since one misplaced key anywhere would split its group
// under aligned routing. It is safe for concurrent use.
func (v *verifier) check(rec *record.Record) {
	if v.done.Load() {
		return
	}
	if v.checked.Load() < v.limit {
		v.checked.Add(1)
	}
	var vals [4]record.Value
	var buf [64]byte
	if err := keyCheck(rec, v.key, v.slots, v.partitions, vals[:0], buf[:0]); err != nil {
		v.fail(err)
	}
}

// fail records the first contradiction, warns once and signals it.
func (v *verifier) fail(err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.err != nil {
		return
	}
	v.err = fmt.Errorf("source %q: %s partition key (%s) contradicted by the data: %w",
		v.source, v.origin, strings.Join(v.key, ", "), err)
	v.done.Store(true)
	slog.Warn("kafka partition key contradicted", "source", v.source, "key", strings.Join(v.key, ","), "origin", v.origin, "reason", err.Error())
	close(v.contradicted)
}

// result returns the contradiction found, if any.
func (v *verifier) result() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.err
}

// verified reports whether limit records were checked without contradiction.
func (v *verifier) verified() bool {
	return v.result() == nil && v.checked.Load() >= v.limit
}

package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/sluicesql/sluice/connector/codec"
	"github.com/sluicesql/sluice/record"
)

// Sink writes result rows to a Kafka topic ('<n>.type'='kafka_sink'): one
// message per row, its value the row as a JSON object and its key built from
// the key columns by AppendMessageKey (the single key column's text, or the
// JSON array of several; no key without key columns), or for the results
// of a windowed aggregate (KeyByWindow) the JSON object of the key columns
// and the window's bounds. A row that retracts its key's earlier one
// (record.Record.Retract) is a tombstone: the key with no value, which
// deletes the key for a compacted topic or a table reading it. Keyed messages land in
// the partition Kafka's default partitioner (Partition) chooses. The producer
// is idempotent with acks=all (franz-go's defaults).
type Sink struct {
	cfg      sinkConfig
	client   producer // its own client, or the transaction of UseTransaction
	txn      *Transaction
	enc      *codec.JSONEncoder
	values   rowEncoder         // a registry format's encoder of values, else nil
	keys     rowEncoder         // a registry key format's encoder, else nil
	subjects []sr.SubjectSchema // the registry schemas written, values first
	keySlots []int
	keyNames []string // the key columns' names, for a windowed key
	window   bool     // KeyByWindow: keys hold the row's window
	keyVals  []record.Value
	opts     []kgo.Opt  // added to the producing client's options
	err      firstError // the first failed produce
}

// NewSink returns the Kafka sink named name configured by '<n>.topic.name'
// (default: name) and '<n>.bootstrap.servers' (default localhost:9092). It
// does not connect. opts are added to the producing client's options
// (kgo.WithHooks for metrics, for example).
func NewSink(name string, props map[string]string, opts ...kgo.Opt) (*Sink, error) {
	cfg, err := parseSinkConfig(name, props)
	if err != nil {
		return nil, err
	}
	return &Sink{cfg: cfg, opts: opts}, nil
}

// Open connects and checks that the topic exists; a missing topic is
// created ('<n>.create.topic', default true) with '<n>.partitions' (default:
// SetDefaultPartitions's count, else the cluster's) and
// '<n>.replication.factor' (default: the cluster's).
func (k *Sink) Open(ctx context.Context, schema *record.Schema, keySlots []int) error {
	if k.client != nil {
		return fmt.Errorf("kafka sink %q: already open", k.cfg.name)
	}
	for _, s := range keySlots {
		if s < 0 || s >= schema.Len() {
			return fmt.Errorf("kafka sink %q: key slot %d outside the %d output columns", k.cfg.name, s, schema.Len())
		}
	}
	if f := k.cfg.values; f != nil {
		enc, ss, err := openEncoder(ctx, f, k.cfg.registry, valueSubject(k.cfg.topic), k.cfg.topic, schema)
		if err != nil {
			return fmt.Errorf("kafka sink %q: %w", k.cfg.name, err)
		}
		k.values, k.subjects = enc, append(k.subjects, ss)
	}
	if f := k.cfg.keys; f != nil && (len(keySlots) > 0 || k.window) {
		fields := make([]record.Field, len(keySlots), len(keySlots)+2)
		for i, s := range keySlots {
			fields[i] = schema.Fields()[s]
		}
		if k.window {
			fields = append(fields, record.Field{Name: windowStartKey, Type: record.TimestampType, NotNull: true},
				record.Field{Name: windowEndKey, Type: record.TimestampType, NotNull: true})
		}
		enc, ss, err := openEncoder(ctx, f, k.cfg.registry, keySubject(k.cfg.topic), k.cfg.topic+"_key", record.NewSchemaOf(fields...))
		if err != nil {
			return fmt.Errorf("kafka sink %q: key: %w", k.cfg.name, err)
		}
		k.keys, k.subjects = enc, append(k.subjects, ss)
	}
	cl, err := openProducer(ctx, k.cfg.conn, k.cfg.topic, k.cfg.spec, k.opts...)
	if err != nil {
		return fmt.Errorf("kafka sink %q: %w", k.cfg.name, err)
	}
	k.client = cl
	if k.txn != nil {
		cl.Close()
		k.client = txnProducer{k.txn}
	}
	k.enc = codec.NewJSONEncoder(schema)
	k.keySlots = keySlots
	k.keyNames = k.keyNames[:0]
	for _, s := range keySlots {
		k.keyNames = append(k.keyNames, schema.Name(s))
	}
	return nil
}

// openEncoder returns f's encoder of rows of schema, whose registry schema
// it registers under subject (see registryFormat). When the subject
// refuses that schema and some of its columns are NOT NULL, it tries the
// schema with every column nullable instead: the one Sluice registered
// before it wrote the columns that are never NULL as non-nullable fields,
// which a subject's existing versions may hold. That schema writes the same
// values; when the subject refuses it too, the first refusal is the error.
func openEncoder(ctx context.Context, f registryFormat, reg *registry, subject, name string, schema *record.Schema) (rowEncoder, sr.SubjectSchema, error) {
	enc, ss, err := f.encoder(ctx, reg, subject, name, schema)
	if err == nil || !errors.As(err, new(refusal)) {
		return enc, ss, err
	}
	fields := schema.Fields()
	relaxed := false
	for i := range fields {
		relaxed = relaxed || fields[i].NotNull
		fields[i].NotNull = false
	}
	if !relaxed {
		return enc, ss, err
	}
	nullable, nss, nerr := f.encoder(ctx, reg, subject, name, record.NewSchemaOf(fields...))
	if nerr != nil {
		return enc, ss, err
	}
	slog.Info("schema registry: the subject refuses NOT NULL fields; writing every field nullable, as its versions are",
		"subject", subject, "version", nss.Version, "id", nss.ID)
	return nullable, nss, nil
}

// The names of the window's bounds in a windowed key.
const (
	windowStartKey = "window_start"
	windowEndKey   = "window_end"
)

// KeyByWindow makes each message key hold its row's window too, for the
// results of a windowed aggregate (record.Record.WindowStart): a key then
// names one result row, so a consumer that upserts by key keeps every
// window instead of only the latest of each GROUP BY key, as with Kafka
// Streams' windowed keys and ksqlDB's windowed tables. The key is the JSON
// object of the key columns and window_start and window_end (ISO-8601
// times, the end exclusive), or with a registry '<n>.key.format' a record
// of those fields. Call it before Open.
func (k *Sink) KeyByWindow() { k.window = true }

// Write produces one message per row. It does not wait for
// acknowledgements (Flush does) but returns the error of any earlier failed
// produce.
func (k *Sink) Write(ctx context.Context, rows []record.Record) error {
	if k.client == nil {
		return fmt.Errorf("kafka sink %q: not open", k.cfg.name)
	}
	if err := k.err.get(); err != nil {
		return err
	}
	// One buffer per call holds every key and value of the call's messages;
	// the producer keeps them until they are acknowledged.
	var buf []byte
	ends := make([][2]int, len(rows))
	for i := range rows {
		var err error
		if buf, err = k.appendKey(buf, &rows[i]); err != nil {
			return fmt.Errorf("kafka sink %q: key: %w", k.cfg.name, err)
		}
		ends[i][0] = len(buf)
		if rows[i].Retract && k.keyed() {
			ends[i][1] = -1 // a tombstone: no value
			continue
		}
		if k.values != nil {
			if buf, err = k.values.AppendRow(buf, rows[i].Values); err != nil {
				return fmt.Errorf("kafka sink %q: %s: %w", k.cfg.name, k.cfg.format, err)
			}
		} else {
			buf = k.enc.AppendRow(buf, rows[i].Values)
		}
		ends[i][1] = len(buf)
	}
	start := 0
	for i := range rows {
		m := &kgo.Record{Topic: k.cfg.topic}
		end := ends[i][1]
		if end < 0 {
			end = ends[i][0]
		} else {
			m.Value = buf[ends[i][0]:end:end]
		}
		if k.keyed() {
			m.Key = buf[start:ends[i][0]:ends[i][0]]
		}
		start = end
		k.client.Produce(ctx, m, k.produced)
	}
	return nil
}

// keyed reports whether messages have keys.
func (k *Sink) keyed() bool { return len(k.keySlots) > 0 || k.window }

// appendKey appends the message key of row: the key columns' text (with
// KeyByWindow, the JSON object of them and the window), or with a registry
// '<n>.key.format' their record in the wire format.
func (k *Sink) appendKey(b []byte, row *record.Record) ([]byte, error) {
	if !k.keyed() {
		return b, nil
	}
	k.keyVals = k.keyVals[:0]
	for _, s := range k.keySlots {
		var v record.Value
		if s < len(row.Values) {
			v = row.Values[s]
		}
		k.keyVals = append(k.keyVals, v)
	}
	if k.window {
		k.keyVals = append(k.keyVals, record.TimestampValue(row.WindowStart), record.TimestampValue(row.EventTime+1))
	}
	if k.keys != nil {
		return k.keys.AppendRow(b, k.keyVals)
	}
	if k.window {
		return k.appendWindowedKey(b), nil
	}
	return AppendMessageKey(b, k.keyVals), nil
}

// appendWindowedKey appends the JSON object of keyVals: the key columns,
// then the window's start and end.
func (k *Sink) appendWindowedKey(b []byte) []byte {
	b = append(b, '{')
	for i, v := range k.keyVals {
		name := windowStartKey
		switch {
		case i < len(k.keyNames):
			name = k.keyNames[i]
		case i > len(k.keyNames):
			name = windowEndKey
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = record.AppendJSONString(b, name)
		b = append(b, ':')
		b = appendJSONValue(b, v)
	}
	return append(b, '}')
}

// produced records the first produce failure.
func (k *Sink) produced(_ *kgo.Record, err error) {
	if err != nil {
		k.err.set(fmt.Errorf("kafka sink %q: produce to %q: %w", k.cfg.name, k.cfg.topic, err))
	}
}

// UseTransaction makes the sink, once open, produce in t (exactly-once):
// its messages become visible to read_committed consumers when the
// transactional source commits. Call it before Open.
func (k *Sink) UseTransaction(t *Transaction) { k.txn = t }

// SetDefaultPartitions sets the partition count of the topic if Open creates
// it and '<n>.partitions' is not set (the runner gives the source's count).
func (k *Sink) SetDefaultPartitions(n int) {
	if k.cfg.spec.Partitions == 0 && n > 0 {
		k.cfg.spec.Partitions = int32(n)
	}
}

// Brokers returns the sink's bootstrap servers.
func (k *Sink) Brokers() []string { return k.cfg.conn.Brokers }

// Conn returns how the sink connects to its cluster.
func (k *Sink) Conn() Conn { return k.cfg.conn }

// deliveryTimeout bounds how long a produced message may wait for its
// acknowledgement before it fails (Kafka's delivery.timeout.ms default), so
// that Flush and Close report an unreachable cluster instead of waiting
// forever.
var deliveryTimeout = 2 * time.Minute

// openProducer returns a client connecting as conn says that produces to
// topic (keyed messages to Kafka's default partition of their key;
// franz-go's defaults: idempotent, acks=all) with opts added, once it has
// checked that topic exists or created it as spec says.
func openProducer(ctx context.Context, conn Conn, topic string, spec TopicSpec, opts ...kgo.Opt) (*kgo.Client, error) {
	opts = append([]kgo.Opt{kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.RecordDeliveryTimeout(deliveryTimeout)}, opts...)
	cl, err := newClient(conn, opts...)
	if err != nil {
		return nil, err
	}
	if err := ensureTopic(ctx, cl, topic, spec); err != nil {
		cl.Close()
		return nil, conn.connError(err)
	}
	return cl, nil
}

// Flush waits until every message written so far is acknowledged by all
// in-sync replicas, and returns the first failure.
func (k *Sink) Flush(ctx context.Context) error {
	if k.client == nil {
		return fmt.Errorf("kafka sink %q: not open", k.cfg.name)
	}
	if err := k.client.Flush(ctx); err != nil {
		return fmt.Errorf("kafka sink %q: flush: %w", k.cfg.name, err)
	}
	return k.err.get()
}

// Close flushes and disconnects.
func (k *Sink) Close() error {
	if k.client == nil {
		return nil
	}
	err := k.Flush(context.Background())
	k.client.Close()
	k.client = nil
	return err
}

// Abort drops messages not yet sent and disconnects. Messages already
// acknowledged stay in the topic: Kafka has no way to take them back
// outside a transaction.
func (k *Sink) Abort() {
	if k.client == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), abortWait)
	defer cancel()
	// Best effort: whether or not in-flight requests finish in time, the
	// client closes and unsent messages are dropped.
	_ = k.client.AbortBufferedRecords(ctx)
	k.client.Close()
	k.client = nil
}

// abortWait bounds how long Abort waits for in-flight produce requests.
const abortWait = 5 * time.Second

package kafka

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connector"
)

// Headers of a dead-letter message.
const (
	HeaderDLQSource    = "dlq.source"
	HeaderDLQPartition = "dlq.partition"
	HeaderDLQOffset    = "dlq.offset"
	HeaderDLQReason    = "dlq.reason"
	// HeaderDLQRepartition is the place in the repartition topic where
	// stage 2 of a repartitioned statement read the record:
	// "<topic>/<partition>/<offset>" (the other headers say where it is in
	// its source).
	HeaderDLQRepartition = "dlq.repartition"
)

// DeadLetterQueue produces dead letters to a Kafka topic ('dlq.topic'). Each
// message's value is the dead letter's JSON object (connector.DeadLetterJSON,
// the line a dead-letter file holds), its key the record's own message key
// when it had one, else "<source>/<partition>/<offset>", and its headers
// dlq.source, dlq.partition, dlq.offset and dlq.reason (and dlq.repartition
// for a record read through a repartition topic). Keyed messages land
// in Kafka's default partition of their key; the producer is idempotent with
// acks=all, like the Sink's.
//
// Add produces asynchronously; Flush waits until every entry added before
// it is acknowledged and returns the first failure, so a job that flushes
// before committing source offsets never commits past a dead letter that is
// not in the topic. A DeadLetterQueue is safe for concurrent use.
type DeadLetterQueue struct {
	topic   string
	brokers []string
	client  producer
	txn     *Transaction // the transaction of UseTransaction, or nil
	count   atomic.Int64
	failed  firstError
	closed  sync.Once
}

// OpenDeadLetterQueue connects as conn says and checks that topic exists,
// creating it as spec says when it does not. opts are added to the
// producing client's options (kgo.WithHooks for metrics, for example).
func OpenDeadLetterQueue(ctx context.Context, conn Conn, topic string, spec TopicSpec, opts ...kgo.Opt) (*DeadLetterQueue, error) {
	if len(conn.Brokers) == 0 {
		return nil, fmt.Errorf("kafka dead-letter topic %q: no brokers", topic)
	}
	cl, err := openProducer(ctx, conn, topic, spec, opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka dead-letter topic %q: %w", topic, err)
	}
	return &DeadLetterQueue{topic: topic, brokers: conn.Brokers, client: cl}, nil
}

// UseTransaction makes the queue produce in t from now on (exactly-once):
// each dead letter commits with the job's output and offsets in the
// transaction of the first commit whose checkpoint read past its record
// (a replay from an earlier commit finds the record again), so Add only
// keeps it until then. Call it before the first Add.
func (q *DeadLetterQueue) UseTransaction(t *Transaction) {
	q.client.Close()
	q.client = txnProducer{t}
	q.txn = t
}

// Brokers returns the bootstrap servers of the dead-letter topic.
func (q *DeadLetterQueue) Brokers() []string { return q.brokers }

// Topic returns the dead-letter topic.
func (q *DeadLetterQueue) Topic() string { return q.topic }

// Count returns the number of dead letters added.
func (q *DeadLetterQueue) Count() int64 { return q.count.Load() }

// Add produces d to the topic without waiting for the acknowledgement. It
// blocks while the producer's buffer is full. A failure is kept and
// returned by Flush and Close.
func (q *DeadLetterQueue) Add(d connector.DeadLetter) { q.AddContext(context.Background(), d) }

// AddContext is Add waiting for room in the producer's buffer only until
// ctx ends (job.ContextAdder: a stopping job's drain timeout): a letter
// that found no room by then fails (Flush returns its error), one buffered
// before is still sent.
func (q *DeadLetterQueue) AddContext(ctx context.Context, d connector.DeadLetter) {
	q.count.Add(1)
	value, err := d.AppendJSON(nil)
	if err != nil {
		q.failed.set(fmt.Errorf("kafka dead-letter topic %q: %w", q.topic, err))
		return
	}
	partition, offset := strconv.FormatInt(int64(d.Partition), 10), strconv.FormatInt(d.Offset, 10)
	key := d.Key
	if key == nil {
		key = []byte(d.Source + "/" + partition + "/" + offset)
	}
	m := &kgo.Record{Topic: q.topic, Key: key, Value: value, Headers: []kgo.RecordHeader{
		{Key: HeaderDLQSource, Value: []byte(d.Source)},
		{Key: HeaderDLQPartition, Value: []byte(partition)},
		{Key: HeaderDLQOffset, Value: []byte(offset)},
		{Key: HeaderDLQReason, Value: []byte(d.Reason)},
	}}
	if v := d.Via; v != nil {
		m.Headers = append(m.Headers, kgo.RecordHeader{Key: HeaderDLQRepartition,
			Value: []byte(v.Topic + "/" + strconv.FormatInt(int64(v.Partition), 10) + "/" + strconv.FormatInt(v.Offset, 10))})
	}
	if q.txn != nil {
		// held until a commit reads past the record: in the topic the job
		// read, which is the repartition topic's for stage 2
		p, o := d.ReadAt()
		q.txn.hold(p, o, m, q.produced)
		return
	}
	// ctx bounds only the wait for room: a dead letter added while the
	// job stops must still reach the topic.
	produceBuffered(ctx, q.client, m, q.produced)
}

// produced records the first produce failure.
func (q *DeadLetterQueue) produced(_ *kgo.Record, err error) {
	if err != nil {
		q.failed.set(fmt.Errorf("kafka dead-letter topic %q: produce: %w", q.topic, err))
	}
}

// Flush waits until every dead letter added so far is acknowledged by all
// in-sync replicas, and returns the first failure.
func (q *DeadLetterQueue) Flush(ctx context.Context) error {
	if err := q.client.Flush(ctx); err != nil {
		return fmt.Errorf("kafka dead-letter topic %q: flush: %w", q.topic, err)
	}
	return q.failed.get()
}

// Close flushes and disconnects; it returns the first failure.
func (q *DeadLetterQueue) Close() error {
	err := q.Flush(context.Background())
	q.closed.Do(q.client.Close)
	return err
}

// Stop flushes for at most abortWait, drops the dead letters still unsent
// and disconnects: for a job that failed or was stopped, whose cluster may
// no longer answer (Close would wait for it). What the job's last commit
// covers was flushed before that commit; the others belong to records
// after it, which a restart reads, and dead-letters, again. It returns the
// first failure of a produce before then.
func (q *DeadLetterQueue) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), abortWait)
	defer cancel()
	flushed := q.client.Flush(ctx) == nil
	failed := q.failed.get() // the drop below fails what is unsent
	if !flushed {
		_ = q.client.AbortBufferedRecords(ctx)
	}
	q.closed.Do(q.client.Close)
	return failed
}

// firstError keeps the first error of asynchronous produces.
type firstError struct {
	mu  sync.Mutex
	err error
}

func (f *firstError) set(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = err
	}
}

func (f *firstError) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

var _ connector.DeadLetters = (*DeadLetterQueue)(nil)

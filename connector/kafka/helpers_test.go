package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/internal/kafkatest"
	"github.com/sluicesql/sluice/record"
)

const testPartitions = 8

// startCluster starts an in-process 3-broker Kafka with 8-partition topics.
func startCluster(t testing.TB, topics ...string) []string {
	t.Helper()
	c := kafkatest.Cluster(t, kfake.NumBrokers(3), kfake.SeedTopics(testPartitions, topics...))
	return c.ListenAddrs()
}

// shortDeliveryTimeout makes the producers t starts give up on a record
// after a second instead of two minutes, for the tests of a cluster that
// goes away; it puts the timeout back when t ends.
func shortDeliveryTimeout(t testing.TB) {
	was := deliveryTimeout
	deliveryTimeout = time.Second
	t.Cleanup(func() { deliveryTimeout = was })
}

// trade returns the i-th test trade keyed by its trader.
func trade(i, traders int) Message {
	trader := fmt.Sprintf("T%d", i%traders)
	v := fmt.Sprintf(`{"trader_id":%q,"symbol":"SYM%d","price":%d.5,"quantity":%d}`, trader, i%7, 100+i%50, i)
	return Message{Key: []byte(trader), Value: []byte(v)}
}

func trades(n, traders int) []Message {
	out := make([]Message, n)
	for i := range out {
		out[i] = trade(i, traders)
	}
	return out
}

func produce(t testing.TB, brokers []string, topic string, msgs []Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := Produce(ctx, brokers, topic, msgs...); err != nil {
		t.Fatal(err)
	}
}

func sourceProps(brokers []string, kv ...string) map[string]string {
	p := map[string]string{
		"trades.bootstrap.servers": fmt.Sprint(brokers[0], ",", brokers[1]),
	}
	for i := 0; i+1 < len(kv); i += 2 {
		p["trades."+kv[i]] = kv[i+1]
	}
	return p
}

// got is one record read, with copied values.
type got struct {
	part   int32
	offset int64
	topic  string
	ts     int64
	key    string
	raw    string
	values []record.Value
	hdrs   []record.Header
	// replay and reread are the record's Replay and Reread marks
	replay, reread bool
}

// collector reads every reader a source delivers, each in its own
// goroutine, like the coordinator does.
type collector struct {
	mu   sync.Mutex
	recs []got
	eofs int // readers that ended with io.EOF
	wg   sync.WaitGroup
	errs []error
	// after, when set, runs after each non-empty batch (e.g. to commit).
	after func(p int32, last int64)
	// stop, when set and true for a record, makes its reader stop reading
	// before the record (a crash).
	stop func(g got) bool
}

// openCollected opens src on the trades schema and collects what it reads
// until the test ends, when src is closed.
func openCollected(t *testing.T, src connector.Source) *collector {
	t.Helper()
	return openCollectedTo(t, src, nil)
}

// openCollectedTo is openCollected with the source's dead letters going to
// dlq.
func openCollectedTo(t *testing.T, src connector.Source, dlq connector.DeadLetters) *collector {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := src.Open(ctx, tradeSchema(), dlq)
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	go c.run(ctx, ch)
	t.Cleanup(func() {
		cancel()
		src.Close()
		c.wg.Wait()
	})
	return c
}

func (c *collector) run(ctx context.Context, ch <-chan connector.PartitionReader) {
	for r := range ch {
		c.wg.Add(1)
		go c.read(ctx, r)
	}
}

func (c *collector) read(ctx context.Context, r connector.PartitionReader) {
	defer c.wg.Done()
	defer r.Close()
	var b record.Batch
	for {
		err := r.Next(ctx, &b, 64)
		if b.Partition != r.Partition() {
			c.fail(fmt.Errorf("batch partition %d from reader of %d", b.Partition, r.Partition()))
		}
		var last int64 = -1
		for i := range b.Records {
			rec := &b.Records[i]
			g := got{part: rec.Partition, offset: rec.Offset, topic: rec.Topic, ts: rec.Timestamp,
				key: string(rec.Key), raw: string(rec.Raw), values: append([]record.Value(nil), rec.Values...),
				hdrs: append([]record.Header(nil), rec.Headers...), replay: rec.Replay, reread: rec.Reread}
			if c.stop != nil && c.stop(g) {
				if last >= 0 && c.after != nil {
					c.after(r.Partition(), last)
				}
				return
			}
			c.mu.Lock()
			c.recs = append(c.recs, g)
			c.mu.Unlock()
			last = rec.Offset
		}
		if last >= 0 && c.after != nil {
			c.after(r.Partition(), last)
		}
		if errors.Is(err, io.EOF) {
			c.mu.Lock()
			c.eofs++
			c.mu.Unlock()
			return
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			c.fail(err)
			return
		}
	}
}

func (c *collector) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, err)
}

func (c *collector) ended() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.eofs
}

func (c *collector) records() []got {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]got(nil), c.recs...)
}

// readAll opens src, reads until its reader channel closes and every reader
// ended, and returns what was read.
func readAll(t *testing.T, src *Source, schema *record.Schema, dlq connector.DeadLetters) []got {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ch, err := src.Open(ctx, schema, dlq)
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	c.run(ctx, ch)
	c.wg.Wait()
	if ctx.Err() != nil {
		t.Fatal("reading timed out")
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if len(c.errs) > 0 {
		t.Fatal(c.errs)
	}
	return c.records()
}

// pk identifies a record.
type pk struct {
	p int32
	o int64
}

// writeAll opens sink for schema (keyed by keySlots), writes the rows
// read and closes it.
func writeAll(t *testing.T, ctx context.Context, sink *Sink, schema *record.Schema, keySlots []int, read []got) {
	t.Helper()
	if err := sink.Open(ctx, schema, keySlots); err != nil {
		t.Fatal(err)
	}
	rows := make([]record.Record, len(read))
	for i, g := range read {
		rows[i].Values = g.values
	}
	if err := sink.Write(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}
}

// openWithSchema returns the source name opens with props and the schema
// it reads of its topic (SourceSchema with connectorLimits, within 20 s),
// failing t on an error.
func openWithSchema(t testing.TB, name string, props map[string]string) (*Source, connector.Schema) {
	t.Helper()
	src, err := NewSource(name, props)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sch, err := src.SourceSchema(ctx, connectorLimits())
	if err != nil {
		t.Fatal(err)
	}
	return src, sch
}

// readBack reads back, a source of what was written from first whose
// schema is backSchema, and checks that every record (by its first
// column, an id) has the values and kinds it had.
func readBack(t *testing.T, back *Source, backSchema connector.Schema, cols *record.Schema, first []got) {
	t.Helper()
	byID := byFirstColumn(first)
	if backSchema.Columns.Len() != cols.Len() {
		t.Fatalf("read back columns %s", backSchema.Columns)
	}
	second := readAll(t, back, record.NewSchemaOf(backSchema.Columns.Fields()...), nil)
	if len(second) != len(first) {
		t.Fatalf("read back %d records, want %d", len(second), len(first))
	}
	for _, g := range second {
		want := byID[g.values[0].Int()]
		for i := range want {
			if g.values[i].String() != want[i].String() || g.values[i].Kind() != want[i].Kind() {
				t.Errorf("id %d column %s: read back %v (%s), wrote %v (%s)", g.values[0].Int(), cols.Names()[i],
					g.values[i], g.values[i].Kind(), want[i], want[i].Kind())
			}
		}
	}
}

// readByID reads src to its end with schema (readAll, without a
// dead-letter queue), wants n records, and returns them with their values
// by id (byFirstColumn).
func readByID(t *testing.T, src *Source, schema *record.Schema, n int) ([]got, map[int64][]record.Value) {
	t.Helper()
	recs := readAll(t, src, schema, nil)
	if len(recs) != n {
		t.Fatalf("read %d records, want %d", len(recs), n)
	}
	return recs, byFirstColumn(recs)
}

// byFirstColumn returns the values of records by their first column, an id.
func byFirstColumn(recs []got) map[int64][]record.Value {
	byID := map[int64][]record.Value{}
	for _, g := range recs {
		byID[g.values[0].Int()] = g.values
	}
	return byID
}

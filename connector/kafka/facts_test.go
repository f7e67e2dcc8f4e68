package kafka

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/connector"
	"github.com/sluicesql/sluice/record"
)

// produceTo writes msgs with a manual partition each, ignoring the key.
func produceTo(t *testing.T, brokers []string, topic string, msgs []Message, part func(i int) int32) {
	t.Helper()
	recs := make([]*kgo.Record, len(msgs))
	for i, m := range msgs {
		recs[i] = &kgo.Record{Topic: topic, Key: m.Key, Value: m.Value, Partition: part(i)}
	}
	produceRecords(t, brokers, recs...)
}

// produceRecords writes recs, each to the partition it names, in order.
func produceRecords(t *testing.T, brokers []string, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func checkFacts(t *testing.T, brokers []string, columns []string, kv ...string) connector.Facts {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	f, err := ObserveFacts(ctx, "trades", sourceProps(brokers, kv...), columns)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestCheckFacts samples topics keyed by trader_id, unkeyed, and keyed but
// placed against Kafka's default partitioner.
func TestCheckFacts(t *testing.T) {
	brokers := startCluster(t, "trades", "unkeyed", "misplaced")
	keyed := trades(1200, 40)
	produce(t, brokers, "trades", keyed)
	unkeyed := trades(200, 40)
	for i := range unkeyed {
		unkeyed[i].Key = nil
	}
	produce(t, brokers, "unkeyed", unkeyed)
	produceTo(t, brokers, "misplaced", trades(200, 40), func(i int) int32 { return int32(i % testPartitions) })

	groupBy := []string{"symbol", "trader_id"}
	for _, c := range []struct {
		name    string
		columns []string
		props   []string
		key     []string
		origin  string
		note    string // substring of Note
	}{
		{"declared confirmed", nil, []string{"partition.key", "trader_id"}, []string{"trader_id"}, "declared", ""},
		{"declared wrong column", nil, []string{"partition.key", "symbol"}, nil, "", "is not the symbol value"},
		{"declared two columns", nil, []string{"partition.key", "trader_id, symbol"}, nil, "", `is not the trader_id, symbol value ["T`},
		{"observed", groupBy, nil, []string{"trader_id"}, "observed", ""},
		{"observed nothing", []string{"symbol"}, nil, nil, "", ""},
		{"unkeyed declared", nil, []string{"topic.name", "unkeyed", "partition.key", "trader_id"}, nil, "", "has no message key"},
		{"unkeyed observed", groupBy, []string{"topic.name", "unkeyed"}, nil, "", ""},
		{"misplaced declared", nil, []string{"topic.name", "misplaced", "partition.key", "trader_id"}, nil, "", "default partitioner (murmur2 mod 8)"},
		{"misplaced observed", groupBy, []string{"topic.name", "misplaced"}, nil, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := checkFacts(t, brokers, c.columns, c.props...)
			if !reflect.DeepEqual(f.Key, c.key) || f.Origin != c.origin || f.Partitions != testPartitions {
				t.Errorf("facts %+v, want key %v origin %q partitions %d", f, c.key, c.origin, testPartitions)
			}
			if c.note == "" && f.Note != "" || !strings.Contains(f.Note, c.note) {
				t.Errorf("note %q, want it to contain %q", f.Note, c.note)
			}
		})
	}
}

// TestRunningVerification checks that a running source confirms a true
// declared key on the records it reads and reports a false one once,
// through Contradicted, Contradiction and Facts.
func TestRunningVerification(t *testing.T) {
	brokers := startCluster(t, "trades")
	produce(t, brokers, "trades", trades(1200, 40))
	for _, c := range []struct {
		key      string
		verified bool
		contra   string
	}{
		{"trader_id", true, ""},
		{"symbol", false, "is not the symbol value"},
		{"trader_id,symbol", false, "is not the trader_id, symbol value"},
	} {
		t.Run(c.key, func(t *testing.T) {
			src, err := NewSource("trades", sourceProps(brokers, "stop.at", "end", "partition.key", c.key))
			if err != nil {
				t.Fatal(err)
			}
			if f := src.Facts(); f.Origin != "declared" || len(f.Key) == 0 {
				t.Fatalf("facts before reading %+v", f)
			}
			recs := readAll(t, src, tradeSchema(), nil)
			if len(recs) != 1200 {
				t.Fatalf("read %d", len(recs))
			}
			if src.Verified() != c.verified {
				t.Errorf("Verified() = %v", src.Verified())
			}
			err = src.Contradiction()
			f := src.Facts()
			if c.contra == "" {
				if err != nil || f.Note != "" || f.Key == nil {
					t.Fatalf("true key reported contradicted: %v %+v", err, f)
				}
				return
			}
			select {
			case <-src.Contradicted():
			default:
				t.Error("Contradicted() not closed")
			}
			if err == nil || !strings.Contains(err.Error(), c.contra) || f.Key != nil || f.Note != err.Error() {
				t.Errorf("contradiction %v, facts %+v, want %q", err, f, c.contra)
			}
		})
	}
}

// TestVerificationWithoutKeyColumn checks the partitioner alone when the
// query does not read the key column.
func TestVerificationWithoutKeyColumn(t *testing.T) {
	brokers := startCluster(t, "trades")
	produceTo(t, brokers, "trades", trades(100, 40), func(i int) int32 { return int32(i % testPartitions) })
	src, err := NewSource("trades", sourceProps(brokers, "stop.at", "end", "partition.key", "trader_id"))
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, src, record.NewSchema("price"), nil)
	if err := src.Contradiction(); err == nil || !strings.Contains(err.Error(), "murmur2") {
		t.Fatalf("contradiction %v, want the partitioner's", err)
	}
}

func TestAppendMessageKey(t *testing.T) {
	for _, c := range []struct {
		vals []record.Value
		want string
	}{
		{nil, ""},
		{[]record.Value{record.StringValue("T1")}, "T1"},
		{[]record.Value{record.IntValue(42)}, "42"},
		{[]record.Value{record.DecimalValue(1250, 2)}, "12.50"},
		{[]record.Value{record.StringValue(`a"b`), record.IntValue(7), record.NullValue()}, `["a\"b",7,null]`},
	} {
		if got := string(AppendMessageKey(nil, c.vals)); got != c.want {
			t.Errorf("AppendMessageKey(%v) = %s, want %s", c.vals, got, c.want)
		}
	}
	if !keyMatches([]byte(`"T1"`), []record.Value{record.StringValue("T1")}, nil) {
		t.Error("a JSON-quoted key does not match its string column")
	}
	if keyMatches([]byte("T2"), []record.Value{record.StringValue("T1")}, nil) {
		t.Error("T2 matches T1")
	}
}

// TestAppendRoutingKey: a repartition topic's key is one for values that
// are one group however they are written, and its records pass stage 2's
// verification of the key against their values.
func TestAppendRoutingKey(t *testing.T) {
	for _, c := range []struct {
		vals []record.Value
		want string
	}{
		{[]record.Value{record.DecimalValue(15000, 2)}, "150"},
		{[]record.Value{record.FloatValue(150)}, "150"},
		{[]record.Value{record.DecimalValue(1250, 3)}, "1.25"},
		{[]record.Value{record.FloatValue(0.1)}, "0.1"},
		{[]record.Value{record.FloatValue(1234567.5)}, "1234567.5"}, // one key with the DECIMAL 1234567.50
		{[]record.Value{record.DecimalValue(123456750, 2)}, "1234567.5"},
		{[]record.Value{record.FloatValue(1e-7)}, "0.0000001"},
		{[]record.Value{record.FloatValue(1e300)}, "1e+300"},
		{[]record.Value{record.StringValue("12.50")}, "12.50"},
		{[]record.Value{record.StringValue("T1"), record.DecimalValue(700, 2)}, `["T1",7]`},
	} {
		if got := string(AppendRoutingKey(nil, c.vals)); got != c.want {
			t.Errorf("AppendRoutingKey(%v) = %s, want %s", c.vals, got, c.want)
		}
		if !keyMatches([]byte(c.want), c.vals, nil) {
			t.Errorf("the routing key %s does not match its values %v", c.want, c.vals)
		}
	}
}

// TestSampleOfATruncatedTopic: a partition deleted up to its end after
// the sample listed it (DeleteRecords, retention) holds none of the
// records the sample waits for: the sample is what the other partitions
// hold, taken at once, not an error after a fixed wait.
func TestSampleOfATruncatedTopic(t *testing.T) {
	brokers := startCluster(t, "trades")
	produce(t, brokers, "trades", trades(200, 40))
	s, err := NewSource("trades", sourceProps(brokers))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	starts, ends, err := listOffsets(ctx, s.cfg.conn, "trades")
	if err != nil {
		t.Fatal(err)
	}
	cl, err := newClient(s.cfg.conn)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	gone := kadm.Offsets{}
	for _, p := range []int32{0, 5} {
		if ends[p] == 0 {
			t.Fatalf("partition %d is empty: the test truncates nothing", p)
		}
		gone.Add(kadm.Offset{Topic: "trades", Partition: p, At: ends[p], LeaderEpoch: -1})
	}
	deleted, err := kadm.NewClient(cl).DeleteRecords(ctx, gone)
	if err == nil {
		err = deleted.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	got := map[int32]int{}
	if err := s.fetchSample(ctx, starts, ends, 1000, 0, func(kr *kgo.Record) { got[kr.Partition]++ }); err != nil {
		t.Fatalf("sample of a truncated topic: %v", err)
	}
	for p, end := range ends {
		want := int(end - starts[p])
		if p == 0 || p == 5 {
			want = 0
		}
		if got[p] != want {
			t.Errorf("partition %d: %d records sampled, want %d", p, got[p], want)
		}
	}
}

// TestCheckFactsBoundedByUnavailableTimeout: the partition facts' listing
// and sample take as long as the brokers need, at most
// '<n>.unavailable.timeout' when it is set (as long as the caller allows
// otherwise), and an error from its end names it.
func TestCheckFactsBoundedByUnavailableTimeout(t *testing.T) {
	for _, tt := range []struct {
		timeout string
		bound   time.Duration
	}{{"", 0}, {"45s", 45 * time.Second}} {
		props := map[string]string{"trades.bootstrap.servers": "localhost:9092"}
		if tt.timeout != "" {
			props["trades.unavailable.timeout"] = tt.timeout
		}
		s, err := NewSource("trades", props)
		if err != nil {
			t.Fatal(err)
		}
		before := time.Now()
		ctx, cancel := s.unavailableBound(context.Background())
		deadline, ok := ctx.Deadline()
		switch {
		case tt.bound == 0 && ok:
			t.Errorf("no unavailable.timeout: the sample is bounded at %v, want the caller's context only", deadline)
		case tt.bound > 0 && (!ok || deadline.Before(before.Add(tt.bound)) || deadline.After(time.Now().Add(tt.bound))):
			t.Errorf("unavailable.timeout %s: the sample's deadline is %v (%v), want %v after it started", tt.timeout, deadline, ok, tt.bound)
		}
		cancel()
		if tt.bound > 0 {
			ctx, cancel := context.WithTimeoutCause(context.Background(), time.Nanosecond, errUnavailableTimeout)
			<-ctx.Done() // the bound passed
			err := s.unavailableErr(ctx, errors.New("listing offsets: context deadline exceeded"))
			cancel()
			if !strings.Contains(err.Error(), "'trades.unavailable.timeout' (45s)") {
				t.Errorf("error at the bound: %v, want it to name 'trades.unavailable.timeout'", err)
			}
		}
	}
}

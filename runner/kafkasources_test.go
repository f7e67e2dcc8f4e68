package runner

import (
	"context"
	"fmt"
	"io"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestJoinKafkaSources: a join's job lists every Kafka source of its
// statement, the FROM stream, its tables and the other streams, once per
// name (a self-join reads its source twice), and each reports its
// consumer lag while the job runs, down to 0 once it has read everything.
func TestJoinKafkaSources(t *testing.T) {
	b := kafkaCluster(t, "orders", "clicks", "users")
	cl, err := kgo.NewClient(kgo.SeedBrokers(b))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for i := range 20 {
		u := fmt.Sprint(i % 4)
		v := fmt.Sprintf(`{"uid":%s,"n":%d,"ts":%d}`, u, i, 1705312800000+int64(i)*1000)
		recs = append(recs, &kgo.Record{Topic: "orders", Key: []byte(u), Value: []byte(v)},
			&kgo.Record{Topic: "clicks", Key: []byte(u), Value: []byte(v)})
	}
	for i := range 4 {
		recs = append(recs, &kgo.Record{Topic: "users", Key: []byte(fmt.Sprint(i)), Value: []byte(fmt.Sprintf(`{"uid":%d,"region":"r%d"}`, i, i))})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	conn := "'bootstrap.servers'='" + b + "'"
	stmts, cat := parseApp(t, `
		CREATE STREAM orders (uid BIGINT, n BIGINT, ts BIGINT) WITH ('type'='kafka_source', 'topic.name'='orders', `+conn+`);
		CREATE STREAM clicks (uid BIGINT, n BIGINT, ts BIGINT) WITH ('type'='kafka_source', 'topic.name'='clicks', `+conn+`);
		CREATE TABLE users (uid BIGINT, region STRING, PRIMARY KEY (uid)) WITH ('type'='kafka_source', 'topic.name'='users', `+conn+`);
		SELECT o.n, u.region FROM orders o JOIN users u ON o.uid = u.uid;
		SELECT o.n, c.n AS c, u.region FROM orders o JOIN users u ON o.uid = u.uid JOIN clicks c ON o.uid = c.uid AND o.n = c.n WITHIN INTERVAL '1' MINUTE WITH ('event.time.field'='ts');
		SELECT a.n, b.n AS bn FROM clicks a JOIN clicks b ON a.uid = b.uid AND a.n = b.n WITHIN INTERVAL '1' MINUTE WITH ('event.time.field'='ts');`)
	read := map[int32]int64{0: 0, 1: 0} // every record of both partitions read
	// in a consumer group (statement 3) and not (a stream-stream join in
	// one process: in a group it is repartitioned, and a partition read to
	// its end before a rebalance reports no lag until its next record)
	for _, tt := range []struct {
		stmt    int
		set     map[string]string
		sources string
	}{{3, map[string]string{"orders.group.id": "g"}, "orders users"}, {4, nil, "orders users clicks"}, {4, map[string]string{"orders.group.id": "g4"}, "orders users clicks"}, {5, nil, "clicks"}} {
		j, err := Prepare(ctx, stmts[tt.stmt], Options{Stdout: io.Discard, Catalog: cat, Partitions: 2, Set: tt.set})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, ks := range j.KafkaSources() {
			names = append(names, ks.Name())
		}
		if got := strings.Join(names, " "); got != tt.sources {
			t.Errorf("statement %d: Kafka sources %q, want %q", tt.stmt, got, tt.sources)
		}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			_, err := j.Run(runCtx)
			done <- err
		}()
		lags := map[string]map[int32]int64{}
		for caught := false; !caught && ctx.Err() == nil; {
			caught = true
			for _, ks := range j.KafkaSources() {
				lags[ks.Name()] = ks.Lag()
				caught = caught && maps.Equal(lags[ks.Name()], read)
			}
			time.Sleep(10 * time.Millisecond)
		}
		for _, name := range names {
			if !maps.Equal(lags[name], read) {
				t.Errorf("statement %d: source %s's lag %v, want %v", tt.stmt, name, lags[name], read)
			}
		}
		stop()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	// in a consumer group, a self-join's two readers would split the topic
	_, err = Prepare(ctx, stmts[5], Options{Stdout: io.Discard, Catalog: cat, Set: map[string]string{"clicks.group.id": "g"}})
	if err == nil || !strings.Contains(err.Error(), "clicks is joined with itself in a consumer group") {
		t.Errorf("self-join in a group: %v", err)
	}
}

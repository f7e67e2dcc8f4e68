package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluicesql/sluice/connector/kafka"
	"github.com/sluicesql/sluice/internal/kafkatest"
)

// TestUnavailableExit: a running job whose brokers go away for longer than
// '<n>.unavailable.timeout' stops with exit 2 and a message naming it.
func TestUnavailableExit(t *testing.T) {
	c := kafkatest.Cluster(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "trades"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := kafka.Produce(ctx, c.ListenAddrs(), "trades", kafka.Message{Key: []byte("a"), Value: []byte(`{"trader_id":"a"}`)}); err != nil {
		t.Fatal(err)
	}
	var out, errOut syncBuilder
	done := make(chan int, 1)
	go func() {
		done <- execute(ctx, []string{"run", "-q", "-e", "SELECT trader_id FROM trades WITH ('trades.type'='kafka_source'," +
			" 'trades.bootstrap.servers'='" + c.ListenAddrs()[0] + "', 'trades.unavailable.timeout'='1s', 'commit.interval'='100ms')"}, &out, &errOut)
	}()
	for !strings.Contains(out.String(), `"a"`) {
		select {
		case code := <-done:
			t.Fatalf("exit %d before the first row: %s", code, errOut.String())
		case <-ctx.Done():
			t.Fatal("no row")
		case <-time.After(20 * time.Millisecond):
		}
	}
	c.Close()
	select {
	case code := <-done:
		if code != exitRuntime || !strings.Contains(errOut.String(), "'trades.unavailable.timeout' (1s): stopping") {
			t.Errorf("exit %d, stderr %s", code, errOut.String())
		}
	case <-ctx.Done():
		t.Fatal("the job did not stop")
	}
}

// TestSourceFailureExit: a Kafka source that cannot be read when the job
// starts gives one exit code whatever the statement, whether it declares
// its columns or SELECT * infers them from the topic: 2 for brokers that
// do not answer, 1 for a topic the cluster does not have.
func TestSourceFailureExit(t *testing.T) {
	c := kafkatest.Cluster(t, kfake.NumBrokers(1), kfake.SeedTopics(2, "trades"))
	gone := kafkatest.Cluster(t, kfake.NumBrokers(1))
	goneAddr := gone.ListenAddrs()[0]
	gone.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, tc := range []struct {
		name, brokers, topic string
		code                 int
		msg                  string
	}{
		{"unreachable", goneAddr, "trades", exitRuntime, "unable to dial"},
		{"unknown topic", c.ListenAddrs()[0], "nosuch", exitUser, `topic "nosuch" not found`},
	} {
		for _, sel := range []string{"SELECT *", "SELECT trader_id"} {
			t.Run(tc.name+"/"+sel, func(t *testing.T) {
				var out, errOut syncBuilder
				code := execute(ctx, []string{"run", "-q", "-e", sel + " FROM " + tc.topic + " WITH ('" + tc.topic + ".type'='kafka_source'," +
					" '" + tc.topic + ".bootstrap.servers'='" + tc.brokers + "')"}, &out, &errOut)
				if code != tc.code || !strings.Contains(errOut.String(), tc.msg) {
					t.Errorf("exit %d, want %d with %q: %s", code, tc.code, tc.msg, errOut.String())
				}
			})
		}
	}
}

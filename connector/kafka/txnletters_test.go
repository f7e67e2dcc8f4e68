package kafka

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicesql/sluice/internal/kafkatest"
)

// TestReleasedLettersEndWithTheCommit: exactly-once, the dead letters a
// commit releases into its transaction wait for room in the producer's
// buffer only as long as the commit's context lasts. They waited with a
// context nothing cancelled, holding the transaction's lock (and the
// commit, and the workers adding letters) for as long as a cluster that no
// longer answers left the buffer full: a stopping job's commit outlived
// its drain timeout.
func TestReleasedLettersEndWithTheCommit(t *testing.T) {
	c := kafkatest.Cluster(t, kfake.NumBrokers(1), kfake.SeedTopics(1, "in", "dead"))
	var net kafkatest.Cutter
	session, err := kgo.NewGroupTransactSession(kgo.SeedBrokers(c.ListenAddrs()...), kgo.Dialer(net.Dial),
		kgo.ConsumerGroup("letters"), kgo.ConsumeTopics("in"), kgo.TransactionalID("letters"),
		kgo.DefaultProduceTopic("dead"), kgo.MaxBufferedRecords(1))
	if err != nil {
		t.Fatal(err)
	}
	defer session.Close()
	if err := session.Begin(); err != nil {
		t.Fatal(err)
	}
	net.Kill() // nothing is acknowledged any more: the first letter fills the buffer
	txn := &Transaction{session: session}
	failed := make(chan error, 2)
	for off := range int64(2) {
		txn.hold(0, off, &kgo.Record{Value: []byte("letter")}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed <- err
			}
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		txn.releaseLetters(ctx, session, map[int32]int64{0: 2})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("releasing the letters still waits for room in the buffer 10s after the commit's context ended")
	}
	select {
	case err := <-failed:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("the letter that found no room failed with %v, want the commit's context's end", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("the letter that found no room did not fail")
	}
}

package kafka

import (
	"context"
	"testing"
	"time"
)

// TestCommitCancelsPollStartedWhileWaiting: a commit that asks for the
// turn after the poll loop has taken it but before the poll has stored
// its cancel function still ends that poll. It hung the last run of an
// exactly-once job: every partition read to its end, the poll waited for
// records that never came and the commit waited for the poll.
func TestCommitCancelsPollStartedWhileWaiting(t *testing.T) {
	s := &Source{txn: &Transaction{}, turn: make(chan struct{}, 1)}
	s.turn <- struct{}{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	<-s.turn // the poll loop has just taken the turn
	committed := make(chan error, 1)
	go func() { committed <- s.commitTurn(ctx) }()
	for {
		s.mu.Lock()
		waiting := s.commitsWaiting
		s.mu.Unlock()
		if waiting > 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the commit never asked for the turn")
		}
		time.Sleep(time.Millisecond)
	}
	pctx, release := s.startPoll(ctx)
	select {
	case <-pctx.Done():
	case <-ctx.Done():
		t.Fatal("the poll started while a commit waited for the turn was not cancelled")
	}
	release()
	if err := <-committed; err != nil {
		t.Fatalf("commit: %v", err)
	}
	// The turn is the commit's now; a poll after it is not cancelled.
	s.turn <- struct{}{}
	pctx, release = s.pollTurn(ctx)
	defer release()
	if pctx.Err() != nil {
		t.Error("a poll after the commit was cancelled")
	}
}

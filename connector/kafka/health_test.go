package kafka

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestHealthIgnoresCancelledReads: a read cancelled by this process (a
// stop, a rebalance cancelling a fetch) is no outage, so a stopping job
// does not warn that its brokers are unreachable; a failed read is one.
func TestHealthIgnoresCancelledReads(t *testing.T) {
	h := newHealth()
	for _, err := range []error{context.Canceled, fmt.Errorf("fetch: %w", context.Canceled), kgo.ErrClientClosed} {
		h.OnBrokerRead(kgo.BrokerMetadata{}, 1, 0, 0, 0, err)
		if d, got := h.down(time.Now().Add(time.Minute)); d != 0 || got != nil {
			t.Errorf("after a read failing with %v: down %s, %v; want no outage", err, d, got)
		}
	}
	h.OnBrokerRead(kgo.BrokerMetadata{}, 1, 0, 0, 0, errors.New("connection reset by peer"))
	if d, err := h.down(time.Now().Add(time.Minute)); d < time.Minute || err == nil {
		t.Errorf("after a failed read: down %s, %v; want an outage", d, err)
	}
}
